//! Shared test support: a fresh database per test on every configured backend.
//!
//! SQLite always runs (a file in a temporary folder). PostgreSQL and MariaDB/MySQL run when
//! `TEST_DATABASE_URL_PG` / `TEST_DATABASE_URL_MYSQL` name a server URL; each test then gets a
//! database of its own, created here and dropped when the `TestDb` is dropped, so tests run in
//! parallel and leave nothing behind. An unset URL is reported as skipped, never silently.

#![allow(dead_code)]

pub mod api;
pub mod gateway;
pub mod keys;
pub mod metrics;
pub mod socket;
pub mod throwaway;

pub use api::Api;
pub use keys::{TAG_KEYS, USER_KEYS};
pub use metrics::{metric, metrics_text, wait_serving};

use community_gateway::store::Store;
use sea_orm::{ConnectionTrait, Database};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub store: Store,
    /// (server URL, database name) to drop on Drop, for server backends.
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Fresh, migrated databases on every configured backend, for the test named `test`.
    pub async fn all(test: &str) -> Vec<TestDb> {
        let mut dbs = Vec::new();
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
            if let Some(db) = TestDb::new(backend, test).await {
                dbs.push(db);
            }
        }
        dbs
    }

    /// A fresh, migrated database, or None (with a "skipped" line) when the backend's URL is unset.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        let db = TestDb::unmigrated(backend, test).await?;
        db.store.migrate().await.expect("migrate test database");
        Some(db)
    }

    /// Fresh databases with no schema yet on every configured backend (for migration tests).
    pub async fn all_unmigrated(test: &str) -> Vec<TestDb> {
        let mut dbs = Vec::new();
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
            if let Some(db) = TestDb::unmigrated(backend, test).await {
                dbs.push(db);
            }
        }
        dbs
    }

    /// A fresh, empty database (no migration run), or None as for `new`.
    pub async fn unmigrated(backend: Backend, test: &str) -> Option<TestDb> {
        let (url, cleanup, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, None, Some(dir))
            }
            Backend::Postgres | Backend::MySql => {
                let var = if backend == Backend::Postgres {
                    "TEST_DATABASE_URL_PG"
                } else {
                    "TEST_DATABASE_URL_MYSQL"
                };
                let Ok(server) = std::env::var(var) else {
                    eprintln!("SKIPPED {test} on {backend:?}: {var} is not set");
                    return None;
                };
                let name = format!("cg_{}", community_gateway::auth::random_hex(8));
                let admin = Database::connect(&server)
                    .await
                    .expect("connect to test server");
                let create = if backend == Backend::MySql {
                    format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                } else {
                    format!("CREATE DATABASE {name}")
                };
                admin
                    .execute_unprepared(&create)
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                (with_database(&server, &name), Some((server, name)), None)
            }
        };
        let store = Store::connect(&url, 8)
            .await
            .expect("connect to test database");
        Some(TestDb {
            backend,
            url,
            store,
            cleanup,
            _dir: dir,
        })
    }
}

/// `server` with its database path replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("test server URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.cleanup.take() else {
            return;
        };
        let backend = self.backend;
        // Drop runs outside any async context we can block on: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(&server).await {
                    let sql = if backend == Backend::Postgres {
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    } else {
                        format!("DROP DATABASE IF EXISTS {name}")
                    };
                    let _ = admin.execute_unprepared(&sql).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The example community of the spec, as text.
pub fn example_community_json() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/example-community.json"
    );
    std::fs::read_to_string(path).expect("tests/fixtures/example-community.json")
}

/// The JWT secret test servers use.
pub const TEST_SECRET: &str = "test-secret-0123456789";

/// A JWT for `user`, valid for ten minutes, signed for the test servers.
pub fn jwt(user: i64) -> String {
    community_gateway::auth::issue_jwt(user, 600, TEST_SECRET.as_bytes()).expect("jwt")
}

/// Imports a community given as a data-file JSON value into `store`.
pub async fn import_json(store: &Store, community: &serde_json::Value) {
    let file =
        community_gateway::datafile::parse(community.to_string().as_bytes()).expect("parses");
    community_gateway::bulk::import(store, &file)
        .await
        .expect("imports");
}

/// Serves the app on an ephemeral loopback port; returns its base URL (`http://127.0.0.1:PORT`).
pub async fn serve(store: Store) -> String {
    serve_with(
        store,
        community_gateway::config::Config::with_secret(TEST_SECRET),
    )
    .await
}

/// The test configuration with the graph cache off: every read runs SQL.
pub fn sql_only_config() -> community_gateway::config::Config {
    let mut config = community_gateway::config::Config::with_secret(TEST_SECRET);
    config.cache.enabled = false;
    config
}

/// Serves the app with `config`, and with every compiled GraphQL answer checked against the
/// reference executor (`GRAPHQL_VERIFY=strict`: a difference is a 500, which fails the test
/// that met it), so every GraphQL test runs through both paths. A test that counts SQL
/// statements serves with `serve_unverified` (verification runs the reference too).
pub async fn serve_with(store: Store, mut config: community_gateway::config::Config) -> String {
    if config.graphql_verify == community_gateway::config::Verify::Off {
        config.graphql_verify = community_gateway::config::Verify::Strict;
    }
    serve_unverified(store, config).await
}

/// Serves the app with `config` exactly as given (no `GRAPHQL_VERIFY` added).
pub async fn serve_unverified(store: Store, config: community_gateway::config::Config) -> String {
    use community_gateway::app::router;
    use community_gateway::state::AppState;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = router(AppState::new(store, config));
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, service).await;
    });
    format!("http://{addr}")
}

/// Imports the spec's example community into `store`.
pub async fn import_example(store: &Store) {
    let file = community_gateway::datafile::parse(example_community_json().as_bytes())
        .expect("example parses");
    community_gateway::bulk::import(store, &file)
        .await
        .expect("example imports");
}

/// The one integer `sql` answers (a `BIGINT` column, or an aggregate cast to one).
pub async fn scalar(store: &Store, sql: &str) -> i64 {
    let sql = match store.backend() {
        sea_orm::DatabaseBackend::MySql => format!("SELECT CAST(({sql}) AS SIGNED) AS v"),
        _ => format!("SELECT CAST(({sql}) AS BIGINT) AS v"),
    };
    store
        .connection()
        .query_one(sea_orm::Statement::from_string(store.backend(), sql))
        .await
        .expect("query")
        .expect("a row")
        .try_get::<i64>("", "v")
        .expect("an integer")
}

/// Sets the three settings (all of them, so earlier changes do not leak into a case).
pub async fn set_settings(
    store: &Store,
    connection_enabled: bool,
    follow_enabled: bool,
    content_availability: bool,
) {
    let changes = vec![
        ("connection_enabled".to_string(), connection_enabled),
        ("follow_enabled".to_string(), follow_enabled),
        ("content_availability".to_string(), content_availability),
    ];
    community_gateway::bulk::apply_settings(store, &changes)
        .await
        .expect("settings");
}

/// Imports a community of users 1..=`users` (`plain_user`), with no connections, requests,
/// tags or tokens.
pub async fn import_plain_users(store: &Store, users: i64) {
    let users: Vec<serde_json::Value> = (1..=users).map(|id| plain_user(id, &[])).collect();
    import_json(
        store,
        &serde_json::json!({"settings": {}, "tags": [], "users": users, "connections": [],
            "connection_requests": [], "access_tokens": []}),
    )
    .await;
}

/// A data-file user record with every key present and neutral values: `u{id}`, no tags
/// unless given.
pub fn plain_user(id: i64, tags: &[i64]) -> serde_json::Value {
    serde_json::json!({"id": id, "username": format!("u{id}"), "real_name": "", "avatar": null,
        "ext_id": null, "followings_counter": 0, "followers_counter": 0, "posts_counter": 0,
        "discussions_counter": 0, "polls_counter": 0, "categories_counter": 0,
        "date_joined": "2023-01-01T00:00:00Z", "bio": "", "location": "", "location_lat_lng": null,
        "position_lat_lng": null, "date_of_birth": null, "description": "", "gender": "Unspecified",
        "website": "", "cover": null, "reputation": 0, "community_badge": false, "reg_approved": true,
        "deleted": false, "company_name": "", "company_role": "", "tags": tags})
}

/// Data-file connections for generated edges `(a, b, t)`, `t` a small number of hours: half
/// the instants carry a +02:00 offset, so ordering must use the instant, not the text; few
/// distinct instants, so ties on time are common.
pub fn timed_connections(edges: &[(i64, i64, i64)]) -> Vec<serde_json::Value> {
    edges
        .iter()
        .map(|(a, b, t)| {
            let at = if t % 2 == 0 {
                format!("2024-01-01T{:02}:00:00Z", 10 + t)
            } else {
                format!("2024-01-01T{:02}:00:00+02:00", 12 + t)
            };
            serde_json::json!({"users": [a, b], "connected_at": at})
        })
        .collect()
}
