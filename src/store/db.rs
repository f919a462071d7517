//! Connecting to the database: the pool, its per-backend options, migrations, readiness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
};
use tokio::sync::{mpsc, oneshot};

/// A handle on the database; cheap to clone (it wraps the pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// SQL statements run through this pool since it opened (for metrics and the tests that
    /// prove batching).
    statements: Arc<AtomicU64>,
    /// The URL it was opened with (the graph cache's feed opens its own connections with it).
    url: Arc<str>,
    /// The graph cache following this database from this process, if one runs: writers ask
    /// it to catch up after they commit (read-your-writes).
    follower: Arc<Mutex<Option<CatchUp>>>,
}

/// A request to the feed follower to poll at once; it answers once every change committed
/// before the request is applied.
pub type CatchUp = mpsc::UnboundedSender<oneshot::Sender<()>>;

impl Store {
    /// Connects to `url` with a pool of at most `pool_size` connections.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Store> {
        Store::connect_with(url, pool_size, Duration::from_secs(10)).await
    }

    /// As `connect`, with the longest wait for a pooled connection (past it: 503).
    pub async fn connect_with(
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Store> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(pool_size)
            .min_connections(1)
            .connect_timeout(acquire_timeout.max(Duration::from_secs(1)))
            .acquire_timeout(acquire_timeout)
            .sqlx_logging(false)
            // No ping before each use: a request runs two to four statements, each acquiring a
            // connection, and the pings doubled the round trips to the database. A connection
            // that died is found by the statement that uses it (its error is answered 503 and
            // the pool drops it).
            .test_before_acquire(false)
            // Every statement here is prepared once per connection and run with new values
            // each time. PostgreSQL would otherwise keep re-planning the page statement (a few
            // ms of planning for well under a ms of execution) whenever it judges a custom plan
            // cheaper; its generic plan is the same plan.
            .map_sqlx_postgres_opts(|pg| pg.options([("plan_cache_mode", "force_generic_plan")]))
            // Per connection, so every pooled connection gets them (a PRAGMA statement would
            // reach only the one connection that ran it). WAL lets readers run while an import
            // writes.
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        let mut db = Database::connect(options)
            .await
            .with_context(|| format!("cannot connect to the database ({})", redact(url)))?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            // `RUST_LOG=community_gateway::sql=trace` prints every statement with its timing.
            tracing::trace!(
                target: "community_gateway::sql",
                elapsed_us = info.elapsed.as_micros() as u64,
                failed = info.failed,
                sql = %info.statement.sql,
            );
        });
        Ok(Store {
            db,
            statements,
            url: url.into(),
            follower: Arc::default(),
        })
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Registers the feed follower of this process's graph cache.
    pub fn attach_follower(&self, follower: CatchUp) {
        if let Ok(mut slot) = self.follower.lock() {
            *slot = Some(follower);
        }
    }

    /// Waits (at most two seconds) until this process's graph cache, if one follows the
    /// database, has applied every change committed so far. A writer calls it after its
    /// commit, so that its next read, on this server, shows its write.
    pub async fn settle(&self) {
        let follower = self.follower.lock().ok().and_then(|slot| slot.clone());
        let Some(follower) = follower else {
            return;
        };
        let (done, applied) = oneshot::channel();
        if follower.send(done).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), applied).await;
        }
    }

    /// Runs `work` (one transaction, from BEGIN to COMMIT) on a task of its own and waits for
    /// it. The caller may go away at any await (a client hangs up; async-graphql drops the
    /// sibling fields of one whose error nulls their parent), but the task runs to its end.
    /// Cancelled in the middle instead, a transaction can leave its pooled connection idle in
    /// that transaction: sqlx returns a connection dropped during `BEGIN` to the pool as it
    /// is, with the transaction open, and the next borrower's writes land in it, uncommitted,
    /// while its locks block others (a MariaDB `DROP DATABASE`, a PostgreSQL `ALTER`).
    pub async fn to_completion<T, F, Fut>(&self, work: F) -> Result<T, DbErr>
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbErr>> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::spawn(work(self.clone())).await {
            Ok(result) => result,
            Err(failed) => Err(DbErr::Custom(format!("a database task failed: {failed}"))),
        }
    }

    /// Connects, retrying with bounded exponential back-off while the database is not up yet
    /// (a service started together with its database), and saying so in the log.
    pub async fn connect_waiting(
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
        give_up_after: Duration,
    ) -> anyhow::Result<Store> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            match Store::connect_with(url, pool_size, acquire_timeout).await {
                Ok(store) => return Ok(store),
                Err(err) if started.elapsed() + pause < give_up_after => {
                    tracing::warn!(error = %format!("{err:#}"), retry_in_ms = pause.as_millis() as u64, "database not reachable yet");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Whether the database answers and every migration is applied (for `/readyz`).
    pub async fn ready(&self) -> anyhow::Result<()> {
        self.db.execute_unprepared("SELECT 1").await?;
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        anyhow::ensure!(pending.is_empty(), "{} migration(s) pending", pending.len());
        Ok(())
    }

    /// Open and idle connections of the pool.
    pub fn pool_stats(&self) -> (u32, usize) {
        match &self.db {
            DatabaseConnection::SqlxPostgresPoolConnection(_) => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DatabaseConnection::SqlxMySqlPoolConnection(_) => {
                let pool = self.db.get_mysql_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DatabaseConnection::SqlxSqlitePoolConnection(_) => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        }
    }

    /// How many SQL statements this store has run.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None)
            .await
            .context("running database migrations")
    }
}

/// `url` with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "an unparsable URL".to_string(),
    }
}
