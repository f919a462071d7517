//! The SelfCommunity v2 REST door: `GET /api/v2/user/{id}/connections/`.
//!
//! Only what is REST-specific lives here: DRF's parameter fallbacks (`params`), DRF's links
//! (`links`) and the JSON shapes (`body`). The rules come from `crate::connections`.

pub mod body;
pub mod links;
pub mod openapi;
pub mod params;

use async_graphql::dataloader::Loader;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth;
use crate::connections::{self, ConnectionPageLoader, ConnectionStatus, PageKey, Target, Viewer};
use crate::error::ApiError;
use crate::store::PageSpec;

use body::{PageBody, UserBody};

/// The route's path, with the trailing slash (the canonical form used in links).
pub const CONNECTIONS_PATH: &str = "/api/v2/user/{id}/connections/";
/// The same route without the slash: answered identically.
pub const CONNECTIONS_PATH_NO_SLASH: &str = "/api/v2/user/{id}/connections";

/// `GET /api/v2/user/{id}/connections/`.
pub async fn user_connections(
    State(state): State<AppState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let config = &state.config;

    // 1. Authentication.
    let credential = auth::credential(headers.get(header::AUTHORIZATION), &config.jwt_secret)?;
    let claimed = auth::claimed_user(credential, store).await?;
    // 2-4. Content availability, friendship mode, target (one statement).
    let target = match &path {
        Ok(Path(raw)) => parse_user_id(raw),
        Err(_) => Target::Malformed,
    };
    let access = connections::admit(store, claimed, target).await?;
    let Target::Id(owner) = target else {
        return Err(ApiError::NotFound);
    };
    // 5. Parameters.
    let query = params::parse_query(uri.query());
    let mutual = params::mutual(&query)?;
    let limit = params::limit(&query, config.default_limit, config.max_limit);
    let offset = params::offset(&query);

    let spec = PageSpec {
        limit,
        offset: offset
            .to_u128()
            .map_or(u64::MAX, |o| u64::try_from(o).unwrap_or(u64::MAX)),
        mutual,
    };
    // The page with its users' statuses and tags: two statements.
    let key = PageKey {
        owner,
        spec,
        with_tags: true,
        with_records: true,
    };
    let page_loader = ConnectionPageLoader {
        store: store.clone(),
        viewer: Viewer::known(access.viewer),
    };
    let page = page_loader
        .load(&[key])
        .await?
        .remove(&key)
        .unwrap_or_default();

    let base = format!(
        "{}{}",
        link_origin(&state, &headers, Some(&uri)),
        owner_path(&uri)
    );
    let links = links::links(&base, &query, limit, &offset.digits, page.count);
    let no_tags = Vec::new();
    let results = page
        .rows
        .iter()
        .map(|row| {
            // Read with records (the key asks for them).
            let user = row.user.as_ref().ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("page row {} without its record", row.id))
            })?;
            let user_tags = page.tags.get(&row.id).unwrap_or(&no_tags);
            let status = ConnectionStatus::of(access.viewer, row.id, row.relation);
            Ok(UserBody::new(user, user_tags, status, &access.settings))
        })
        .collect::<Result<_, ApiError>>()?;
    let body = PageBody {
        count: page.count,
        next: links.next,
        previous: links.previous,
        results,
    };
    Ok(json_response(&body))
}

/// Any method but GET/HEAD on the route: OPTIONS answers which methods there are (204),
/// anything else is a 405.
pub async fn method_not_allowed(method: Method) -> Response {
    let allow = (
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    if method == Method::OPTIONS {
        return (axum::http::StatusCode::NO_CONTENT, [allow]).into_response();
    }
    let body = serde_json::json!({"errors": [{
        "code": "method_not_allowed",
        "message": format!("Method \"{method}\" not allowed."),
    }]});
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        [allow],
        axum::Json(body),
    )
        .into_response()
}

/// A path id: ASCII digits naming a positive integer that fits in 64 bits.
fn parse_user_id(raw: &str) -> Target {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Target::Malformed;
    }
    match raw.parse::<u64>() {
        Ok(0) | Err(_) => Target::Malformed,
        // Above i64::MAX: well formed, but no stored id can be that large.
        Ok(id) => i64::try_from(id)
            .map(Target::Id)
            .unwrap_or(Target::Malformed),
    }
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

/// Scheme and host of links: `PUBLIC_BASE_URL` when set, else `http://` and the request's `Host`.
pub fn link_origin(state: &AppState, headers: &HeaderMap, uri: Option<&Uri>) -> String {
    if let Some(public) = &state.config.public_base_url {
        return public.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.and_then(|u| u.authority()).map(|a| a.as_str()))
        .filter(|h| is_plausible_host(h))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A `Host` value made of host-name, IP-literal and port characters only, so a hostile header
/// cannot inject anything into a link.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(matches!(parse_user_id("7"), Target::Id(7)));
        assert!(matches!(parse_user_id("007"), Target::Id(7)));
        assert!(matches!(
            parse_user_id("9223372036854775807"),
            Target::Id(i64::MAX)
        ));
        for bad in [
            "0",
            "",
            "-1",
            "+1",
            "abc",
            "1.0",
            "9223372036854775808",
            "18446744073709551616",
            " 1",
        ] {
            assert!(matches!(parse_user_id(bad), Target::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        assert!(is_plausible_host("testserver"));
        assert!(is_plausible_host("127.0.0.1:8080"));
        assert!(is_plausible_host("[::1]:8080"));
        assert!(!is_plausible_host("evil.com/\"><script>"));
        assert!(!is_plausible_host("a b"));
    }
}
