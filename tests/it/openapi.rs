//! The OpenAPI document: served as JSON, OpenAPI 3.1, faithful to the spec's shapes, and real
//! response bodies (200 and every error) validate against the schemas it names.

use crate::common;

use crate::common::{TestDb, TAG_KEYS, TEST_SECRET, USER_KEYS};
use community_gateway::config::Config;
use community_gateway::rest::openapi::{self, names};
use serde_json::{json, Value};

/// The spec's nullable User keys.
const SPEC_NULLABLE_USER_KEYS: [&str; 9] = [
    "avatar",
    "ext_id",
    "followings_counter",
    "followers_counter",
    "connection_status",
    "location_lat_lng",
    "position_lat_lng",
    "date_of_birth",
    "cover",
];

const ROUTE: &str = "/api/v2/user/{id}/connections/";

/// The lifecycle's routes and their methods.
const LIFECYCLE_ROUTES: [(&str, &str); 12] = [
    ("/api/v2/user/{id}/connection/request/", "post"),
    ("/api/v2/user/{id}/connection/accept/", "post"),
    ("/api/v2/user/{id}/connection/reject/", "post"),
    ("/api/v2/user/{id}/connection/cancel_reject/", "post"),
    ("/api/v2/user/{id}/connection/cancel_request/", "post"),
    ("/api/v2/user/{id}/connection/remove/", "post"),
    ("/api/v2/user/{id}/connection_requests/mark_seen/", "post"),
    ("/api/v2/user/{id}/is_connection/", "get"),
    ("/api/v2/user/{id}/connection_status/", "get"),
    ("/api/v2/user/connection/statuses/", "post"),
    ("/api/v2/user/connection/requests/", "get"),
    ("/api/v2/user/connection/requests_sent/", "get"),
];

/// A validator for `#/components/schemas/{name}` of `doc`, refs resolved inside the document.
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    schema_validator(doc, json!({"$ref": format!("#/components/schemas/{name}")}))
}

/// A validator for `schema` (which may hold `#/components/...` refs into `doc`).
fn schema_validator(doc: &Value, schema: Value) -> jsonschema::Validator {
    let mut root = schema;
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = doc["components"].clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .expect("schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\nbody: {instance}");
}

/// Follows a `$ref` into the document (one level, as the document uses them).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => doc
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling ref {pointer}")),
        None => value,
    }
}

/// The documented response for `status` (of the GET operation, or the named component).
fn documented(doc: &Value, status: u16) -> &Value {
    if status == 405 {
        return &doc["components"]["responses"]["MethodNotAllowed"];
    }
    let op = &doc["paths"][ROUTE]["get"];
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("status {status} is not documented"));
    resolve(doc, response)
}

/// Checks a live response against the document: status documented, JSON body valid against
/// its schema, documented headers present and valid. Returns the body.
async fn check(doc: &Value, response: reqwest::Response, want_status: u16) -> Value {
    let status = response.status().as_u16();
    assert_eq!(status, want_status, "status");
    let spec = documented(doc, status).clone();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        spec["content"].get(&content_type).is_some(),
        "{status}: content type {content_type:?} not documented"
    );
    if let Some(headers) = spec.get("headers").and_then(Value::as_object) {
        for (name, header) in headers {
            let value = response.headers().get(name.as_str());
            if header["required"] == json!(true) {
                assert!(value.is_some(), "{status}: header {name} missing");
            }
            let Some(value) = value else { continue };
            let text = value.to_str().expect("ASCII header");
            // Headers travel as text; a header documented as an integer is parsed first.
            let instance = if header["schema"]["type"] == json!("integer") {
                json!(text.parse::<i64>().unwrap_or_else(|_| panic!(
                    "{status}: header {name}: {text:?} is not an integer"
                )))
            } else {
                json!(text)
            };
            let v = schema_validator(doc, header["schema"].clone());
            assert_valid(&v, &instance, &format!("{status} header {name}"));
        }
    }
    let body: Value = response.json().await.expect("JSON body");
    let schema = spec["content"][&content_type]["schema"].clone();
    let v = schema_validator(doc, schema);
    assert_valid(&v, &body, &format!("{status} body"));
    body
}

async fn fetch_document(base: &str) -> Value {
    let response = reqwest::get(format!("{base}/api/v2/openapi.json"))
        .await
        .expect("GET openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let text = response.text().await.expect("document text");
    serde_json::from_str(&text).expect("the document is JSON")
}

fn property_names(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

fn required_names(schema: &Value) -> Vec<String> {
    schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().expect("name").to_string())
        .collect()
}

fn types_of(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .map(|t| t.as_str().expect("type").to_string())
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_describes_the_route() {
    let db = TestDb::new(common::Backend::Sqlite, "openapi_document")
        .await
        .expect("sqlite");
    let base = common::serve(db.store.clone()).await;
    let doc = fetch_document(&base).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc,
        openapi::document_json(&Config::with_secret(TEST_SECRET))
    );
    // No servers: the document's own origin. With a public base URL: that one.
    assert!(doc.get("servers").is_none());
    let mut public = Config::with_secret(TEST_SECRET);
    public.public_base_url = Some("https://community.example/gw".into());
    assert_eq!(
        openapi::document_json(&public)["servers"],
        json!([{"url": "https://community.example/gw"}])
    );

    // The operation and its parameters.
    let paths = doc["paths"].as_object().expect("paths");
    let mut want: Vec<&str> = vec![ROUTE];
    want.extend(LIFECYCLE_ROUTES.iter().map(|(path, _)| *path));
    want.sort_unstable();
    let mut have: Vec<&str> = paths.keys().map(String::as_str).collect();
    have.sort_unstable();
    assert_eq!(have, want);
    for (path, method) in LIFECYCLE_ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path}");
        // Credentials required: no empty security requirement.
        assert!(
            !op["security"].as_array().unwrap().contains(&json!({})),
            "{path}"
        );
    }
    let op = &doc["paths"][ROUTE]["get"];
    let params = op["parameters"].as_array().expect("parameters");
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("parameter {name}"))
    };
    assert_eq!(param("id")["in"], "path");
    assert_eq!(param("id")["required"], true);
    assert_eq!(param("id")["schema"]["type"], "integer");
    for name in ["limit", "offset"] {
        let p = param(name);
        assert_eq!(p["in"], "query");
        assert_eq!(p["required"], false);
        assert_eq!(types_of(&p["schema"]), ["integer", "string"], "{name}");
        // Any text is accepted: the schema must not constrain strings.
        let v = schema_validator(&doc, p["schema"].clone());
        for text in [
            "abc",
            "",
            "-3",
            "0",
            "1_000",
            " 7 ",
            "99999999999999999999999",
        ] {
            assert!(v.is_valid(&json!(text)), "{name}={text:?}");
        }
    }
    assert_eq!(param("mutual")["in"], "query");
    assert_eq!(param("mutual")["schema"]["enum"], json!(["0", "1"]));

    // Authentication: optional, Bearer JWT, Bearer opaque, Token.
    assert_eq!(op["security"][0], json!({}));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["jwtBearer"]["type"], "http");
    assert_eq!(schemes["jwtBearer"]["scheme"], "bearer");
    assert_eq!(schemes["jwtBearer"]["bearerFormat"], "JWT");
    assert_eq!(schemes["opaqueBearer"]["scheme"], "bearer");
    assert_eq!(schemes["tokenAuth"]["type"], "apiKey");
    assert_eq!(schemes["tokenAuth"]["in"], "header");
    assert_eq!(schemes["tokenAuth"]["name"], "Authorization");

    // Every response of the spec.
    let statuses: Vec<&String> = op["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .collect();
    assert_eq!(
        statuses,
        ["200", "400", "401", "403", "404", "413", "429", "503"]
    );
    assert_eq!(
        documented(&doc, 401)["headers"]["WWW-Authenticate"]["required"],
        true
    );
    for status in [429, 503] {
        assert_eq!(
            documented(&doc, status)["headers"]["Retry-After"]["required"],
            true
        );
    }
    assert_eq!(documented(&doc, 405)["headers"]["Allow"]["required"], true);

    // The bodies: closed objects with exactly the spec's keys, in its order.
    let schemas = &doc["components"]["schemas"];
    let user = &schemas[names::USER];
    assert_eq!(property_names(user), USER_KEYS);
    assert_eq!(required_names(user), USER_KEYS);
    assert_eq!(user["additionalProperties"], false);
    for key in USER_KEYS {
        let nullable = types_of(&user["properties"][key]).contains(&"null".to_string());
        assert_eq!(
            nullable,
            SPEC_NULLABLE_USER_KEYS.contains(&key),
            "nullability of {key}"
        );
    }
    let tag = &schemas[names::TAG];
    assert_eq!(property_names(tag), TAG_KEYS);
    assert_eq!(required_names(tag), TAG_KEYS);
    assert_eq!(tag["additionalProperties"], false);
    let page = &schemas[names::PAGE];
    assert_eq!(
        property_names(page),
        ["count", "next", "previous", "results"]
    );
    assert_eq!(
        required_names(page),
        ["count", "next", "previous", "results"]
    );
    assert_eq!(page["additionalProperties"], false);
    for link in ["next", "previous"] {
        assert_eq!(types_of(&page["properties"][link]), ["string", "null"]);
        assert_eq!(page["properties"][link]["format"], "uri");
    }

    // The validators are not vacuous: the refs resolve and the closed shapes bite.
    let v = validator(&doc, names::PAGE);
    let good = json!({"count": 0, "next": null, "previous": null, "results": []});
    assert_valid(&v, &good, "empty page");
    for bad in [
        json!({"count": 0, "next": null, "previous": null, "results": [], "extra": 1}),
        json!({"count": 0, "next": null, "results": []}),
        json!({"count": -1, "next": null, "previous": null, "results": []}),
        json!({"count": 0, "next": null, "previous": null, "results": [{"id": 1}]}),
        json!({"count": 0, "next": "not a uri", "previous": null, "results": []}),
    ] {
        assert!(!v.is_valid(&bad), "accepted {bad}");
    }
}

/// A GET of the route with an optional `Authorization` header.
async fn get(base: &str, path_and_query: &str, auth: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{base}{path_and_query}"));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn real_bodies_validate_against_the_document() {
    for db in TestDb::all("openapi_bodies").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let doc = fetch_document(&base).await;
        let user_validator = validator(&doc, names::USER);
        let jwt = community_gateway::auth::issue_jwt(2, 600, TEST_SECRET.as_bytes()).expect("jwt");
        let bearer_jwt = format!("Bearer {jwt}");

        // 200s: anonymous, opaque and JWT viewers, filters, paging links, past the end.
        let mut saw_status = false;
        let mut saw_tags = false;
        let mut saw_links = false;
        for (path, auth) in [
            ("/api/v2/user/1/connections/", None),
            ("/api/v2/user/1/connections", None),
            ("/api/v2/user/1/connections/?limit=1", None),
            ("/api/v2/user/1/connections/?limit=1&offset=1", None),
            (
                "/api/v2/user/1/connections/?limit=abc&offset=-4&zeta=%C3%A9",
                None,
            ),
            ("/api/v2/user/1/connections/?offset=500", None),
            (
                "/api/v2/user/3/connections/",
                Some("Bearer alice-demo-token"),
            ),
            (
                "/api/v2/user/3/connections/?mutual=1",
                Some("Token alice-demo-token"),
            ),
            (
                "/api/v2/user/3/connections/?mutual=0",
                Some("bearer alice-demo-token"),
            ),
            (
                "/api/v2/user/1/connections/?limit=2",
                Some(bearer_jwt.as_str()),
            ),
            (
                "/api/v2/user/4/connections/",
                Some("Bearer bruno-demo-token"),
            ),
            ("/api/v2/user/8/connections/", None),
        ] {
            let body = check(&doc, get(&base, path, auth).await, 200).await;
            saw_links |= !body["next"].is_null() && !body["previous"].is_null();
            for user in body["results"].as_array().expect("results") {
                assert_valid(&user_validator, user, path);
                // The wire order is the document's order.
                let keys: Vec<&String> = user.as_object().expect("user").keys().collect();
                assert_eq!(keys, USER_KEYS, "{path}");
                saw_status |= !user["connection_status"].is_null();
                for tag in user["tags"].as_array().expect("tags") {
                    let keys: Vec<&String> = tag.as_object().expect("tag").keys().collect();
                    assert_eq!(keys, TAG_KEYS, "{path}");
                    saw_tags = true;
                }
            }
        }
        assert!(
            saw_status && saw_tags && saw_links,
            "the cases cover the shapes"
        );

        // 400: the field error.
        let body = check(
            &doc,
            get(&base, "/api/v2/user/1/connections/?mutual=2", None).await,
            400,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "mutual");
        // 401: a bad token, a malformed header, an expired opaque token.
        for auth in [
            "Bearer nope",
            "Bearer",
            "Token a b",
            "Bearer expired-token",
            "Bearer a.b.c",
        ] {
            let body = check(
                &doc,
                get(&base, "/api/v2/user/1/connections/", Some(auth)).await,
                401,
            )
            .await;
            assert_eq!(body["errors"][0]["code"], "authentication_failed", "{auth}");
        }
        // 404: unknown and malformed ids.
        for id in ["999", "0", "abc", "-1", "99999999999999999999"] {
            check(
                &doc,
                get(&base, &format!("/api/v2/user/{id}/connections/"), None).await,
                404,
            )
            .await;
        }
        // 405: other methods.
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
            reqwest::Method::PATCH,
        ] {
            let response = reqwest::Client::new()
                .request(method, format!("{base}/api/v2/user/1/connections/"))
                .send()
                .await
                .expect("request");
            check(&doc, response, 405).await;
        }
        // Follow mode on: the follow counters become integers.
        common::set_settings(&db.store, true, true, true).await;
        let body = check(
            &doc,
            get(&base, "/api/v2/user/1/connections/", None).await,
            200,
        )
        .await;
        assert!(body["results"][0]["followers_counter"].is_i64());
        // 401 not_authenticated: anonymous while content is not public.
        common::set_settings(&db.store, true, false, false).await;
        let body = check(
            &doc,
            get(&base, "/api/v2/user/1/connections/", None).await,
            401,
        )
        .await;
        assert_eq!(body["errors"][0]["code"], "not_authenticated");
        // 403: friendship mode off.
        common::set_settings(&db.store, false, false, true).await;
        let body = check(
            &doc,
            get(&base, "/api/v2/user/1/connections/", None).await,
            403,
        )
        .await;
        assert_eq!(body["errors"][0]["code"], "permission_denied");
    }
}

#[tokio::test]
async fn throttled_too_large_and_unavailable_bodies_validate() {
    let db = TestDb::new(common::Backend::Sqlite, "openapi_429_503")
        .await
        .expect("sqlite");
    common::import_example(&db.store).await;

    // 429: one request a second, no burst beyond it.
    let mut config = Config::with_secret(TEST_SECRET);
    config.rate_limit = Some((1, 1));
    let base = common::serve_with(db.store.clone(), config).await;
    let doc = fetch_document(&base).await;
    let path = "/api/v2/user/1/connections/";
    let auth = Some("Bearer alice-demo-token");
    let first = get(&base, path, auth).await;
    assert_eq!(first.status(), 200);
    let body = check(&doc, get(&base, path, auth).await, 429).await;
    assert_eq!(body["errors"][0]["code"], "throttled");

    // 413: a body over the limit, even on a GET.
    let mut config = Config::with_secret(TEST_SECRET);
    config.max_body_bytes = 16;
    let base = common::serve_with(db.store.clone(), config).await;
    let too_large = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .body("x".repeat(64))
        .send()
        .await
        .expect("request");
    let body = check(&doc, too_large, 413).await;
    assert_eq!(body["errors"][0]["code"], "payload_too_large");

    // 503: the database is gone (its pool closed under the running server).
    let base = common::serve(db.store.clone()).await;
    db.store
        .connection()
        .clone()
        .close()
        .await
        .expect("close the pool");
    let body = check(&doc, get(&base, path, None).await, 503).await;
    assert_eq!(body["errors"][0]["code"], "service_unavailable");
}

/// A live response of `method` `path` (a documented template) checked against the document:
/// status documented, JSON body (if any) valid against its schema.
async fn check_lifecycle(
    doc: &Value,
    path: &str,
    method: &str,
    response: reqwest::Response,
    want_status: u16,
) {
    let status = response.status().as_u16();
    assert_eq!(status, want_status, "{method} {path}");
    let documented = if status == 405 {
        &doc["components"]["responses"]["MethodNotAllowed"]
    } else {
        let op = &doc["paths"][path][method];
        let response = op["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {path}: {status} is not documented"));
        resolve(doc, response)
    };
    let text = response.text().await.unwrap();
    if status == 204 {
        assert!(text.is_empty());
        return;
    }
    let body: Value = serde_json::from_str(&text).expect("JSON body");
    let schema = documented["content"]["application/json"]["schema"].clone();
    let v = schema_validator(doc, schema);
    assert_valid(&v, &body, &format!("{method} {path} {status}"));
}

#[tokio::test]
async fn lifecycle_bodies_validate_against_the_document() {
    let db = TestDb::new(common::Backend::Sqlite, "openapi_lifecycle")
        .await
        .expect("sqlite");
    common::import_example(&db.store).await;
    let base = common::serve(db.store.clone()).await;
    let doc = fetch_document(&base).await;
    let token = community_gateway::auth::issue_jwt(1, 600, TEST_SECRET.as_bytes()).unwrap();
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, url: String, auth: bool| {
        let mut request = client.request(method, format!("{base}/api/v2/user/{url}"));
        if auth {
            request = request.bearer_auth(&token);
        }
        request.send()
    };
    use reqwest::Method;
    let cases: [(&str, &str, Method, String, bool, u16); 10] = [
        (
            LIFECYCLE_ROUTES[0].0,
            "post",
            Method::POST,
            "999/connection/request/".into(),
            true,
            404,
        ),
        (
            LIFECYCLE_ROUTES[0].0,
            "post",
            Method::POST,
            "1/connection/request/".into(),
            true,
            400,
        ),
        (
            LIFECYCLE_ROUTES[0].0,
            "post",
            Method::POST,
            "1/connection/request/".into(),
            false,
            401,
        ),
        (
            LIFECYCLE_ROUTES[5].0,
            "post",
            Method::POST,
            "999/connection/remove/".into(),
            true,
            404,
        ),
        (
            LIFECYCLE_ROUTES[6].0,
            "post",
            Method::POST,
            "1/connection_requests/mark_seen/".into(),
            true,
            400,
        ),
        (
            LIFECYCLE_ROUTES[7].0,
            "get",
            Method::GET,
            "2/is_connection/".into(),
            true,
            200,
        ),
        (
            LIFECYCLE_ROUTES[8].0,
            "get",
            Method::GET,
            "2/connection_status/".into(),
            true,
            200,
        ),
        (
            LIFECYCLE_ROUTES[8].0,
            "get",
            Method::POST,
            "2/connection_status/".into(),
            true,
            405,
        ),
        (
            LIFECYCLE_ROUTES[9].0,
            "post",
            Method::POST,
            "connection/statuses/".into(),
            true,
            400,
        ),
        (
            LIFECYCLE_ROUTES[9].0,
            "post",
            Method::POST,
            "connection/statuses/".into(),
            false,
            401,
        ),
    ];
    for (path, method, verb, url, auth, status) in cases {
        let response = send(verb, url, auth).await.unwrap();
        check_lifecycle(&doc, path, method, response, status).await;
    }
    // The request lists, before the actions below change them: user 1 received one request
    // and sent one in the example community.
    for (path, _) in &LIFECYCLE_ROUTES[10..] {
        let url = path.trim_start_matches("/api/v2/user/").to_string();
        let response = send(Method::GET, format!("{url}?limit=1"), true)
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).expect("JSON body");
        assert_eq!(body["count"], 1, "{path}: {body}");
        let v = validator(&doc, names::REQUEST_PAGE);
        assert_valid(&v, &body, path);
        for (verb, auth, status) in [
            (Method::GET, true, 200),
            (Method::GET, false, 401),
            (Method::POST, true, 405),
        ] {
            let response = send(verb, url.clone(), auth).await.unwrap();
            check_lifecycle(&doc, path, "get", response, status).await;
        }
    }
    // Successful actions, whatever the example community holds between users 1 and 2..=5.
    for target in 2..=5 {
        for route in [
            "connection/request",
            "connection/cancel_request",
            "connection/remove",
        ] {
            let response = send(Method::POST, format!("{target}/{route}/"), true)
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(status == 200 || status == 400, "{route}: {status}");
            let path = format!("/api/v2/user/{{id}}/{route}/");
            check_lifecycle(&doc, &path, "post", response, status).await;
        }
    }
    let response = client
        .post(format!("{base}/api/v2/user/connection/statuses/"))
        .bearer_auth(&token)
        .json(&json!({"users": [1, 2, 3, "4", 999]}))
        .send()
        .await
        .unwrap();
    check_lifecycle(&doc, LIFECYCLE_ROUTES[9].0, "post", response, 200).await;
    let response = client
        .post(format!("{base}/api/v2/user/connection/statuses/"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    check_lifecycle(&doc, LIFECYCLE_ROUTES[9].0, "post", response, 400).await;
    // Friendship mode off: the request lists answer 403.
    common::set_settings(&db.store, false, false, true).await;
    for (path, _) in &LIFECYCLE_ROUTES[10..] {
        let url = path.trim_start_matches("/api/v2/user/").to_string();
        let response = send(Method::GET, url, true).await.unwrap();
        check_lifecycle(&doc, path, "get", response, 403).await;
    }
}

/// Every operation of the document: (operationId, path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if let Some(id) = op["operationId"].as_str() {
                found.push((id.to_string(), path.clone(), method.clone(), op));
            }
        }
    }
    found
}

/// The schema a JSON pointer into a body reaches, following `$ref`s, `properties` and
/// `items` (an array index step); `None` when the schema has no such place.
fn schema_at<'a>(doc: &'a Value, schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut here = resolve(doc, schema);
    for token in pointer.split('/').skip(1) {
        here = if token.bytes().all(|b| b.is_ascii_digit()) && !token.is_empty() {
            here.get("items")?
        } else {
            here.get("properties")?.get(token)?
        };
        here = resolve(doc, here);
    }
    Some(here)
}

/// What is wrong with the document's OpenAPI links, one line per problem: a link must name
/// an existing operation by `operationId`, set only parameters that operation has (with a
/// matching location when the name is prefixed, as in `path.id`), and read values the source
/// has: `$request.path.<name>` a path parameter of the source, `$response.body#<pointer>` a
/// place in the linked response's JSON schema whose type the target parameter takes.
fn link_problems(doc: &Value) -> Vec<String> {
    let ops = operations(doc);
    let mut problems = Vec::new();
    for (source_id, path, method, op) in &ops {
        let Some(responses) = op["responses"].as_object() else {
            continue;
        };
        for (status, response) in responses {
            let response = resolve(doc, response);
            let Some(links) = response.get("links").and_then(Value::as_object) else {
                continue;
            };
            for (name, link) in links {
                let at = format!("{method} {path} {status} link {name}");
                let link = resolve(doc, link);
                if link.get("operationRef").is_some() {
                    problems.push(format!("{at}: uses operationRef, not operationId"));
                    continue;
                }
                let Some(target_id) = link["operationId"].as_str() else {
                    problems.push(format!("{at}: no operationId"));
                    continue;
                };
                let Some((_, _, _, target)) = ops.iter().find(|(id, ..)| id == target_id) else {
                    problems.push(format!("{at}: no operation {target_id:?}"));
                    continue;
                };
                let target_params: Vec<&Value> = target["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| resolve(doc, p)).collect())
                    .unwrap_or_default();
                let Some(parameters) = link["parameters"].as_object() else {
                    problems.push(format!("{at}: sets no parameters"));
                    continue;
                };
                for (key, expression) in parameters {
                    let (location, param_name) = match key.split_once('.') {
                        Some((location, name)) => (Some(location), name),
                        None => (None, key.as_str()),
                    };
                    let Some(param) = target_params
                        .iter()
                        .find(|p| p["name"] == param_name && location.is_none_or(|l| p["in"] == l))
                    else {
                        problems.push(format!("{at}: {target_id} has no parameter {key:?}"));
                        continue;
                    };
                    let Some(expression) = expression.as_str() else {
                        problems.push(format!("{at}: {key} is not a runtime expression"));
                        continue;
                    };
                    let source_type = if let Some(name) = expression.strip_prefix("$request.path.")
                    {
                        let source_param = op["parameters"].as_array().and_then(|ps| {
                            ps.iter()
                                .map(|p| resolve(doc, p))
                                .find(|p| p["name"] == name && p["in"] == "path")
                        });
                        match source_param {
                            Some(p) => types_of(&p["schema"]),
                            None => {
                                problems.push(format!("{at}: {source_id} has no path {name:?}"));
                                continue;
                            }
                        }
                    } else if let Some(pointer) = expression.strip_prefix("$response.body#") {
                        let schema = &response["content"]["application/json"]["schema"];
                        match schema_at(doc, schema, pointer) {
                            Some(s) => types_of(s),
                            None => {
                                problems.push(format!(
                                    "{at}: the {status} body of {source_id} has no {pointer:?}"
                                ));
                                continue;
                            }
                        }
                    } else {
                        problems.push(format!("{at}: unsupported expression {expression:?}"));
                        continue;
                    };
                    let target_types = types_of(&param["schema"]);
                    if source_type.is_empty()
                        || source_type.iter().any(|t| !target_types.contains(t))
                    {
                        problems.push(format!(
                            "{at}: {expression} gives {source_type:?}, {target_id}.{key} takes \
                             {target_types:?}"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The links of `operation_id`'s success response: name -> (target operationId, parameters).
fn links_of(doc: &Value, operation_id: &str) -> Vec<(String, String, Value)> {
    let ops = operations(doc);
    let (_, _, _, op) = ops
        .iter()
        .find(|(id, ..)| id == operation_id)
        .unwrap_or_else(|| panic!("operation {operation_id}"));
    let mut found = Vec::new();
    for response in op["responses"].as_object().expect("responses").values() {
        if let Some(links) = resolve(doc, response)["links"].as_object() {
            for (name, link) in links {
                found.push((
                    name.clone(),
                    link["operationId"].as_str().unwrap_or_default().to_string(),
                    link["parameters"].clone(),
                ));
            }
        }
    }
    found
}

#[test]
fn the_links_name_real_operations_and_parameters() {
    let doc = openapi::document_json(&Config::with_secret(TEST_SECRET));
    assert_eq!(link_problems(&doc), Vec::<String>::new());

    // The lifecycle is chained: each action leads on to others on the same user, and the
    // request lists and the connections page lead to the users they hold.
    let same = json!({"id": "$request.path.id"});
    let has = |source: &str, target: &str, parameters: &Value| {
        assert!(
            links_of(&doc, source)
                .iter()
                .any(|(_, t, p)| t == target && p == parameters),
            "no link {source} -> {target} with {parameters}"
        );
    };
    for (source, target) in [
        ("userRequestConnection", "userCancelRequestConnection"),
        ("userRequestConnection", "userCheckConnectionStatus"),
        ("userRequestConnection", "userCheckConnection"),
        ("userRequestConnection", "userRemoveConnection"),
        ("userAcceptRequestConnection", "userRemoveConnection"),
        ("userAcceptRequestConnection", "userCheckConnection"),
        (
            "userRejectConnectionRequest",
            "userCancelRejectConnectionRequest",
        ),
        (
            "userCancelRejectConnectionRequest",
            "userAcceptRequestConnection",
        ),
        ("userCancelRequestConnection", "userRequestConnection"),
        ("userRemoveConnection", "userRequestConnection"),
        (
            "userMarkSeenConnectionRequest",
            "userAcceptRequestConnection",
        ),
    ] {
        has(source, target, &same);
    }
    let sender = json!({"id": "$response.body#/results/0/from_user/id"});
    for target in [
        "userAcceptRequestConnection",
        "userRejectConnectionRequest",
        "userMarkSeenConnectionRequest",
    ] {
        has("userConnectionRequests", target, &sender);
    }
    has(
        "userRequestConnectionsSent",
        "userCancelRequestConnection",
        &json!({"id": "$response.body#/results/0/to_user/id"}),
    );
    let first = json!({"id": "$response.body#/results/0/id"});
    for target in [
        "userCheckConnection",
        "userCheckConnectionStatus",
        "userRemoveConnection",
        "listUserConnections",
    ] {
        has("listUserConnections", target, &first);
    }
    // Every lifecycle operation on a user can be reached through a link.
    let targets: Vec<String> = operations(&doc)
        .iter()
        .flat_map(|(id, ..)| links_of(&doc, id).into_iter().map(|(_, t, _)| t))
        .collect();
    for (path, method) in LIFECYCLE_ROUTES.iter().filter(|(p, _)| p.contains("{id}")) {
        let id = doc["paths"][path][method]["operationId"]
            .as_str()
            .expect("operationId");
        assert!(targets.iter().any(|t| t == id), "no link leads to {id}");
    }

    // The check bites: each kind of broken link is reported.
    let broken = |pointer: &str, value: Value| {
        let mut doc = doc.clone();
        *doc.pointer_mut(pointer).expect("pointer into the document") = value;
        link_problems(&doc)
    };
    let request = "/paths/~1api~1v2~1user~1{id}~1connection~1request~1/post/responses/200/links";
    let requests = "/paths/~1api~1v2~1user~1connection~1requests~1/get/responses/200/links";
    for (pointer, value, want) in [
        (
            format!("{request}/CancelRequest/operationId"),
            json!("userCancelRequest"),
            "no operation \"userCancelRequest\"",
        ),
        (
            format!("{request}/CancelRequest/parameters"),
            json!({"user_id": "$request.path.id"}),
            "has no parameter \"user_id\"",
        ),
        (
            format!("{request}/CancelRequest/parameters"),
            json!({"query.id": "$request.path.id"}),
            "has no parameter \"query.id\"",
        ),
        (
            format!("{request}/CancelRequest/parameters/id"),
            json!("$request.path.user_id"),
            "has no path \"user_id\"",
        ),
        (
            format!("{requests}/AcceptFirst/parameters/id"),
            json!("$response.body#/results/0/from/id"),
            "has no \"/results/0/from/id\"",
        ),
        (
            format!("{requests}/AcceptFirst/parameters/id"),
            json!("$response.body#/results/0/created"),
            "takes [\"integer\"]",
        ),
        (
            format!("{requests}/AcceptFirst/parameters/id"),
            json!("$response.header.Location"),
            "unsupported expression",
        ),
    ] {
        let problems = broken(&pointer, value);
        assert!(
            problems.len() == 1 && problems[0].contains(want),
            "{pointer}: want one problem with {want:?}, got {problems:#?}"
        );
    }
}

/// The parts of the document a derive cannot tie to the code: the hand-written bound of route
/// 12's body is the handler's, the Tag keys are `TagBody`'s, and no template path of a handler
/// that serves several routes is left in the document.
#[test]
fn hand_built_parts_match_the_code() {
    let doc = openapi::document_json(&Config::with_secret(TEST_SECRET));
    let users = &doc["components"]["schemas"][names::STATUSES_REQUEST]["properties"]["users"];
    assert_eq!(
        users["maxItems"],
        json!(community_gateway::rest::lifecycle::MAX_STATUS_IDS)
    );
    let tag_keys: Vec<String> = openapi::tag_properties()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let documented: Vec<&String> = doc["components"]["schemas"][names::TAG]["properties"]
        .as_object()
        .expect("Tag properties")
        .keys()
        .collect();
    assert_eq!(tag_keys.iter().collect::<Vec<_>>(), documented);
    for template in [
        openapi::templates::ACTION,
        openapi::templates::READ_PAIR,
        openapi::templates::REQUEST_LIST,
    ] {
        assert!(doc["paths"].get(template).is_none(), "{template}");
    }
}
