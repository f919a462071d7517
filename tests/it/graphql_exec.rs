//! The two GraphQL executors (`docs/graphql-execution.md`): the compiled path answers what it
//! covers, byte for byte as the reference executor does, and hands everything else back.
//! Every server here runs with `GRAPHQL_VERIFY=strict` (`common::serve_with`), so each answer
//! below is also checked against the reference; the metrics show which path answered.
//!
//! Also the three fixes to async-graphql 7.0.17 (`vendor/patches/`), on the reference
//! executor, which the compiled path must then agree with.

use serde_json::{json, Value};

use crate::common::{self, jwt, TestDb};

struct Server {
    base: String,
}

impl Server {
    /// A server on `db`, holding the example community, with the graph cache on.
    async fn new(db: &TestDb) -> Server {
        common::import_example(&db.store).await;
        Server {
            base: common::serve(db.store.clone()).await,
        }
    }

    /// Two servers on `db`, holding the example community: the graph cache on, then off
    /// (the plan reads through both).
    async fn both(db: &TestDb) -> [Server; 2] {
        let cached = Server::new(db).await;
        let uncached = Server {
            base: common::serve_with(db.store.clone(), common::sql_only_config()).await,
        };
        [cached, uncached]
    }

    /// POSTs `body`; the status and the body's exact text.
    async fn post(&self, token: Option<&str>, body: Value) -> (u16, String) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .header("Host", "testserver")
            .json(&body);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    async fn query(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post(token, json!({ "query": query, "variables": variables }))
            .await;
        assert_ne!(status, 500, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// A metric's value (0 when the series does not exist yet).
    async fn metric(&self, series: &str) -> u64 {
        self.metrics()
            .await
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The GraphQL execution series, for a failure's message.
    async fn fallbacks(&self) -> String {
        self.metrics()
            .await
            .lines()
            .filter(|line| line.starts_with("gateway_graphql_"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn compiled(&self) -> u64 {
        self.metric("gateway_graphql_executions_total{path=\"compiled\"}")
            .await
    }
}

/// Every document here twice: the first answer learns the plan (and, verified, is compared
/// with it), the second is the plan's. Both must be what the reference answers.
#[tokio::test]
async fn the_compiled_path_answers_what_it_covers() {
    for db in TestDb::all("the_compiled_path_answers_what_it_covers").await {
        for server in Server::both(&db).await {
            let bruno = Some("bruno-demo-token");
            let documents = [
                r#"{ user(id: "1") { id username tags { id name createdAt } connections(limit: 2) { count next previous results { id realName connectionStatus isConnection dateJoined } } } }"#,
                r#"{ a: user(id: "1") { id } a: user(id: "1") { username } b: users(ids: ["2", "999", "x", "1"]) { id } me { id } __typename }"#,
                r#"query Q($id: ID!, $l: Int = 1, $m: Boolean) { user(id: $id) { ...F connections(limit: $l, mutual: $m) { __typename count results { ... on User { id } ... { username } } } } } fragment F on User { __typename id extId avatar cover followersCounter }"#,
                r#"query A { me { id } } query B { user(id: "2") { connections(offset: 1) { count previous results { id } } } }"#,
                r#"{ user(id: "1") { connections(limit: 2) { results { id connections(limit: 2) { count results { id connections(limit: 1) { count } } } } } } }"#,
                r#"{ user(id: "1") { nodeId friends(first: 2) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } edges { __typename cursor connectedAt isMutual node { id nodeId username } } nodes { id } } } }"#,
                r#"{ me { friends(last: 2, mutual: false) { edges { node { id friends(first: 1) { totalCount edges { cursor } } connections(limit: 1) { count } } } pageInfo { hasPreviousPage } } } }"#,
                r#"{ users(ids: ["1", "2", "3"]) { friends(first: 1, mutual: true) { totalCount nodes { username tags { name } connectionStatus } } } }"#,
            ];
            for document in documents {
                let operation = document.contains("query B").then_some("B");
                let body = json!({ "query": document, "operationName": operation, "variables": { "id": "1" } });
                let first = server.post(bruno, body.clone()).await;
                let before = server.compiled().await;
                let second = server.post(bruno, body).await;
                assert_eq!(first.0, 200, "{document}: {}", first.1);
                assert_eq!(first, second, "{document}");
                assert!(!first.1.contains("\"errors\""), "{document}: {}", first.1);
                assert_eq!(
                    server.compiled().await,
                    before + 1,
                    "{:?} the plan answered {document}: {}",
                    db.backend,
                    server.fallbacks().await
                );
            }
        }
    }
}

/// Cursor pages by variables (`after`, `before`), the way clients send them: the compiled
/// path answers them, and what it answers is the reference's (verified on every request).
#[tokio::test]
async fn cursor_pages_by_variables_run_compiled() {
    for db in TestDb::all("cursor_pages_by_variables_run_compiled").await {
        for server in Server::both(&db).await {
            let bruno = Some("bruno-demo-token");
            let document = r#"query P($first: Int, $after: String, $last: Int, $before: String) {
                user(id: "1") { friends(first: $first, after: $after, last: $last, before: $before) {
                    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                    edges { cursor node { id username } } } } }"#;
            let page = |variables: Value| json!({ "query": document, "variables": variables });
            let first = server.query(bruno, document, json!({ "first": 2 })).await;
            let end = first["data"]["user"]["friends"]["pageInfo"]["endCursor"].clone();
            assert!(end.is_string(), "{first}");
            for variables in [
                json!({ "first": 2 }),
                json!({ "first": 2, "after": end }),
                json!({ "last": 1, "before": end }),
                json!({ "last": 3 }),
            ] {
                let _learned = server.post(bruno, page(variables.clone())).await;
                let before = server.compiled().await;
                let (status, body) = server.post(bruno, page(variables.clone())).await;
                assert_eq!(status, 200, "{variables}: {body}");
                assert!(!body.contains("\"errors\""), "{variables}: {body}");
                assert_eq!(
                    server.compiled().await,
                    before + 1,
                    "{:?} the plan answered {variables}: {}",
                    db.backend,
                    server.fallbacks().await
                );
            }
            // A refused argument falls back: the reference answers the error.
            let (status, body) = server
                .post(bruno, page(json!({ "first": 1, "last": 1 })))
                .await;
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("BAD_USER_INPUT"), "{body}");
        }
    }
}

/// Found by the differential check: two selections that ask one owner for the same page (a
/// page read once, shared) must both get it; the second got an empty page.
#[tokio::test]
async fn one_page_asked_from_two_places() {
    for db in TestDb::all("one_page_asked_from_two_places").await {
        for server in Server::both(&db).await {
            let document = r#"{ a: user(id: "1") { connections(limit: 1) { results { id } } } b: user(id: "1") { connections(limit: 1) { count results { id } } } }"#;
            for _ in 0..2 {
                let r = server.query(None, document, json!({})).await;
                assert_eq!(
                    r["data"]["a"]["connections"]["results"]
                        .as_array()
                        .map(Vec::len),
                    Some(1),
                    "{r}"
                );
                assert_eq!(r["data"]["b"]["connections"]["count"], 4, "{r}");
                assert_eq!(
                    r["data"]["a"]["connections"]["results"],
                    r["data"]["b"]["connections"]["results"],
                    "{r}"
                );
            }
        }
    }
}

/// What the plan does not write goes to the reference, and the answer is the reference's.
#[tokio::test]
async fn what_the_plan_does_not_cover_falls_back() {
    for db in TestDb::all("what_the_plan_does_not_cover_falls_back").await {
        for server in Server::both(&db).await {
            let bruno = Some("bruno-demo-token");
            let cases = [
                // The request lists: not compiled.
                (r#"{ me { id connectionRequests { count } } }"#, bruno),
                // An error: the reference reports it.
                (
                    r#"{ user(id: "1") { connections(limit: 0) { count } } }"#,
                    bruno,
                ),
                (r#"{ me { id } }"#, Some("not-a-token")),
                // Introspection.
                (r#"{ __schema { queryType { name } } }"#, None),
            ];
            for (document, token) in cases {
                let first = server.query(token, document, json!({})).await;
                let before = server.compiled().await;
                let second = server.query(token, document, json!({})).await;
                assert_eq!(first, second, "{document}");
                assert_eq!(server.compiled().await, before, "{document} fell back");
            }
            let fallbacks = server
                .metric("gateway_graphql_fallbacks_total{reason=\"page arguments\"}")
                .await;
            assert!(fallbacks >= 1, "{:?}", db.backend);
        }
    }
}

/// The plan answers GET and persisted queries (by hash alone) too.
#[tokio::test]
async fn get_and_persisted_queries_run_compiled() {
    use sha2::Digest;
    let Some(db) = TestDb::new(
        common::Backend::Sqlite,
        "get_and_persisted_queries_run_compiled",
    )
    .await
    else {
        return;
    };
    let server = Server::new(&db).await;
    let document = r#"{ user(id: "1") { id username } }"#;
    let url = format!("{}/graphql?query={}", server.base, urlencode(document));
    let client = reqwest::Client::new();
    let get = || async {
        let response = client
            .get(&url)
            .header("Accept", "application/graphql-response+json")
            .send()
            .await
            .expect("GET");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    };
    let first = get().await;
    let before = server.compiled().await;
    assert_eq!(get().await, first);
    assert_eq!(server.compiled().await, before + 1);
    assert_eq!(
        first.1,
        r#"{"data":{"user":{"id":"1","username":"alice"}}}"#
    );

    let hash = hex::encode(sha2::Sha256::digest(document.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let register = server
        .post(None, json!({ "query": document, "extensions": extensions }))
        .await;
    assert_eq!(register.0, 200);
    let before = server.compiled().await;
    let by_hash = server.post(None, json!({ "extensions": extensions })).await;
    assert_eq!(by_hash, register);
    assert_eq!(server.compiled().await, before + 1);
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// async-graphql 7.0.17 refused this valid document: its validator skipped the directives of
/// `__typename`, so the variable looked unused.
#[tokio::test]
async fn a_variable_used_in_a_directive_on_typename_is_used() {
    let Some(db) = TestDb::new(common::Backend::Sqlite, "typename_directive_variables").await
    else {
        return;
    };
    let server = Server::new(&db).await;
    let direct = "query Q($no: Boolean!) { __typename @include(if: $no) }";
    let fragment =
        "query Q($no: Boolean!) { ...F } fragment F on Query { __typename @skip(if: $no) }";
    for no in [false, true] {
        let r = server.query(None, direct, json!({ "no": no })).await;
        let expected = if no {
            json!({"__typename": "Query"})
        } else {
            json!({})
        };
        assert_eq!(r, json!({ "data": expected }), "include {no}");
        let r = server.query(None, fragment, json!({ "no": no })).await;
        let expected = if no {
            json!({})
        } else {
            json!({"__typename": "Query"})
        };
        assert_eq!(r, json!({ "data": expected }), "skip {no}");
    }
    // And an undefined one there is now reported, as anywhere else.
    let r = server
        .query(
            None,
            "query Q { __typename @include(if: $nope) }",
            json!({}),
        )
        .await;
    let message = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("$nope"), "{r}");
}

/// A `@skip`/`@include` variable the request leaves out reads as its default, as an
/// argument's does (async-graphql 7.0.17 read it as false).
#[tokio::test]
async fn a_directive_variable_left_out_takes_its_default() {
    let Some(db) = TestDb::new(common::Backend::Sqlite, "directive_variable_defaults").await else {
        return;
    };
    let server = Server::new(&db).await;
    let document = r#"query ($yes: Boolean! = true, $no: Boolean! = false) { user(id: "1") { id @include(if: $yes) username @skip(if: $no) bio @include(if: $no) } }"#;
    for _ in 0..2 {
        let r = server.query(None, document, json!({})).await;
        assert_eq!(
            r["data"]["user"],
            json!({"id": "1", "username": "alice"}),
            "{r}"
        );
    }
    let r = server
        .query(None, document, json!({ "yes": false, "no": true }))
        .await;
    let keys: Vec<&String> = r["data"]["user"]
        .as_object()
        .expect("a user")
        .keys()
        .collect();
    assert_eq!(keys, ["bio"], "{r}");
}

/// GraphQL §7.1.2: an error's `path` names the field that raised it. async-graphql 7.0.17
/// named the list item above it instead, for an error inside a nested page.
#[tokio::test]
async fn an_error_in_a_nested_page_names_the_inner_field() {
    for db in TestDb::all("an_error_in_a_nested_page_names_the_inner_field").await {
        for server in Server::both(&db).await {
            let document = "{ user(id: \"1\") { connections(limit: 1) {\n results { id connections(limit: -1) { count } } } } }";
            for _ in 0..2 {
                let r = server.query(None, document, json!({})).await;
                assert_eq!(r["data"], json!({ "user": null }), "{r}");
                let error = &r["errors"][0];
                assert_eq!(
                    error["path"],
                    json!(["user", "connections", "results", 0, "connections"]),
                    "{:?} {r}",
                    db.backend
                );
                assert_eq!(
                    error["locations"],
                    json!([{ "line": 2, "column": 15 }]),
                    "{r}"
                );
                assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{r}");
            }
            // The same error one level up still names its own field.
            let r = server
                .query(
                    None,
                    "{ user(id: \"1\") { connections(limit: -1) { count } } }",
                    json!({}),
                )
                .await;
            assert_eq!(
                r["errors"][0]["path"],
                json!(["user", "connections"]),
                "{r}"
            );
        }
    }
}

/// The follow counters and statuses the plan writes follow the settings and the viewer.
#[tokio::test]
async fn settings_and_viewers_reach_the_plan() {
    for db in TestDb::all("settings_and_viewers_reach_the_plan").await {
        for server in Server::both(&db).await {
            // Each server starts from the example's settings (the last one turned follow on).
            common::set_settings(&db.store, true, false, true).await;
            let document = r#"{ user(id: "1") { followersCounter followingsCounter connectionStatus isConnection connections(limit: 3) { results { id connectionStatus isConnection followersCounter } } } }"#;
            let anonymous = server.query(None, document, json!({})).await;
            let again = server.query(None, document, json!({})).await;
            assert_eq!(anonymous, again);
            assert_eq!(anonymous["data"]["user"]["followersCounter"], Value::Null);
            assert_eq!(anonymous["data"]["user"]["isConnection"], false);
            let viewer = server.query(Some(&jwt(2)), document, json!({})).await;
            assert_eq!(
                viewer["data"]["user"]["connectionStatus"], "CONNECTED",
                "{viewer}"
            );
            assert_eq!(viewer["data"]["user"]["isConnection"], true, "{viewer}");
            common::set_settings(&db.store, true, true, true).await;
            // The graph cache learns the new settings from the change feed, within milliseconds.
            // Waited for on the REST door: a GraphQL query in that window could see the old
            // settings on one executor and the new on the other, and GRAPHQL_VERIFY=strict
            // would answer the difference 500.
            for _ in 0..100 {
                let page: Value = reqwest::get(format!(
                    "{}/api/v2/user/1/connections/?limit=1",
                    server.base
                ))
                .await
                .expect("REST page")
                .json()
                .await
                .expect("JSON");
                if page["results"][0]["followers_counter"].is_i64() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let follow = server.query(Some(&jwt(2)), document, json!({})).await;
            assert!(
                follow["data"]["user"]["followersCounter"].is_i64(),
                "{follow}"
            );
            let counter = &follow["data"]["user"]["connections"]["results"][0]["followersCounter"];
            assert!(counter.is_i64(), "{follow}");
        }
    }
}

/// Found by the differential test: once a plan was learned, (1) an explicit null for a
/// directive's Boolean variable and (2) a variable of the wrong type for another operation of
/// the document were answered by the plan, where the reference refuses both.
#[tokio::test]
async fn variables_the_reference_refuses_are_left_to_it() {
    let Some(db) = TestDb::new(common::Backend::Sqlite, "variables_left_to_the_reference").await
    else {
        return;
    };
    let server = Server::new(&db).await;
    let cases = [
        ("query Q($v: Boolean) { __typename @include(if: $v) }", None, json!({"v": true}), json!({"v": null})),
        (
            "query A($v: Boolean) { __typename @include(if: $v) } query B($v: Int) { user(id: \"1\") { connections(limit: $v) { count } } }",
            Some("A"),
            json!({}),
            json!({"v": true}),
        ),
    ];
    for (document, operation, learn, refused) in cases {
        let body = |variables: &Value| json!({ "query": document, "operationName": operation, "variables": variables });
        let (status, _) = server.post(None, body(&learn)).await;
        assert_eq!(status, 200, "{document}");
        let before = server.compiled().await;
        let (status, text) = server.post(None, body(&refused)).await;
        assert_ne!(status, 500, "{document}: {text}");
        assert!(
            text.contains("Invalid value for argument"),
            "{document}: {text}"
        );
        assert_eq!(
            server.compiled().await,
            before,
            "{document}: the reference answered"
        );
    }
}

/// `docs/rest.md` ("connection_status"): the viewer has no status with themself, as a root
/// user (`me`, read by the status loader) and as a listed one (read with the page), and so
/// `isConnection` is false there. Written by the plan from two different reads.
#[tokio::test]
async fn the_viewer_has_no_status_with_themself() {
    for db in TestDb::all("the_viewer_has_no_status_with_themself").await {
        for server in Server::both(&db).await {
            // bruno (2) is in alice's (1) list.
            let document = r#"{ me { id connectionStatus isConnection } user(id: "1") { connectionStatus connections(limit: 10) { results { id connectionStatus isConnection } } } }"#;
            for _ in 0..2 {
                let r = server.query(Some(&jwt(2)), document, json!({})).await;
                assert_eq!(
                    r["data"]["me"],
                    json!({"id": "2", "connectionStatus": null, "isConnection": false}),
                    "{r}"
                );
                assert_eq!(r["data"]["user"]["connectionStatus"], "CONNECTED", "{r}");
                let results = r["data"]["user"]["connections"]["results"]
                    .as_array()
                    .expect("results");
                let bruno = results
                    .iter()
                    .find(|u| u["id"] == "2")
                    .expect("bruno is listed");
                assert_eq!(bruno["connectionStatus"], Value::Null, "{r}");
                assert_eq!(bruno["isConnection"], false, "{r}");
            }
        }
    }
}
