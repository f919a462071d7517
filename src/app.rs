//! The axum Router: the two doors, the playground, health, and the tower layers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::graphql::{self, GatewaySchema};
use crate::metrics::{self, Metrics};
use crate::ratelimit::{self, Limiter};
use crate::rest;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub schema: GatewaySchema,
    /// Persisted queries and document limits, applied before the schema runs.
    pub documents: Arc<graphql::documents::Documents>,
    pub metrics: Arc<Metrics>,
    /// Per-client rate limiter, when configured.
    pub limiter: Option<Arc<Limiter>>,
    /// Permits to execute a GraphQL operation (`GRAPHQL_MAX_CONCURRENT`).
    pub graphql_permits: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            store,
            schema: graphql::schema(config.graphql),
            documents: Arc::new(graphql::documents::Documents::new(
                graphql::documents::DocumentLimits {
                    max_fields: config.graphql.max_fields,
                    max_root_fields: config.graphql.max_root_fields,
                },
            )),
            metrics: Arc::new(Metrics::new()),
            limiter: config
                .rate_limit
                .and_then(|(per_second, burst)| Limiter::new(per_second, burst)),
            graphql_permits: Arc::new(tokio::sync::Semaphore::new(config.graphql_max_concurrent)),
            config: Arc::new(config),
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
            "/api/v2/openapi.json",
            get(rest::openapi::document).fallback(rest::method_not_allowed),
        )
        .route(
            "/graphql",
            get(graphql::http::get).post(graphql::http::post),
        )
        .route("/graphql/assets/{file}", get(graphql::playground::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
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

/// `/readyz`: 200 when the database answers and its schema is current, else 503.
async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ready().await {
        Ok(()) => "ready".into_response(),
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "not ready");
            ApiError::Unavailable.into_response()
        }
    }
}

/// Answers 503 when a request takes longer than `REQUEST_TIMEOUT_MS` (e.g. a database that
/// accepts connections but does not answer), instead of letting the client hang.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request timed out");
            ApiError::Unavailable.into_response()
        }
    }
}

/// The tracing span of a request, carrying its id (also sent back as `X-Request-Id`).
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
}
