//! How many SQL statements this process sends, by who sends them (`/metrics`'
//! `gateway_sql_statements_total{source}`). A leaf: the pool (`db`) and the replica monitor
//! (`replicas`) both count into it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Statements sent to any database by this process, by who sent them. Every statement counts
/// once, as the database receives it: the ones sea-orm reports through its metric callback,
/// and the ones it does not (BEGIN, SET TRANSACTION, COMMIT or ROLLBACK, unprepared SQL,
/// LISTEN, a ping), counted where they are sent. A transaction counts its end (COMMIT, or the
/// ROLLBACK sqlx sends when it is dropped) when it begins.
#[derive(Debug, Default)]
pub struct StatementCounts {
    /// The API: reads and writes of requests, with their transactions, `/readyz`, and the
    /// wait of a write for the replicas.
    pub api: AtomicU64,
    /// The graph cache's change feed: its polls, LISTEN, event reads, pruning.
    pub feed: AtomicU64,
    /// The replica monitor: WAL positions of the primary and the replicas, pings.
    pub replicas: AtomicU64,
}

/// Who sends a statement (`StatementCounts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Api,
    Feed,
    Replicas,
}

impl StatementCounts {
    pub fn of(&self, sender: Sender) -> &AtomicU64 {
        match sender {
            Sender::Api => &self.api,
            Sender::Feed => &self.feed,
            Sender::Replicas => &self.replicas,
        }
    }

    /// `n` statements sent by `sender` that the metric callback does not see.
    pub fn add(&self, sender: Sender, n: u64) {
        self.of(sender).fetch_add(n, Ordering::Relaxed);
    }
}
