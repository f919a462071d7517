//! `GET /api/v2/user/{id}/connections/` (`docs/rest.md`): parse the request with DRF's
//! fallbacks, ask the core for the page, render it as DRF JSON with absolute links.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::body::{PageBody, UserBody};
use super::openapi::op;
use super::openapi::params::{MutualFilter, UserId};
use super::openapi::responses::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests,
    Unauthorized,
};
use super::params;
use crate::core::{self, Offset, PageRequest, Target};
use crate::error::ApiError;
use crate::extract::{Claimed, TargetId};
use crate::state::AppState;

/// The route's path, with the trailing slash (the canonical form used in links).
pub const CONNECTIONS_PATH: &str = "/api/v2/user/{id}/connections/";
/// The same route without the slash: answered identically.
pub const CONNECTIONS_PATH_NO_SLASH: &str = "/api/v2/user/{id}/connections";

/// `GET /api/v2/user/{id}/connections/`.
///
/// Check 1 (the credentials' form, a stored token's owner) is the `Claimed` extractor's;
/// checks 2–4 (the user exists, the settings, the target) are `core::admit`'s one statement.
// `limit` and `offset` are added by `openapi::params` (DRF's lenient reading, configured sizes);
// the 200 response's links by `openapi::links`.
#[utoipa::path(
    get,
    path = CONNECTIONS_PATH,
    operation_id = op::CONNECTIONS,
    tag = "users",
    summary = "A user's connections",
    description = "The accepted friendships of user `id`, one page at a time, as Django REST \
                   Framework's `LimitOffsetPagination` pages them. Order: connections the \
                   viewer shares first (mutual), then the most recently connected first, then \
                   user id. Checks, in order: 401 bad or unknown token, 401 anonymous when \
                   content is not public, 403 friendship mode off, 404 unknown user, 400 bad \
                   `mutual`. The same route without the trailing slash answers identically; \
                   any method other than GET or HEAD answers 405 (response `MethodNotAllowed`).",
    params(
        (
            "id" = inline(UserId),
            Path,
            description = "The user's id: a positive integer that fits in 64 bits. Any other \
                           segment, like an unknown id, answers 404."
        ),
        (
            "mutual" = inline(Option<MutualFilter>),
            Query,
            description = "Absent: all connections. `1`: only those the viewer shares. `0`: \
                           only those the viewer does not share. Any other value (`2`, `true`, \
                           empty): 400. When repeated, the last value counts."
        ),
    ),
    security((), ("jwtBearer" = []), ("opaqueBearer" = []), ("tokenAuth" = [])),
    responses(
        (status = 200, description = "One page of connections.", body = PageBody),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn user_connections(
    State(state): State<AppState>,
    Claimed(claimed): Claimed,
    TargetId(target): TargetId,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let source = &state.source;
    let config = &state.config;
    let access = core::admit(source, claimed, target).await?;
    let Target::Id(owner) = target else {
        return Err(ApiError::NotFound);
    };
    // 5. Parameters.
    let query = params::parse_query(uri.query());
    let mutual = params::mutual(&query)?;
    let limit = params::limit(&query, config.default_limit);
    let offset = params::offset(&query);

    let request = PageRequest::new(
        owner,
        limit,
        config.max_limit,
        Offset::from_digits(&offset.digits),
        mutual,
    );
    // The page with its users' records, statuses and tags: two statements.
    let page = core::load_page(source, &access, &request, true, true).await?;

    let base = format!(
        "{}{}",
        core::origin(config.public_base_url.as_deref(), &headers, Some(&uri)),
        owner_path(&uri)
    );
    let link = |position: &core::Position| core::url(&base, &query, page.limit, position);
    let results = page
        .listed()
        .map(|listed| {
            // Read with records (the request asked for them).
            let user = listed.record.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("page row {} without its record", listed.id))
            })?;
            let tags = listed.tags.unwrap_or_default();
            Ok(UserBody::new(user, tags, listed.status, &access.settings))
        })
        .collect::<Result<_, ApiError>>()?;
    let body = PageBody {
        count: page.count,
        next: page.next.as_ref().map(link),
        previous: page.previous.as_ref().map(link),
        results,
    };
    Ok(json_response(&body))
}

/// Any method but GET/HEAD on the route: OPTIONS answers which methods there are (204),
/// anything else is a 405.
pub async fn method_not_allowed(method: Method) -> Response {
    const ALLOW: &str = "GET, HEAD, OPTIONS";
    if method == Method::OPTIONS {
        let allow = (header::ALLOW, HeaderValue::from_static(ALLOW));
        return (axum::http::StatusCode::NO_CONTENT, [allow]).into_response();
    }
    ApiError::method_not_allowed(&method, ALLOW).into_response()
}

/// The request path in its canonical, slashed form.
fn owner_path(uri: &Uri) -> String {
    let path = uri.path();
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

/// A compact JSON 200 response, as DRF's `JSONRenderer` writes it.
pub fn json_response(body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (
                    header::VARY,
                    HeaderValue::from_static("Accept, Authorization"),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => ApiError::internal(err).into_response(),
    }
}
