//! The change feed's wake-up for the lifecycle's writes on PostgreSQL, sent after their
//! commits instead of in them (`migrations::deferred_notify`).
//!
//! PostgreSQL commits the transactions that `NOTIFY` one at a time, each holding a lock of the
//! whole database through its WAL flush; writers that leave the NOTIFY to this task commit
//! side by side (group commit). The task owns one connection, opened when first needed, and
//! sends `SELECT pg_notify(...)` once per wake-up. Wake-ups that come while it sends are
//! folded into one more NOTIFY after it: a follower woken reads every change committed before
//! it, so one NOTIFY sent after a set of commits wakes the followers for all of them. The
//! connection runs with `synchronous_commit = off`: its transactions write nothing a crash
//! could lose but the wake-up itself, and the followers' polls stand behind a lost one.
//!
//! If the connection fails, the NOTIFY is lost (logged) and the next wake-up connects again:
//! the followers see the write at their next poll (`CACHE_FEED_POLL_MS`) instead.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use tokio::sync::mpsc;

use super::statements::{Sender, StatementCounts};

/// The `application_name` of the notifier's connection.
pub const NOTIFIER_NAME: &str = "community-gateway-notify";

/// A handle on the notifier task of one primary; the task ends when the last handle goes.
#[derive(Debug)]
pub struct Notifier {
    /// Capacity one: a wake-up waiting while the task sends is all it needs to send again.
    wake: mpsc::Sender<()>,
}

impl Notifier {
    /// Starts the notifier of the PostgreSQL database at `url`, counting its statements as the
    /// feed's. It connects when first woken.
    pub fn spawn(url: &str, statements: Arc<StatementCounts>) -> anyhow::Result<Notifier> {
        let options = PgConnectOptions::from_str(url)?
            .application_name(NOTIFIER_NAME)
            .options([("synchronous_commit", "off")]);
        let (wake, woken) = mpsc::channel(1);
        tokio::spawn(run(options, woken, statements));
        Ok(Notifier { wake })
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
) {
    let channel = migrations::deferred_notify::CHANNEL;
    let mut connection: Option<PgConnection> = None;
    while woken.recv().await.is_some() {
        if connection.is_none() {
            match PgConnection::connect_with(&options).await {
                Ok(opened) => connection = Some(opened),
                Err(err) => {
                    tracing::warn!(error = %err, "change feed notifier: cannot connect; followers will poll");
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else {
            continue;
        };
        statements.add(Sender::Feed, 1);
        if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(channel)
            .execute(&mut *open)
            .await
        {
            tracing::warn!(error = %err, "change feed notifier: NOTIFY failed; followers will poll");
            connection = None;
        }
    }
    if let Some(open) = connection {
        let _ = open.close().await;
    }
}
