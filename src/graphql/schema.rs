//! The schema: built once per server, printed as `schema.graphql`.

use async_graphql::{MergedObject, Schema};

use super::events::Subscription;
use super::lifecycle::Mutation;
use super::node::NodeQuery;
use super::types::Query;
use crate::config::GraphqlLimits;

// The query root: the users' fields, then Relay's `node` and `nodes` (`node::NodeQuery`).
/// The entry points.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(Query, NodeQuery);

pub type GatewaySchema = Schema<QueryRoot, Mutation, Subscription>;

/// Builds the schema (without per-request data).
pub fn schema(limits: GraphqlLimits) -> GatewaySchema {
    let mut builder = Schema::build(QueryRoot::default(), Mutation, Subscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    // No schema extensions (they would wrap every field resolution): persisted queries and
    // the document limits are applied by `documents::Documents` before the schema runs.
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema(GraphqlLimits::default()).sdl()
}
