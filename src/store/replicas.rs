//! Read replicas (`READ_DATABASE_URL`): PostgreSQL hot standbys that serve the API's reads,
//! while the primary (`DATABASE_URL`) takes migrations, imports, settings and every
//! lifecycle write.
//!
//! - **One replica at a time per server.** Reads, and the change feed that keeps the graph
//!   cache (`cache::feed`), come from the same database, so the cache is never ahead of the
//!   data it fills from. Several servers spread over several replicas: each starts from the
//!   replica its process id picks.
//! - **Lag, in time.** Every check samples the primary's WAL position; a replica's lag is how
//!   long ago the primary was at a position the replica has not replayed yet (0 when it has
//!   replayed the last sample). Past `REPLICA_MAX_LAG_MS`, or unreachable, a replica is out
//!   of rotation; reads move to another one, or to the primary, and come back when it has
//!   caught up. A move restarts the feed on the new source (the cache forgets everything).
//! - **Read your own writes.** After a lifecycle write commits, the writer waits until every
//!   replica in rotation has replayed the primary's WAL position (`pg_last_wal_replay_lsn`), at
//!   most the lag bound; a replica that does not is taken out of rotation. Reads that follow,
//!   through this server or any other reading those replicas, see the write (another server's
//!   cache after its feed's next poll).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

use super::statements::{Sender, StatementCounts};

/// `Reads::active` when reads go to the primary.
const PRIMARY: usize = usize::MAX;
/// Most primary positions kept for measuring lag.
const HISTORY: usize = 1024;

/// The replicas of a store, and which one serves its reads.
#[derive(Debug)]
pub struct Reads {
    pub replicas: Vec<Replica>,
    /// Index into `replicas` of the one reads go to, or `PRIMARY`.
    active: AtomicUsize,
    /// Raised whenever `active` changes (the feed follower starts over on the new source).
    generation: AtomicU64,
    /// The replica this process prefers (spreads servers over the replicas).
    preferred: usize,
    pub max_lag: Duration,
    /// How often the lag is measured.
    pub every: Duration,
}

/// One read replica.
#[derive(Debug)]
pub struct Replica {
    /// Its URL without a password, for `/readyz`, metrics and logs.
    pub name: String,
    pub(super) url: String,
    /// The reads' pool.
    pub(super) db: DatabaseConnection,
    /// The lag checks' connection.
    probe: DatabaseConnection,
    /// Counts the pings of `drop_dead_connections` (sent past the metric callback).
    statements: Arc<StatementCounts>,
    state: Mutex<ReplicaState>,
}

/// What the last check found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReplicaState {
    pub reachable: bool,
    /// Replay lag; None before the first check or while unreachable.
    pub lag: Option<Duration>,
    pub in_rotation: bool,
}

impl Reads {
    /// No replicas: every read goes to the primary.
    pub fn none() -> Reads {
        Reads::new(Vec::new(), Duration::from_secs(1))
    }

    pub(super) fn new(replicas: Vec<Replica>, max_lag: Duration) -> Reads {
        let preferred = match replicas.len() {
            0 => 0,
            n => std::process::id() as usize % n,
        };
        Reads {
            replicas,
            active: AtomicUsize::new(PRIMARY),
            generation: AtomicU64::new(0),
            preferred,
            max_lag,
            every: (max_lag / 4).clamp(Duration::from_millis(20), Duration::from_secs(1)),
        }
    }

    /// The replica reads go to now, if any.
    pub fn active(&self) -> Option<&Replica> {
        self.replicas.get(self.active.load(Ordering::Acquire))
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Each replica's name and state.
    pub fn states(&self) -> Vec<(&str, ReplicaState)> {
        self.replicas
            .iter()
            .map(|replica| (replica.name.as_str(), replica.state()))
            .collect()
    }

    /// Keeps the active replica while it is in rotation; else moves reads to the first one in
    /// rotation from this process's preferred one, or to the primary.
    pub(super) fn choose(&self) {
        let current = self.active.load(Ordering::Acquire);
        if self
            .replicas
            .get(current)
            .is_some_and(|replica| replica.state().in_rotation)
        {
            return;
        }
        let n = self.replicas.len();
        let next = (0..n)
            .map(|k| (self.preferred + k) % n)
            .find(|&i| self.replicas[i].state().in_rotation)
            .unwrap_or(PRIMARY);
        if next != current {
            self.active.store(next, Ordering::Release);
            self.generation.fetch_add(1, Ordering::AcqRel);
            match self.replicas.get(next) {
                Some(replica) => tracing::info!(replica = %replica.name, "reads go to a replica"),
                None => tracing::warn!("no replica in rotation: reads go to the primary"),
            }
        }
    }

    /// One check: the primary's position, each replica's replay and lag, then `choose`.
    async fn check(&self, primary: &DatabaseConnection, history: &mut VecDeque<(Instant, u64)>) {
        let now = Instant::now();
        if let Ok(Ok(lsn)) = tokio::time::timeout(self.every * 2, current_lsn(primary)).await {
            history.push_back((now, lsn));
        }
        // Enough history to measure any lag up to a few bounds; older samples only prove a
        // replica is far behind, which the oldest kept one proves too.
        while history.len() > HISTORY
            || history
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.max_lag * 4)
                && history.len() > 1
        {
            history.pop_front();
        }
        for replica in &self.replicas {
            let was_reachable = replica.state().reachable;
            let replay = tokio::time::timeout(self.every * 2, replay_lsn(&replica.probe)).await;
            let state = match replay {
                Ok(Ok(replay)) => {
                    let lag = lag_of(replay, history, now);
                    // Behind every sample kept, the lag is unknown but at least the oldest
                    // one's age: out of rotation (at start, until it replays the first sample).
                    let oldest = history.front().map(|(at, _)| now.duration_since(*at));
                    ReplicaState {
                        reachable: true,
                        lag: lag.or(oldest),
                        in_rotation: lag.is_some_and(|lag| lag <= self.max_lag),
                    }
                }
                _ => ReplicaState::default(),
            };
            if state.reachable && !was_reachable {
                // Back (or up for the first time): the pool may still hold connections the
                // replica's restart closed, and the reads do not ping before each statement.
                replica.drop_dead_connections(self.every).await;
            }
            replica.set(state);
        }
        self.choose();
    }

    /// Waits until every replica in rotation has replayed `target` (a primary position), at
    /// most `max_lag`; one that does not leaves the rotation.
    pub(super) async fn replayed(&self, target: u64) {
        let deadline = Instant::now() + self.max_lag;
        for replica in self.replicas.iter().filter(|r| r.state().in_rotation) {
            loop {
                match replay_lsn(&replica.db).await {
                    Ok(replay) if replay >= target => break,
                    Ok(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    outcome => {
                        tracing::warn!(replica = %replica.name, failed = outcome.is_err(),
                            "a replica did not replay a write within REPLICA_MAX_LAG_MS: out of rotation");
                        replica.set(ReplicaState {
                            in_rotation: false,
                            ..replica.state()
                        });
                        break;
                    }
                }
            }
        }
        self.choose();
    }
}

impl Replica {
    /// `name` is `url` without its password.
    pub(super) fn new(
        url: &str,
        name: String,
        db: DatabaseConnection,
        probe: DatabaseConnection,
        statements: Arc<StatementCounts>,
    ) -> Replica {
        Replica {
            name,
            url: url.to_string(),
            db,
            probe,
            statements,
            state: Mutex::new(ReplicaState::default()),
        }
    }

    /// Pings each idle connection of the reads' pool and closes those that fail, so that none
    /// fails a request once the replica is back in rotation.
    async fn drop_dead_connections(&self, within: Duration) {
        use sea_orm::sqlx::Connection;
        let pool = self.db.get_postgres_connection_pool();
        let mut alive = Vec::new();
        for _ in 0..pool.num_idle() {
            let Ok(Ok(mut connection)) = tokio::time::timeout(within, pool.acquire()).await else {
                break;
            };
            // sqlx's ping is a statement (an empty comment, as a simple query).
            self.statements.add(Sender::Replicas, 1);
            match tokio::time::timeout(within, connection.ping()).await {
                Ok(Ok(())) => alive.push(connection),
                _ => {
                    let _ = connection.close().await;
                }
            }
        }
        // Dropped: back to the pool.
        drop(alive);
    }

    pub fn state(&self) -> ReplicaState {
        self.state.lock().map(|state| *state).unwrap_or_default()
    }

    fn set(&self, state: ReplicaState) {
        if let Ok(mut slot) = self.state.lock() {
            *slot = state;
        }
    }
}

/// Measures the lag of `reads`'s replicas every `reads.every` for as long as the store lives.
pub(super) fn monitor(reads: &Arc<Reads>, primary: DatabaseConnection) {
    let reads: Weak<Reads> = Arc::downgrade(reads);
    tokio::spawn(async move {
        let mut history = VecDeque::new();
        loop {
            let Some(reads) = reads.upgrade() else {
                return;
            };
            reads.check(&primary, &mut history).await;
            let every = reads.every;
            drop(reads);
            tokio::time::sleep(every).await;
        }
    });
}

/// The first check, before the server serves: a healthy replica takes the reads at once.
pub(super) async fn first_check(reads: &Reads, primary: &DatabaseConnection) {
    let mut history = VecDeque::new();
    reads.check(primary, &mut history).await;
}

/// How long ago the primary was at a position the replica has not replayed: the age of the
/// earliest sample past `replay` (zero when it has replayed them all). None when it has not
/// replayed even the oldest sample: older than the history, by how much is unknown.
fn lag_of(replay: u64, history: &VecDeque<(Instant, u64)>, now: Instant) -> Option<Duration> {
    match history.iter().position(|(_, lsn)| *lsn > replay) {
        None => Some(Duration::ZERO),
        Some(0) => None,
        Some(i) => Some(now.duration_since(history[i].0)),
    }
}

/// The primary's current WAL position.
pub(super) async fn current_lsn(db: &DatabaseConnection) -> Result<u64, DbErr> {
    lsn_query(db, "SELECT pg_current_wal_lsn()::text AS lsn")
        .await?
        .ok_or_else(|| DbErr::Custom("pg_current_wal_lsn() answered null".into()))
}

/// The position a standby has replayed; a database that is not a standby is current.
async fn replay_lsn(db: &DatabaseConnection) -> Result<u64, DbErr> {
    Ok(
        lsn_query(db, "SELECT pg_last_wal_replay_lsn()::text AS lsn")
            .await?
            .unwrap_or(u64::MAX),
    )
}

async fn lsn_query(db: &DatabaseConnection, sql: &str) -> Result<Option<u64>, DbErr> {
    let row = db
        .query_one(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no row".into()))?;
    let text: Option<String> = row.try_get("", "lsn")?;
    text.map(|text| parse_lsn(&text)).transpose()
}

/// `16/B374D848` as a number (high 32 bits / low 32 bits, hexadecimal).
fn parse_lsn(text: &str) -> Result<u64, DbErr> {
    let bad = || DbErr::Custom(format!("not a WAL position: {text:?}"));
    let (high, low) = text.split_once('/').ok_or_else(bad)?;
    let high = u64::from_str_radix(high, 16).map_err(|_| bad())?;
    let low = u64::from_str_radix(low, 16).map_err(|_| bad())?;
    Ok(high << 32 | low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_parse_and_order() {
        assert_eq!(parse_lsn("0/0").ok(), Some(0));
        assert_eq!(parse_lsn("16/B374D848").ok(), Some(0x16_B374_D848));
        assert!(parse_lsn("1/FFFFFFFF").ok() < parse_lsn("2/0").ok());
        assert!(parse_lsn("nonsense").is_err());
        assert!(parse_lsn("1/xyz").is_err());
    }

    #[test]
    fn lag_is_the_age_of_the_first_position_not_replayed() {
        let now = Instant::now();
        let at = |ms: u64| now - Duration::from_millis(ms);
        let history: VecDeque<_> = [(at(300), 10), (at(200), 20), (at(100), 30)].into();
        assert_eq!(lag_of(30, &history, now), Some(Duration::ZERO));
        assert_eq!(lag_of(u64::MAX, &history, now), Some(Duration::ZERO));
        assert_eq!(lag_of(25, &history, now), Some(Duration::from_millis(100)));
        assert_eq!(lag_of(10, &history, now), Some(Duration::from_millis(200)));
        // Behind the oldest sample: by how much is unknown.
        assert_eq!(lag_of(0, &history, now), None);
    }
}
