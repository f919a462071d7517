//! The axum Router: the two doors, the playground, health, and the tower layers.

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::connections;
use crate::graphql::{self, GatewaySchema};
use crate::rest;
use crate::store::Store;
use crate::{auth, error::ApiError};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub schema: GatewaySchema,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            schema: graphql::schema(graphql::Limits::default()),
        }
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let connections_route = get(rest::user_connections).fallback(rest::method_not_allowed);
    let cors = cors(&state.config.cors_origins);
    let router = Router::new()
        .route(rest::CONNECTIONS_PATH, connections_route.clone())
        .route(rest::CONNECTIONS_PATH_NO_SLASH, connections_route)
        .route(
            "/graphql",
            get(graphql::http::get).post(graphql::http::post),
        )
        .route("/graphql/assets/{file}", get(graphql::playground::asset))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for browser frontends: read-only methods, the headers GraphQL clients send.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// Authenticates a GraphQL request once, for all its fields.
pub async fn identify(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<connections::Access, ApiError> {
    let credential =
        auth::credential(headers.get(header::AUTHORIZATION), &state.config.jwt_secret)?;
    let claimed = auth::claimed_user(credential, &state.store).await?;
    connections::identify(&state.store, claimed).await
}
