//! A database shut down the way an operator does it, under a running server: PostgreSQL with
//! `pg_ctl stop -m fast` (open sessions get `57P01 admin_shutdown`, new ones `57P03` or a
//! refused connection), MariaDB with `mariadb-admin shutdown`. While it is down every request
//! answers 503 with `Retry-After` (never 500); when it is back the server recovers by itself.
//! Each test runs its own throwaway server, so the shared ones stay up for the other tests.

use std::time::{Duration, Instant};

use crate::common::throwaway::{ThrowawayMariaDb, ThrowawayPostgres};
use crate::common::{self};
use community_gateway::store::Store;

/// The REST page and a GraphQL query, and what each answered.
async fn probe(client: &reqwest::Client, base: &str) -> ((u16, String, Option<String>), String) {
    let response = client
        .get(format!("{base}/api/v2/user/1/connections/"))
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.expect("body");
    let response = client
        .post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .body(r#"{"query": "{ user(id: \"1\") { username } }"}"#)
        .send()
        .await
        .expect("send");
    let graphql_retry = response.headers().contains_key("retry-after");
    let graphql = response.text().await.expect("body");
    // A GraphQL answer whose every error is SERVICE_UNAVAILABLE carries Retry-After too.
    assert_eq!(
        graphql_retry,
        graphql.contains("SERVICE_UNAVAILABLE"),
        "Retry-After on {graphql}"
    );
    ((status, body, retry), graphql)
}

/// Serves the example community from `url`, stops the database with `stop`, checks the 503s,
/// starts it with `start`, checks the recovery.
async fn shutdown_and_back(url: &str, stop: impl FnOnce(), start: impl FnOnce()) {
    let store = Store::connect_with(url, 4, Duration::from_millis(500))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    common::import_example(&store).await;
    let base = common::serve(store).await;
    let client = reqwest::Client::new();
    let ((status, body, _), _) = probe(&client, &base).await;
    assert_eq!(status, 200, "{body}");

    stop();
    // Every pooled connection is dead now; the first requests meet them, later ones find no
    // server at all. All of them are 503 with Retry-After, within the acquire timeout.
    for round in 0..6 {
        let started = Instant::now();
        let ((status, body, retry), graphql) = probe(&client, &base).await;
        assert_eq!(status, 503, "round {round}: {body}");
        assert!(body.contains(r#""code":"service_unavailable""#), "{body}");
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(
            graphql.contains("SERVICE_UNAVAILABLE"),
            "round {round}: {graphql}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    start();
    let started = Instant::now();
    loop {
        let ((status, body, _), graphql) = probe(&client, &base).await;
        if status == 200 && graphql.contains("alice") {
            break;
        }
        assert!(
            status == 503 || status == 200,
            "while recovering: {status} {body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn postgres_stopped_fast_answers_503_then_recovers() {
    let Some(cluster) = ThrowawayPostgres::start("postgres_stopped_fast") else {
        return;
    };
    let url = cluster.url();
    shutdown_and_back(&url, || cluster.stop_fast(), || cluster.start_again()).await;
}

#[tokio::test]
async fn mariadb_shut_down_answers_503_then_recovers() {
    let Some(server) = ThrowawayMariaDb::start("mariadb_shut_down") else {
        return;
    };
    let url = server.url();
    let server = std::sync::Mutex::new(server);
    shutdown_and_back(
        &url,
        || server.lock().expect("lock").shutdown(),
        || server.lock().expect("lock").start_again(),
    )
    .await;
}
