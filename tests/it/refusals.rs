//! Refusals made in front of the doors — by the tower layers (body limit, rate limit, request
//! timeout, CORS preflight) and by the routers (a method a route does not take) — answer in
//! the shape of the door the request was for: REST's `{"errors": [{"code", "message"}]}` with
//! `application/json`, and on `/graphql` the GraphQL-over-HTTP shape
//! `{"errors": [{"message", "extensions": {"code"}}]}` in the negotiated media type. Never
//! `text/plain`, never an empty body.

use std::time::Duration;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

use crate::common::{self, TestDb, TEST_SECRET};
use community_gateway::config::Config;

const REST: &str = "/api/v2/user/1/connections/";
const GRAPHQL: &str = "/graphql";

/// The body of a refusal in the REST shape, checked: JSON, one error with `code`.
async fn rest_error(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "status of a REST refusal");
    let kind = content_type(&response);
    assert!(
        kind.starts_with("application/json"),
        "REST refusal as {kind}"
    );
    let body: Value = response.json().await.expect("REST refusal is JSON");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// The body of a refusal in the GraphQL-over-HTTP shape, checked.
async fn graphql_error(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "status of a GraphQL refusal");
    let kind = content_type(&response);
    assert!(
        kind.starts_with("application/graphql-response+json")
            || kind.starts_with("application/json"),
        "GraphQL refusal as {kind}"
    );
    let body: Value = response.json().await.expect("GraphQL refusal is JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body.get("data").is_none(), "a refusal has no data: {body}");
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn server(config: Config) -> (TestDb, String) {
    let db = TestDb::new(common::Backend::Sqlite, "refusals")
        .await
        .expect("sqlite always runs");
    common::import_example(&db.store).await;
    let base = common::serve_with(db.store.clone(), config).await;
    (db, base)
}

fn query_body(size: usize) -> String {
    format!(
        r#"{{"query": "{{ me {{ id }} }}", "padding": "{}"}}"#,
        "x".repeat(size)
    )
}

#[tokio::test]
async fn body_over_the_limit_is_a_413_in_each_doors_shape() {
    let mut config = Config::with_secret(TEST_SECRET);
    config.max_body_bytes = 1024;
    let (_db, base) = server(config).await;
    let client = Client::new();

    // A declared length over the limit: refused before the body is read.
    let response = client
        .post(format!("{base}{GRAPHQL}"))
        .header("content-type", "application/json")
        .body(query_body(4096))
        .send()
        .await
        .expect("send");
    graphql_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    // A body sent in chunks, without a length, growing past the limit.
    let raw = chunked_post(&base, GRAPHQL, &"x".repeat(512), 8).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_default();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/"),
        "{head}"
    );
    assert!(body.contains("PAYLOAD_TOO_LARGE"), "{body}");

    let response = client
        .post(format!("{base}{REST}"))
        .body("x".repeat(4096))
        .send()
        .await
        .expect("send");
    rest_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Under the limit, the same document runs.
    let response = client
        .post(format!("{base}{GRAPHQL}"))
        .header("content-type", "application/json")
        .body(query_body(10))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

/// POSTs `chunks` copies of `chunk` with `Transfer-Encoding: chunked` (no `Content-Length`)
/// over a raw connection; returns the raw response.
async fn chunked_post(base: &str, path: &str, chunk: &str, chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    for _ in 0..chunks {
        let frame = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        // The server may answer and close before the last chunk: later writes may fail.
        if stream.write_all(frame.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn over_the_rate_limit_is_a_429_with_retry_after_in_each_doors_shape() {
    let mut config = Config::with_secret(TEST_SECRET);
    config.rate_limit = Some((1, 1));
    let (_db, base) = server(config).await;
    let client = Client::new();
    for (path, graphql) in [(REST, false), (GRAPHQL, true)] {
        // Each door with its own client key (the token's hash), so the buckets are separate.
        let token = format!("Bearer {}-{path}", "x".repeat(8));
        let send = || {
            client
                .get(format!("{base}{path}?query=%7B__typename%7D"))
                .header("authorization", &token)
                .send()
        };
        let _first = send().await.expect("send");
        let response = send().await.expect("send");
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
        if graphql {
            graphql_error(response, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS").await;
        } else {
            rest_error(response, StatusCode::TOO_MANY_REQUESTS, "throttled").await;
        }
    }
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_a_503_in_each_doors_shape() {
    let mut config = Config::with_secret(TEST_SECRET);
    // Every request that waits at all (for the database, for a batching window) is late.
    config.request_timeout = Duration::from_nanos(1);
    config.batch_delay = Duration::from_millis(50);
    // Reads from SQL, which always wait: from the graph cache a request may finish without
    // ever waiting, so within any time limit.
    config.cache.enabled = false;
    let (_db, base) = server(config).await;
    let client = Client::new();

    let response = client
        .get(format!("{base}{REST}"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    rest_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;

    let response = client
        .post(format!("{base}{GRAPHQL}"))
        .header("content-type", "application/json")
        .body(r#"{"query": "{ user(id: \"1\") { username } }"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    graphql_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_a_405_with_allow() {
    let (_db, base) = server(Config::with_secret(TEST_SECRET)).await;
    let client = Client::new();
    for (method, path, graphql) in [
        (Method::DELETE, REST, false),
        (Method::POST, "/healthz", false),
        (Method::PUT, "/metrics", false),
        (Method::POST, "/api/v2/openapi.json", false),
        (Method::PUT, GRAPHQL, true),
        (Method::DELETE, GRAPHQL, true),
    ] {
        let response = client
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(allow.contains("GET"), "{method} {path}: Allow {allow:?}");
        if graphql {
            assert!(allow.contains("POST"), "{method} {path}: Allow {allow:?}");
            graphql_error(
                response,
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
            )
            .await;
        } else {
            rest_error(
                response,
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_cors_preflight_from_an_unlisted_origin_is_a_403_in_each_doors_shape() {
    let mut config = Config::with_secret(TEST_SECRET);
    config.cors_origins = vec!["https://app.example.com".to_string()];
    let (_db, base) = server(config).await;
    let client = Client::new();
    let preflight = |path: &str, origin: &str| {
        client
            .request(Method::OPTIONS, format!("{base}{path}"))
            .header("origin", origin.to_string())
            .header("access-control-request-method", "POST")
            .send()
    };
    let response = preflight(REST, "https://evil.example").await.expect("send");
    rest_error(response, StatusCode::FORBIDDEN, "permission_denied").await;
    let response = preflight(GRAPHQL, "https://evil.example")
        .await
        .expect("send");
    graphql_error(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // The listed origin is allowed.
    let response = preflight(GRAPHQL, "https://app.example.com")
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"https://app.example.com"[..])
    );
}

#[tokio::test]
async fn graphql_transport_refusals_carry_extensions_code() {
    let (_db, base) = server(Config::with_secret(TEST_SECRET)).await;
    let client = Client::new();
    let post = |content_type: &str, body: &str| {
        client
            .post(format!("{base}{GRAPHQL}"))
            .header("content-type", content_type.to_string())
            .body(body.to_string())
            .send()
    };
    let response = post("application/json", "{not json").await.expect("send");
    graphql_error(response, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    let response = post("text/plain", r#"{"query": "{ me { id } }"}"#)
        .await
        .expect("send");
    graphql_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    let response = client
        .get(format!("{base}{GRAPHQL}?query=%7Bme%7Bid%7D%7D"))
        .header("accept", "text/plain")
        .send()
        .await
        .expect("send");
    graphql_error(response, StatusCode::NOT_ACCEPTABLE, "NOT_ACCEPTABLE").await;
}
