//! Golden cases for the REST route, written by reasoning from the spec (not from the server's
//! output): `tests/golden/rest_cases.json`. Each case may change the settings, sends one request
//! with `Host: testserver`, and must get exactly the status, the listed headers and the body
//! bytes (compact JSON, keys in the written order).

use crate::common;

use crate::common::TestDb;
use community_gateway::store::Store;
use serde_json::Value;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    settings: serde_json::Map<String, Value>,
    request: Request,
    expect: Expect,
}

#[derive(serde::Deserialize)]
struct Request {
    path: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
}

#[derive(serde::Deserialize)]
struct Expect {
    status: u16,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    body: Value,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/rest_cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("golden file")).expect("golden JSON")
}

/// The example community's own settings, restored before each case.
fn base_settings() -> (bool, bool, bool) {
    let file: Value = serde_json::from_str(&common::example_community_json()).expect("example");
    let s = &file["settings"];
    let get = |k: &str, d: bool| s.get(k).and_then(Value::as_bool).unwrap_or(d);
    (
        get("connection_enabled", true),
        get("follow_enabled", false),
        get("content_availability", true),
    )
}

#[tokio::test]
async fn rest_golden_cases() {
    for db in TestDb::all("rest_golden_cases").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let failures = golden_failures(&db.store, &base, &format!("{:?}", db.backend)).await;
        assert!(
            failures.is_empty(),
            "{} golden case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Runs every golden case against the server at `base`, serving `store`'s database with the
/// example community (`store` sets each case's settings); the cases that failed, labelled.
pub async fn golden_failures(store: &Store, base: &str, label: &str) -> Vec<String> {
    let cases = cases();
    assert!(cases.len() >= 40, "the golden file lost its cases");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let (c, f, a) = base_settings();
        let flag = |k: &str, d: bool| case.settings.get(k).and_then(Value::as_bool).unwrap_or(d);
        common::set_settings(
            store,
            flag("connection_enabled", c),
            flag("follow_enabled", f),
            flag("content_availability", a),
        )
        .await;
        let mut request = client
            .get(format!("{base}{}", case.request.path))
            .header("Host", "testserver");
        for (name, value) in &case.request.headers {
            request = request.header(name.as_str(), value.as_str().unwrap_or_default());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        let want_body = serde_json::to_string(&case.expect.body).unwrap();
        let mut problems = Vec::new();
        if status != case.expect.status {
            problems.push(format!("status {status}, want {}", case.expect.status));
        }
        for (name, want) in &case.expect.headers {
            let got = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            if got != want.as_str() {
                problems.push(format!("header {name}: {got:?}, want {want}"));
            }
        }
        if body != want_body {
            problems.push(format!("body\n   got: {body}\n  want: {want_body}"));
        }
        if !problems.is_empty() {
            failures.push(format!("[{label}] {}: {}", case.name, problems.join("; ")));
        }
    }
    failures
}
