//! A request that goes away halfway leaves no pooled connection inside a transaction.
//!
//! async-graphql drops the futures of a field's siblings when the field's error nulls their
//! parent; a client that hangs up drops the whole request. A transaction dropped between its
//! `BEGIN` and its `COMMIT` used to go back to the pool still open: the next borrower's writes
//! landed in it, uncommitted, and its locks blocked others (a MariaDB `DROP DATABASE` waited
//! on them). Every transaction now runs to its end on a task of its own.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;

use crate::common::{self, Backend, TestDb};

/// `me`'s request lists run a read transaction each; the invalid offset of the sibling
/// `connections` fails at once and nulls `me`, which drops the request lists wherever they are.
const CANCELLING: &str =
    "{ me { connectionRequests { count } connectionRequestsSent { count } connections(offset: -1) { count } } }";

#[tokio::test]
async fn a_dropped_request_list_leaves_no_connection_in_a_transaction() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(db) = TestDb::new(backend, "cancel_request_list").await {
            leaves_no_open_transaction(db).await;
        }
    }
}

/// Open on MariaDB: with the transaction on a task of its own, 60 of these requests still
/// leave 1 to 7 pooled connections inside a `REPEATABLE READ` transaction (`INNODB_TRX`:
/// RUNNING, no locks, the connection asleep). A statement cut off halfway outside any
/// transaction seems to leave sqlx's MySQL connection out of step with the server, so that a
/// later `BEGIN` on it is not seen as one. Run with `--ignored`.
#[tokio::test]
#[ignore = "open on MariaDB: see the comment"]
async fn a_dropped_request_list_leaves_no_connection_in_a_transaction_on_mariadb() {
    if let Some(db) = TestDb::new(Backend::MySql, "cancel_request_list").await {
        leaves_no_open_transaction(db).await;
    }
}

async fn leaves_no_open_transaction(db: TestDb) {
    common::import_example(&db.store).await;
    let base = common::serve(db.store.clone()).await;
    let client = reqwest::Client::new();
    let token = common::jwt(1);
    let mut sent = Vec::new();
    for _ in 0..60 {
        let client = client.clone();
        let (base, token) = (base.clone(), token.clone());
        sent.push(tokio::spawn(async move {
            let response = client
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": CANCELLING }))
                .send()
                .await
                .expect("sent");
            let body: serde_json::Value = response.json().await.expect("json");
            body
        }));
    }
    for answer in sent {
        let body = answer.await.expect("request task");
        assert_eq!(body["data"]["me"], serde_json::Value::Null, "{body}");
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
    let outside = Database::connect(&db.url).await.expect("second connection");
    let open = settle(|| open_transactions(&outside, db.backend)).await;
    assert_eq!(
        open, 0,
        "{:?}: pooled connections left inside a transaction",
        db.backend
    );
    // And a write through the server's pool is seen from outside at once, every time.
    for round in 0..10 {
        let on = round % 2 == 0;
        common::set_settings(&db.store, true, on, true).await;
        assert_eq!(
            follow_enabled(&outside).await,
            on,
            "{:?}: write {round} through the pool is not committed",
            db.backend
        );
    }
    drop(outside);
    db.store.connection().clone().close().await.ok();
}

/// `probe`'s answer once it is 0, or its last answer after two seconds (the dropped requests'
/// transactions end on their own tasks, a moment after the answers).
async fn settle<F, Fut>(probe: F) -> i64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let open = probe().await;
        if open == 0 || Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connections of this database, other than `outside`, inside a transaction and waiting for
/// their client (SQLite: whether a reader's snapshot keeps a checkpoint from finishing).
async fn open_transactions(outside: &DatabaseConnection, backend: Backend) -> i64 {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        }
        Backend::MySql => {
            "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX t \
             JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE p.DB = DATABASE() AND p.COMMAND = 'Sleep' AND p.ID <> CONNECTION_ID()"
        }
        // busy = 1 when a reader's open snapshot stops the checkpoint.
        Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let row = outside
        .query_one(Statement::from_string(outside.get_database_backend(), sql))
        .await
        .expect("probe")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

async fn follow_enabled(outside: &DatabaseConnection) -> bool {
    let row = outside
        .query_one(Statement::from_string(
            outside.get_database_backend(),
            "SELECT follow_enabled FROM community_settings",
        ))
        .await
        .expect("settings read")
        .expect("the settings row");
    row.try_get_by_index::<bool>(0).expect("a flag")
}
