//! Security: hostile credentials, ids and parameters at and past their type bounds, SQL
//! metacharacters and unicode in every input, against the real server on every backend.
//!
//! Every request must get the status the behaviour spec gives it, with exactly one of
//! the spec's error bodies (so no SQL text, stack trace or internal name can leak), never a 500.
//! Cases are tables; each group runs on every backend `TestDb::all` yields (SQLite always).
//! A case the server got wrong is kept in its table, so it stays fixed.
//!
//! One file per attack family: `jwt_and_headers` (forged, tampered and malformed JWTs, and
//! the forms of the `Authorization` header), `opaque_tokens` (stored-token lookalikes and
//! lookup tricks), `path_ids` (ids at and past their type bounds), `paging_params` (`limit`,
//! `offset` and `mutual` at and past their bounds), `hostile_inputs` (SQL metacharacters and
//! unicode in every input, the `Host` header and GraphQL arguments) and `graphql_auth` (the
//! rejected credentials again, through GraphQL). This file holds what they share: the
//! expected answers and their checks, the requests, valid tokens and the star community.

mod graphql_auth;
mod hostile_inputs;
mod jwt_and_headers;
mod opaque_tokens;
mod paging_params;
mod path_ids;

use crate::common;

use crate::common::{TestDb, TEST_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Client;
use serde_json::{json, Value};

// =============================================================================================
// Expectations

/// What a REST request must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// 200 with a page, whoever the viewer.
    Page,
    /// 200 with user 1's page of the example community as this viewer (None: anonymous) sees it.
    PageAs(Option<i64>),
    /// 401 `not_authenticated`.
    NotAuthenticated,
    /// 401 `authentication_failed`.
    AuthFailed,
    /// 403 `permission_denied`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 400, field error on `mutual`.
    BadMutual,
}

/// The spec's error body for `want`, and its status.
fn error_shape(want: Want) -> (u16, Value) {
    let plain = |status: u16, code: &str, message: &str| {
        (
            status,
            json!({"errors": [{"code": code, "message": message}]}),
        )
    };
    match want {
        Want::NotAuthenticated => plain(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
        Want::AuthFailed => plain(
            401,
            "authentication_failed",
            "Incorrect authentication credentials.",
        ),
        Want::Forbidden => plain(
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
        ),
        Want::NotFound => plain(404, "not_found", "Not found."),
        Want::BadMutual => (
            400,
            json!({"errors": [{"field": "mutual", "messages": [
                {"code": "invalid", "message": "mutual must be 0 or 1."}
            ]}]}),
        ),
        Want::Page | Want::PageAs(_) => unreachable!("not an error"),
    }
}

/// A REST answer, read whole.
struct Reply {
    status: u16,
    www_authenticate: Option<String>,
    content_type: String,
    text: String,
}

/// Checks `reply` against `want`; the page body when one was expected.
fn check(reply: &Reply, want: Want, case: &str) -> Option<Value> {
    let text = &reply.text;
    assert_ne!(reply.status, 500, "{case}: a 500: {text}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{case}: content type {:?}: {text}",
        reply.content_type
    );
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{case}: body is not JSON ({e}): {text}"));
    match want {
        Want::Page | Want::PageAs(_) => {
            assert_eq!(reply.status, 200, "{case}: {text}");
            let keys: Vec<&str> = body
                .as_object()
                .unwrap_or_else(|| panic!("{case}: not an object: {text}"))
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["count", "next", "previous", "results"], "{case}");
            if let Want::PageAs(viewer) = want {
                assert_eq!(viewer_seen(&body, case), viewer, "{case}: {text}");
            }
            Some(body)
        }
        _ => {
            let (status, shape) = error_shape(want);
            assert_eq!(reply.status, status, "{case}: {text}");
            assert_eq!(body, shape, "{case}: not exactly the spec's error body");
            if status == 401 {
                assert_eq!(
                    reply.www_authenticate.as_deref(),
                    Some("Bearer realm=\"api\""),
                    "{case}: every 401 carries WWW-Authenticate"
                );
            }
            None
        }
    }
}

/// Who the viewer was, from the statuses on user 1's list in the example community
/// (connections 3, 6, 2, 4): anonymous sees no status; alice (1, the target) sees every user
/// connected; bruno (2) sees chiara (3, mutual, first) connected and nothing else.
fn viewer_seen(page: &Value, case: &str) -> Option<i64> {
    let results = page["results"].as_array().expect("results");
    let ids: Vec<i64> = results.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    let statuses: Vec<Option<&str>> = results
        .iter()
        .map(|u| u["connection_status"].as_str())
        .collect();
    assert_eq!(page["count"], 4, "{case}");
    assert_eq!(ids, [3, 6, 2, 4], "{case}");
    let c = Some("connected");
    match statuses.as_slice() {
        [None, None, None, None] => None,
        [s1, s2, s3, s4] if [s1, s2, s3, s4].iter().all(|s| **s == c) => Some(1),
        [s1, None, None, None] if *s1 == c => Some(2),
        other => panic!("{case}: unexpected statuses {other:?}"),
    }
}

/// Words that betray internals (SQL, the ORM, the databases, panics, source paths).
const LEAKS: &[&str] = &[
    "select ",
    "insert into",
    "delete from",
    "from users",
    "from connections",
    "from access_tokens",
    "where ",
    "order by",
    "sqlx",
    "sqlite",
    "postgres",
    "mysql",
    "mariadb",
    "sea_orm",
    "sea-orm",
    "dberr",
    "panicked",
    "backtrace",
    "stack trace",
    ".rs:",
    "src/",
    "thread '",
    "syntax error",
    "community_gateway",
];

fn assert_no_leak(text: &str, case: &str) {
    let lower = text.to_lowercase();
    for leak in LEAKS {
        assert!(!lower.contains(leak), "{case}: {leak:?} leaks in {text}");
    }
}

// =============================================================================================
// Requests

/// The route's URL for a raw (already encoded) id and query.
fn route(base: &str, id: &str, query: &str) -> String {
    if query.is_empty() {
        format!("{base}/api/v2/user/{id}/connections/")
    } else {
        format!("{base}/api/v2/user/{id}/connections/?{query}")
    }
}

/// GETs `url` with these headers.
async fn fetch(client: &Client, url: &str, headers: &[(HeaderName, HeaderValue)]) -> Reply {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(name.clone(), value.clone());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {}: {e}", cut(url)));
    let header = |name: HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("<not text>").to_string())
    };
    let www_authenticate = header(reqwest::header::WWW_AUTHENTICATE);
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    Reply {
        status,
        www_authenticate,
        content_type,
        text,
    }
}

/// GETs `url` with this `Authorization` header (None: without one).
async fn fetch_auth(client: &Client, url: &str, auth: Option<&HeaderValue>) -> Reply {
    let headers: Vec<(HeaderName, HeaderValue)> = auth
        .map(|v| (AUTHORIZATION, v.clone()))
        .into_iter()
        .collect();
    fetch(client, url, &headers).await
}

/// A text header value.
fn hv(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|e| panic!("header value {text:?}: {e}"))
}

/// A header value of raw bytes (obs-text, non-UTF-8...).
fn hv_bytes(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).unwrap_or_else(|e| panic!("header value {bytes:?}: {e}"))
}

fn bearer(token: &str) -> HeaderValue {
    hv(&format!("Bearer {token}"))
}

/// At most 120 characters of `text`, for case names.
fn cut(text: &str) -> String {
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short}…({} bytes)", text.len())
    } else {
        short
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved ones, so the server decodes `text`
/// exactly (for a path segment or a query key or value).
fn pct(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// =============================================================================================
// Tokens

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The claims of a valid access token for `user_id`.
fn claims(user_id: i64) -> Value {
    json!({"token_type": "access", "exp": now() + 600, "iat": now(), "jti": "0123abcd", "user_id": user_id})
}

/// A JWT signed by the library with `alg` and `secret`.
fn sign(claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("sign")
}

/// A valid HS256 access token for `user_id`, signed with the test server's secret.
fn jwt(user_id: i64) -> String {
    sign(&claims(user_id), Algorithm::HS256, TEST_SECRET.as_bytes())
}

// =============================================================================================
// Data

/// A star: user 1 connected to users 2..=`users`, user `id` connected at minute `id` of
/// 2024-01-01, so anonymous pages list ids from `users` down to 2 (count `users - 1`).
fn star_json(users: i64) -> String {
    let user = |id: i64| common::plain_user(id, &[]);
    let connections: Vec<Value> = (2..=users)
        .map(|id| {
            json!({"users": [1, id], "connected_at": format!("2024-01-01T{:02}:{:02}:00Z", id / 60, id % 60)})
        })
        .collect();
    json!({"settings": {}, "tags": [], "users": (1..=users).map(user).collect::<Vec<_>>(),
        "connections": connections, "connection_requests": [], "access_tokens": []})
    .to_string()
}

/// Users in the star community.
const STAR_USERS: i64 = 150;
/// User 1's connection count there.
const STAR_COUNT: u128 = (STAR_USERS - 1) as u128;

async fn import_star(db: &TestDb) {
    let file = community_gateway::datafile::parse(star_json(STAR_USERS).as_bytes()).expect("star");
    community_gateway::bulk::import(&db.store, &file)
        .await
        .expect("star imports");
}

/// Checks a page of user 1's star list for an effective `limit` and `offset` (as DRF would
/// compute them) and the links DRF would build, the request carrying only `limit`/`offset`.
fn check_star_page(page: &Value, base: &str, limit: u128, offset: u128, case: &str) {
    let path = route(base, "1", "");
    let link = |offset: Option<u128>| match offset {
        Some(o) => format!("{path}?limit={limit}&offset={o}"),
        None => format!("{path}?limit={limit}"),
    };
    let ids: Vec<i64> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    let want_ids: Vec<i64> = (0..limit)
        .map(|i| offset.saturating_add(i))
        .take_while(|i| *i < STAR_COUNT)
        .map(|i| STAR_USERS - i as i64)
        .collect();
    assert_eq!(page["count"], STAR_COUNT as u64, "{case}");
    assert_eq!(ids, want_ids, "{case}: limit {limit}, offset {offset}");
    let next = (offset.saturating_add(limit) < STAR_COUNT).then(|| link(Some(offset + limit)));
    let previous = (offset > 0).then(|| {
        if offset <= limit {
            link(None)
        } else {
            link(Some(offset - limit))
        }
    });
    assert_eq!(page["next"], json!(next), "{case}: next");
    assert_eq!(page["previous"], json!(previous), "{case}: previous");
}

// =============================================================================================
// GraphQL

/// POSTs a GraphQL request; status and JSON body.
async fn graphql(
    client: &Client,
    base: &str,
    headers: &[(HeaderName, HeaderValue)],
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = client
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    for (name, value) in headers {
        request = request.header(name.clone(), value.clone());
    }
    let response = request.send().await.expect("graphql request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("graphql body");
    assert_ne!(status, 500, "graphql 500: {text}");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}
