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
//! - `document`: a plan (a validated operation) and `Fallback`; `cache`: the plans, bounded;
//! - `bind`: a plan bound to a request's variables (field collection, directives, arguments);
//! - `run`: loading and writing;
//! - `fields`: the User and Tag leaves;
//! - `json`: the leaves' JSON, as serde_json writes the reference's `Value`s.

mod bind;
mod cache;
mod document;
mod fields;
mod json;
mod run;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Variables;

use super::request::RequestContext;

pub use cache::{DocumentKey, Known, PlanKey, Plans};
pub use document::{Fallback, Plan};

/// What `document` compiles to for a request naming `operation_name`, the operation chosen
/// as the reference chooses it.
pub fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Known {
    match document::compile(document, operation_name) {
        Ok(plan) => Known::Ready(Arc::new(plan)),
        Err(reason) => Known::Ineligible(reason),
    }
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
