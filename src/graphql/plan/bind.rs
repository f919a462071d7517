//! Binding a plan to one request: the selections the operation makes with this request's
//! variables, collected as the reference executor collects them, with every argument
//! resolved and coerced.
//!
//! What the reference does, and so what this does (async-graphql 7.0.17, `schema.rs`
//! `remove_skipped_selection`, `resolver_utils/container.rs` `add_set`/`insert_value`):
//!
//! - `@skip`/`@include` are evaluated first, on fields, fragment spreads and inline fragments;
//!   a variable the request leaves out reads as its default (our patch), else as false;
//! - fragments are expanded in place, a type condition applying when it names the object's
//!   type (this schema has no interfaces or unions);
//! - each field occurrence is resolved on its own and the results are merged by response key:
//!   the first occurrence keeps its place, objects merge key by key. For occurrences of the
//!   same field with the same arguments, that is the result of merging their sub-selections
//!   first, which is what this does. Occurrences of one key that differ in field or
//!   arguments are left to the reference (a runtime fallback).

use async_graphql::parser::types::{Directive, Field, SelectionSet};
use async_graphql::{Name, Positioned, Value, Variables};

use super::document::{Fallback, Plan};
use super::fields::{TagLeaf, UserLeaf};

/// A response key, written once as the JSON object key it becomes: `"name":`.
pub type Key = Box<[u8]>;

/// The root selections of a bound operation.
pub struct Bound {
    pub root: Vec<(Key, RootField)>,
}

pub enum RootField {
    Typename,
    /// `user(id:)`: the id as sent.
    User(String, UserSel),
    /// `users(ids:)`.
    Users(Vec<String>, UserSel),
    Me(UserSel),
}

/// What an operation selects of a User at one place of the document.
pub struct UserSel {
    pub fields: Vec<(Key, UserField)>,
}

pub enum UserField {
    Typename,
    /// Written from the listed id, without the record.
    Id,
    Leaf(UserLeaf),
    ConnectionStatus,
    IsConnection,
    Tags(TagSel),
    /// `connections` or `friends`.
    Connections(Box<PageSel>),
    /// The global id, written from the id.
    NodeId,
}

pub struct TagSel {
    pub fields: Vec<(Key, TagField)>,
}

pub enum TagField {
    Typename,
    Leaf(TagLeaf),
}

/// A `connections(limit, offset, mutual)` or `friends(first, after, last, before, mutual)`
/// selection.
pub struct PageSel {
    /// Identifies this selection among the operation's pages (its loaded pages are kept by
    /// slot and owner).
    pub slot: usize,
    pub window: Window,
    pub mutual: Option<bool>,
    pub fields: Vec<(Key, PageField)>,
}

/// Where a page starts.
pub enum Window {
    /// `connections`.
    Offset {
        limit: Option<i32>,
        offset: Option<i32>,
    },
    /// `friends` (a Relay connection).
    Cursor {
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    },
}

pub enum PageField {
    Typename,
    // `UserConnectionPage`
    Count,
    Next,
    Previous,
    Results(UserSel),
    // `FriendConnection`
    TotalCount,
    PageInfo(Vec<(Key, InfoField)>),
    Edges(Vec<(Key, EdgeField)>),
    Nodes(UserSel),
}

pub enum InfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

pub enum EdgeField {
    Typename,
    Cursor,
    ConnectedAt,
    IsMutual,
    Node(UserSel),
}

impl UserSel {
    /// Whether any selected field reads the stored record (the id does not).
    pub fn needs_record(&self) -> bool {
        self.fields
            .iter()
            .any(|(_, f)| matches!(f, UserField::Leaf(_)))
    }

    pub fn needs_tags(&self) -> bool {
        self.fields
            .iter()
            .any(|(_, f)| matches!(f, UserField::Tags(_)))
    }

    pub fn needs_status(&self) -> bool {
        self.fields
            .iter()
            .any(|(_, f)| matches!(f, UserField::ConnectionStatus | UserField::IsConnection))
    }

    /// The page selections made on this user.
    pub fn pages(&self) -> impl Iterator<Item = &PageSel> {
        self.fields.iter().filter_map(|(_, f)| match f {
            UserField::Connections(page) => Some(&**page),
            _ => None,
        })
    }
}

impl PageSel {
    /// What the page's `results` select (merged over aliases of `results`, which the
    /// collection already merged), if anything.
    pub fn results(&self) -> impl Iterator<Item = &UserSel> {
        self.fields.iter().flat_map(|(_, f)| {
            let listed: Vec<&UserSel> = match f {
                PageField::Results(sel) | PageField::Nodes(sel) => vec![sel],
                PageField::Edges(edge) => edge
                    .iter()
                    .filter_map(|(_, e)| match e {
                        EdgeField::Node(sel) => Some(sel),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            listed
        })
    }
}

/// The occurrences of one response key in a selection set, in first-appearance order.
struct Collected<'a> {
    key: &'a Name,
    name: &'a Name,
    field: &'a Field,
    sets: Vec<&'a SelectionSet>,
}

pub struct Binder<'a> {
    plan: &'a Plan,
    variables: &'a Variables,
    slots: usize,
}

impl<'a> Binder<'a> {
    pub fn new(plan: &'a Plan, variables: &'a Variables) -> Binder<'a> {
        Binder {
            plan,
            variables,
            slots: 0,
        }
    }

    pub fn bind(mut self) -> Result<Bound, Fallback> {
        self.check_variables()?;
        let plan = self.plan;
        let mut root = Vec::new();
        for c in self.collect(&[&plan.operation.node.selection_set.node], "Query")? {
            let field = match c.name.as_str() {
                "__typename" => RootField::Typename,
                "user" => {
                    let id = self.id(&c, "id")?;
                    RootField::User(id, self.user(&c.sets)?)
                }
                "users" => {
                    let ids = self.ids(&c, "ids")?;
                    RootField::Users(ids, self.user(&c.sets)?)
                }
                "me" => RootField::Me(self.user(&c.sets)?),
                _ => {
                    return Err(Fallback::Unsupported(
                        "a root field the plan does not write",
                    ))
                }
            };
            root.push((key(c.key), field));
        }
        Ok(Bound { root })
    }

    fn user(&mut self, sets: &[&'a SelectionSet]) -> Result<UserSel, Fallback> {
        let mut fields = Vec::new();
        for c in self.collect(sets, "User")? {
            let field = match c.name.as_str() {
                "__typename" => UserField::Typename,
                "connectionStatus" => UserField::ConnectionStatus,
                "isConnection" => UserField::IsConnection,
                "tags" => UserField::Tags(self.tag(&c.sets)?),
                "connections" => UserField::Connections(Box::new(self.page(&c)?)),
                "friends" => UserField::Connections(Box::new(self.friends(&c)?)),
                "nodeId" => UserField::NodeId,
                name => match UserLeaf::named(name) {
                    Some(leaf) if leaf.is_id() => UserField::Id,
                    Some(leaf) => UserField::Leaf(leaf),
                    None => {
                        return Err(Fallback::Unsupported(
                            "a User field the plan does not write",
                        ))
                    }
                },
            };
            fields.push((key(c.key), field));
        }
        Ok(UserSel { fields })
    }

    fn tag(&mut self, sets: &[&'a SelectionSet]) -> Result<TagSel, Fallback> {
        let mut fields = Vec::new();
        for c in self.collect(sets, "Tag")? {
            let field = match c.name.as_str() {
                "__typename" => TagField::Typename,
                name => TagField::Leaf(
                    TagLeaf::named(name)
                        .ok_or(Fallback::Unsupported("a Tag field the plan does not write"))?,
                ),
            };
            fields.push((key(c.key), field));
        }
        Ok(TagSel { fields })
    }

    fn page(&mut self, c: &Collected<'a>) -> Result<PageSel, Fallback> {
        let slot = self.slots;
        self.slots += 1;
        let limit = self.int(c, "limit")?;
        let offset = self.int(c, "offset")?;
        let mutual = self.boolean(c, "mutual")?;
        let mut fields = Vec::new();
        for f in self.collect(&c.sets, "UserConnectionPage")? {
            let field = match f.name.as_str() {
                "__typename" => PageField::Typename,
                "count" => PageField::Count,
                "next" => PageField::Next,
                "previous" => PageField::Previous,
                "results" => PageField::Results(self.user(&f.sets)?),
                _ => {
                    return Err(Fallback::Unsupported(
                        "a page field the plan does not write",
                    ))
                }
            };
            fields.push((key(f.key), field));
        }
        Ok(PageSel {
            slot,
            window: Window::Offset { limit, offset },
            mutual,
            fields,
        })
    }

    fn friends(&mut self, c: &Collected<'a>) -> Result<PageSel, Fallback> {
        let slot = self.slots;
        self.slots += 1;
        let window = Window::Cursor {
            first: self.int(c, "first")?,
            after: self.string(c, "after")?,
            last: self.int(c, "last")?,
            before: self.string(c, "before")?,
        };
        let mutual = self.boolean(c, "mutual")?;
        let unsupported = || Fallback::Unsupported("a friends field the plan does not write");
        let mut fields = Vec::new();
        for f in self.collect(&c.sets, "FriendConnection")? {
            let field = match f.name.as_str() {
                "__typename" => PageField::Typename,
                "totalCount" => PageField::TotalCount,
                "nodes" => PageField::Nodes(self.user(&f.sets)?),
                "pageInfo" => {
                    let mut info = Vec::new();
                    for i in self.collect(&f.sets, "PageInfo")? {
                        let field = match i.name.as_str() {
                            "__typename" => InfoField::Typename,
                            "hasNextPage" => InfoField::HasNextPage,
                            "hasPreviousPage" => InfoField::HasPreviousPage,
                            "startCursor" => InfoField::StartCursor,
                            "endCursor" => InfoField::EndCursor,
                            _ => return Err(unsupported()),
                        };
                        info.push((key(i.key), field));
                    }
                    PageField::PageInfo(info)
                }
                "edges" => {
                    let mut edge = Vec::new();
                    for e in self.collect(&f.sets, "FriendEdge")? {
                        let field = match e.name.as_str() {
                            "__typename" => EdgeField::Typename,
                            "cursor" => EdgeField::Cursor,
                            "connectedAt" => EdgeField::ConnectedAt,
                            "isMutual" => EdgeField::IsMutual,
                            "node" => EdgeField::Node(self.user(&e.sets)?),
                            _ => return Err(unsupported()),
                        };
                        edge.push((key(e.key), field));
                    }
                    PageField::Edges(edge)
                }
                _ => return Err(unsupported()),
            };
            fields.push((key(f.key), field));
        }
        Ok(PageSel {
            slot,
            window,
            mutual,
            fields,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Collection

    fn collect(
        &self,
        sets: &[&'a SelectionSet],
        type_name: &str,
    ) -> Result<Vec<Collected<'a>>, Fallback> {
        let mut out = Vec::new();
        for set in sets {
            self.collect_into(set, type_name, &mut out, 0)?;
        }
        Ok(out)
    }

    fn collect_into(
        &self,
        set: &'a SelectionSet,
        type_name: &str,
        out: &mut Vec<Collected<'a>>,
        depth: usize,
    ) -> Result<(), Fallback> {
        // Validation refuses fragment cycles; this bound only keeps a bug from recursing
        // without end.
        if depth > 64 {
            return Err(Fallback::Unsupported("fragments nested too deep"));
        }
        use async_graphql::parser::types::Selection;
        for item in &set.items {
            if self.skipped(item.node.directives())? {
                continue;
            }
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = &field.response_key().node;
                    match out.iter_mut().find(|c| c.key == key) {
                        Some(known) => {
                            if known.name != &field.name.node || !same_arguments(known.field, field)
                            {
                                return Err(Fallback::Runtime(
                                    "one response key for different fields or arguments",
                                ));
                            }
                            known.sets.push(&field.selection_set.node);
                        }
                        None => out.push(Collected {
                            key,
                            name: &field.name.node,
                            field,
                            sets: vec![&field.selection_set.node],
                        }),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let fragment = self
                        .plan
                        .fragments
                        .get(name)
                        .ok_or(Fallback::Unsupported("an unknown fragment"))?;
                    if fragment.node.type_condition.node.on.node == type_name {
                        let set = &fragment.node.selection_set.node;
                        self.collect_into(set, type_name, out, depth + 1)?;
                    }
                }
                Selection::InlineFragment(inline) => {
                    let applies = match &inline.node.type_condition {
                        Some(condition) => condition.node.on.node == type_name,
                        None => true,
                    };
                    if applies {
                        let set = &inline.node.selection_set.node;
                        self.collect_into(set, type_name, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `@skip(if:)` / `@include(if:)` as the reference reads them: a value that is not a
    /// boolean reads as false.
    fn skipped(&self, directives: &[Positioned<Directive>]) -> Result<bool, Fallback> {
        for directive in directives {
            let include = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return Err(Fallback::Unsupported("a directive other than skip/include")),
            };
            if let Some(condition) = directive.node.get_argument("if") {
                let value = condition
                    .node
                    .clone()
                    .into_const_with(|name| self.directive_variable(&name))
                    .unwrap_or_default();
                let value = matches!(value, Value::Boolean(true));
                if include != value {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// A variable in a directive: as sent, else its declared default (not the implicit null
    /// of a nullable variable: the reference reads none there).
    fn directive_variable(&self, name: &Name) -> Result<Value, ()> {
        if let Some(value) = self.variables.get(name) {
            return Ok(value.clone());
        }
        self.definition(name)
            .and_then(|def| def.default_value.as_ref())
            .map(|value| value.node.clone())
            .ok_or(())
    }

    fn definition(
        &self,
        name: &str,
    ) -> Option<&'a async_graphql::parser::types::VariableDefinition> {
        self.plan
            .operation
            .node
            .variable_definitions
            .iter()
            .find(|def| def.node.name.node == name)
            .map(|def| &def.node)
    }

    // -----------------------------------------------------------------------------------------
    // Variables

    /// The reference checks every declared variable's value against its type when it
    /// validates the document, used or not (a field skipped by `@skip` included): a value
    /// this does not accept as plainly well-typed goes to the reference, which reports it.
    /// Variables the operation does not declare are ignored, by both.
    fn check_variables(&self) -> Result<(), Fallback> {
        // A directive's `if` must be a boolean (an explicit null is refused by the reference,
        // wherever the directive sits).
        for name in &self.plan.directive_variables {
            if self
                .variables
                .get(name)
                .is_some_and(|value| !matches!(value, Value::Boolean(_)))
            {
                return Err(Fallback::Runtime(
                    "a directive's condition is not a boolean",
                ));
            }
        }
        // The other operations of the document are validated with these variables too.
        for def in &self.plan.other_variables {
            if let Some(value) = self.variables.get(&def.name.node) {
                if !well_typed(value, &def.var_type.node) {
                    return Err(Fallback::Runtime(
                        "a variable's value is not plainly of its type in another operation",
                    ));
                }
            }
        }
        let definitions = &self.plan.operation.node.variable_definitions;
        for def in definitions {
            let def = &def.node;
            let value = match self.variables.get(&def.name.node) {
                Some(value) => value,
                None => match &def.default_value {
                    Some(default) => &default.node,
                    None if def.var_type.node.nullable => continue,
                    None => return Err(Fallback::Runtime("a required variable is missing")),
                },
            };
            if !well_typed(value, &def.var_type.node) {
                return Err(Fallback::Runtime(
                    "a variable's value is not plainly of its type",
                ));
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Arguments

    /// An argument's value with its variables read as the reference reads them (as sent,
    /// else the default, else null for a nullable variable); None when absent.
    fn argument(&self, c: &Collected<'a>, name: &str) -> Result<Option<Value>, Fallback> {
        let Some(value) = c.field.get_argument(name) else {
            return Ok(None);
        };
        value
            .node
            .clone()
            .into_const_with(|variable| {
                let def = self.definition(&variable).ok_or(())?;
                self.variables
                    .get(&variable)
                    .or_else(|| def.default_value())
                    .cloned()
                    .ok_or(())
            })
            .map(Some)
            .map_err(|()| Fallback::Runtime("a variable without a value"))
    }

    /// An `ID!` argument sent as a string (other forms go to the reference).
    fn id(&self, c: &Collected<'a>, name: &str) -> Result<String, Fallback> {
        match self.argument(c, name)? {
            Some(Value::String(id)) => Ok(id),
            _ => Err(Fallback::Runtime("an ID that is not a string")),
        }
    }

    /// An `[ID!]!` argument sent as a list of strings.
    fn ids(&self, c: &Collected<'a>, name: &str) -> Result<Vec<String>, Fallback> {
        let Some(Value::List(items)) = self.argument(c, name)? else {
            return Err(Fallback::Runtime("ids that are not a list"));
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::String(id) => Ok(id),
                _ => Err(Fallback::Runtime("an ID that is not a string")),
            })
            .collect()
    }

    /// An `Int` argument (absent and null: None).
    fn int(&self, c: &Collected<'a>, name: &str) -> Result<Option<i32>, Fallback> {
        match self.argument(c, name)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or(Fallback::Runtime("an Int out of range")),
            Some(_) => Err(Fallback::Runtime("an Int that is not a number")),
        }
    }

    /// A `String` argument (absent and null: None).
    fn string(&self, c: &Collected<'a>, name: &str) -> Result<Option<String>, Fallback> {
        match self.argument(c, name)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(Fallback::Runtime("a String that is not a string")),
        }
    }

    /// A `Boolean` argument (absent and null: None).
    fn boolean(&self, c: &Collected<'a>, name: &str) -> Result<Option<bool>, Fallback> {
        match self.argument(c, name)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(b)),
            Some(_) => Err(Fallback::Runtime("a Boolean that is not a boolean")),
        }
    }
}

/// Whether `value` is of `ty` without any coercion but the GraphQL null: the scalars this
/// schema's arguments take, and lists of them.
fn well_typed(value: &Value, ty: &async_graphql::parser::types::Type) -> bool {
    use async_graphql::parser::types::BaseType;
    if let Value::Null = value {
        return ty.nullable;
    }
    match &ty.base {
        BaseType::List(item) => match value {
            Value::List(items) => items.iter().all(|v| well_typed(v, item)),
            _ => false,
        },
        BaseType::Named(name) => match (name.as_str(), value) {
            ("ID" | "String", Value::String(_)) => true,
            ("Int", Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            ("Boolean", Value::Boolean(_)) => true,
            _ => false,
        },
    }
}

/// Whether two occurrences of a response key pass the same arguments, written the same way
/// (in any order).
fn same_arguments(a: &Field, b: &Field) -> bool {
    a.arguments.len() == b.arguments.len()
        && a.arguments.iter().all(|(name, value)| {
            b.get_argument(&name.node)
                .is_some_and(|other| other.node == value.node)
        })
}

/// The JSON object key of a response key.
fn key(name: &Name) -> Key {
    let mut out = Vec::with_capacity(name.len() + 3);
    super::json::string(&mut out, name);
    out.push(b':');
    out.into_boxed_slice()
}
