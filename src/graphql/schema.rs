//! The schema: built once per server, printed as `schema.graphql`.

use async_graphql::Schema;

use super::events::Subscription;
use super::lifecycle::Mutation;
use super::types::Query;
use crate::config::GraphqlLimits;

pub type GatewaySchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema (without per-request data).
pub fn schema(limits: GraphqlLimits) -> GatewaySchema {
    let mut builder = Schema::build(Query, Mutation, Subscription)
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
