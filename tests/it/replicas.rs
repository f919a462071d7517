//! Reads on a PostgreSQL hot standby (`READ_DATABASE_URL`, `store::replicas`), against a
//! primary and a standby of the test's own (`initdb` + `pg_basebackup -R`, free ports; the
//! shared server is not touched):
//!
//! - the REST golden cases and the GraphQL statement counts hold with the reads on the standby;
//! - a client that acts through the gateway reads its own write at once;
//! - the reads do come from the standby: with its replay paused, a write made on the primary
//!   is not seen, until the lag passes `REPLICA_MAX_LAG_MS` and the replica leaves the
//!   rotation (`/readyz`, `/metrics`); reads go to the primary then, and back to the standby
//!   once it has caught up.

use std::time::{Duration, Instant};

use community_gateway::store::Store;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;

use crate::common::throwaway::ThrowawayPostgres;
use crate::common::{self, metric, Api};

/// A primary with the example community and a standby streaming from it, and a store on the
/// primary.
async fn pair(test: &str) -> Option<(ThrowawayPostgres, ThrowawayPostgres, Store)> {
    let primary = ThrowawayPostgres::start(test)?;
    let standby = primary.standby();
    let store = Store::connect(&primary.url(), 8).await.expect("primary");
    store.migrate().await.expect("migrate");
    common::import_example(&store).await;
    Some((primary, standby, store))
}

/// `store` with its reads on `standby`, in rotation while it lags at most `max_lag`.
async fn reading_from(store: &Store, standby: &ThrowawayPostgres, max_lag: Duration) -> Store {
    let reading = store
        .clone()
        .with_replicas(&[standby.url()], 8, Duration::from_secs(3), max_lag)
        .await
        .expect("replicas");
    wait_until("the standby takes the reads", || {
        let on = reading.reads().active().is_some();
        async move { on }
    })
    .await;
    reading
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn goldens_and_statement_counts_hold_with_the_reads_on_a_standby() {
    let Some((_primary, standby, store)) = pair("replica_goldens").await else {
        return;
    };
    let reading = reading_from(&store, &standby, Duration::from_secs(1)).await;
    let base = common::serve(reading.clone()).await;
    let failures = crate::rest_golden::golden_failures(&reading, &base, "standby").await;
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed with the reads on the standby:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        reading.reads().active().is_some(),
        "the standby served the whole run"
    );

    let community =
        community_gateway::datafile::validate(community_gateway::datafile::synthetic(400, 12, 7))
            .expect("valid");
    community_gateway::bulk::import(&store, &community)
        .await
        .expect("imports on the primary");
    // Replayed on the standby before the counts start.
    reading.settle().await;
    crate::graphql::statements_stay_flat(&reading, "standby").await;
}

/// A connection of its own to `cluster` (the test's view, not the gateway's).
async fn direct(cluster: &ThrowawayPostgres) -> DatabaseConnection {
    Database::connect(cluster.url())
        .await
        .expect("direct connection")
}

async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql);
}

async fn username(api: &Api, id: i64) -> String {
    let body = api
        .gql(1, &format!("{{ user(id: \"{id}\") {{ username }} }}"))
        .await;
    match body["data"]["user"]["username"].as_str() {
        Some(name) => name.to_string(),
        None => format!("no username: {body}"),
    }
}

async fn readyz(api: &Api) -> String {
    let response = api.send("GET", "/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK, "ready on the primary");
    response.text().await.expect("body")
}

#[tokio::test]
async fn own_writes_show_and_a_lagging_standby_leaves_the_rotation() {
    let Some((primary, standby, store)) = pair("replica_rotation").await else {
        return;
    };
    let max_lag = Duration::from_millis(300);
    let reading = reading_from(&store, &standby, max_lag).await;
    let api = Api {
        http: reqwest::Client::new(),
        base: common::serve(reading.clone()).await,
    };
    assert!(readyz(&api).await.contains(": serving reads, lag "));

    // Read your own writes: each action's effect is there on the very next read.
    let unrelated = api.status(4, 2).await;
    for round in 0..10 {
        let (route, want) = if round % 2 == 0 {
            ("connection/request", json!("sent_connection_request"))
        } else {
            ("connection/cancel_request", unrelated.clone())
        };
        let (status, body) = api.act(4, 2, route).await;
        assert!(status.is_success(), "{route}: {status} {body}");
        assert_eq!(
            api.status(4, 2).await,
            want,
            "round {round}: {route} then a read"
        );
    }

    // The standby stops replaying; a write made on the primary behind the gateway's back is
    // not seen through it (the reads, and the cache's feed, are on the standby)...
    let on_standby = direct(&standby).await;
    let on_primary = direct(&primary).await;
    let before = username(&api, 3).await;
    execute(&on_standby, "SELECT pg_wal_replay_pause()").await;
    execute(
        &on_primary,
        "UPDATE users SET username = 'renamed' WHERE id = 3",
    )
    .await;
    let paused = Instant::now();
    assert_eq!(
        username(&api, 3).await,
        before,
        "read on the paused standby"
    );
    assert!(paused.elapsed() < max_lag, "read within the lag bound");

    // ...until its lag passes the bound: out of rotation, reads on the primary.
    wait_until("the paused standby leaves the rotation", || async {
        username(&api, 3).await == "renamed"
    })
    .await;
    assert!(
        paused.elapsed() >= max_lag,
        "left after {:?}",
        paused.elapsed()
    );
    let report = readyz(&api).await;
    assert!(report.contains(": out of rotation, lag "), "{report}");
    assert!(report.contains("reads: on the primary"), "{report}");
    let metrics = &api.base;
    assert_eq!(
        metric(&api.http, metrics, "gateway_reads_on_primary").await,
        1.0
    );

    // Replay resumes: the standby catches up and takes the reads back.
    execute(&on_standby, "SELECT pg_wal_replay_resume()").await;
    wait_until("the standby takes the reads back", || async {
        readyz(&api).await.contains(": serving reads, lag ")
    })
    .await;
    assert_eq!(
        metric(&api.http, metrics, "gateway_reads_on_primary").await,
        0.0
    );
    assert_eq!(username(&api, 3).await, "renamed");
    // A write made on the primary behind the gateway's back shows through it within the
    // standby's replay and the feed's poll.
    execute(
        &on_primary,
        "UPDATE users SET username = 'again' WHERE id = 3",
    )
    .await;
    let written = Instant::now();
    wait_until(
        "a write on the primary shows through the standby",
        || async { username(&api, 3).await == "again" },
    )
    .await;
    eprintln!(
        "a write on the primary showed through the standby after {:?}",
        written.elapsed()
    );
    assert!(
        written.elapsed() < Duration::from_secs(1),
        "{:?}",
        written.elapsed()
    );
    // And the cache follows the standby again: a write shows through it.
    let (status, body) = api.act(4, 2, "connection/request").await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(api.status(4, 2).await, json!("sent_connection_request"));
}

#[tokio::test]
async fn a_standby_that_stops_answering_leaves_the_rotation_and_comes_back() {
    let Some((_primary, standby, store)) = pair("replica_unreachable").await else {
        return;
    };
    let reading = reading_from(&store, &standby, Duration::from_millis(300)).await;
    let api = Api::sql_only(&reading).await;
    assert_eq!(username(&api, 3).await, "chiara");

    standby.stop_fast();
    wait_until("the stopped standby leaves the rotation", || async {
        readyz(&api)
            .await
            .contains(": out of rotation, unreachable")
    })
    .await;
    // The reads are on the primary now: every request answers.
    for _ in 0..20 {
        assert_eq!(username(&api, 3).await, "chiara");
    }

    standby.start_again();
    wait_until("the restarted standby takes the reads back", || async {
        readyz(&api).await.contains(": serving reads, lag ")
    })
    .await;
    assert_eq!(username(&api, 3).await, "chiara");
}
