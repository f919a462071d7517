//! A request that goes away halfway leaves no pooled connection inside a transaction.
//!
//! async-graphql drops the futures of a field's siblings when the field's error nulls their
//! parent; a client that hangs up drops the whole request. A transaction dropped between its
//! `BEGIN` and its `COMMIT` used to go back to the pool still open: the next borrower's writes
//! landed in it, uncommitted, and its locks blocked others (a MariaDB `DROP DATABASE` waited
//! on them). Every transaction now runs to its end on a task of its own.

use std::time::{Duration, Instant};

use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;

use community_gateway::store::sql::Sql;
use community_gateway::store::Store;

use crate::common::{self, Backend, TestDb};

/// `me`'s request lists run a read transaction each; the invalid offset of the sibling
/// `connections` fails at once and nulls `me`, which drops the request lists wherever they are.
const CANCELLING: &str =
    "{ me { connectionRequests { count } connectionRequestsSent { count } connections(offset: -1) { count } } }";

#[tokio::test]
async fn a_dropped_request_list_leaves_no_connection_in_a_transaction() {
    for db in TestDb::all("cancel_request_list").await {
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
    let open = settle(|| open_transactions(&outside, &db)).await;
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
async fn open_transactions(outside: &DatabaseConnection, db: &TestDb) -> i64 {
    let sql = match db.backend {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        }
        Backend::MySql => return pooled_in_transaction(db).await,
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

/// MySQL/MariaDB: how many of the server's pooled connections are inside a transaction, asked
/// of each connection as its next borrower would (`@@in_transaction`), all held at once so
/// that each is asked once. Not `information_schema.INNODB_TRX`: after these requests MariaDB
/// 10.11 lists there a RUNNING transaction (no tables, no locks) for some sleeping connections
/// whose session is in none: `@@in_transaction` is 0 on every one, and InnoDB's own status
/// says "not started" for each, with no read view open.
async fn pooled_in_transaction(db: &TestDb) -> i64 {
    let pool = db.store.connection().get_mysql_connection_pool();
    let mut held = Vec::new();
    let mut open = 0;
    for _ in 0..pool.size() {
        let mut conn = pool.acquire().await.expect("a pooled connection");
        let inside: i64 = sea_orm::sqlx::query_scalar("SELECT CAST(@@in_transaction AS SIGNED)")
            .fetch_one(&mut *conn)
            .await
            .expect("@@in_transaction");
        open += inside;
        held.push(conn);
    }
    open
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

/// A read dropped at any point of its exchange with the database, on a pool of one connection,
/// leaves that connection in step: the next read on it answers its own question. On MySQL a
/// statement with parameters is prepared first, and sqlx does not count the prepare's reply
/// among those it still owes; it is the check sqlx runs on every connection given back to the
/// pool (a ping, which fails on the unread packets and has the connection closed) that keeps
/// the next borrower from reading them as its own answer.
#[tokio::test]
async fn a_read_dropped_halfway_leaves_its_connection_in_step() {
    for db in TestDb::all("cancel_read").await {
        let backend = db.backend;
        let store = Store::connect_with(&db.url, 1, Duration::from_secs(5))
            .await
            .expect("a pool of one");
        let mut cut = 0;
        for round in 0..300_i64 {
            // A text never seen before, so that it is prepared (not taken from sqlx's cache).
            let mut doomed = Sql::new(store.backend());
            doomed
                .push(&format!("SELECT {round} AS round, "))
                .bind(round)
                .push(" AS n");
            // Cut off after its first poll (its first packet sent), or after 10 to 590 µs.
            let reads = store.reader();
            let answered = if round % 2 == 0 {
                reads.query_one(doomed.build()).now_or_never().is_some()
            } else {
                let wait = Duration::from_micros((round as u64 % 60) * 10);
                tokio::time::timeout(wait, reads.query_one(doomed.build()))
                    .await
                    .is_ok()
            };
            cut += i64::from(!answered);
            let mut check = Sql::new(store.backend());
            check.push("SELECT ").bind(round * 7).push(" AS n");
            let row = store
                .reader()
                .query_one(check.build())
                .await
                .unwrap_or_else(|err| panic!("{backend:?}: the read after round {round}: {err}"))
                .expect("a row");
            let n: i64 = row.try_get("", "n").expect("n");
            assert_eq!(
                n,
                round * 7,
                "{backend:?}: the read after round {round} read another answer"
            );
        }
        assert!(
            cut > 0,
            "{backend:?}: no read was cut off; the test proves nothing"
        );
        store.connection().clone().close().await.ok();
    }
}
