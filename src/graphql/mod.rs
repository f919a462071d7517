//! The GraphQL door (`docs/graphql.md`): the schema's types, the GraphQL-over-HTTP transport,
//! the playground.
//!
//! - `types`: the schema's objects; resolvers apply `crate::core`'s rules and read through the
//!   request's DataLoaders, so an operation costs a fixed number of SQL statements however
//!   many users it touches;
//! - `state`: the door's state; `request`: each request's viewer and loaders;
//! - `lifecycle`: the mutations and request lists of the connection lifecycle;
//! - `events`: the `connectionEvents` subscription;
//! - `http`: GraphQL over HTTP, our own (see its module comment for why);
//! - `ws`: GraphQL over WebSocket (`graphql-transport-ws`), for the subscription;
//!   `ws_protocol`: the protocol's rules checked on each frame before the library reads it;
//!   `ws_outbound`: each socket's bounded outbound queue;
//! - `documents`: persisted queries and document limits, applied before the schema runs;
//! - `plan`: the compiled execution path for the queries clients send, exact to the
//!   reference executor (async-graphql) it falls back to;
//! - `schema`: building the schema and printing its SDL;
//! - `playground`: GraphiQL, served from files embedded in the binary.

pub mod documents;
mod events;
mod global_id;
pub mod http;
mod lifecycle;
mod node;
mod plan;
pub mod playground;
mod request;
mod schema;
mod state;
mod types;
mod ws;
mod ws_outbound;
mod ws_protocol;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub use http::refusal;
pub use request::RequestContext;
pub use schema::{schema, sdl, GatewaySchema};
pub use state::GraphqlState;
pub use types::{Query, User, UserConnectionPage};

/// The path of the GraphQL endpoint.
pub const PATH: &str = "/graphql";

/// Whether a request path is the GraphQL door's (its refusals take the GraphQL shape).
pub fn owns(path: &str) -> bool {
    path == PATH
}

/// The GraphQL routes, with their state.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            PATH,
            get(ws::get)
                .post(http::post)
                .fallback(http::method_not_allowed),
        )
        .route("/graphql/assets/{file}", get(playground::asset))
        .with_state(GraphqlState::new(state))
}
