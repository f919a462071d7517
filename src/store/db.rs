//! Connecting to the database: the pool, its per-backend options, migrations, readiness.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, IsolationLevel, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::notify::Notifier;
use super::replicas::{self, Reads, Replica};
pub use super::statements::{Sender, StatementCounts};

/// A handle on the database; cheap to clone (it wraps the pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Statements this process sent to its databases, by sender (`/metrics`; the `api` figure
    /// is what the tests that prove batching count). Shared by the stores of one process.
    statements: Arc<StatementCounts>,
    /// Whose count this store's own pool adds to.
    sender: Sender,
    /// The URL it was opened with (the graph cache's feed opens its own connections with it).
    url: Arc<str>,
    /// The graph cache following this database from this process, if one runs: writers ask
    /// it to catch up after they commit (read-your-writes).
    follower: Arc<Mutex<Option<CatchUp>>>,
    /// The read replicas, and which one serves the reads (`store::replicas`).
    reads: Arc<Reads>,
    /// PostgreSQL primary of the API: sends the change feed's NOTIFY after the lifecycle's
    /// commits (`store::notify`).
    pub(super) notifier: Option<Arc<Notifier>>,
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
        Store::open(url, pool_size, acquire_timeout, Arc::default(), Sender::Api).await
    }

    /// A store of this process on `url` whose statements count as `sender`'s (the change
    /// feed's own connection).
    pub async fn connect_as(
        &self,
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
        sender: Sender,
    ) -> anyhow::Result<Store> {
        Store::open(
            url,
            pool_size,
            acquire_timeout,
            self.statements.clone(),
            sender,
        )
        .await
    }

    async fn open(
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
        statements: Arc<StatementCounts>,
        sender: Sender,
    ) -> anyhow::Result<Store> {
        let db = open_pool(url, pool_size, acquire_timeout, &statements, sender).await?;
        let notifier = match (db.get_database_backend(), sender) {
            (DatabaseBackend::Postgres, Sender::Api) => {
                Some(Arc::new(Notifier::spawn(url, statements.clone())?))
            }
            _ => None,
        };
        Ok(Store {
            notifier,
            db,
            statements,
            sender,
            url: url.into(),
            follower: Arc::default(),
            reads: Arc::new(Reads::none()),
        })
    }

    /// This store with its reads on the PostgreSQL hot standbys `urls` (`store::replicas`),
    /// each in rotation while its replay lag stays within `max_lag`. The lag is checked once
    /// before this returns, then in the background for as long as the store lives.
    pub async fn with_replicas(
        self,
        urls: &[String],
        pool_size: u32,
        acquire_timeout: Duration,
        max_lag: Duration,
    ) -> anyhow::Result<Store> {
        if urls.is_empty() {
            return Ok(self);
        }
        anyhow::ensure!(
            self.backend() == DatabaseBackend::Postgres,
            "READ_DATABASE_URL: read replicas are PostgreSQL hot standbys; DATABASE_URL is not PostgreSQL"
        );
        let mut replicas = Vec::new();
        for url in urls {
            anyhow::ensure!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "READ_DATABASE_URL: {} is not a postgres:// URL",
                redact(url)
            );
            // A replica that is down at start joins the rotation when it comes up: the pool
            // connects lazily, and the lag checks say when it answers.
            let db = open_pool_lazily(
                url,
                pool_size,
                acquire_timeout,
                &self.statements,
                Sender::Api,
            )?;
            // The lag checks on a connection of their own, counted as the monitor's: they are
            // the server's, not a request's (the tests that count a request's statements).
            let probe =
                open_pool_lazily(url, 1, acquire_timeout, &self.statements, Sender::Replicas)?;
            replicas.push(Replica::new(
                url,
                redact(url),
                db,
                probe,
                self.statements.clone(),
            ));
        }
        let reads = Arc::new(Reads::new(replicas, max_lag));
        let primary_probe = open_pool_lazily(
            &self.url,
            1,
            acquire_timeout,
            &self.statements,
            Sender::Replicas,
        )?;
        replicas::first_check(&reads, &primary_probe).await;
        replicas::monitor(&reads, primary_probe);
        Ok(Store { reads, ..self })
    }

    /// The replicas and their state.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// Where the API's reads go: the replica in rotation, else the primary.
    pub fn reader(&self) -> &DatabaseConnection {
        match self.reads.active() {
            Some(replica) => &replica.db,
            None => &self.db,
        }
    }

    /// The URL of the database the reads come from (the change feed follows it).
    pub fn read_url(&self) -> &str {
        match self.reads.active() {
            Some(replica) => &replica.url,
            None => &self.url,
        }
    }

    /// The backend pid of this store's notifier connection (`store::notify`), if it has a
    /// notifier; 0 while it is not connected.
    pub fn notifier_pid(&self) -> Option<Arc<std::sync::atomic::AtomicU32>> {
        self.notifier.as_ref().map(|notifier| notifier.pid())
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

    /// Waits until the replicas in rotation have replayed every change committed so far (at
    /// most `REPLICA_MAX_LAG_MS`), then (at most two seconds) until this process's graph
    /// cache, if one follows the database, has applied them. A writer calls it after its
    /// commit, so that its next read shows its write.
    pub async fn settle(&self) {
        // The replicas first (`store::replicas`, read your own writes), then the cache.
        self.settle_replicas().await;
        let (done, applied) = oneshot::channel();
        if self.wake_follower(done) {
            let _ = tokio::time::timeout(Duration::from_secs(2), applied).await;
        }
    }

    /// Waits until the replicas in rotation have replayed every change committed so far (at
    /// most `REPLICA_MAX_LAG_MS`); at once without replicas.
    pub async fn settle_replicas(&self) {
        if self.reads.replicas.is_empty() {
            return;
        }
        match replicas::current_lsn(&self.db).await {
            Ok(target) => self.reads.replayed(target).await,
            Err(err) => tracing::warn!(error = %err, "cannot read the primary's WAL position"),
        }
    }

    /// Asks this process's feed follower, if there is one, to poll now, without waiting for
    /// it: the follower delivers the events of this process's own commits at once, whatever
    /// the backend (its LISTEN skips this process's own notifier).
    pub fn poll_feed_now(&self) {
        let (done, _) = oneshot::channel();
        self.wake_follower(done);
    }

    /// Hands `done` to the follower (told once it applied what is committed now); false
    /// when no follower listens.
    fn wake_follower(&self, done: oneshot::Sender<()>) -> bool {
        let follower = self.follower.lock().ok().and_then(|slot| slot.clone());
        follower.is_some_and(|follower| follower.send(done).is_ok())
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
        // Unprepared: not seen by the metric callback.
        self.counted(1);
        self.db.execute_unprepared("SELECT 1").await?;
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        anyhow::ensure!(pending.is_empty(), "{} migration(s) pending", pending.len());
        Ok(())
    }

    /// Whether this database is a PostgreSQL hot standby (read-only, replaying a primary).
    pub async fn is_standby(&self) -> Result<bool, DbErr> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(false);
        }
        let row = self
            .db
            .query_one(sea_orm::Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT pg_is_in_recovery() AS standby",
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "standby")?,
            None => false,
        })
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

    /// How many SQL statements the API has sent (`StatementCounts::api`).
    pub fn statement_count(&self) -> u64 {
        self.statements.api.load(Ordering::Relaxed)
    }

    /// Every statement this process sent, by sender.
    pub fn statement_counts(&self) -> &Arc<StatementCounts> {
        &self.statements
    }

    /// Counts `n` statements this store sends past the metric callback (unprepared SQL).
    pub fn counted(&self, n: u64) {
        self.statements.add(self.sender, n);
    }

    /// Begins a transaction on `db` (this store's pool, or its reads' pool), counting the
    /// statements sea-orm sends for it without reporting them: BEGIN, SET TRANSACTION for an
    /// isolation level (PostgreSQL and MySQL; SQLite has none), and its end, COMMIT or the
    /// ROLLBACK sqlx sends when the transaction is dropped.
    pub async fn begin_on(
        &self,
        db: &DatabaseConnection,
        isolation: Option<IsolationLevel>,
    ) -> Result<DatabaseTransaction, DbErr> {
        let set = u64::from(isolation.is_some() && self.backend() != DatabaseBackend::Sqlite);
        self.counted(2 + set);
        match isolation {
            Some(_) => db.begin_with_config(isolation, None).await,
            None => db.begin().await,
        }
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

/// The connection options of every pool (primary and replicas); `sender` says whose pool it
/// is (the change feed's gets one setting more on PostgreSQL).
fn pool_options(
    url: &str,
    pool_size: u32,
    acquire_timeout: Duration,
    sender: Sender,
) -> ConnectOptions {
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
        //
        // READ COMMITTED whatever the database's default: the lifecycle's transactions are
        // written for it (`store::lifecycle`), and a default of the connection costs no
        // statement per transaction.
        //
        // The change feed's connection: no sequential scans. Its statements read the change
        // table by id only (a range, a list of ids, the largest), and that table swings
        // between a few rows and `cache::feed`'s 100,000 retained ones. A generic plan made
        // while its statistics said "a few rows" is a sequential scan and a sort, kept by the
        // connection as the table grows: measured in `bench/lifecycle`, every catch-up poll
        // read the whole table (`pg_stat_user_tables`: one seq scan per poll, none by
        // index), and PostgreSQL spent about twice the CPU per lifecycle action of its
        // pgbench floor. With sequential scans off the only plans left are the primary key's.
        .map_sqlx_postgres_opts(move |pg| {
            let pg = pg.options([
                ("plan_cache_mode", "force_generic_plan"),
                // The startup `options` are split at spaces; PostgreSQL reads `\ ` as one.
                ("default_transaction_isolation", "read\\ committed"),
            ]);
            match sender {
                Sender::Feed => pg.options([("enable_seqscan", "off")]),
                Sender::Api | Sender::Replicas => pg,
            }
        })
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
    options
}

/// Opens a pool on `url` whose statements count into `sender`'s count.
async fn open_pool(
    url: &str,
    pool_size: u32,
    acquire_timeout: Duration,
    statements: &Arc<StatementCounts>,
    sender: Sender,
) -> anyhow::Result<DatabaseConnection> {
    let mut db = Database::connect(pool_options(url, pool_size, acquire_timeout, sender))
        .await
        .with_context(|| format!("cannot connect to the database ({})", redact(url)))?;
    count_statements(&mut db, statements, sender);
    Ok(db)
}

/// A PostgreSQL pool connecting when first used (a replica may be down when the server
/// starts), its statements counted into `sender`'s count.
fn open_pool_lazily(
    url: &str,
    pool_size: u32,
    acquire_timeout: Duration,
    statements: &Arc<StatementCounts>,
    sender: Sender,
) -> anyhow::Result<DatabaseConnection> {
    let options: sea_orm::sqlx::postgres::PgConnectOptions = url
        .parse()
        .with_context(|| format!("READ_DATABASE_URL: cannot parse {}", redact(url)))?;
    let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(options.options([("plan_cache_mode", "force_generic_plan")]));
    let mut db = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    count_statements(&mut db, statements, sender);
    Ok(db)
}

fn count_statements(
    db: &mut DatabaseConnection,
    statements: &Arc<StatementCounts>,
    sender: Sender,
) {
    let counter = statements.clone();
    db.set_metric_callback(move |info| {
        counter.add(sender, 1);
        // `RUST_LOG=community_gateway::sql=trace` prints every statement with its timing and
        // its sender (the benches keep the API's, apart from the change feed's polls).
        tracing::trace!(
            target: "community_gateway::sql",
            sender = ?sender,
            elapsed_us = info.elapsed.as_micros() as u64,
            failed = info.failed,
            sql = %info.statement.sql,
        );
    });
}
