//! A plan: one validated query operation, kept to be bound to each request's variables, and
//! why a request may go to the reference instead.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
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
    Ok(Plan {
        operation: operation.clone(),
        fragments: document.fragments.clone(),
        size_hint: AtomicUsize::new(256),
    })
}
