//! The GraphQL door over real HTTP: the schema's rules, its errors, and batching (a fixed
//! number of SQL statements whatever the number of users an operation touches).

use crate::common;
use crate::common::jwt;

use crate::common::{TestDb, TEST_SECRET};
use community_gateway::store::Store;
use serde_json::{json, Value};

async fn post(base: &str, token: Option<&str>, query: &str) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header("Host", "testserver")
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ids(results: &Value) -> Vec<String> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn example_community_over_graphql() {
    for db in TestDb::all("example_community_over_graphql").await {
        common::import_example(&db.store).await;
        let base = common::serve(db.store.clone()).await;
        let backend = db.backend;

        // Same order as REST: for bruno (2), alice's list shows the mutual chiara (3) first.
        let r = post(&base, Some("bruno-demo-token"), r#"{ user(id: "1") { username connections(limit: 2) { count next previous results { id connectionStatus tags { id name } } } } }"#).await;
        let page = &r["data"]["user"]["connections"];
        assert_eq!(page["count"], 4, "{backend:?}");
        assert_eq!(ids(&page["results"]), ["3", "6"], "{backend:?} {r}");
        assert_eq!(page["results"][0]["connectionStatus"], "CONNECTED");
        assert_eq!(
            page["next"],
            "http://testserver/api/v2/user/1/connections/?limit=2&offset=2"
        );
        assert_eq!(page["previous"], Value::Null);

        // mutual filter and the REST spelling of it in links.
        let r = post(&base, Some("bruno-demo-token"), r#"{ user(id: "1") { connections(limit: 1, offset: 1, mutual: false) { count next previous results { id } } } }"#).await;
        let page = &r["data"]["user"]["connections"];
        assert_eq!(page["count"], 3, "{r}");
        assert_eq!(
            page["previous"],
            "http://testserver/api/v2/user/1/connections/?limit=1&mutual=0"
        );
        assert_eq!(
            page["next"],
            "http://testserver/api/v2/user/1/connections/?limit=1&mutual=0&offset=2"
        );

        // Response keys follow the query's field order, even when a later field resolves
        // first (tags and status go through loaders; username does not).
        let r = post(
            &base,
            Some("bruno-demo-token"),
            r#"{ user(id: "1") { tags { id } connectionStatus username id } }"#,
        )
        .await;
        let keys: Vec<&String> = r["data"]["user"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["tags", "connectionStatus", "username", "id"], "{r}");

        // Unknown and malformed ids are null; users() keeps the order asked.
        let r = post(
            &base,
            None,
            r#"{ user(id: "999") { id } users(ids: ["2", "999", "x", "1"]) { id } }"#,
        )
        .await;
        assert_eq!(r["data"]["user"], Value::Null);
        assert_eq!(
            r["data"]["users"],
            json!([{"id": "2"}, null, null, {"id": "1"}])
        );

        // me: the viewer, by JWT or opaque token; null when anonymous.
        let r = post(&base, Some(&jwt(2)), "{ me { id username } }").await;
        assert_eq!(r["data"]["me"], json!({"id": "2", "username": "bruno"}));
        let r = post(&base, None, "{ me { id } }").await;
        assert_eq!(r["data"]["me"], Value::Null);

        // Bad input.
        let r = post(
            &base,
            None,
            r#"{ user(id: "1") { connections(limit: 0) { count } } }"#,
        )
        .await;
        assert_eq!(codes(&r), ["BAD_USER_INPUT"]);
        let r = post(
            &base,
            None,
            r#"{ user(id: "1") { connections(offset: -1) { count } } }"#,
        )
        .await;
        assert_eq!(codes(&r), ["BAD_USER_INPUT"]);
        let r = post(
            &base,
            None,
            r#"{ user(id: "1") { connections(limit: 5000) { next results { id } } } }"#,
        )
        .await;
        assert_eq!(
            ids(&r["data"]["user"]["connections"]["results"]).len(),
            4,
            "{r}"
        );

        // Credentials: a bad token is UNAUTHENTICATED even on public content.
        let r = post(&base, Some("expired-token"), r#"{ user(id: "1") { id } }"#).await;
        assert_eq!(codes(&r), ["UNAUTHENTICATED"]);
        let r = post(&base, Some(&jwt(424242)), r#"{ user(id: "1") { id } }"#).await;
        assert_eq!(
            codes(&r),
            ["UNAUTHENTICATED"],
            "a JWT for a user that does not exist"
        );

        // Settings: private content needs a viewer; friendship mode off forbids connections.
        common::set_settings(&db.store, true, true, false).await;
        let r = post(&base, None, r#"{ user(id: "1") { id } }"#).await;
        assert_eq!(codes(&r), ["UNAUTHENTICATED"]);
        // A nullable field's own failure nulls that field only (GraphQL spec): the rest of
        // the response stands.
        let r = post(&base, None, r#"{ __typename user(id: "1") { id } }"#).await;
        assert_eq!(
            r["data"],
            json!({"__typename": "Query", "user": null}),
            "{r}"
        );
        assert_eq!(r["errors"][0]["path"], json!(["user"]), "{r}");
        let r = post(&base, Some("not-a-token"), r#"{ __typename me { id } }"#).await;
        assert_eq!(r["data"], json!({"__typename": "Query", "me": null}), "{r}");
        let r = post(
            &base,
            Some("alice-demo-token"),
            r#"{ user(id: "2") { followersCounter connections { count } } }"#,
        )
        .await;
        assert_eq!(
            r["data"]["user"]["followersCounter"], 0,
            "follow mode shows counters: {r}"
        );
        common::set_settings(&db.store, false, false, true).await;
        let r = post(
            &base,
            None,
            r#"{ user(id: "2") { followersCounter connections { count } } }"#,
        )
        .await;
        assert_eq!(codes(&r), ["FORBIDDEN"]);
        // `connections` is non-null, so its error nulls the nullable parent (GraphQL spec).
        assert_eq!(r["data"], json!({"user": null}), "{r}");
        common::set_settings(&db.store, true, false, true).await;
        let r = post(&base, None, r#"{ user(id: "2") { followersCounter } }"#).await;
        assert_eq!(r["data"]["user"]["followersCounter"], Value::Null);
    }
}

/// Statements one operation runs, as counted by the store.
async fn statements_for(store: &Store, base: &str, token: &str, query: &str) -> u64 {
    let before = store.statement_count();
    let r = post(base, Some(token), query).await;
    assert!(r["errors"].is_null(), "{r}");
    store.statement_count() - before
}

#[tokio::test]
async fn statement_count_does_not_grow_with_users() {
    for db in TestDb::all("statement_count_does_not_grow_with_users").await {
        let community = community_gateway::datafile::validate(
            community_gateway::datafile::synthetic(400, 12, 7),
        )
        .unwrap();
        community_gateway::bulk::import(&db.store, &community)
            .await
            .unwrap();
        statements_stay_flat(&db.store, &format!("{:?}", db.backend)).await;
    }
}

/// The synthetic community of 400 users (seed 7) in `store`'s database: the statements of
/// users, aliases and nested pages do not grow with N = 1, 10, 100, through both executors.
pub async fn statements_stay_flat(store: &Store, label: &str) {
    {
        // A batching window wide enough for an unoptimized test build under a parallel test
        // run; what is proven is the batching structure, not the window's length.
        let mut config = community_gateway::config::Config::with_secret(TEST_SECRET);
        config.batch_delay = std::time::Duration::from_millis(60);
        // The SQL path's batching (the cache's: tests/it/cache.rs).
        config.cache.enabled = false;
        // Unverified: verification would run both executors on one request. Each document
        // is sent twice instead: the first answer is the reference executor's, the second
        // the compiled plan's (`gateway_graphql_executions_total` says so below).
        let base = common::serve_unverified(store.clone(), config).await;
        let token = jwt(1);
        let fields = "id tags { name } connectionStatus connections(limit: 5) { count results { id tags { name } connectionStatus connections(limit: 3) { count results { id username } } } }";

        let query_for = |shape: &str, n: usize| match shape {
            "aliases" => format!(
                "{{ {} }}",
                (1..=n)
                    .map(|i| format!("u{i}: user(id: \"{i}\") {{ {fields} }}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "users" => format!(
                "{{ users(ids: [{}]) {{ {fields} }} }}",
                (1..=n)
                    .map(|i| format!("\"{i}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "{{ user(id: \"1\") {{ connections(limit: {n}) {{ results {{ {fields} }} }} }} }}"
            ),
        };
        let mut by_shape: Vec<(String, Vec<u64>)> = Vec::new();
        for shape in ["aliases", "users", "nested"] {
            let mut counts = Vec::new();
            for n in [1usize, 10, 100] {
                let query = query_for(shape, n);
                counts.push(statements_for(store, &base, &token, &query).await);
            }
            by_shape.push((shape.to_string(), counts));
            let mut compiled = Vec::new();
            for n in [1usize, 10, 100] {
                let query = query_for(shape, n);
                compiled.push(statements_for(store, &base, &token, &query).await);
            }
            by_shape.push((format!("{shape} (compiled)"), compiled));
        }
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("gateway_graphql_executions_total{path=\"compiled\"} 9"),
            "{metrics}"
        );
        for (shape, counts) in &by_shape {
            eprintln!("{label} {shape}: statements for N = 1, 10, 100: {counts:?}");
            assert!(
                counts.iter().all(|c| *c == counts[0]),
                "{label} {shape}: statement count grows with N: {counts:?}"
            );
        }
    }
}

#[test]
fn schema_file_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == community_gateway::graphql::sdl(),
        "schema.graphql is stale: regenerate it with `cargo run -- schema > schema.graphql`"
    );
}
