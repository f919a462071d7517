//! Re-importing a community while users browse it, on PostgreSQL: the import loads staging
//! tables and swaps them in within milliseconds (`community::pg`). Readers running the whole
//! time get only 200s, see the old community until the swap and the new one after it, and are
//! never stalled for the length of the load. A failed import leaves the live tables as they
//! were, and a leftover staging table (a crashed import) does not break the next one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, Backend, TestDb};
use community_gateway::bulk::{import, import_with};
use community_gateway::datafile;
use community_gateway::datafile::{synthetic, validate, Community};
use community_gateway::progress::Progress;
use sea_orm::ConnectionTrait;
use serde_json::Value;

fn community_of(users: u64, degree: u32, seed: u64) -> Community {
    validate(synthetic(users, degree, seed)).expect("generated files keep the rules")
}

/// What the readers saw: statuses other than 200, how many answers.
#[derive(Default)]
struct Seen {
    failures: Vec<(u16, String)>,
    answers: usize,
}

/// The readers' lock waits, as PostgreSQL reports them (`pg_locks.waitstart`), sampled until
/// the import is over.
#[derive(Default)]
struct LockWaits {
    /// Samples answered before the import's load was done (its `index` phase finished).
    during_load: usize,
    /// The longest reader wait those samples saw, and the statement that waited.
    longest_during_load: Duration,
    during_load_query: String,
    /// The longest reader wait over the whole import, swap included.
    longest: Duration,
    samples: usize,
}

/// Samples `pg_locks` every millisecond until `stop`: what a reader waits on during an import
/// is a table lock, and PostgreSQL times each wait itself, so the figure does not depend on
/// how busy the machine's cores are (a reader's wall time does: HTTP, the test's scheduling).
/// A sample answered before `load_done` was set ran before the swap began: whatever it saw,
/// the load caused.
async fn sample_lock_waits(
    db: sea_orm::DatabaseConnection,
    load_done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> LockWaits {
    // Hand-written: the lock catalogue has no entity. Only the readers' statements (the API's
    // and the feed's are all SELECT or WITH): the import's own lock requests (its `LOCK
    // TABLE`, waiting for the readers already running; the drop of the replaced tables) are
    // not a reader's wait.
    let sql = "SELECT EXTRACT(EPOCH FROM clock_timestamp() - l.waitstart)::float8 AS waited, \
               left(a.query, 60) AS query \
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
               WHERE NOT l.granted AND l.waitstart IS NOT NULL \
               AND a.datname = current_database() \
               AND (a.query LIKE 'SELECT%' OR a.query LIKE 'WITH%') \
               ORDER BY l.waitstart LIMIT 1";
    let mut waits = LockWaits::default();
    while !stop.load(Ordering::Relaxed) {
        let row = db
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                sql,
            ))
            .await
            .expect("pg_locks");
        // Read after the answer: an answer that came before the flag was set ran before it.
        let during_load = !load_done.load(Ordering::SeqCst);
        let (waited, query) = match row {
            Some(row) => {
                let waited: f64 = row.try_get("", "waited").expect("waited");
                let query: String = row.try_get("", "query").expect("query");
                (Duration::from_secs_f64(waited.max(0.0)), query)
            }
            None => (Duration::ZERO, String::new()),
        };
        waits.longest = waits.longest.max(waited);
        if during_load {
            waits.during_load += 1;
            if waited > waits.longest_during_load {
                waits.longest_during_load = waited;
                waits.during_load_query = query;
            }
        }
        waits.samples += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    waits
}

#[tokio::test]
async fn a_reimport_under_read_load_fails_no_reader() {
    let Some(db) = TestDb::new(Backend::Postgres, "import_swap_under_load").await else {
        return;
    };
    let old = community_of(5000, 20, 1);
    import(&db.store, &old).await.expect("first import");
    let base = common::serve(db.store.clone()).await;
    let new = community_of(5000, 24, 2);

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for reader in 0..4u64 {
        let (base, stop) = (base.clone(), stop.clone());
        readers.spawn(async move {
            let client = reqwest::Client::new();
            let mut seen = Seen::default();
            let mut id = 1 + reader * 700;
            while !stop.load(Ordering::Relaxed) {
                id = id % 5000 + 1;
                let response = client
                    .get(format!("{base}/api/v2/user/{id}/connections/"))
                    .send()
                    .await
                    .expect("send");
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                seen.answers += 1;
                if status != 200 {
                    seen.failures.push((status, body));
                }
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (load_done, sampling_over) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = tokio::spawn(sample_lock_waits(
        db.store.connection().clone(),
        load_done.clone(),
        sampling_over.clone(),
    ));
    // The load is done when the `index` phase is: the swap comes next.
    let progress = {
        let load_done = load_done.clone();
        Progress::lines("import", move |line| {
            if line.starts_with("import: index") {
                load_done.store(true, Ordering::SeqCst);
            }
        })
    };
    let import_started = Instant::now();
    let report = import_with(&db.store, &new, &progress)
        .await
        .expect("the import under load succeeds");
    let import_took = import_started.elapsed();
    assert!(
        load_done.load(Ordering::SeqCst),
        "the import reported its index phase"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    sampling_over.store(true, Ordering::Relaxed);
    let waits = sampler.await.expect("sampler");
    stop.store(true, Ordering::Relaxed);

    let mut all = Seen::default();
    while let Some(seen) = readers.join_next().await {
        let seen = seen.expect("reader");
        all.failures.extend(seen.failures);
        all.answers += seen.answers;
    }
    assert!(
        all.failures.is_empty(),
        "readers failed: {:?}",
        &all.failures[..all.failures.len().min(3)]
    );
    assert!(
        all.answers > 20,
        "the readers ran during the import ({} answers)",
        all.answers
    );
    // Readers wait for the swap, not for the load. The load (staging tables, COPY, indexes)
    // touches no live table in a way a reader waits for: no sample taken during it sees a
    // reader waiting at all. A reader stalled by the load (a TRUNCATE's lock held until
    // commit) would be seen waiting in every sample. The swap may make a reader wait, for at
    // most the swap: not a bound on time this test can assert on a loaded machine, but never
    // the whole import.
    eprintln!(
        "import {import_took:?}; {} of {} samples during the load, longest reader wait then {:?}; \
         longest over the import {:?}",
        waits.during_load, waits.samples, waits.longest_during_load, waits.longest
    );
    assert!(
        waits.during_load > 5,
        "pg_locks sampled {} times during the load",
        waits.during_load
    );
    assert_eq!(
        waits.longest_during_load,
        Duration::ZERO,
        "a reader waited for a lock during the load ({})",
        waits.during_load_query
    );
    assert!(
        waits.longest < import_took,
        "a reader waited {:?}, as long as the import ({import_took:?})",
        waits.longest
    );
    assert_eq!(report.users, 5000);

    // After the swap: the new community, served by the same (re-planned) pooled connections.
    let expected = new
        .connections
        .iter()
        .filter(|c| c.users.contains(&1))
        .count() as u64;
    let page: Value = reqwest::get(format!("{base}/api/v2/user/1/connections/"))
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(page["count"], expected, "{page}");
}

#[tokio::test]
async fn a_leftover_staging_table_does_not_break_the_next_import() {
    let Some(db) = TestDb::new(Backend::Postgres, "import_swap_leftover").await else {
        return;
    };
    // A crashed import would leave nothing (one transaction), but an operator's experiment
    // or an older version might: the next import replaces it.
    db.store
        .connection()
        .execute_unprepared("CREATE TABLE users__import (junk int)")
        .await
        .expect("a stray staging table");
    import(&db.store, &community_of(200, 6, 3))
        .await
        .expect("import");
    let exported = datafile::export(&db.store).await.expect("export");
    assert_eq!(exported.users.len(), 200);
    // Neither staged nor replaced tables (or their indexes) outlive an import.
    let leftovers = db
        .store
        .connection()
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            r"SELECT relname FROM pg_class WHERE relname LIKE '%\_\_import' OR relname LIKE '%\_\_replaced'",
        ))
        .await
        .expect("catalogue");
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_import_refused_for_a_dependent_view_changes_nothing() {
    let Some(db) = TestDb::new(Backend::Postgres, "import_swap_failure").await else {
        return;
    };
    import(&db.store, &community_of(300, 6, 4))
        .await
        .expect("first import");
    let before = datafile::to_json(&datafile::export(&db.store).await.expect("export"));
    // An object the swap would leave on the replaced table: the import refuses, before any
    // work, and says what to do.
    db.store
        .connection()
        .execute_unprepared("CREATE VIEW operator_view AS SELECT id FROM users")
        .await
        .expect("a dependent view");
    let error = import(&db.store, &community_of(500, 8, 5))
        .await
        .expect_err("a view depends on users");
    assert!(
        format!("{error:#}").contains("operator_view depends on the table users"),
        "{error:#}"
    );
    let after = datafile::to_json(&datafile::export(&db.store).await.expect("export"));
    assert_eq!(before, after);
    // No staging table is left behind either.
    let leftovers = db
        .store
        .connection()
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT relname FROM pg_class WHERE relname LIKE '%\\_\\_import'",
        ))
        .await
        .expect("catalogue");
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn an_operators_own_index_survives_the_swap_with_its_exact_name() {
    let Some(db) = TestDb::new(Backend::Postgres, "import_swap_own_index").await else {
        return;
    };
    // A name that must be quoted (capitals, a dash): the swap rebuilds and renames it as is.
    db.store
        .connection()
        .execute_unprepared(r#"CREATE INDEX "IX_Users-RealName" ON users (real_name)"#)
        .await
        .expect("an operator's index");
    import(&db.store, &community_of(200, 6, 6))
        .await
        .expect("import");
    let found = db
        .store
        .connection()
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND indexname = 'IX_Users-RealName'",
        ))
        .await
        .expect("catalogue");
    assert_eq!(found.len(), 1);
}
