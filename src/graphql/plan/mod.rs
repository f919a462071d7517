//! The compiled execution path (`docs/graphql-execution.md`): a query the reference executor
//! (async-graphql) has validated once is answered from then on without it. No per-field
//! future, no `Value` tree: the operation's selections are collected once per request into a
//! tree of field writers, the data is read level by level in one batch per level, and the
//! response is written into one buffer.
//!
//! Exactness is kept by construction rather than by imitation of the reference's errors:
//! the plan writes only success responses. Anything that would be an error (credentials,
//! settings, bad arguments, a failed read) or that the plan does not cover (mutations,
//! introspection, the request lists, an unusual argument form) is a [`Fallback`], and the
//! reference answers the request whole. Queries read only, so running the reference after a
//! fallen-back plan is safe.
//!
//! - `bind`: a plan bound to a request's variables (field collection, directives, arguments);
//! - `run`: loading and writing;
//! - `fields`: the User and Tag leaves;
//! - `json`: the leaves' JSON, as serde_json writes the reference's `Value`s.

mod bind;
mod fields;
mod json;
mod run;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
};
use async_graphql::{Name, Positioned, Variables};
use lru::LruCache;

use super::request::RequestContext;

/// How many plans are kept (least recently used go first). Clients send a few documents
/// again and again; an entry is a copy of one operation's syntax tree.
pub const PLAN_CACHE_SIZE: usize = 512;

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

/// A document, by its text (its SHA-256 when long) or by its persisted-query hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKey {
    Text(String),
    Digest([u8; 32]),
    Persisted(String),
}

/// A document and the operation a request runs of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlanKey {
    pub document: DocumentKey,
    pub operation: Option<String>,
}

/// One validated query operation, kept to be bound to each request's variables.
pub struct Plan {
    operation: Positioned<OperationDefinition>,
    fragments: HashMap<Name, Positioned<FragmentDefinition>>,
    /// The size of the last response: the next one's buffer is allocated once.
    size_hint: AtomicUsize,
}

/// What the cache knows of a document.
#[derive(Clone)]
pub enum Known {
    Ready(Arc<Plan>),
    /// The reference answers every request of it (the reason, for the metrics).
    Ineligible(&'static str),
}

/// The plans of the documents seen, bounded.
pub struct Plans {
    entries: Mutex<LruCache<PlanKey, Known>>,
}

impl Default for Plans {
    fn default() -> Self {
        Plans::new(PLAN_CACHE_SIZE)
    }
}

impl Plans {
    pub fn new(capacity: usize) -> Plans {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Plans {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    pub fn get(&self, key: &PlanKey) -> Option<Known> {
        self.lock().get(key).cloned()
    }

    /// Remembers what `document` compiles to for `operation`. Call it only once the
    /// reference validated the document (answered it without a request error): a plan
    /// skips validation.
    pub fn learn(&self, key: PlanKey, known: Known) {
        self.lock().put(key, known);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache holds only complete entries: a panic elsewhere while it was held leaves it
    /// usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<PlanKey, Known>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `document` compiles to for a request naming `operation_name`, the operation chosen
/// as the reference chooses it.
pub fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Known {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return Known::Ineligible("no operation"),
        },
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => op,
            None => return Known::Ineligible("no such operation"),
        },
        _ => return Known::Ineligible("no such operation"),
    };
    if operation.node.ty != OperationType::Query {
        return Known::Ineligible("not a query");
    }
    if !operation.node.directives.is_empty() {
        return Known::Ineligible("directives on the operation");
    }
    Known::Ready(Arc::new(Plan {
        operation: operation.clone(),
        fragments: document.fragments.clone(),
        size_hint: AtomicUsize::new(256),
    }))
}

impl Plan {
    /// Answers the request: the body of a success response, or why the reference must.
    pub async fn run(
        &self,
        rc: &RequestContext,
        variables: &Variables,
    ) -> Result<Vec<u8>, Fallback> {
        let bound = bind::Binder::new(self, variables).bind()?;
        let body = run::run(&bound, rc, self.size_hint.load(Relaxed)).await?;
        // A little above the last size: a response that grows by a few bytes does not grow
        // its buffer twice.
        self.size_hint
            .store(body.len() + body.len() / 8 + 64, Relaxed);
        Ok(body)
    }
}
