//! The REST route beyond the golden cases: bounded SQL, HTTP details, configuration.

use crate::common;
use crate::common::jwt;

use crate::common::{TestDb, TEST_SECRET};
use serde_json::Value;

/// A star: user 1 connected to everyone, so any page size can be filled.
fn star_json(users: i64) -> String {
    let user = |id: i64| common::plain_user(id, &[1]);
    let tag = serde_json::json!({"id": 1, "type": "user", "name": "t", "description": "", "color": "#000000",
        "visible": true, "visibility_boost": false, "active": true, "deleted": false, "created_at": "2024-01-01T00:00:00Z"});
    let connections: Vec<Value> = (2..=users)
        .map(|id| serde_json::json!({"users": [1, id], "connected_at": format!("2024-01-01T00:00:{:02}Z", id % 60)}))
        .collect();
    let requests: Vec<Value> = (3..=users)
        .step_by(7)
        .map(|id| serde_json::json!({"from": id, "to": 2, "created_at": "2024-02-01T00:00:00Z"}))
        .collect();
    serde_json::json!({"settings": {}, "tags": [tag], "users": (1..=users).map(user).collect::<Vec<_>>(),
        "connections": connections, "connection_requests": requests,
        "access_tokens": [{"token": "opaque-2", "user_id": 2, "expires_at": "2099-01-01T00:00:00Z"}]})
    .to_string()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn statements_per_request_do_not_depend_on_page_size() {
    for db in TestDb::all("statements_per_request").await {
        let file = community_gateway::datafile::parse(star_json(150).as_bytes()).unwrap();
        community_gateway::bulk::import(&db.store, &file)
            .await
            .unwrap();
        // The SQL path's statements (with the cache, a page runs none: tests/it/cache.rs).
        let base = common::serve_with(db.store.clone(), common::sql_only_config()).await;
        let client = reqwest::Client::new();
        let token = jwt(2);
        // Gates, page (with count and statuses), tags; plus the lookup of an opaque token.
        for (auth, want) in [
            (None, 3),
            (Some(format!("Bearer {token}")), 3),
            (Some("Bearer opaque-2".to_string()), 4),
        ] {
            let mut counts = Vec::new();
            for limit in [1, 20, 100] {
                let before = db.store.statement_count();
                let mut request =
                    client.get(format!("{base}/api/v2/user/1/connections/?limit={limit}"));
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["results"].as_array().unwrap().len(), limit);
                counts.push(db.store.statement_count() - before);
            }
            assert_eq!(counts, [want; 3], "{:?} with {auth:?}", db.backend);
        }
    }
}

#[tokio::test]
async fn http_details() {
    let db = TestDb::new(common::Backend::Sqlite, "http_details")
        .await
        .unwrap();
    common::import_example(&db.store).await;
    let base = common::serve(db.store.clone()).await;
    let client = reqwest::Client::new();

    let head = client
        .head(format!("{base}/api/v2/user/1/connections/"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    let post = client
        .post(format!("{base}/api/v2/user/1/connections/"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD, OPTIONS");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "method_not_allowed");

    let options = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/api/v2/user/1/connections/"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(options.headers()["allow"], "GET, HEAD, OPTIONS");

    let unknown = client
        .get(format!("{base}/api/v2/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.text().await.unwrap(),
        r#"{"errors":[{"code":"not_found","message":"Not found."}]}"#
    );

    // A hostile Host header cannot inject into links.
    let evil = client
        .get(format!("{base}/api/v2/user/1/connections/?limit=1"))
        .header("Host", "evil.example\"><x")
        .send()
        .await
        .unwrap();
    let body: Value = evil.json().await.unwrap();
    assert_eq!(
        body["next"],
        "http://localhost/api/v2/user/1/connections/?limit=1&offset=1"
    );

    // JWT for a user that does not exist: 401 even though content is public.
    let ghost = client
        .get(format!("{base}/api/v2/user/1/connections/"))
        .header("Authorization", format!("Bearer {}", jwt(4242)))
        .send()
        .await
        .unwrap();
    assert_eq!(ghost.status(), 401);
    assert_eq!(ghost.headers()["www-authenticate"], "Bearer realm=\"api\"");
}

#[tokio::test]
async fn public_base_url_and_page_sizes_are_configurable() {
    let db = TestDb::new(common::Backend::Sqlite, "public_base_url")
        .await
        .unwrap();
    common::import_example(&db.store).await;
    let mut config = community_gateway::config::Config::with_secret(TEST_SECRET);
    config.public_base_url = Some("https://api.example.com/community".into());
    config.default_limit = 1;
    config.max_limit = 2;
    let base = common::serve_with(db.store.clone(), config).await;
    let client = reqwest::Client::new();
    let body = get_json(&client, &format!("{base}/api/v2/user/1/connections/")).await;
    assert_eq!(
        body["next"],
        "https://api.example.com/community/api/v2/user/1/connections/?limit=1&offset=1"
    );
    let body = get_json(
        &client,
        &format!("{base}/api/v2/user/1/connections/?limit=50"),
    )
    .await;
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        2,
        "cut to MAX_LIMIT"
    );
    assert_eq!(
        body["next"],
        "https://api.example.com/community/api/v2/user/1/connections/?limit=2&offset=2"
    );
}

#[tokio::test]
async fn operations_endpoints() {
    let db = TestDb::new(common::Backend::Sqlite, "operations_endpoints")
        .await
        .unwrap();
    common::import_example(&db.store).await;
    let base = common::serve(db.store.clone()).await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A request id is made when absent and echoed when given.
    let response = client
        .get(format!("{base}/api/v2/user/1/connections/"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers()["x-request-id"].is_empty());
    let response = client
        .get(format!("{base}/api/v2/user/999/connections/"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let metrics = common::metrics_text(&client, &base).await;
    assert!(
        metrics.contains(r#"gateway_http_requests_total{method="GET",route="/api/v2/user/{id}/connections/",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"status="404"} 1"#), "{metrics}");
    assert!(
        metrics.contains("gateway_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_sql_statements_total"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_db_pool_connections"), "{metrics}");
}

#[tokio::test]
async fn rate_limit_per_client_when_configured() {
    let db = TestDb::new(common::Backend::Sqlite, "rate_limit")
        .await
        .unwrap();
    common::import_example(&db.store).await;
    let mut config = community_gateway::config::Config::with_secret(TEST_SECRET);
    config.rate_limit = Some((1, 3));
    let base = common::serve_with(db.store.clone(), config).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v2/user/1/connections/");
    for _ in 0..3 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    let limited = client.get(&url).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "throttled");
    // Another client (by token) has its own bucket.
    let other = client
        .get(&url)
        .header("Authorization", "Bearer alice-demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

/// `gateway_sql_statements_total{source="api"}` counts every statement the API sends, also
/// those sea-orm does not report (BEGIN, SET TRANSACTION, COMMIT or ROLLBACK, unprepared
/// SQL): a known sequence of requests adds exactly the statements the database receives
/// (checked against PostgreSQL's `log_statement = all`: the figures below). With the
/// cache off the sequence runs the same SQL every time, so the figures are exact; the feed's
/// and the replica monitor's statements run on timers and count under their own labels.
#[tokio::test]
async fn every_statement_of_a_known_sequence_is_counted() {
    let mut wrong = Vec::new();
    for db in TestDb::all("statements_counted_exactly").await {
        common::import_example(&db.store).await;
        let base = common::serve_unverified(db.store.clone(), common::sql_only_config()).await;
        let api = common::Api {
            http: reqwest::Client::new(),
            base: base.clone(),
        };
        let scraped = || async {
            common::metric(
                &api.http,
                &base,
                r#"gateway_sql_statements_total{source="api"}"#,
            )
            .await as u64
        };
        // Per step, what the database receives. On PostgreSQL each figure was read off the
        // server's own log (`log_statement = all`, the feed's connections left out):
        // - page: the gates, the page, the tags;
        // - lifecycle: the gates and the viewer's record, then BEGIN, the pair's rows FOR
        //   UPDATE (which also tell whether the target exists: the cache is off, so no read
        //   of the target before), the connection and the requests (one statement), the
        //   request (its id from the sequence, RETURNING), its event with its change row (one
        //   statement), COMMIT. SQLite: one
        //   more UPDATE that takes the write lock, the request-id counter raised and read back,
        //   the event inserted then read back, its change row. MySQL: SET TRANSACTION
        //   ISOLATION LEVEL, the event inserted then read back (no RETURNING), its change row;
        // - request list: the gates, BEGIN, the count, the rows, COMMIT, the users, their tags,
        //   the statuses;
        // - readyz: SELECT 1, and sea-orm-migration's table creation (three times) and read.
        // sea-orm reported 3, 9, 6 and 4 of them on PostgreSQL: BEGIN, SET TRANSACTION, COMMIT
        // and unprepared SQL went uncounted.
        let lifecycle = match db.backend {
            common::Backend::Sqlite => 11,
            common::Backend::Postgres => 7,
            common::Backend::MySql => 10,
        };
        let steps: [(&str, u64); 4] = [
            ("page", 3),
            ("lifecycle", lifecycle),
            ("request list", 8),
            ("readyz", 5),
        ];
        let mut got = Vec::new();
        for (step, want) in steps {
            let before = db.store.statement_count();
            let metric_before = scraped().await;
            let status = match step {
                "page" => api.call("GET", "1/connections/", Some(2)).await.0,
                "lifecycle" => api.act(4, 5, "connection/request").await.0,
                "request list" => api.call("GET", "connection/requests/", Some(5)).await.0,
                _ => api.send("GET", "/readyz", None).await.status(),
            };
            assert_eq!(status, 200, "{step} on {:?}", db.backend);
            let sent = db.store.statement_count() - before;
            got.push((step, want, sent, scraped().await - metric_before));
        }
        if got
            .iter()
            .any(|(_, want, sent, scraped)| sent != want || scraped != want)
        {
            wrong.push((db.backend, got));
        }
    }
    assert!(
        wrong.is_empty(),
        "(step, statements sent, counted, /metrics): {wrong:?}"
    );
}
