//! The connection lifecycle's REST routes (`docs/rest.md`, "Connection lifecycle"): the
//! actions (routes 1–7), one pair's status (8, 9), the request lists (10, 11) and several
//! statuses (12). The checks run in the spec's order: authentication (always required), method,
//! friendship mode (actions 1–6, lists 10 and 11), target, self, state. Every route answers with or without its trailing slash.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::{json, Value};

use super::body::{RequestBody, RequestPageBody};
use super::connections::json_response;
use super::openapi::op;
use super::openapi::params::{UserId, TARGET_ID};
use super::openapi::responses::{
    Forbidden, LifecycleConflict, NotFound, PayloadTooLarge, ServiceUnavailable,
    StatusesBadRequest, TooManyRequests, Unauthorized, UnsupportedMediaType,
};
use super::openapi::schemas::{
    ConnectionStatusBody, ConnectionStatusesBody, ConnectionStatusesRequest,
};
use super::openapi::templates;
use super::params;
use crate::core::lifecycle::{self, Action};
use crate::core::{self, ConnectionStatus, Offset};
use crate::error::ApiError;
use crate::extract::{Acting, TargetId, Viewer};
use crate::state::AppState;
use crate::store::RequestBox;

/// The actions' routes, under `/api/v2/user/{id}/`, with their action.
pub const ACTION_ROUTES: [(&str, Action); 7] = [
    ("connection/request", Action::Request),
    ("connection/accept", Action::Accept),
    ("connection/reject", Action::Reject),
    ("connection/cancel_reject", Action::CancelReject),
    ("connection/cancel_request", Action::CancelRequest),
    ("connection/remove", Action::Remove),
    ("connection_requests/mark_seen", Action::MarkSeen),
];

/// Routes 10 and 11.
pub use crate::core::{REQUESTS_PATH, REQUESTS_SENT_PATH};

/// Route 12.
pub const STATUSES_PATH: &str = "/api/v2/user/connection/statuses/";

/// The most ids route 12 takes (the maximum page size).
pub const MAX_STATUS_IDS: usize = 100;

const ALLOW_POST: &str = "POST, OPTIONS";
const ALLOW_GET: &str = "GET, HEAD, OPTIONS";

/// The lifecycle routes, each with and without its trailing slash.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let mut router = router;
    for (suffix, action) in ACTION_ROUTES {
        let route = post(move |state, viewer, target| run_action(state, viewer, target, action))
            .fallback(|viewer, method| other_method(viewer, method, ALLOW_POST));
        router = both_forms(router, &format!("/api/v2/user/{{id}}/{suffix}/"), route);
    }
    let is_connection = get(|state, viewer, target| read_pair(state, viewer, target, true))
        .fallback(|viewer, method| other_method(viewer, method, ALLOW_GET));
    let status = get(|state, viewer, target| read_pair(state, viewer, target, false))
        .fallback(|viewer, method| other_method(viewer, method, ALLOW_GET));
    router = both_forms(router, "/api/v2/user/{id}/is_connection/", is_connection);
    router = both_forms(router, "/api/v2/user/{id}/connection_status/", status);
    for (path, list) in [
        (REQUESTS_PATH, RequestBox::Received),
        (REQUESTS_SENT_PATH, RequestBox::Sent),
    ] {
        let route = get(move |state, viewer, uri, headers| {
            request_list(state, viewer, uri, headers, path, list)
        })
        .fallback(|viewer, method| other_method(viewer, method, ALLOW_GET));
        router = both_forms(router, path, route);
    }
    let statuses =
        post(statuses).fallback(|viewer, method| other_method(viewer, method, ALLOW_POST));
    both_forms(router, STATUSES_PATH, statuses)
}

/// `path` (slashed) and the same path without its slash, both answered by `route`.
fn both_forms(
    router: Router<AppState>,
    path: &str,
    route: MethodRouter<AppState>,
) -> Router<AppState> {
    router
        .route(path, route.clone())
        .route(path.trim_end_matches('/'), route)
}

/// Check 2: another method, after authentication (check 1, the `Viewer` extractor: credentials
/// are required and must name an existing user), as DRF does. OPTIONS answers which methods
/// there are.
async fn other_method(_: Viewer, method: Method, allow: &'static str) -> Response {
    if method == Method::OPTIONS {
        let allow = (header::ALLOW, HeaderValue::from_static(allow));
        return (StatusCode::NO_CONTENT, [allow]).into_response();
    }
    ApiError::method_not_allowed(&method, allow).into_response()
}

/// Routes 1–7. The body, whatever it is, is not read.
// Documented once under a template path; `openapi::routes` makes one operation per action.
#[utoipa::path(
    post,
    path = templates::ACTION,
    tag = "connections",
    description = "Checks, in order: 401 (credentials are always required), 405 another \
                   method, 403 friendship mode off (all but mark_seen), 404 unknown target \
                   (for request and accept also a soft-deleted one), 400 `self_connection`, \
                   400 when the pair's state does not allow the action. A retried call answers \
                   200 with the current status and changes nothing. The body is ignored. The \
                   route also answers without the trailing slash.",
    params(("id" = inline(UserId), Path, description = TARGET_ID)),
    security(("jwtBearer" = []), ("opaqueBearer" = []), ("tokenAuth" = [])),
    responses(
        (
            status = 200,
            description = "The viewer's connection status after the call.",
            body = ConnectionStatusBody
        ),
        (status = 400, response = LifecycleConflict),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn run_action(
    State(state): State<AppState>,
    Acting(actor): Acting,
    TargetId(target): TargetId,
    action: Action,
) -> Result<Response, ApiError> {
    let outcome = lifecycle::perform(&state.source, &actor, target, action).await?;
    if action == Action::MarkSeen {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(json_response(
        &json!({"connection_status": outcome.status.map(ConnectionStatus::as_str)}),
    ))
}

/// Routes 8 (`is_connection`) and 9 (`connection_status`): stored data, whatever the
/// settings; the viewer itself is not connected and has no status.
// Documented once under a template path; `openapi::routes` makes the two operations.
#[utoipa::path(
    get,
    path = templates::READ_PAIR,
    tag = "connections",
    description = "Stored data, whatever the settings (friendship mode off included). The \
                   viewer itself: not connected, status null.",
    params(("id" = inline(UserId), Path, description = TARGET_ID)),
    security(("jwtBearer" = []), ("opaqueBearer" = []), ("tokenAuth" = [])),
    responses(
        (status = 200, description = "The answer.", body = ConnectionStatusBody),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn read_pair(
    State(state): State<AppState>,
    Viewer { id: viewer, .. }: Viewer,
    TargetId(target): TargetId,
    is_connection: bool,
) -> Result<Response, ApiError> {
    let target = lifecycle::admit_target(&state.source, target, false).await?;
    let body = if is_connection {
        json!({"is_connection": lifecycle::is_connection(&state.source, viewer, target).await?})
    } else {
        let status = lifecycle::connection_status(&state.source, viewer, target).await?;
        json!({"connection_status": status.map(ConnectionStatus::as_str)})
    };
    Ok(json_response(&body))
}

/// Routes 10 and 11: a page of the viewer's received or sent requests, paged and linked as
/// the connections page (`path`: the slashed path, the base of the links).
// Documented once under a template path; `openapi::routes` makes the two operations, and
// `openapi::params` adds `limit` and `offset`.
#[utoipa::path(
    get,
    path = templates::REQUEST_LIST,
    tag = "connections",
    description = "Paged as the connections page (DRF `LimitOffsetPagination`). Checks, in \
                   order: 401 (credentials are always required), 405 another method, 403 \
                   friendship mode off. Requests whose other user is soft-deleted are listed. \
                   The route also answers without the trailing slash.",
    security(("jwtBearer" = []), ("opaqueBearer" = []), ("tokenAuth" = [])),
    responses(
        (
            status = 200,
            description = "One page of connection requests.",
            body = RequestPageBody
        ),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn request_list(
    State(state): State<AppState>,
    Viewer { access, .. }: Viewer,
    uri: Uri,
    headers: HeaderMap,
    path: &'static str,
    list: RequestBox,
) -> Result<Response, ApiError> {
    lifecycle::check_friendship(&access)?;
    let config = &state.config;
    let query = params::parse_query(uri.query());
    let limit = params::limit(&query, config.default_limit);
    let offset = Offset::from_digits(&params::offset(&query).digits);
    let page = core::request_page(
        &state.source,
        &access,
        list,
        limit,
        config.max_limit,
        &offset,
    )
    .await?;
    let base = format!(
        "{}{path}",
        core::origin(config.public_base_url.as_deref(), &headers, Some(&uri))
    );
    let link = |position: &core::Position| core::url(&base, &query, page.limit, position);
    let body = RequestPageBody {
        count: page.count,
        next: page.next.as_ref().map(link),
        previous: page.previous.as_ref().map(link),
        results: page
            .results
            .iter()
            .map(|request| RequestBody::new(request, &access.settings))
            .collect(),
    };
    Ok(json_response(&body))
}

/// Route 12: `{"users": [...]}` → `{"connection_statuses": {"<id>": status}}` for the ids that
/// name users.
#[utoipa::path(
    post,
    path = STATUSES_PATH,
    operation_id = op::STATUSES,
    tag = "connections",
    summary = "The viewer's connection status with several users",
    description = "Unknown ids are left out, duplicates appear once, soft-deleted users are \
                   included. Works with friendship mode off. Form data (`users=1&users=7`) is \
                   accepted too.",
    request_body = ConnectionStatusesRequest,
    security(("jwtBearer" = []), ("opaqueBearer" = []), ("tokenAuth" = [])),
    responses(
        (status = 200, description = "The statuses.", body = ConnectionStatusesBody),
        (status = 400, response = StatusesBadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
async fn statuses(
    State(state): State<AppState>,
    Viewer { id: viewer, .. }: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ids = users_field(&headers, &body)?;
    let existing = lifecycle::existing_users(&state.source, &ids).await?;
    let statuses = lifecycle::connection_statuses(&state.source, viewer, &existing).await?;
    let map: BTreeMap<String, Option<&str>> = statuses
        .into_iter()
        .map(|(id, status)| (id.to_string(), status.map(ConnectionStatus::as_str)))
        .collect();
    Ok(json_response(&json!({"connection_statuses": map})))
}

/// The ids of route 12's `users`, distinct, in the order given; valid ids above `i64::MAX`
/// are dropped (no stored user can have them).
fn users_field(headers: &HeaderMap, body: &[u8]) -> Result<Vec<i64>, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let items: Vec<Value> = match media.as_str() {
        "application/x-www-form-urlencoded" => form_users(body),
        "" | "application/json" => {
            let document: Value = if body.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                serde_json::from_slice(body)
                    .map_err(|err| ApiError::BadRequest(format!("JSON parse error - {err}")))?
            };
            match document.get("users") {
                Some(Value::Array(items)) if document.is_object() => items.clone(),
                _ => return Err(invalid_users()),
            }
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Unsupported media type \"{other}\" in request."
            )))
        }
    };
    if items.len() > MAX_STATUS_IDS {
        return Err(invalid_users());
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in &items {
        let id = match item {
            // DRF's IntegerField takes a whole float too (`1.0` is 1; `1.5` is refused).
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < u64::MAX as f64)
                    .map(|f| f as u64)
            }),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()
            }
            _ => None,
        };
        let id = id.filter(|id| *id >= 1).ok_or_else(invalid_users)?;
        // Valid, but above every stored id: no user to report.
        if let Ok(id) = i64::try_from(id) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// `users=1&users=7`, as DRF's FormParser reads a list field.
fn form_users(body: &[u8]) -> Vec<Value> {
    url::form_urlencoded::parse(body)
        .filter(|(key, _)| key == "users")
        .map(|(_, value)| Value::String(value.into_owned()))
        .collect()
}

fn invalid_users() -> ApiError {
    ApiError::Invalid {
        field: "users",
        message: format!(
            "users must be a list of at most {MAX_STATUS_IDS} user ids (positive integers)."
        ),
    }
}
