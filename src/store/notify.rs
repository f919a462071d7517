//! The change feed's wake-up for the lifecycle's writes on PostgreSQL, sent after their
//! commits instead of in them (`migrations::deferred_notify`).
//!
//! PostgreSQL commits the transactions that `NOTIFY` one at a time, each holding a lock of the
//! whole database through its WAL flush; writers that leave the NOTIFY to this task commit
//! side by side (group commit). The task owns one connection, opened when first needed, and
//! sends `SELECT pg_notify(...)` once per wake-up, at most once per `NOTIFY_GAP`. Wake-ups
//! that come while it sends or waits are folded into one more NOTIFY after it: a follower
//! woken reads every change committed before it, so one NOTIFY sent after a set of commits
//! wakes the followers for all of them. The
//! connection runs with `synchronous_commit = off`: its transactions write nothing a crash
//! could lose but the wake-up itself, and the followers' polls stand behind a lost one.
//!
//! If the connection fails, the NOTIFY is lost (logged) and the next wake-up connects again:
//! the followers see the write at their next poll (`CACHE_FEED_POLL_MS`) instead.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use tokio::sync::mpsc;

use super::statements::{Sender, StatementCounts};

/// The `application_name` of the notifier's connection.
pub const NOTIFIER_NAME: &str = "community-gateway-notify";

/// The shortest time between two NOTIFYs: under load, the commits of that time share one
/// (a NOTIFY is a statement and a transaction of the database's), at the price of at most
/// that much more staleness on the other servers.
const NOTIFY_GAP: Duration = Duration::from_millis(2);

/// A handle on the notifier task of one primary; the task ends when the last handle goes.
#[derive(Debug)]
pub struct Notifier {
    /// Capacity one: a wake-up waiting while the task sends is all it needs to send again.
    wake: mpsc::Sender<()>,
    /// The backend pid of its connection (0 before it connects): this process's own feed
    /// listener skips these NOTIFYs: every commit they announce was applied to this process's
    /// cache by its writer (`Store::settle`, or the writer's own eviction in
    /// `Source::wrote_pair`), and the feed reads its rows at its next poll.
    pid: Arc<AtomicU32>,
}

impl Notifier {
    /// Starts the notifier of the PostgreSQL database at `url`, counting its statements as the
    /// feed's. It connects when first woken.
    pub fn spawn(url: &str, statements: Arc<StatementCounts>) -> anyhow::Result<Notifier> {
        let options = PgConnectOptions::from_str(url)?
            .application_name(NOTIFIER_NAME)
            .options([("synchronous_commit", "off")]);
        let (wake, woken) = mpsc::channel(1);
        let pid = Arc::new(AtomicU32::new(0));
        tokio::spawn(run(options, woken, statements, pid.clone()));
        Ok(Notifier { wake, pid })
    }

    /// The backend pid of the notifier's connection (0 while it has none).
    pub fn pid(&self) -> Arc<AtomicU32> {
        self.pid.clone()
    }

    /// Says that a transaction which deferred its NOTIFY has committed.
    pub fn committed(&self) {
        // Full: a wake-up is already waiting, and the NOTIFY it sends comes after this commit.
        let _ = self.wake.try_send(());
    }
}

async fn run(
    options: PgConnectOptions,
    mut woken: mpsc::Receiver<()>,
    statements: Arc<StatementCounts>,
    pid: Arc<AtomicU32>,
) {
    let mut connection: Option<PgConnection> = None;
    while woken.recv().await.is_some() {
        if connection.is_none() {
            connection = connect(&options, &statements, &pid).await;
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        statements.add(Sender::Feed, 1);
        if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(migrations::change_feed::CHANNEL)
            .execute(&mut *open)
            .await
        {
            tracing::warn!(error = %err, "change feed notifier: NOTIFY failed; followers will poll");
            connection = None;
            pid.store(0, Ordering::Relaxed);
        }
        tokio::time::sleep(NOTIFY_GAP).await;
    }
    if let Some(open) = connection {
        let _ = open.close().await;
    }
}

/// The notifier's connection, its backend pid published in `pid`; None (logged) if the
/// database cannot be reached.
async fn connect(
    options: &PgConnectOptions,
    statements: &StatementCounts,
    pid: &AtomicU32,
) -> Option<PgConnection> {
    let mut opened = match PgConnection::connect_with(options).await {
        Ok(opened) => opened,
        Err(err) => {
            tracing::warn!(error = %err, "change feed notifier: cannot connect; followers will poll");
            return None;
        }
    };
    statements.add(Sender::Feed, 1);
    match sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
        .fetch_one(&mut opened)
        .await
    {
        Ok(backend) => pid.store(u32::try_from(backend).unwrap_or(0), Ordering::Relaxed),
        Err(err) => {
            tracing::warn!(error = %err, "change feed notifier: cannot read its backend pid");
            return None;
        }
    }
    Some(opened)
}
