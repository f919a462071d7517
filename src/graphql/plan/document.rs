//! A plan: one validated query operation, kept to be bound to each request's variables, and
//! why a request may go to the reference instead.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, Positioned};

/// Why the reference answers a request instead of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The document asks for something the plan does not write: it never will.
    Unsupported(&'static str),
    /// This request does (an error to report, an argument form the plan leaves alone).
    Runtime(&'static str),
}

impl Fallback {
    pub fn reason(self) -> &'static str {
        match self {
            Fallback::Unsupported(reason) | Fallback::Runtime(reason) => reason,
        }
    }
}

/// One validated query operation, kept to be bound to each request's variables.
pub struct Plan {
    pub(super) operation: Positioned<OperationDefinition>,
    pub(super) fragments: HashMap<Name, Positioned<FragmentDefinition>>,
    /// The size of the last response: the next one's buffer is allocated once.
    pub(super) size_hint: AtomicUsize,
    /// The variable definitions of the document's other operations: the reference
    /// validates every operation of a document with the request's variables.
    pub(super) other_variables: Vec<VariableDefinition>,
    /// The variables any `@skip(if:)`/`@include(if:)` of the document reads, wherever it
    /// sits (the reference checks each `if`, in a skipped field too).
    pub(super) directive_variables: Vec<Name>,
}

/// What `document` compiles to for a request naming `operation_name`, the operation chosen
/// as the reference chooses it.
pub fn compile(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<Plan, &'static str> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return Err("no operation"),
        },
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Err("no such operation"),
        },
        _ => return Err("no such operation"),
    };
    if operation.node.ty != OperationType::Query {
        return Err("not a query");
    }
    if !operation.node.directives.is_empty() {
        return Err("directives on the operation");
    }
    let other_variables = document
        .operations
        .iter()
        .filter(|(_, op)| !std::ptr::eq(*op, operation))
        .flat_map(|(_, op)| op.node.variable_definitions.iter().map(|d| d.node.clone()))
        .collect();
    let mut directive_variables = Vec::new();
    for (_, op) in document.operations.iter() {
        directive_variables_of(&op.node.selection_set.node, &mut directive_variables);
    }
    for fragment in document.fragments.values() {
        directive_variables_of(&fragment.node.selection_set.node, &mut directive_variables);
    }
    Ok(Plan {
        operation: operation.clone(),
        fragments: document.fragments.clone(),
        size_hint: AtomicUsize::new(256),
        other_variables,
        directive_variables,
    })
}

/// The variables the `if` of a directive in `set` names, at any depth.
fn directive_variables_of(set: &SelectionSet, out: &mut Vec<Name>) {
    for item in &set.items {
        for directive in item.node.directives() {
            // `if` is a Boolean!: a variable or a literal, never a list or an object.
            if let Some(value) = directive.node.get_argument("if") {
                // The variable, if it is one (async-graphql does not export the input
                // value's type: resolving it with no variables names the one it needs).
                let needs = value
                    .node
                    .clone()
                    .into_const_with(Err::<async_graphql::Value, Name>);
                if let Err(name) = needs {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
            }
        }
        match &item.node {
            Selection::Field(field) => directive_variables_of(&field.node.selection_set.node, out),
            Selection::InlineFragment(inline) => {
                directive_variables_of(&inline.node.selection_set.node, out)
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}
