//! The GraphQL-over-HTTP transport of `/graphql`: status codes, media types, request checks,
//! persisted queries over POST and GET, and the offline playground with its embedded assets.

use crate::common;

use crate::common::TestDb;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// POSTs `body` (raw text) with the given headers.
async fn post_raw(base: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut request = Client::new()
        .post(format!("{base}/graphql"))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

/// POSTs a JSON body as `application/json`, accepting `accept`.
async fn post(base: &str, accept: &str, body: &Value) -> Response {
    post_raw(
        base,
        &[("content-type", JSON), ("accept", accept)],
        &body.to_string(),
    )
    .await
}

/// GETs `/graphql` with the given query parameters, accepting `accept`.
async fn get(base: &str, accept: &str, params: &[(&str, &str)]) -> Response {
    Client::new()
        .get(format!("{base}/graphql"))
        .query(params)
        .header(ACCEPT, accept)
        .send()
        .await
        .expect("request")
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Status, content type and JSON body.
async fn parts(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let kind = content_type(&response);
    let body = response.json().await.expect("JSON body");
    (status, kind, body)
}

fn first_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// A request with no `Accept` header at all (HTTP clients add one), over a plain socket.
async fn post_without_accept(base: &str, body: &str) -> (u16, String, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
    let status = head[9..12].parse().expect("status code");
    let kind = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, kind, body.to_string())
}

#[tokio::test]
async fn media_types_and_status_codes() {
    for db in TestDb::all("graphql_http_media_types").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let ok = json!({ "query": "{ __typename }" });
        let unparsable = json!({ "query": "{" });
        let invalid = json!({ "query": "{ noSuchField }" });

        // No Accept: the official media type.
        let (status, kind, body) = post_without_accept(&base, &ok.to_string()).await;
        assert_eq!(status, 200);
        assert!(kind.starts_with(GRAPHQL_RESPONSE), "{kind}");
        assert_eq!(body, r#"{"data":{"__typename":"Query"}}"#);

        // Named media types, weights, wildcards (legacy clients get application/json).
        for (accept, want) in [
            (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
            (JSON, JSON),
            (
                "application/graphql-response+json, application/json;q=0.9",
                GRAPHQL_RESPONSE,
            ),
            (
                "application/json, application/graphql-response+json;q=0.5",
                JSON,
            ),
            ("*/*", JSON),
        ] {
            let (status, kind, body) = parts(post(&base, accept, &ok).await).await;
            assert_eq!(status, 200, "Accept: {accept}");
            assert!(kind.starts_with(want), "Accept: {accept} gave {kind}");
            assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
        }

        // Neither: 406.
        let (status, _, body) = parts(post(&base, "text/plain", &ok).await).await;
        assert_eq!(status, 406);
        assert!(first_message(&body).contains("Not acceptable"));

        // Request errors: 400 and no data in the official type, 200 in application/json.
        for query in [&unparsable, &invalid] {
            let (status, kind, body) = parts(post(&base, GRAPHQL_RESPONSE, query).await).await;
            assert_eq!(status, 400, "{query}");
            assert!(kind.starts_with(GRAPHQL_RESPONSE));
            assert!(body.get("data").is_none(), "{body}");
            assert!(!first_message(&body).is_empty());

            let (status, kind, body) = parts(post(&base, JSON, query).await).await;
            assert_eq!(status, 200, "{query}");
            assert!(kind.starts_with(JSON));
            assert!(body.get("data").is_none(), "{body}");
        }

        // Variables that do not coerce are a request error too.
        let coercion = json!({ "query": "query Q($id: ID!) { user(id: $id) { id } }", "variables": { "id": null } });
        let (status, _, body) = parts(post(&base, GRAPHQL_RESPONSE, &coercion).await).await;
        assert_eq!(status, 400);
        assert!(body.get("data").is_none());

        // A field error is not: the response has data, so 200 whatever the media type.
        let field_error = post_raw(
            &base,
            &[
                ("content-type", JSON),
                ("accept", GRAPHQL_RESPONSE),
                ("authorization", "Bearer nope"),
            ],
            &json!({ "query": "{ me { id } }" }).to_string(),
        )
        .await;
        let (status, _, body) = parts(field_error).await;
        assert_eq!(status, 200);
        // (async-graphql leaves a failed field out of its object, so `data` is null here.)
        assert!(body.get("data").is_some(), "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["me"]));
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn malformed_requests() {
    for db in TestDb::all("graphql_http_malformed").await {
        let base = common::serve(db.store.clone()).await;
        let json_headers = [("content-type", JSON), ("accept", GRAPHQL_RESPONSE)];

        // Not a GraphQL request at all: 400 with a GraphQL-shaped error, in both media types.
        for accept in [GRAPHQL_RESPONSE, JSON] {
            for body in [
                "",
                "{ \"not a JSON",
                "[]",
                r#"{"qeury": "{ __typename }"}"#,
                r#"{"query": 1}"#,
                r#"{"query": "{ __typename }", "operationName": false}"#,
                r#"{"query": "{ __typename }", "variables": "{}"}"#,
                r#"{"query": "{ __typename }", "extensions": ["x"]}"#,
            ] {
                let response =
                    post_raw(&base, &[("content-type", JSON), ("accept", accept)], body).await;
                let (status, kind, json) = parts(response).await;
                assert_eq!(status, 400, "{body}");
                assert!(kind.starts_with(accept), "{body}: {kind}");
                assert!(!first_message(&json).is_empty(), "{body}: {json}");
                assert!(json.get("data").is_none());
            }
        }

        // Null parameters are absent parameters.
        let nulls = r#"{"query": "{ __typename }", "operationName": null, "variables": null, "extensions": null}"#;
        let (status, _, _) = parts(post_raw(&base, &json_headers, nulls).await).await;
        assert_eq!(status, 200);

        // A body that is not JSON: 415, with or without a Content-Type.
        let ok = r#"{"query": "{ __typename }"}"#;
        for headers in [
            vec![("accept", GRAPHQL_RESPONSE)],
            vec![("accept", GRAPHQL_RESPONSE), ("content-type", "text/plain")],
            vec![
                ("accept", GRAPHQL_RESPONSE),
                ("content-type", "application/json; charset=latin1"),
            ],
        ] {
            let (status, _, json) = parts(post_raw(&base, &headers, ok).await).await;
            assert_eq!(status, 415, "{headers:?}");
            assert!(!first_message(&json).is_empty());
        }
        let utf8 = [("content-type", "application/json; charset=utf-8")];
        assert_eq!(post_raw(&base, &utf8, ok).await.status(), 200);

        // Other methods: 405.
        let put = Client::new()
            .put(format!("{base}/graphql"))
            .send()
            .await
            .expect("request");
        assert_eq!(put.status(), 405);
    }
}

#[tokio::test]
async fn get_requests() {
    for db in TestDb::all("graphql_http_get").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;

        // A query with variables and an operation name.
        let query =
            r#"query Other { __typename } query Alice($id: ID!) { user(id: $id) { username } }"#;
        let params = [
            ("query", query),
            ("variables", r#"{"id": "1"}"#),
            ("operationName", "Alice"),
        ];
        let (status, kind, body) = parts(get(&base, GRAPHQL_RESPONSE, &params).await).await;
        assert_eq!(status, 200);
        assert!(kind.starts_with(GRAPHQL_RESPONSE));
        assert_eq!(body, json!({ "data": { "user": { "username": "alice" } } }));

        // Mutations (even ones the schema would reject) are refused over GET: 405, Allow: POST.
        for (query, name) in [
            ("mutation { __typename }", None),
            (
                "query A { __typename } mutation B { __typename }",
                Some("B"),
            ),
        ] {
            let mut params = vec![("query", query)];
            if let Some(name) = name {
                params.push(("operationName", name));
            }
            let response = get(&base, GRAPHQL_RESPONSE, &params).await;
            assert_eq!(response.headers()["allow"], "POST");
            let (status, _, body) = parts(response).await;
            assert_eq!(status, 405, "{query}");
            assert!(first_message(&body).contains("GET"));
        }

        // No query, or parameters that are not JSON objects: 400.
        for params in [
            vec![],
            vec![("query", "{ __typename }"), ("variables", "[1]")],
            vec![("query", "{ __typename }"), ("extensions", "{")],
        ] {
            let (status, _, body) = parts(get(&base, JSON, &params).await).await;
            assert_eq!(status, 400, "{params:?}");
            assert!(!first_message(&body).is_empty());
        }
    }
}

#[tokio::test]
async fn persisted_queries_over_post_and_get() {
    for db in TestDb::all("graphql_http_apq").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        for (n, via_get) in [(1, false), (2, true)] {
            // A document of its own for each round, so the cache starts without it.
            let query = format!(r#"query Q{n} {{ user(id: "1") {{ username }} }}"#);
            let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
            let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
            let hash_only = || async {
                if via_get {
                    let extensions = extensions.to_string();
                    get(
                        &base,
                        GRAPHQL_RESPONSE,
                        &[("extensions", extensions.as_str())],
                    )
                    .await
                } else {
                    post(
                        &base,
                        GRAPHQL_RESPONSE,
                        &json!({ "extensions": extensions }),
                    )
                    .await
                }
            };

            let (status, _, body) = parts(hash_only().await).await;
            assert_eq!(status, 400, "unknown hash is a request error");
            assert_eq!(first_message(&body), "PersistedQueryNotFound");

            let full = json!({ "query": query, "extensions": extensions });
            let (status, _, body) = parts(post(&base, GRAPHQL_RESPONSE, &full).await).await;
            assert_eq!(status, 200);
            assert_eq!(body["data"]["user"]["username"], "alice");

            let (status, _, body) = parts(hash_only().await).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["data"]["user"]["username"], "alice");
        }

        // A hash that does not match the query is refused.
        let wrong = json!({
            "query": "{ __typename }",
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "00" } },
        });
        let (status, _, body) = parts(post(&base, GRAPHQL_RESPONSE, &wrong).await).await;
        assert_eq!(status, 400);
        assert!(first_message(&body).contains("sha"));
    }
}

#[tokio::test]
async fn playground_and_its_assets() {
    for db in TestDb::all("graphql_http_playground").await {
        let base = common::serve(db.store.clone()).await;

        // Browsers asking for HTML without a query get the page.
        let page = get(&base, "text/html,application/xhtml+xml,*/*;q=0.8", &[]).await;
        assert_eq!(page.status(), 200);
        assert!(content_type(&page).starts_with("text/html"));
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .expect("CSP")
            .to_string();
        assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
        let html = page.text().await.expect("page");
        assert!(html.contains("demo-token-alice"));
        assert!(
            !html.contains("https://"),
            "the page loads nothing from elsewhere"
        );

        // Every script and stylesheet the page names is served, typed and cached.
        let assets: Vec<&str> = html
            .split("\"graphql/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(assets.len(), 5, "{assets:?}");
        for asset in assets {
            let response = Client::new()
                .get(format!("{base}/graphql/assets/{asset}"))
                .send()
                .await
                .expect("asset");
            assert_eq!(response.status(), 200, "{asset}");
            let kind = content_type(&response);
            let want = if asset.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(kind.starts_with(want), "{asset}: {kind}");
            let cache = response.headers()["cache-control"].to_str().expect("cache");
            if asset == "playground.js" {
                assert_eq!(cache, "no-cache");
            } else {
                assert!(cache.contains("max-age=31536000"), "{asset}: {cache}");
            }
            assert!(!response.bytes().await.expect("body").is_empty());
        }
        let license = Client::new()
            .get(format!("{base}/graphql/assets/graphiql-4.1.2.LICENSE.txt"))
            .send()
            .await
            .expect("license");
        assert_eq!(license.status(), 200);
        assert!(license.text().await.expect("text").contains("MIT License"));

        // Unknown names, and anything that looks like a path, are a JSON 404.
        for name in [
            "nope.js",
            "..%2FCargo.toml",
            "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
            "graphiql-4.1.2.min.js.map",
        ] {
            let response = Client::new()
                .get(format!("{base}/graphql/assets/{name}"))
                .send()
                .await
                .expect("asset");
            let (status, _, body) = parts(response).await;
            assert_eq!(status, 404, "{name}");
            assert_eq!(body["errors"][0]["code"], "not_found");
        }
    }
}
