//! The SelfCommunity v2 REST door (`docs/rest.md`).
//!
//! Only what is REST-specific lives here: DRF's parameter fallbacks (`params`), the JSON shapes
//! (`body`), the connections page's handler (`connections`), the lifecycle's routes
//! (`lifecycle`) and the OpenAPI document (`openapi`). The
//! rules, the page and its links come from `crate::core`.

pub mod body;
pub mod connections;
pub mod lifecycle;
pub mod openapi;
pub mod params;

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub use connections::{CONNECTIONS_PATH, CONNECTIONS_PATH_NO_SLASH};

/// The REST routes, with their state.
pub fn router(state: AppState) -> Router {
    let connections_route =
        get(connections::user_connections).fallback(connections::method_not_allowed);
    let router = Router::new()
        .route(CONNECTIONS_PATH, connections_route.clone())
        .route(CONNECTIONS_PATH_NO_SLASH, connections_route)
        .route(
            "/api/v2/openapi.json",
            get(openapi::document).fallback(connections::method_not_allowed),
        );
    lifecycle::routes(router).with_state(state)
}
