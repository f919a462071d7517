//! Hostile GraphQL documents are refused quickly and before any SQL runs: deep nesting,
//! thousands of aliases, fragment cycles, fragment fan-out, huge list arguments, long strings.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::TestDb;
use serde_json::{json, Value};

async fn send(base: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header("Accept", "application/json")
        .header("Authorization", "Bearer alice-demo-token")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn nested(depth: usize) -> String {
    let mut q = String::from("id");
    for _ in 0..depth {
        q = format!("connections(limit: 1) {{ results {{ {q} }} }}");
    }
    format!("{{ user(id: \"1\") {{ {q} }} }}")
}

#[tokio::test]
async fn hostile_documents_are_refused_without_sql() {
    let db = TestDb::new(common::Backend::Sqlite, "hostile_documents")
        .await
        .unwrap();
    common::import_example(&db.store).await;
    let base = common::serve(db.store.clone()).await;

    let aliases = (0..10_000)
        .map(|i| format!("a{i}: me {{ id }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let fan_out = format!(
        "query {{ ...F0 }} {} fragment F9 on Query {{ {} }}",
        (0..9)
            .map(|i| format!("fragment F{i} on Query {{ ...F{} ...F{} }}", i + 1, i + 1))
            .collect::<String>(),
        (0..20)
            .map(|i| format!("u{i}: user(id: \"1\") {{ id username }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let ids = (0..20_000)
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(",");
    let long_string = format!("{{ user(id: \"{}\") {{ id }} }}", "9".repeat(100_000));
    let cases: Vec<(&str, String)> = vec![
        ("deep nesting", nested(30)),
        ("10,000 aliases", format!("{{ {aliases} }}")),
        (
            "fragment cycle",
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }".into(),
        ),
        ("fragment fan-out (2^10 copies)", fan_out),
        (
            "huge list argument",
            format!("{{ users(ids: [{ids}]) {{ id }} }}"),
        ),
        ("not GraphQL", "{ user(id: ".repeat(5_000)),
    ];
    for (why, query) in cases {
        let before = db.store.statement_count();
        let started = Instant::now();
        let (status, body) = send(&base, &query).await;
        let took = started.elapsed();
        let sql = db.store.statement_count() - before;
        assert!(
            status == 200 || status == 400 || status == 413,
            "{why}: status {status}"
        );
        let errors = body["errors"].as_array().map(Vec::len).unwrap_or(0);
        let data_null = body.get("data").is_none_or(Value::is_null);
        assert!(
            status == 413 || (errors > 0 && data_null),
            "{why}: not refused: {}",
            &body.to_string()[..200.min(body.to_string().len())]
        );
        assert_eq!(sql, 0, "{why}: ran {sql} SQL statements before refusing");
        assert!(took < Duration::from_secs(2), "{why}: took {took:?}");
    }

    // A 100,000-character id is no user: answered null, quickly.
    let started = Instant::now();
    let (status, body) = send(&base, &long_string).await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({"user": null})),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // Within the limits, the same kinds of documents run.
    let (status, body) = send(&base, &nested(5)).await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
}
