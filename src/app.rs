//! The whole HTTP surface: the two doors' routers, the operations routes, and the tower layers
//! in front of them.
//!
//! Every refusal a layer makes (timeout, body too large, rate limit, unknown CORS origin) is an
//! `ApiError`, rendered in the shape of the door the request was for: the GraphQL-over-HTTP
//! shape on `/graphql`, the REST shape everywhere else.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::graphql;
use crate::metrics;
use crate::ratelimit::Limiter;
use crate::rest;
use crate::state::AppState;

/// The service: REST, GraphQL, operations, and the layers.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let limiter = config
        .rate_limit
        .and_then(|(per_second, burst)| Limiter::new(per_second, burst));
    let router = Router::new()
        .merge(rest::router(state.clone()))
        .merge(graphql::router(state.clone()))
        .merge(operations(state.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn_with_state(limiter, rate_limit))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        // A declared length over the limit is refused before the body is read; a body that
        // grows past it while streaming fails the handler's extractor (`DefaultBodyLimit`),
        // which answers the same 413.
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            config.max_body_bytes,
            body_limit,
        ))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    match cors(&config.cors_origins) {
        Some((cors, allowed)) => router
            .layer(cors)
            .layer(middleware::from_fn_with_state(allowed, refuse_origin)),
        None => router,
    }
}

/// `/healthz`, `/readyz`, `/metrics`.
fn operations(state: AppState) -> Router {
    Router::new()
        .route("/healthz", only_get(get(|| async { "ok" })))
        .route("/readyz", only_get(get(ready)))
        .route("/metrics", only_get(get(render_metrics)))
        .with_state(state)
}

/// A route that answers 405 (REST shape) to every method but GET and HEAD.
fn only_get(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|method: Method| async move {
        ApiError::method_not_allowed(&method, "GET, HEAD").into_response()
    })
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

/// `/readyz`: 200 when the database answers and its schema is current, else 503; 503 too
/// once the server is leaving.
async fn ready(State(state): State<AppState>) -> Response {
    if state.drain.is_draining() {
        // Leaving (`state::Drain`): out of the balancer's rotation, while still serving.
        return ApiError::Unavailable.into_response();
    }
    match state.store.ready().await {
        // Ready while the primary is: the reads fall back to it when no replica can serve.
        Ok(()) => replicas_report(state.store.reads()).into_response(),
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "not ready");
            ApiError::Unavailable.into_response()
        }
    }
}

/// `ready`, then a line per read replica: in rotation or not, and its lag.
fn replicas_report(reads: &crate::store::Reads) -> String {
    let mut report = String::from("ready");
    let active = reads.active().map(|replica| replica.name.as_str());
    for (name, state) in reads.states() {
        let lag = state.lag.map_or("unreachable".to_string(), |lag| {
            format!("lag {:.3} s", lag.as_secs_f64())
        });
        let role = if active == Some(name) {
            "serving reads"
        } else if state.in_rotation {
            "in rotation"
        } else {
            "out of rotation"
        };
        report.push_str(&format!("\nreplica {name}: {role}, {lag}"));
    }
    if !reads.replicas.is_empty() && active.is_none() {
        report.push_str("\nreads: on the primary");
    }
    report
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    state.metrics.render(
        &state.store,
        state.source.graph().map(|g| g.as_ref()),
        state.source.events(),
    )
}

/// `err` in the shape of the door `path` belongs to.
fn refusal(path: &str, headers: &HeaderMap, err: ApiError) -> Response {
    refusal_for(graphql::owns(path), headers, err)
}

/// `err` in the GraphQL door's shape, or the REST one.
fn refusal_for(graphql: bool, headers: &HeaderMap, err: ApiError) -> Response {
    if graphql {
        graphql::refusal(headers, err)
    } else {
        err.into_response()
    }
}

/// Answers 503 when a request takes longer than `REQUEST_TIMEOUT_MS` (e.g. a database that
/// accepts connections but does not answer), instead of letting the client hang.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    // Kept for a refusal in the right shape: the door and, for GraphQL, what the client
    // accepts (not the whole header map: this runs on every request).
    let graphql = graphql::owns(request.uri().path());
    let mut accept = HeaderMap::new();
    if graphql {
        for value in request.headers().get_all(header::ACCEPT) {
            accept.append(header::ACCEPT, value.clone());
        }
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request timed out");
            refusal_for(graphql, &accept, ApiError::Unavailable)
        }
    }
}

/// 429 once a client's bucket is empty (when rate limiting is on).
async fn rate_limit(
    State(limiter): State<Option<Arc<Limiter>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = &limiter {
        if let Err(err) = limiter.check(&request) {
            return refusal(request.uri().path(), request.headers(), err);
        }
    }
    next.run(request).await
}

/// 413 for a request whose declared length is over `MAX_BODY_BYTES`.
async fn body_limit(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        let err = ApiError::PayloadTooLarge { limit };
        return refusal(request.uri().path(), request.headers(), err);
    }
    next.run(request).await
}

/// The origins `CORS_ORIGINS` allows; `None` stands for any.
#[derive(Clone)]
struct AllowedOrigins(Option<Arc<Vec<HeaderValue>>>);

/// CORS for browser frontends: read-only methods, the headers GraphQL clients send.
fn cors(origins: &[String]) -> Option<(CorsLayer, AllowedOrigins)> {
    if origins.is_empty() {
        return None;
    }
    let (allow_origin, allowed) = if origins.iter().any(|o| o == "*") {
        (AllowOrigin::any(), AllowedOrigins(None))
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        (
            AllowOrigin::list(list.clone()),
            AllowedOrigins(Some(Arc::new(list))),
        )
    };
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(std::time::Duration::from_secs(600));
    Some((layer, allowed))
}

/// A CORS preflight from an origin `CORS_ORIGINS` does not list is refused with a 403 that
/// says why (the CORS layer alone would answer an empty 200 that browsers then reject with
/// nothing to go on). Other requests pass: CORS is enforced by the browser, on the response.
async fn refuse_origin(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let preflight = request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let refused = match (headers.get(header::ORIGIN), &allowed.0) {
        (Some(origin), Some(list)) => preflight && !list.contains(origin),
        _ => false,
    };
    if refused {
        return refusal(request.uri().path(), headers, ApiError::OriginNotAllowed);
    }
    next.run(request).await
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
