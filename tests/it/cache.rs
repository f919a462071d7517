//! The graph cache (`src/cache/`) against the database it caches: a page served through the
//! cache is the page SQL gives, and stays so while the data changes underneath it.
//!
//! Each test runs a server with the cache on and, beside it, a server with the cache off on
//! the same database, whose every read runs SQL: its answer is the truth. Both render links
//! under one public base URL, so whole JSON bodies (and status codes) are compared. What is
//! proved, on SQLite, PostgreSQL and MariaDB unless said otherwise:
//!
//! 1. A write made on another connection (so no `Store::settle`: only the change feed can
//!    tell the server) shows on a page the cache holds within `BOUND`, for every kind of row
//!    the triggers watch: connections added and removed, requests added and withdrawn, a
//!    username, the settings, a tag hidden, a tag link removed, a user deleted (its
//!    connections going by cascade). Each page is first shown to come from the cache (it
//!    runs no SQL), so a follower that stopped evicting fails here. And a write evicts only
//!    what it touches: it is applied as a change (no reset, no lost feed), and the pages it
//!    does not touch are still served from memory.
//! 2. PostgreSQL: two servers with caches of their own both show a third party's write.
//! 3. PostgreSQL: with the LISTEN connection killed (and kept from reconnecting) the cache
//!    stops serving, counts a feed reset, and reads go to SQL (a write shows at once); when
//!    the listener is back it serves again (hits grow) and still shows writes.
//! 4. A budget of a few entries evicts all the time, and every page is still exact.
//! 5. A property test: random interleavings of writes (through the cache-on server's store,
//!    each followed by `settle`, which promises read-your-writes) and reads (random owner,
//!    viewer, page and filter; REST, and GraphQL with one owner and with several) answer
//!    exactly as SQL does after each step.
//! 6. A page served from the cache runs no SQL statement (REST and GraphQL).
//! 7. An import replaces everything the cache holds: at once on the importing server, within
//!    `BOUND` when another process imports.
//! 8. Readers that miss while writes commit store no stale entry (the ticket rule of
//!    `src/cache/graph.rs`): after each write and `settle`, every read equals SQL.
//! 9. PostgreSQL: the feed's polls read the change table by its primary key, never by a
//!    sequential scan, even with the statistics of a near-empty table.
//! 9. (Ignored, a known gap) a TRUNCATE from another connection clears the cache: it does on
//!    PostgreSQL, not on MariaDB, where TRUNCATE fires no trigger.
//! 10. PostgreSQL: a lifecycle action's NOTIFY comes from the notifier after its commit, not
//!     from the commit itself; any other writer still notifies in its commit.

use std::time::{Duration, Instant};

use community_gateway::bulk;
use community_gateway::cache::LISTENER_NAME;
use community_gateway::config::Config;
use community_gateway::datafile;
use community_gateway::store::Store;
use proptest::prelude::*;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
};
use serde_json::{json, Value};

use crate::common::jwt;
use crate::common::{self, metric, wait_serving, Backend, TestDb, TEST_SECRET};

/// How long a write from another connection may take to show (the p99 target, 100 ms, is
/// measured in the benchmark; this leaves room for a loaded CI machine).
const BOUND: Duration = Duration::from_secs(1);
/// How long a cache may take to start serving (the first poll; on PostgreSQL, the listener
/// connecting first).
const START: Duration = Duration::from_secs(5);
/// The public base URL both servers render links with, so their bodies compare equal.
const PUBLIC_BASE: &str = "https://gateway.test";
/// `connected_at_us` / `created_at_us` newer than anything the fixtures hold (2030).
const NEWEST_US: i64 = 1_900_000_000_000_000;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The test configuration, cache on or off, links under `PUBLIC_BASE`.
fn config(cache: bool) -> Config {
    let mut config = if cache {
        Config::with_secret(TEST_SECRET)
    } else {
        common::sql_only_config()
    };
    config.public_base_url = Some(PUBLIC_BASE.into());
    config
}

/// A status and a JSON body.
#[derive(Clone, Debug, PartialEq)]
struct Answer {
    status: u16,
    body: Value,
}

/// A REST page request: owner, viewer (None: anonymous) and query string.
#[derive(Clone, Debug)]
struct Probe {
    owner: i64,
    viewer: Option<i64>,
    query: String,
}

impl Probe {
    fn new(owner: i64, viewer: Option<i64>, query: &str) -> Probe {
        Probe {
            owner,
            viewer,
            query: query.to_string(),
        }
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

async fn rest(client: &reqwest::Client, base: &str, probe: &Probe) -> Answer {
    let mut request = client.get(format!(
        "{base}/api/v2/user/{}/connections/?{}",
        probe.owner, probe.query
    ));
    if let Some(viewer) = probe.viewer {
        request = request.bearer_auth(jwt(viewer));
    }
    answer(request.send().await.expect("GET page")).await
}

async fn graphql(client: &reqwest::Client, base: &str, viewer: Option<i64>, query: &str) -> Answer {
    let mut request = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query }));
    if let Some(viewer) = viewer {
        request = request.bearer_auth(jwt(viewer));
    }
    answer(request.send().await.expect("POST /graphql")).await
}

/// Reads `probe` from the cache-on server `base` (on `store`) until a read runs no SQL
/// statement, i.e. the whole page came from the cache; fails after `START`.
async fn warm(client: &reqwest::Client, base: &str, store: &Store, probe: &Probe) {
    let started = Instant::now();
    loop {
        let before = store.statement_count();
        let got = rest(client, base, probe).await;
        if store.statement_count() == before {
            return;
        }
        assert!(
            started.elapsed() < START,
            "{probe:?} never came from the cache (last answer {got:?})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads `probe` from `base` until it answers `expected`; fails if that takes longer than
/// `BOUND` since `since`. Returns how long it took.
async fn shows_within(
    client: &reqwest::Client,
    base: &str,
    probe: &Probe,
    expected: &Answer,
    since: Instant,
    what: &str,
) -> Duration {
    loop {
        let got = rest(client, base, probe).await;
        let took = since.elapsed();
        if &got == expected {
            return took;
        }
        assert!(
            took <= BOUND,
            "{what}: {probe:?} still answers the old page after {took:?}:\n{got:#?}\nSQL answers:\n{expected:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A cache-on server on the test database's store and a cache-off server on a store of its
/// own (so the first store's statement count is the cache-on server's SQL alone).
struct Servers {
    client: reqwest::Client,
    cached: String,
    store: Store,
    sql: String,
}

impl Servers {
    async fn start(db: &TestDb, cached: Config) -> Servers {
        let sql_store = Store::connect(&db.url, 4).await.expect("connect");
        Servers::on(db.store.clone(), sql_store, cached).await
    }

    async fn on(store: Store, sql_store: Store, cached: Config) -> Servers {
        Servers {
            client: reqwest::Client::new(),
            cached: common::serve_with(store.clone(), cached).await,
            store,
            sql: common::serve_with(sql_store, config(false)).await,
        }
    }

    async fn truth(&self, probe: &Probe) -> Answer {
        rest(&self.client, &self.sql, probe).await
    }

    async fn cached(&self, probe: &Probe) -> Answer {
        rest(&self.client, &self.cached, probe).await
    }

    async fn metric(&self, name: &str) -> f64 {
        metric(&self.client, &self.cached, name).await
    }

    async fn warm(&self, probe: &Probe) {
        warm(&self.client, &self.cached, &self.store, probe).await;
    }

    /// The cache-on server answers `probe` as SQL does, now.
    async fn assert_exact(&self, probe: &Probe, what: &str) -> Answer {
        let truth = self.truth(probe).await;
        let got = self.cached(probe).await;
        assert_eq!(got, truth, "{what}: {probe:?}: cache (left) vs SQL (right)");
        truth
    }
}

/// A connection of its own to a database: its writes call no `settle`.
struct Writer(DatabaseConnection);

impl Writer {
    async fn open(db: &TestDb) -> Writer {
        Writer::connect(&db.url).await
    }

    /// One connection, kept open (so it needs no new one while a test refuses them).
    async fn connect(url: &str) -> Writer {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        Writer(Database::connect(options).await.expect("writer connects"))
    }

    async fn exec(&self, sql: &str) {
        self.0
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }

    /// One row's first column as an integer (PostgreSQL catalogue queries).
    async fn pg_int(&self, sql: &str) -> i64 {
        let row = self
            .0
            .query_one(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("an integer")
    }
}

/// A connection pair (two directed rows) between `a` and `b`.
fn connect_sql(a: i64, b: i64, at_us: i64) -> String {
    format!(
        "INSERT INTO connections (user_id, friend_id, connected_at_us) \
         VALUES ({a}, {b}, {at_us}), ({b}, {a}, {at_us})"
    )
}

fn disconnect_sql(a: i64, b: i64) -> String {
    format!(
        "DELETE FROM connections WHERE (user_id = {a} AND friend_id = {b}) \
         OR (user_id = {b} AND friend_id = {a})"
    )
}

/// A request row, with an id no other request of these tests takes (the fixtures' ids are
/// small).
fn request_sql(from: i64, to: i64, at_us: i64) -> String {
    let id = from * 1_000_000 + to;
    format!(
        "INSERT INTO connection_requests (id, from_user_id, to_user_id, created_at_us) \
         VALUES ({id}, {from}, {to}, {at_us})"
    )
}

fn withdraw_sql(from: i64, to: i64) -> String {
    format!("DELETE FROM connection_requests WHERE from_user_id = {from} AND to_user_id = {to}")
}

fn setting_sql(column: &str, on: bool) -> String {
    let value = if on { "TRUE" } else { "FALSE" };
    format!("UPDATE community_settings SET {column} = {value} WHERE id = 1")
}

// ---------------------------------------------------------------------------------------
// 1. Writes from another connection show within the bound
// ---------------------------------------------------------------------------------------

/// A write and the pages it changes.
struct Scenario {
    what: &'static str,
    statements: Vec<String>,
    probes: Vec<Probe>,
}

/// Writes to every watched table, in order, on the example community (users 1-8; see
/// tests/fixtures/example-community.json).
fn scenarios() -> Vec<Scenario> {
    let anon = |owner| Probe::new(owner, None, "");
    let viewer = |owner, viewer| Probe::new(owner, Some(viewer), "");
    vec![
        Scenario {
            what: "a connection pair inserted",
            statements: vec![connect_sql(1, 8, NEWEST_US)],
            // hugo heads alice's list; hugo's page lists alice (connected to bruno), who
            // is mutual to chiara.
            probes: vec![anon(1), viewer(8, 2), Probe::new(8, Some(3), "mutual=1")],
        },
        Scenario {
            what: "a connection pair deleted",
            statements: vec![disconnect_sql(1, 2)],
            // alice's list loses bruno; to alice, bruno on chiara's page is no longer
            // connected (nor mutual).
            probes: vec![anon(1), viewer(3, 1), Probe::new(3, Some(1), "mutual=0")],
        },
        Scenario {
            what: "a pending request inserted",
            statements: vec![request_sql(3, 6, NEWEST_US)],
            // On alice's page fabio is "sent" to chiara and chiara "received" to fabio.
            probes: vec![viewer(1, 3), viewer(1, 6)],
        },
        Scenario {
            what: "a pending request withdrawn",
            statements: vec![withdraw_sql(5, 1)],
            // elena on bruno's page was "received" by alice.
            probes: vec![viewer(2, 1)],
        },
        Scenario {
            what: "a username updated",
            statements: vec!["UPDATE users SET username = 'bruno_renamed' WHERE id = 2".into()],
            probes: vec![anon(3), viewer(5, 3)],
        },
        Scenario {
            what: "friendship mode turned off",
            statements: vec![setting_sql("connection_enabled", false)],
            probes: vec![anon(1), viewer(3, 2)],
        },
        Scenario {
            what: "friendship mode turned back on",
            statements: vec![setting_sql("connection_enabled", true)],
            probes: vec![anon(1), viewer(3, 2)],
        },
        Scenario {
            what: "follow mode turned on (counters shown)",
            statements: vec![setting_sql("follow_enabled", true)],
            probes: vec![anon(1)],
        },
        Scenario {
            what: "a tag hidden",
            statements: vec!["UPDATE tags SET visible = FALSE WHERE id = 1".into()],
            // elena (tags 1, 2) on bruno's page; alice (tags 1, 3) on chiara's.
            probes: vec![anon(2), anon(3)],
        },
        Scenario {
            what: "a user's tag link removed",
            statements: vec!["DELETE FROM user_tags WHERE user_id = 5 AND tag_id = 2".into()],
            probes: vec![anon(2)],
        },
        Scenario {
            what: "a user deleted (its rows go by cascade, which fires no trigger on MariaDB)",
            statements: vec!["DELETE FROM users WHERE id = 4".into()],
            // dario was on alice's and giulia's lists.
            probes: vec![anon(1), viewer(7, 3)],
        },
        Scenario {
            what: "public content turned off (anonymous readers refused)",
            statements: vec![setting_sql("content_availability", false)],
            probes: vec![anon(1), anon(7)],
        },
    ]
}

#[tokio::test]
async fn writes_from_another_connection_show_within_the_bound() {
    for db in TestDb::all("cache_writes_from_another_connection").await {
        common::import_example(&db.store).await;
        let servers = Servers::start(&db, config(true)).await;
        let writer = Writer::open(&db).await;
        let mut slowest = Duration::ZERO;
        for scenario in scenarios() {
            let what = format!("{:?}: {}", db.backend, scenario.what);
            let mut before = Vec::new();
            for probe in &scenario.probes {
                servers.warm(probe).await;
                before.push(servers.assert_exact(probe, &what).await);
            }
            for statement in &scenario.statements {
                writer.exec(statement).await;
            }
            let written = Instant::now();
            for (probe, old) in scenario.probes.iter().zip(&before) {
                let truth = servers.truth(probe).await;
                assert_ne!(
                    &truth, old,
                    "{what}: the write does not change {probe:?} (the scenario proves nothing)"
                );
                let took = shows_within(
                    &servers.client,
                    &servers.cached,
                    probe,
                    &truth,
                    written,
                    &what,
                )
                .await;
                slowest = slowest.max(took);
            }
        }
        eprintln!(
            "cache on {:?}: slowest write shown after {slowest:?}",
            db.backend
        );
    }
}

/// A write evicts the entries it touches and nothing else: the follower applies it as a
/// change (no reset, no lost feed), and pages it does not touch are still served from memory.
/// One test per backend: a failure names its backend.
#[tokio::test]
async fn a_write_evicts_only_what_it_touches_sqlite() {
    a_write_evicts_only_what_it_touches(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_write_evicts_only_what_it_touches_postgres() {
    a_write_evicts_only_what_it_touches(Backend::Postgres).await;
}

#[tokio::test]
async fn a_write_evicts_only_what_it_touches_mysql() {
    a_write_evicts_only_what_it_touches(Backend::MySql).await;
}

async fn a_write_evicts_only_what_it_touches(backend: Backend) {
    if let Some(db) = TestDb::new(backend, "cache_evicts_only_what_it_touches").await {
        common::import_example(&db.store).await;
        let servers = Servers::start(&db, config(true)).await;
        let writer = Writer::open(&db).await;
        // A request from chiara to fabio touches the requests of 3 and 6 only.
        let touched = Probe::new(1, Some(3), "");
        let untouched = [
            Probe::new(1, None, ""),
            Probe::new(2, Some(1), ""),
            Probe::new(7, Some(4), "mutual=0"),
        ];
        for probe in untouched.iter().chain([&touched]) {
            servers.warm(probe).await;
        }
        let figures = [
            "gateway_cache_feed_resets_total",
            "gateway_cache_resets_total",
            "gateway_cache_feed_changes_total",
        ];
        let mut before = Vec::new();
        for name in figures {
            before.push(servers.metric(name).await);
        }
        writer.exec(&request_sql(3, 6, NEWEST_US)).await;
        let written = Instant::now();
        let truth = servers.truth(&touched).await;
        let what = format!("{:?}: a request inserted", db.backend);
        shows_within(
            &servers.client,
            &servers.cached,
            &touched,
            &truth,
            written,
            &what,
        )
        .await;
        let mut after = Vec::new();
        for name in figures {
            after.push(servers.metric(name).await);
        }
        assert_eq!(
            after[0], before[0],
            "{what}: the follower lost the feed applying it (the server logs why)"
        );
        assert_eq!(
            after[1], before[1],
            "{what}: applying it dropped the whole cache"
        );
        assert!(after[2] > before[2], "{what}: no change row applied");
        for probe in &untouched {
            let statements = servers.store.statement_count();
            let got = servers.cached(probe).await;
            assert_eq!(
                servers.store.statement_count(),
                statements,
                "{what}: {probe:?} was evicted, or the cache stopped serving"
            );
            assert_eq!(got, servers.truth(probe).await, "{what}: {probe:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Two servers on one PostgreSQL
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn two_servers_on_one_postgres_stay_coherent() {
    let Some(db) = TestDb::new(Backend::Postgres, "cache_two_servers").await else {
        return;
    };
    common::import_example(&db.store).await;
    let client = reqwest::Client::new();
    let mut caches = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(&db.url, 4).await.expect("connect");
        let base = common::serve_with(store.clone(), config(true)).await;
        caches.push((base, store));
    }
    let sql = common::serve_with(
        Store::connect(&db.url, 4).await.expect("connect"),
        config(false),
    )
    .await;
    let writer = Writer::open(&db).await;
    let probes = [
        Probe::new(1, None, ""),
        Probe::new(3, Some(1), ""),
        Probe::new(2, Some(1), "mutual=0"),
    ];
    let writes: [(&str, Vec<String>); 3] = [
        (
            "a connection pair inserted",
            vec![connect_sql(1, 5, NEWEST_US)],
        ),
        ("a connection pair deleted", vec![disconnect_sql(1, 3)]),
        (
            "requests withdrawn and a username changed",
            vec![
                withdraw_sql(5, 1),
                "UPDATE users SET username = 'chiara_renamed' WHERE id = 3".into(),
            ],
        ),
    ];
    for (what, statements) in writes {
        let mut before = Vec::new();
        for probe in &probes {
            let truth = rest(&client, &sql, probe).await;
            for (base, store) in &caches {
                warm(&client, base, store, probe).await;
                assert_eq!(rest(&client, base, probe).await, truth, "{what}: before");
            }
            before.push(truth);
        }
        for statement in &statements {
            writer.exec(statement).await;
        }
        let written = Instant::now();
        let mut changed = 0;
        for (probe, old) in probes.iter().zip(&before) {
            let truth = rest(&client, &sql, probe).await;
            changed += usize::from(&truth != old);
            for (n, (base, _)) in caches.iter().enumerate() {
                let label = format!("{what} (server {n})");
                shows_within(&client, base, probe, &truth, written, &label).await;
            }
        }
        assert!(changed > 0, "{what}: no probe changed");
    }
}

// ---------------------------------------------------------------------------------------
// 3. A listener killed mid-run (PostgreSQL)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_killed_listener_falls_back_to_sql_and_recovers() {
    let Some(db) = TestDb::new(Backend::Postgres, "cache_killed_listener").await else {
        return;
    };
    common::import_example(&db.store).await;
    // Pools of one connection each: while the database refuses new connections (below), the
    // servers keep the one they have.
    let one = || Store::connect(&db.url, 1);
    // A lease far longer than the outage: the lease alone stops a cache whose feed stalls,
    // but a lost listener must stop it at once.
    let mut cached = config(true);
    cached.cache.lease = Duration::from_secs(60);
    let servers = Servers::on(
        one().await.expect("connect"),
        one().await.expect("connect"),
        cached,
    )
    .await;
    let writer = Writer::open(&db).await;
    let probes = [Probe::new(1, None, ""), Probe::new(3, Some(1), "")];
    for probe in &probes {
        servers.warm(probe).await;
        servers.assert_exact(probe, "warm").await;
    }
    let listening = format!(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = '{LISTENER_NAME}' AND datname = current_database()"
    );
    // Both servers follow the feed: the SQL-only one for the live connection events.
    assert_eq!(
        writer.pg_int(&listening).await,
        2,
        "one listener named {LISTENER_NAME} per server on this database"
    );
    let resets = servers.metric("gateway_cache_feed_resets_total").await;
    let name = {
        let row = writer
            .0
            .query_one(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT current_database()::text AS name",
            ))
            .await
            .expect("current_database")
            .expect("a row");
        row.try_get::<String>("", "name").expect("name")
    };

    // Keep the listener from reconnecting (open connections stay), then kill it. A database
    // cannot refuse connections to itself: the server's maintenance database says it.
    let admin =
        Writer::connect(&std::env::var("TEST_DATABASE_URL_PG").expect("set when PG runs")).await;
    admin
        .exec(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false"
        ))
        .await;
    let killed = writer
        .pg_int(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{LISTENER_NAME}' AND datname = current_database()"
        ))
        .await;
    assert_eq!(killed, 2, "the listeners were found and terminated");
    // (Should a check below fail, the test database is dropped with its setting.)
    wait_serving(&servers.client, &servers.cached, 0.0, START).await;
    assert!(
        servers.metric("gateway_cache_feed_resets_total").await > resets,
        "a lost listener counts a feed reset"
    );
    // Reads go to SQL: a write on another connection shows at once, not within a bound.
    writer.exec(&connect_sql(1, 7, NEWEST_US)).await;
    for probe in &probes {
        servers.assert_exact(probe, "listener down").await;
    }
    writer.exec(&withdraw_sql(1, 7)).await;
    for probe in &probes {
        servers.assert_exact(probe, "listener down").await;
    }
    assert_eq!(
        servers.metric("gateway_cache_serving").await,
        0.0,
        "the listener cannot reconnect yet"
    );
    admin
        .exec(&format!(
            "ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS true"
        ))
        .await;

    // The listener is back: the cache serves again, from memory.
    wait_serving(&servers.client, &servers.cached, 1.0, START).await;
    // (The SQL-only server's listener may still be on its way back.)
    assert!(writer.pg_int(&listening).await >= 1, "the listener is back");
    for probe in &probes {
        servers.warm(probe).await;
    }
    let hits = servers.metric("gateway_cache_hits_total").await;
    for probe in &probes {
        servers.assert_exact(probe, "listener back").await;
    }
    assert!(
        servers.metric("gateway_cache_hits_total").await > hits,
        "hits grow again"
    );
    // And it follows the feed again: a write shows within the bound.
    writer.exec(&disconnect_sql(1, 7)).await;
    writer.exec(&disconnect_sql(1, 3)).await;
    let written = Instant::now();
    for probe in &probes {
        let truth = servers.truth(probe).await;
        shows_within(
            &servers.client,
            &servers.cached,
            probe,
            &truth,
            written,
            "listener back",
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// 4. Eviction under a tiny budget
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_tiny_budget_evicts_and_pages_stay_exact() {
    const BUDGET: usize = 2_000;
    for db in TestDb::all("cache_tiny_budget").await {
        let file = datafile::validate(datafile::synthetic(60, 8, 7)).expect("valid");
        bulk::import(&db.store, &file).await.expect("import");
        let mut tiny = config(true);
        tiny.cache.budget_bytes = BUDGET;
        let servers = Servers::start(&db, tiny).await;
        wait_serving(&servers.client, &servers.cached, 1.0, START).await;
        let viewers = [None, Some(1), Some(2), Some(31)];
        let shapes = ["", "limit=5&offset=3", "mutual=1", "mutual=0&limit=3"];
        let mut pages = 0;
        // Twice over: the second pass meets entries the first one evicted.
        for _ in 0..2 {
            for owner in (1..=60).step_by(4) {
                for (n, viewer) in viewers.iter().enumerate() {
                    let shape = shapes[(owner as usize + n) % shapes.len()];
                    let probe = Probe::new(owner, *viewer, shape);
                    servers
                        .assert_exact(&probe, &format!("{:?}: tiny budget", db.backend))
                        .await;
                    pages += 1;
                }
            }
        }
        let evictions = servers.metric("gateway_cache_evictions_total").await;
        let bytes = servers.metric("gateway_cache_bytes").await;
        assert!(
            evictions > 0.0,
            "{:?}: {pages} pages evicted nothing",
            db.backend
        );
        assert!(
            bytes <= BUDGET as f64,
            "{:?}: {bytes} bytes held over a budget of {BUDGET}",
            db.backend
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Property: cache on equals cache off under random writes and reads
// ---------------------------------------------------------------------------------------

/// Users of the generated community (ids 1..=USERS; USERS + 1 names nobody).
const USERS: i64 = 12;

#[derive(Clone, Debug)]
enum Write {
    /// Connect `a` and `b` at `hour` (replacing their connection if they are connected).
    Connect(i64, i64, i64),
    Disconnect(i64, i64),
    /// A pending request (replacing one between the same users in that direction).
    Request(i64, i64),
    Withdraw(i64, i64),
    Settings {
        connection: bool,
        follow: bool,
        content: bool,
    },
    Rename(i64),
    TagVisible(i64, bool),
    /// Adds (true) or removes a user's tag.
    UserTag(i64, i64, bool),
}

impl Write {
    /// The statements of this write at step `step` (none when it names one user twice).
    fn statements(&self, step: usize) -> Vec<String> {
        let hour_us = 3_600_000_000;
        match *self {
            Write::Connect(a, b, _)
            | Write::Request(a, b)
            | Write::Disconnect(a, b)
            | Write::Withdraw(a, b)
                if a == b =>
            {
                Vec::new()
            }
            Write::Connect(a, b, hour) => vec![
                disconnect_sql(a, b),
                connect_sql(a, b, NEWEST_US + hour * hour_us),
            ],
            Write::Disconnect(a, b) => vec![disconnect_sql(a, b)],
            Write::Request(a, b) => vec![
                withdraw_sql(a, b),
                request_sql(a, b, NEWEST_US + step as i64),
            ],
            Write::Withdraw(a, b) => vec![withdraw_sql(a, b)],
            Write::Settings {
                connection,
                follow,
                content,
            } => vec![format!(
                "UPDATE community_settings SET connection_enabled = {}, follow_enabled = {}, \
                 content_availability = {} WHERE id = 1",
                sql_bool(connection),
                sql_bool(follow),
                sql_bool(content)
            )],
            Write::Rename(user) => vec![format!(
                "UPDATE users SET username = 'u{user}s{step}' WHERE id = {user}"
            )],
            Write::TagVisible(tag, visible) => vec![format!(
                "UPDATE tags SET visible = {} WHERE id = {tag}",
                sql_bool(visible)
            )],
            Write::UserTag(user, tag, add) => {
                let mut statements = vec![format!(
                    "DELETE FROM user_tags WHERE user_id = {user} AND tag_id = {tag}"
                )];
                if add {
                    statements.push(format!(
                        "INSERT INTO user_tags (user_id, tag_id) VALUES ({user}, {tag})"
                    ));
                }
                statements
            }
        }
    }
}

fn sql_bool(value: bool) -> &'static str {
    if value {
        "TRUE"
    } else {
        "FALSE"
    }
}

#[derive(Clone, Debug)]
struct Read {
    owner: i64,
    viewer: Option<i64>,
    limit: u64,
    offset: u64,
    mutual: Option<bool>,
    /// Also compare a GraphQL query of the same page.
    graphql: bool,
}

impl Read {
    fn probe(&self) -> Probe {
        let mut query = format!("limit={}&offset={}", self.limit, self.offset);
        if let Some(mutual) = self.mutual {
            query.push_str(if mutual { "&mutual=1" } else { "&mutual=0" });
        }
        Probe::new(self.owner, self.viewer, &query)
    }

    fn graphql(&self) -> String {
        let mutual = self
            .mutual
            .map(|m| format!(", mutual: {m}"))
            .unwrap_or_default();
        // `user` pages one owner; `users` pages several in one batch (another statement).
        let page = format!(
            "connections(limit: {}, offset: {}{mutual}) {{ count next previous \
             results {{ id username connectionStatus followersCounter tags {{ id name }} }} }}",
            self.limit, self.offset
        );
        let others = (self.owner % USERS + 1, (self.owner + 4) % USERS + 1);
        format!(
            "{{ me {{ id username }} user(id: \"{}\") {{ id username tags {{ id }} {page} }} \
             users(ids: [\"{}\", \"{}\", \"{}\"]) {{ id {page} }} }}",
            self.owner, self.owner, others.0, others.1
        )
    }
}

#[derive(Clone, Debug)]
struct Step {
    write: Option<Write>,
    read: Read,
}

#[derive(Clone, Debug)]
struct Case {
    /// The community imported first: connections (a, b, hour) and requests (from, to).
    edges: Vec<(i64, i64, i64)>,
    requests: Vec<(i64, i64)>,
    steps: Vec<Step>,
}

fn write_strategy() -> impl Strategy<Value = Write> {
    let user = 1..=USERS;
    prop_oneof![
        4 => (user.clone(), user.clone(), 0i64..4).prop_map(|(a, b, h)| Write::Connect(a, b, h)),
        3 => (user.clone(), user.clone()).prop_map(|(a, b)| Write::Disconnect(a, b)),
        3 => (user.clone(), user.clone()).prop_map(|(a, b)| Write::Request(a, b)),
        2 => (user.clone(), user.clone()).prop_map(|(a, b)| Write::Withdraw(a, b)),
        1 => (prop::bool::weighted(0.8), any::<bool>(), prop::bool::weighted(0.8)).prop_map(
            |(connection, follow, content)| Write::Settings { connection, follow, content }
        ),
        1 => user.clone().prop_map(Write::Rename),
        1 => (1i64..=3, any::<bool>()).prop_map(|(t, v)| Write::TagVisible(t, v)),
        1 => (user, 1i64..=3, any::<bool>()).prop_map(|(u, t, add)| Write::UserTag(u, t, add)),
    ]
}

fn read_strategy() -> impl Strategy<Value = Read> {
    (
        1..=USERS + 1,
        prop::option::weighted(0.75, 1..=USERS),
        1u64..=5,
        prop_oneof![3 => 0u64..=3, 1 => 0u64..=10],
        prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(owner, viewer, limit, offset, mutual, graphql)| Read {
            owner,
            viewer,
            limit,
            offset,
            mutual,
            graphql,
        })
}

fn case_strategy(steps: usize) -> impl Strategy<Value = Case> {
    let user = 1..=USERS;
    (
        prop::collection::vec((user.clone(), user.clone(), 0i64..4), 0..30),
        prop::collection::vec((user.clone(), user), 0..10),
        prop::collection::vec(
            (
                prop::option::weighted(0.6, write_strategy()),
                read_strategy(),
            )
                .prop_map(|(write, read)| Step { write, read }),
            steps,
        ),
    )
        .prop_map(|(raw_edges, raw_requests, steps)| {
            let mut pairs = std::collections::HashSet::new();
            let edges: Vec<(i64, i64, i64)> = raw_edges
                .into_iter()
                .filter(|(a, b, _)| a != b && pairs.insert((*a.min(b), *a.max(b))))
                .collect();
            let mut seen = std::collections::HashSet::new();
            let requests = raw_requests
                .into_iter()
                .filter(|(from, to)| {
                    from != to
                        && !pairs.contains(&(*from.min(to), *from.max(to)))
                        && seen.insert((*from, *to))
                })
                .collect();
            Case {
                edges,
                requests,
                steps,
            }
        })
}

/// The community a case starts from: tags 1 and 2 visible, 3 hidden; every other user tagged.
fn case_file(case: &Case) -> datafile::Community {
    let tag = |id: i64, visible: bool| {
        json!({"id": id, "type": "user", "name": format!("tag{id}"), "description": "",
            "color": "#000000", "visible": visible, "visibility_boost": false, "active": true,
            "deleted": false, "created_at": "2024-01-01T00:00:00Z"})
    };
    let users: Vec<Value> = (1..=USERS)
        .map(|id| {
            let tags: Vec<i64> = match id % 4 {
                0 => vec![1, 3],
                2 => vec![2],
                _ => Vec::new(),
            };
            common::plain_user(id, &tags)
        })
        .collect();
    let requests: Vec<Value> = case
        .requests
        .iter()
        .map(|(from, to)| json!({"from": from, "to": to, "created_at": "2024-03-02T12:00:00Z"}))
        .collect();
    let text = json!({
        "settings": {"connection_enabled": true, "follow_enabled": false, "content_availability": true},
        "tags": [tag(1, true), tag(2, true), tag(3, false)],
        "users": users,
        "connections": common::timed_connections(&case.edges),
        "connection_requests": requests,
        "access_tokens": [],
    })
    .to_string();
    datafile::parse(text.as_bytes()).expect("generated community parses")
}

/// Runs one case: imports its community, then each step's write (through the cache-on
/// server's store, then `settle`) and read. The first difference, described.
async fn run_case(servers: &Servers, case: &Case) -> Result<usize, String> {
    bulk::import(&servers.store, &case_file(case))
        .await
        .map_err(|err| format!("import: {err:#}"))?;
    let mut compared = 0;
    for (n, step) in case.steps.iter().enumerate() {
        if let Some(write) = &step.write {
            for statement in write.statements(n) {
                servers
                    .store
                    .connection()
                    .execute_unprepared(&statement)
                    .await
                    .map_err(|err| format!("step {n}: {statement}: {err}"))?;
            }
            servers.store.settle().await;
        }
        let probe = step.read.probe();
        let truth = servers.truth(&probe).await;
        let got = servers.cached(&probe).await;
        if got != truth {
            return Err(format!(
                "step {n} ({step:?}): REST {probe:?}\ncache:\n{got:#?}\nSQL:\n{truth:#?}"
            ));
        }
        compared += 1;
        if step.read.graphql {
            let query = step.read.graphql();
            let viewer = step.read.viewer;
            let truth = graphql(&servers.client, &servers.sql, viewer, &query).await;
            let got = graphql(&servers.client, &servers.cached, viewer, &query).await;
            if got != truth {
                return Err(format!(
                    "step {n} ({step:?}): GraphQL {query}\ncache:\n{got:#?}\nSQL:\n{truth:#?}"
                ));
            }
            compared += 1;
        }
    }
    Ok(compared)
}

// One test per backend, so they run side by side.
#[test]
fn cache_on_equals_cache_off_sqlite() {
    cache_on_equals_cache_off_under_random_writes_and_reads(Backend::Sqlite);
}

#[test]
fn cache_on_equals_cache_off_postgres() {
    cache_on_equals_cache_off_under_random_writes_and_reads(Backend::Postgres);
}

#[test]
fn cache_on_equals_cache_off_mysql() {
    cache_on_equals_cache_off_under_random_writes_and_reads(Backend::MySql);
}

fn cache_on_equals_cache_off_under_random_writes_and_reads(backend: Backend) {
    const CASES: u32 = 12;
    const STEPS: usize = 30;
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let db = runtime.block_on(TestDb::new(backend, "cache_property"));
    if let Some(db) = &db {
        let started = Instant::now();
        let servers = runtime.block_on(async {
            let servers = Servers::start(db, config(true)).await;
            wait_serving(&servers.client, &servers.cached, 1.0, START).await;
            servers
        });
        let hits_before = runtime.block_on(servers.metric("gateway_cache_hits_total"));
        let compared = std::cell::Cell::new(0);
        let config = ProptestConfig {
            cases: CASES,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..ProptestConfig::default()
        };
        proptest!(config, |(case in case_strategy(STEPS))| {
            let outcome = runtime.block_on(run_case(&servers, &case));
            match outcome {
                Ok(n) => compared.set(compared.get() + n),
                Err(difference) => prop_assert!(false, "{:?}: {}", db.backend, difference),
            }
        });
        let hits = runtime.block_on(servers.metric("gateway_cache_hits_total")) - hits_before;
        // The property is about the cache: it must have answered from memory, not only SQL.
        assert!(
            hits > 0.0,
            "{:?}: the cache never served a read",
            db.backend
        );
        eprintln!(
            "cache property on {:?}: {CASES} cases, {} answers compared, {hits} hits, in {:.2?}",
            db.backend,
            compared.get(),
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6. A page from the cache runs no SQL
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_page_served_from_the_cache_runs_no_sql() {
    const REPEATS: u32 = 20;
    for db in TestDb::all("cache_no_sql").await {
        common::import_example(&db.store).await;
        let servers = Servers::start(&db, config(true)).await;
        wait_serving(&servers.client, &servers.cached, 1.0, START).await;
        let probes = [
            Probe::new(1, None, ""),
            Probe::new(1, Some(2), "mutual=1"),
            Probe::new(7, Some(3), "limit=1&offset=1"),
            Probe::new(2, Some(8), "mutual=0"),
        ];
        let query = r#"{ me { username } user(id: "1") { username tags { id }
            connections(limit: 3) { count next results { id username connectionStatus tags { name } } } } }"#;
        // Once each: the misses fill the cache.
        for probe in &probes {
            servers.cached(probe).await;
        }
        graphql(&servers.client, &servers.cached, Some(2), query).await;
        let statements = servers.store.statement_count();
        let hits = servers.metric("gateway_cache_hits_total").await;
        for _ in 0..REPEATS {
            for probe in &probes {
                let got = servers.cached(probe).await;
                assert_eq!(got.status, 200, "{:?}: {probe:?}: {got:?}", db.backend);
            }
            let got = graphql(&servers.client, &servers.cached, Some(2), query).await;
            assert_eq!(got.status, 200, "{:?}: {got:?}", db.backend);
        }
        assert_eq!(
            servers.store.statement_count() - statements,
            0,
            "{:?}: pages from the cache ran SQL",
            db.backend
        );
        let hits = servers.metric("gateway_cache_hits_total").await - hits;
        assert!(
            hits >= f64::from(REPEATS) * probes.len() as f64,
            "{:?}: only {hits} hits",
            db.backend
        );
        // And they were the right pages.
        for probe in &probes {
            servers.assert_exact(probe, "served from memory").await;
        }
        assert_eq!(
            graphql(&servers.client, &servers.cached, Some(2), query).await,
            graphql(&servers.client, &servers.sql, Some(2), query).await,
            "{:?}: GraphQL",
            db.backend
        );
    }
}

// ---------------------------------------------------------------------------------------
// 7. An import invalidates everything
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_import_invalidates_everything() {
    for db in TestDb::all("cache_import").await {
        common::import_example(&db.store).await;
        let servers = Servers::start(&db, config(true)).await;
        let probes = [
            Probe::new(1, None, ""),
            Probe::new(2, Some(1), ""),
            Probe::new(3, Some(2), "mutual=0"),
            Probe::new(7, None, "limit=2"),
        ];
        let mut before = Vec::new();
        for probe in &probes {
            servers.warm(probe).await;
            before.push(servers.assert_exact(probe, "example community").await);
        }

        // Through the server's own store: `import` settles, so the next read is new.
        let first = datafile::validate(datafile::synthetic(30, 6, 1)).expect("valid");
        bulk::import(&servers.store, &first).await.expect("import");
        for (probe, old) in probes.iter().zip(&before) {
            let what = format!("{:?}: import through the server's store", db.backend);
            let now = servers.assert_exact(probe, &what).await;
            assert_ne!(&now, old, "{what}: {probe:?} shows the old community");
        }

        // Warm again, then import through another store (another process, as far as this
        // server can tell): the feed's reset row clears the cache within the bound.
        let mut before = Vec::new();
        for probe in &probes {
            servers.warm(probe).await;
            before.push(servers.assert_exact(probe, "first import").await);
        }
        let other = Store::connect(&db.url, 2).await.expect("connect");
        let second = datafile::validate(datafile::synthetic(30, 6, 2)).expect("valid");
        bulk::import(&other, &second).await.expect("import");
        let written = Instant::now();
        for (probe, old) in probes.iter().zip(&before) {
            let what = format!("{:?}: import through another store", db.backend);
            let truth = servers.truth(probe).await;
            assert_ne!(
                &truth, old,
                "{what}: {probe:?} is the same in both communities"
            );
            shows_within(
                &servers.client,
                &servers.cached,
                probe,
                &truth,
                written,
                &what,
            )
            .await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// 8. Readers racing writers store no stale entry (the ticket rule)
// ---------------------------------------------------------------------------------------

/// A write through `store`, then `settle` (read-your-writes on its server).
async fn write_settled(store: &Store, sql: String) {
    store
        .connection()
        .execute_unprepared(&sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    store.settle().await;
}

/// Readers keep missing on alice's list (each write evicts it) while writes to it commit: a
/// list read before a write commits and stored after the write was applied would be stale.
/// Each cycle writes twice, so the second write commits while readers are reading the list
/// the first one evicted; after `settle` (the second write applied) no stale list may be
/// stored, so every read must equal SQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_writers_sqlite() {
    readers_racing_writers_store_no_stale_entry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_writers_postgres() {
    readers_racing_writers_store_no_stale_entry(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_writers_mysql() {
    readers_racing_writers_store_no_stale_entry(Backend::MySql).await;
}

async fn readers_racing_writers_store_no_stale_entry(backend: Backend) {
    const MEMBERS: i64 = 24;
    const READERS: usize = 4;
    const CYCLES: i64 = 40;
    if let Some(db) = TestDb::new(backend, "cache_readers_racing_writers").await {
        let started = Instant::now();
        let users: Vec<Value> = (1..=MEMBERS)
            .map(|id| common::plain_user(id, &[]))
            .collect();
        // Alice's lasting friends are the last five members.
        let lasting: Vec<(i64, i64, i64)> =
            (MEMBERS - 4..=MEMBERS).map(|f| (1, f, f % 3)).collect();
        let file = json!({"settings": {}, "tags": [], "users": users,
            "connections": common::timed_connections(&lasting),
            "connection_requests": [], "access_tokens": []})
        .to_string();
        let file = datafile::parse(file.as_bytes()).expect("community parses");
        bulk::import(&db.store, &file).await.expect("import");
        let servers = Servers::start(&db, config(true)).await;
        wait_serving(&servers.client, &servers.cached, 1.0, START).await;
        let alice = Probe::new(1, None, "");

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let (client, base, stop, probe) = (
                servers.client.clone(),
                servers.cached.clone(),
                stop.clone(),
                alice.clone(),
            );
            readers.push(tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = rest(&client, &base, &probe).await;
                    assert_eq!(answer.status, 200, "{answer:?}");
                    reads += 1;
                }
                reads
            }));
        }
        let write = |sql: String| write_settled(&servers.store, sql);
        let mut failure = None;
        for cycle in 0..CYCLES {
            let friend = 2 + cycle % (MEMBERS - 6);
            // Connect alice to a friend, and at once drop the friend again or move them to
            // the end of her list.
            write(connect_sql(1, friend, NEWEST_US + cycle)).await;
            match cycle % 2 {
                0 => write(disconnect_sql(1, friend)).await,
                _ => {
                    write(format!(
                        "UPDATE connections SET connected_at_us = 1 \
                         WHERE (user_id = 1 AND friend_id = {friend}) \
                         OR (user_id = {friend} AND friend_id = 1)"
                    ))
                    .await
                }
            }
            let truth = servers.truth(&alice).await;
            for _ in 0..3 {
                let got = servers.cached(&alice).await;
                if got != truth {
                    failure = Some(format!(
                        "{:?}: cycle {cycle}: a stale list was stored\ncache:\n{got:#?}\nSQL:\n{truth:#?}",
                        db.backend
                    ));
                    break;
                }
            }
            if failure.is_some() {
                break;
            }
            write(disconnect_sql(1, friend)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut reads = 0;
        for reader in readers {
            reads += reader.await.expect("reader");
        }
        if let Some(failure) = failure {
            panic!("{failure}");
        }
        let refused = servers.metric("gateway_cache_refused_total").await;
        eprintln!(
            "cache race on {:?}: {CYCLES} cycles, {reads} racing reads, {refused} entries refused, in {:.2?}",
            db.backend,
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------
// 9. A TRUNCATE (PostgreSQL; MariaDB/MySQL fire no trigger on it, README says so)
// ---------------------------------------------------------------------------------------

/// On PostgreSQL a TRUNCATE makes the followers forget everything (a statement trigger writes
/// the reset row). MariaDB/MySQL fire no trigger on TRUNCATE, a documented limit of the
/// contract (README, "The graph cache"); SQLite has no TRUNCATE.
#[tokio::test]
async fn a_truncate_forgets_everything() {
    for backend in [Backend::Postgres] {
        let Some(db) = TestDb::new(backend, "cache_truncate").await else {
            continue;
        };
        common::import_example(&db.store).await;
        let servers = Servers::start(&db, config(true)).await;
        let writer = Writer::open(&db).await;
        // To alice, elena on bruno's page sent her a request, giulia on chiara's got one.
        let probes = [Probe::new(2, Some(1), ""), Probe::new(3, Some(1), "")];
        let mut before = Vec::new();
        for probe in &probes {
            servers.warm(probe).await;
            before.push(servers.assert_exact(probe, "warm").await);
        }
        writer.exec("TRUNCATE TABLE connection_requests").await;
        let written = Instant::now();
        for (probe, old) in probes.iter().zip(&before) {
            let truth = servers.truth(probe).await;
            assert_ne!(&truth, old, "{backend:?}: {probe:?} unchanged");
            let what = format!("{backend:?}: connection_requests truncated");
            shows_within(
                &servers.client,
                &servers.cached,
                probe,
                &truth,
                written,
                &what,
            )
            .await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// 10. The lifecycle's NOTIFY, after its commit (PostgreSQL)
// ---------------------------------------------------------------------------------------

/// A lifecycle action leaves the change feed's NOTIFY out of its commit (which would hold
/// the database's notify lock through its WAL flush): the notifier's own connection sends
/// it once the commit is done, and a follower woken by it sees the write. Any other writer
/// notifies in its commit as before.
#[tokio::test]
async fn lifecycle_writes_notify_after_their_commit_from_the_notifier() {
    let Some(db) = TestDb::new(Backend::Postgres, "cache_deferred_notify").await else {
        return;
    };
    common::import_plain_users(&db.store, 4).await;
    let api = common::Api::new(&db.store).await;
    let mut listener = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .expect("listener");
    listener
        .listen(migrations::change_feed::CHANNEL)
        .await
        .expect("LISTEN");

    let (status, _) = api.act(1, 2, "connection/request").await;
    assert!(status.is_success(), "{status}");
    let senders = notifications_for(&mut listener, Duration::from_millis(500)).await;
    let notifier = pid_of(&db.store, community_gateway::store::NOTIFIER_NAME).await;
    assert!(!senders.is_empty(), "the request woke the listeners");
    assert!(
        senders.iter().all(|pid| *pid == notifier),
        "every NOTIFY of the action came from the notifier ({notifier}), none from the \
         writer's commit: {senders:?}"
    );
    // The write is there for whoever the NOTIFY woke.
    let pending = common::scalar(
        &db.store,
        "SELECT COUNT(*) FROM connection_requests WHERE from_user_id = 1 AND to_user_id = 2",
    )
    .await;
    assert_eq!(pending, 1);

    // Another writer (here: plain SQL, as the Django backend or psql would) notifies in its
    // own commit.
    db.store
        .connection()
        .execute_unprepared("UPDATE users SET username = 'renamed' WHERE id = 3")
        .await
        .expect("update");
    let senders = notifications_for(&mut listener, Duration::from_millis(500)).await;
    assert_eq!(senders.len(), 1, "{senders:?}");
    assert_ne!(senders[0], notifier, "the writer's own commit notified");
}

/// The sender pids of the notifications that arrive within `window` of the first one (which
/// must come within five seconds).
async fn notifications_for(
    listener: &mut sqlx::postgres::PgListener,
    window: Duration,
) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(notification)) = tokio::time::timeout_at(deadline.into(), listener.recv()).await
    {
        if pids.is_empty() {
            deadline = Instant::now() + window;
        }
        pids.push(notification.process_id());
    }
    pids
}

/// The backend pid of the one connection named `application_name` on the test's database.
async fn pid_of(store: &Store, application_name: &str) -> u32 {
    let pid = common::scalar(
        store,
        &format!(
            "SELECT pid FROM pg_stat_activity WHERE application_name = '{application_name}' \
             AND datname = current_database()"
        ),
    )
    .await;
    u32::try_from(pid).expect("a pid")
}

/// 9. PostgreSQL: the change feed reads its table by the primary key, however few rows the
/// table's statistics knew of when the feed's connection prepared its statements. (With the
/// statistics of a near-empty table, a generic plan is a sequential scan and a sort, which
/// the connection keeps while the table grows to the 100,000 rows the feed retains: every
/// poll then read them all.)
#[tokio::test]
async fn the_feed_reads_its_table_by_the_primary_key_on_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres, "feed_plans").await else {
        return;
    };
    let store = &db.store;
    common::import_example(store).await;
    store
        .connection()
        .execute_unprepared("ANALYZE graph_changes")
        .await
        .expect("analyze");
    // The import's own scans reach the statistics a moment after it: an idle backend that
    // reported less than a second ago holds its counts for up to 10 s (PostgreSQL's
    // PGSTAT_IDLE_INTERVAL), so up to two of them may still arrive below.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stat = |column: &'static str| async move {
        common::scalar(
            store,
            &format!(
                "SELECT COALESCE({column}, 0) FROM pg_stat_user_tables \
                 WHERE relname = 'graph_changes'"
            ),
        )
        .await
    };
    let (seq_before, index_before) = (stat("seq_scan").await, stat("idx_scan").await);
    let _base = common::serve(store.clone()).await;
    // Writes the triggers record (the follower polls after each NOTIFY, and every 100 ms).
    for round in 0..10 {
        common::set_settings(store, true, round % 2 == 0, true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat("idx_scan").await < index_before + 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (seq_after, index_after) = (stat("seq_scan").await, stat("idx_scan").await);
    assert!(
        index_after >= index_before + 20,
        "the feed's polls did not use the primary key: {index_before} -> {index_after} index scans, \
         {seq_before} -> {seq_after} sequential scans"
    );
    assert!(
        seq_after <= seq_before + 2,
        "the feed read its table by sequential scans: {seq_before} -> {seq_after} \
         ({index_before} -> {index_after} index scans)"
    );
}
