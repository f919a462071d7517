//! The axum Router: the two doors, the playground, health, and the tower layers.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::connections;
use crate::graphql::{self, GatewaySchema, RequestContext};
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
    Router::new()
        .route(rest::CONNECTIONS_PATH, connections_route.clone())
        .route(rest::CONNECTIONS_PATH_NO_SLASH, connections_route)
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(cors(&state.config.cors_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for browser frontends: read-only methods, the headers GraphQL clients send.
fn cors(origins: &[String]) -> CorsLayer {
    if origins.is_empty() {
        return CorsLayer::new();
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(std::time::Duration::from_secs(600))
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// `GET /graphql`: the GraphiQL playground for browsers, else a GraphQL-over-HTTP GET.
async fn graphql_get(state: State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && uri.query().is_none_or(|q| !q.contains("query=")) {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(request) => execute(state, headers, request).await.into_response(),
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}

async fn graphql_post(
    state: State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    execute(state, headers, request.into_inner())
        .await
        .into_response()
}

/// Authenticates the request once, then runs the operation with per-request loaders.
async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: async_graphql::Request,
) -> GraphQLResponse {
    let access = identify(&state, &headers).await;
    let origin = rest::link_origin(&state, &headers, None);
    let context = RequestContext::new(state.store.clone(), state.config.clone(), access, origin);
    state.schema.execute(request.data(context)).await.into()
}

async fn identify(state: &AppState, headers: &HeaderMap) -> Result<connections::Access, ApiError> {
    let credential =
        auth::credential(headers.get(header::AUTHORIZATION), &state.config.jwt_secret)?;
    let claimed = auth::claimed_user(credential, &state.store).await?;
    connections::identify(&state.store, claimed).await
}
