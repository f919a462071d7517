//! The feed follower: reads the change feed (`graph_changes`) on a connection of its own and
//! evicts exactly what each change touches.
//!
//! - PostgreSQL: a `LISTEN graph_changes` connection wakes the follower on every commit that
//!   wrote changes; a poll by id every `poll` interval is the safety net. While the listener
//!   is down, the cache serves nothing (reads go to SQL) until it listens again.
//! - MariaDB/MySQL and SQLite: a poll by id every `poll` interval.
//! - Ids are taken before commit, so they may become visible out of order, or never (a
//!   rolled-back write). Skipped ids are kept as *gaps* and asked for again with every poll
//!   for `GAP_TTL`, so a write that commits late is still applied.
//! - A failed poll, or a gap too large to track, ends the session: the cache serves nothing,
//!   forgets everything, and the follower starts again from the feed's end.
//! - Writers in this process call `Store::settle` after they commit: the follower polls at
//!   once and answers when the write is applied (read-your-writes on the writing server).
//!   The lifecycle's actions do not wait: they evict what they wrote themselves, and ask
//!   for a poll at once only when the event's target subscribes here (`Source::wrote_pair`,
//!   `Store::poll_feed_now`); their other changes are read at the next wake-up or tick.
//! - Change rows of kind `EVENT` name a connection event: the follower reads the events whose
//!   target subscribes here and hands them to the `EventHub` (after applying the batch's
//!   evictions, so a subscriber reading the actor's record sees the write).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use migrations::change_feed::kind;
use sea_orm::{DatabaseBackend, DbErr};
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::events::EventHub;
use super::graph::{GraphCache, Invalidation, Key};
use crate::store::{Change, Sender, StatementCounts, Store};
use migrations::change_feed::CHANNEL;

/// The `application_name` of the listener's connection (operators and tests find it by it).
pub const LISTENER_NAME: &str = "community-gateway-feed";
/// How long a skipped id is asked for again before it counts as a rolled-back write.
const GAP_TTL: Duration = Duration::from_secs(60);
/// Most skipped ids tracked at once; past it the follower starts over.
const MAX_GAPS: usize = 1_000;
/// Changes read per statement.
const BATCH: u64 = 5_000;
/// Change rows kept for followers that fall behind; older ones are deleted.
const RETAIN: i64 = 100_000;
/// How often a follower deletes the rows past `RETAIN`, and old events.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long an event row is kept (delivery takes milliseconds; nothing replays events).
const EVENTS_KEPT_US: i64 = 10 * 60 * 1_000_000;

/// How the follower reads the feed.
#[derive(Clone, Copy, Debug)]
pub struct FeedOptions {
    /// The poll interval (on PostgreSQL, the safety net behind LISTEN/NOTIFY).
    pub poll: Duration,
    /// The poll interval on a hot standby (`LISTEN` is not available there).
    pub poll_standby: Duration,
}

/// The follower's thread: it stops when this is dropped.
pub struct Follower {
    _stop: oneshot::Sender<()>,
}

/// Starts following the feed of `store`'s database for `graph`, on a thread of its own with
/// its own small runtime: on the request runtime, under load, its wake-ups waited behind
/// hundreds of request tasks (measured: the staleness p99 doubled at 16 connections on two
/// cores); a thread of its own is scheduled by the OS like any other.
pub fn start(
    store: &Store,
    graph: Arc<GraphCache>,
    hub: Arc<EventHub>,
    options: FeedOptions,
) -> std::io::Result<Follower> {
    let (catch_up, requests) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let primary = store.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("graph-feed".into())
        .spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = follow(primary, graph, hub, options, requests) => {}
                    // The sender dropped: the server that owned this cache is gone.
                    _ = stopped => {}
                }
            });
        })?;
    store.attach_follower(catch_up);
    Ok(Follower { _stop: stop })
}

/// Follows the feed of the database `store` reads from, for the life of the process,
/// starting over after every failure and whenever the reads move (`store::replicas`).
async fn follow(
    store: Store,
    graph: Arc<GraphCache>,
    hub: Arc<EventHub>,
    options: FeedOptions,
    mut catch_ups: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        let mut moved = false;
        match Session::open(&store, &graph, &hub).await {
            Ok(mut session) => {
                pause = Duration::from_millis(100);
                let err = session.run(options, &mut catch_ups).await;
                moved = matches!(err, Lost::Moved);
                if moved {
                    tracing::info!(
                        "graph cache: the reads moved; following the feed of their new database"
                    );
                } else {
                    tracing::warn!(error = %err, "graph cache: lost the change feed; serving from SQL until it follows again");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "graph cache: cannot follow the change feed; serving from SQL");
            }
        }
        graph.lost_feed();
        graph.counters.feed_resets.fetch_add(1, Ordering::Relaxed);
        // Writers waiting for the follower read SQL now: let them go.
        while let Ok(done) = catch_ups.try_recv() {
            let _ = done.send(());
        }
        if !moved {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

/// What the listener task tells the follower.
#[derive(Debug)]
enum Wake {
    /// A commit wrote changes.
    Changed,
    /// The listener listens (again).
    Listening,
    /// The listener's connection dropped.
    Lost,
}

/// One stretch of following the feed on one connection.
struct Session<'a> {
    graph: &'a GraphCache,
    hub: &'a EventHub,
    /// The server's store: the primary, for pruning, and where the reads go.
    primary: &'a Store,
    /// `primary.reads().generation()` when the session opened: a change ends it.
    generation: u64,
    /// A hot standby: polls only.
    standby: bool,
    feed: Store,
    /// Highest id seen.
    cursor: i64,
    /// Skipped ids below the cursor, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
    /// PostgreSQL: the listener's messages (and the task, stopped with the session).
    wakes: Option<(mpsc::Receiver<Wake>, AbortOnDrop)>,
    last_prune: Instant,
    /// Following a standby: a connection of the feed's own on the primary for pruning, made
    /// at the first prune (its statements count as the feed's, not the API's).
    pruner: Option<Store>,
}

/// What a batch of changes leaves to tell the subscribers.
#[derive(Debug, Default)]
struct Applied {
    /// Ids of the events whose target subscribes here, in change order.
    events: Vec<i64>,
    /// The settings may have changed.
    settings: bool,
}

#[derive(Debug)]
enum Lost {
    Db(DbErr),
    Listener,
    TooManyGaps(usize),
    /// The reads moved to another database (`store::replicas`).
    Moved,
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Db(err) => write!(f, "reading the feed failed: {err}"),
            Lost::Listener => write!(f, "the listener stopped"),
            Lost::TooManyGaps(n) => write!(f, "{n} change ids missing at once"),
            Lost::Moved => write!(f, "the reads moved to another database"),
        }
    }
}

impl<'a> Session<'a> {
    /// Opens the feed's connection, finds its end, and forgets everything cached (changes
    /// made while nobody followed are unknown).
    async fn open(
        primary: &'a Store,
        graph: &'a GraphCache,
        hub: &'a EventHub,
    ) -> anyhow::Result<Session<'a>> {
        let generation = primary.reads().generation();
        let url = primary.read_url();
        let feed = primary
            .connect_as(url, 1, Duration::from_secs(2), Sender::Feed)
            .await?;
        let standby = feed.is_standby().await?;
        let wakes = match feed.backend() {
            DatabaseBackend::Postgres if !standby => {
                let (tx, rx) = mpsc::channel(4);
                let counts = primary.statement_counts().clone();
                // The own notifier's NOTIFYs only when this feed reads the primary itself.
                let own = (url == primary.url())
                    .then(|| primary.notifier_pid())
                    .flatten();
                let task = tokio::spawn(listen(with_application_name(url), tx, counts, own));
                Some((rx, AbortOnDrop(task)))
            }
            _ => None,
        };
        let cursor = feed.last_change_id().await?;
        // Ids missing among the last ones may belong to writes still in flight.
        let from = cursor.saturating_sub(MAX_GAPS as i64 - 1).max(1);
        let present = feed.change_ids_from(from).await?;
        let now = Instant::now();
        let mut gaps = BTreeMap::new();
        let mut next = present.iter().peekable();
        for id in from..cursor {
            match next.peek() {
                Some(p) if **p == id => {
                    next.next();
                }
                _ => {
                    gaps.insert(id, now);
                }
            }
        }
        graph.invalidate(Invalidation::All);
        // The settings may have changed while nobody followed.
        hub.settings_changed();
        Ok(Session {
            graph,
            hub,
            primary,
            generation,
            standby,
            feed,
            cursor,
            gaps,
            wakes,
            last_prune: Instant::now(),
            pruner: None,
        })
    }

    /// Follows until the feed is lost.
    async fn run(
        &mut self,
        options: FeedOptions,
        catch_ups: &mut mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    ) -> Lost {
        // Poll-only backends follow as soon as a poll succeeds; PostgreSQL once it listens.
        let mut listening = self.wakes.is_none();
        let poll = if self.standby {
            options.poll_standby
        } else {
            options.poll
        };
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut waiters = Vec::new();
            tokio::select! {
                _ = tick.tick() => {}
                Some(done) = catch_ups.recv() => waiters.push(done),
                wake = next_wake(&mut self.wakes) => match wake {
                    Some(Wake::Changed) => {}
                    Some(Wake::Listening) => listening = true,
                    Some(Wake::Lost) => {
                        listening = false;
                        self.graph.lost_feed();
                        self.graph.counters.feed_resets.fetch_add(1, Ordering::Relaxed);
                    }
                    None => return Lost::Listener,
                },
            }
            while let Ok(done) = catch_ups.try_recv() {
                waiters.push(done);
            }
            if self.primary.reads().generation() != self.generation {
                // Before the waiting writers go (`follow` lets them): nothing cached from the
                // old source is served.
                self.graph.lost_feed();
                return Lost::Moved;
            }
            let started = Instant::now();
            if let Err(lost) = self.poll().await {
                // Before the waiting writers go: their next read must not be served from
                // entries older than their write.
                self.graph.lost_feed();
                return lost;
            }
            if listening {
                self.graph.polled(started);
            }
            for done in waiters {
                let _ = done.send(());
            }
            self.prune().await;
        }
    }

    /// Reads and applies every change after the cursor and every gap that filled.
    async fn poll(&mut self) -> Result<(), Lost> {
        loop {
            let gaps: Vec<i64> = self.gaps.keys().copied().collect();
            let changes = self
                .feed
                .changes_after(self.cursor, &gaps, BATCH)
                .await
                .map_err(Lost::Db)?;
            // Only the read past the cursor is limited (the gaps come whole).
            let past_cursor = changes.iter().filter(|c| c.id > self.cursor).count();
            let full = past_cursor as u64 == BATCH;
            let applied = self.apply(&changes)?;
            self.deliver(applied).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Applies one batch of changes as one invalidation; returns what is left to tell the
    /// subscribers.
    fn apply(&mut self, changes: &[Change]) -> Result<Applied, Lost> {
        let now = Instant::now();
        let mut keys = Vec::new();
        let mut all = false;
        let mut all_tags = false;
        let mut applied = Applied::default();
        for change in changes {
            if change.id > self.cursor {
                let skipped = (change.id - self.cursor - 1) as usize;
                if self.gaps.len() + skipped > MAX_GAPS {
                    return Err(Lost::TooManyGaps(self.gaps.len() + skipped));
                }
                for id in self.cursor + 1..change.id {
                    self.gaps.insert(id, now);
                }
                self.cursor = change.id;
            } else {
                self.gaps.remove(&change.id);
            }
            let ends = change.a.into_iter().chain(change.b);
            match change.kind {
                kind::CONNECTION => keys.extend(ends.map(Key::Adjacency)),
                kind::REQUEST => keys.extend(ends.map(Key::Requests)),
                kind::USER => keys.extend(ends.map(Key::User)),
                kind::USER_TAG => keys.extend(change.a.map(Key::Tags)),
                kind::TAG => all_tags = true,
                kind::SETTINGS => {
                    keys.push(Key::Settings);
                    applied.settings = true;
                }
                kind::EVENT => {
                    if let (Some(event), Some(target)) = (change.a, change.b) {
                        if self.hub.wants(target) {
                            applied.events.push(event);
                        }
                    }
                }
                // A user deleted, an import, a TRUNCATE, or a kind this version does not know.
                _ => all = true,
            }
        }
        self.gaps
            .retain(|_, first| now.duration_since(*first) < GAP_TTL);
        self.graph
            .counters
            .changes
            .fetch_add(changes.len() as u64, Ordering::Relaxed);
        if all {
            self.graph.invalidate(Invalidation::All);
            applied.settings = true;
            return Ok(applied);
        }
        if all_tags {
            self.graph.invalidate(Invalidation::AllTags);
        }
        if !keys.is_empty() {
            keys.sort_unstable();
            keys.dedup();
            self.graph.invalidate(Invalidation::Keys(keys));
        }
        Ok(applied)
    }

    /// Tells this server's subscribers what a batch brought: its events (read now, in id
    /// order) and whether the settings may have changed.
    async fn deliver(&mut self, applied: Applied) -> Result<(), Lost> {
        if applied.settings {
            self.hub.settings_changed();
        }
        if applied.events.is_empty() {
            return Ok(());
        }
        let events = self
            .feed
            .events_by_ids(&applied.events)
            .await
            .map_err(Lost::Db)?;
        for event in events {
            self.hub.publish(event);
        }
        Ok(())
    }

    /// Deletes change rows every follower has long read, and old events (best effort: any
    /// server may).
    async fn prune(&mut self) {
        if self.last_prune.elapsed() < PRUNE_EVERY {
            return;
        }
        self.last_prune = Instant::now();
        // On the primary (a standby is read-only), through the feed's own connection.
        let pruner = if !self.standby {
            self.feed.clone()
        } else if let Some(pruner) = &self.pruner {
            pruner.clone()
        } else {
            let url = self.primary.url().to_string();
            match self
                .primary
                .connect_as(&url, 1, Duration::from_secs(2), Sender::Feed)
                .await
            {
                Ok(pruner) => self.pruner.insert(pruner).clone(),
                Err(err) => {
                    tracing::debug!(error = %format!("{err:#}"), "graph cache: no connection to prune the feed");
                    return;
                }
            }
        };
        if self.cursor > RETAIN {
            if let Err(err) = pruner.prune_changes(self.cursor - RETAIN).await {
                tracing::debug!(error = %err, "graph cache: pruning the change feed failed");
            }
        }
        let before = crate::store::time::now_us() - EVENTS_KEPT_US;
        if let Err(err) = pruner.prune_events(before).await {
            tracing::debug!(error = %err, "pruning connection events failed");
        }
    }
}

/// The next message of the listener, or never (poll-only backends).
async fn next_wake(wakes: &mut Option<(mpsc::Receiver<Wake>, AbortOnDrop)>) -> Option<Wake> {
    match wakes {
        Some((rx, _)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// PostgreSQL: listens on the change channel, reconnecting after every loss, and tells the
/// follower when it listens, when it lost the connection, and when changes were committed.
/// The NOTIFYs of this process's own notifier (`own`: its backend pid) wake nobody: each
/// commit they announce was applied to this cache by its writer (`Store::settle`, or the
/// writer's own eviction in `Source::wrote_pair`); the poll tick reads its rows later.
async fn listen(
    url: String,
    wakes: mpsc::Sender<Wake>,
    counts: Arc<StatementCounts>,
    own: Option<Arc<AtomicU32>>,
) {
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                // `LISTEN`, sent by sqlx past the metric callback.
                counts.add(Sender::Feed, 1);
                if listener.listen(CHANNEL).await.is_ok()
                    && wakes.send(Wake::Listening).await.is_ok()
                {
                    // `try_recv` answers None when the connection dropped.
                    while let Ok(Some(notification)) = listener.try_recv().await {
                        let sender = notification.process_id();
                        if own
                            .as_ref()
                            .is_some_and(|own| own.load(Ordering::Relaxed) == sender)
                        {
                            continue;
                        }
                        // A wake already queued covers this commit too.
                        let _ = wakes.try_send(Wake::Changed);
                    }
                }
            }
            Err(err) => tracing::debug!(error = %err, "graph cache: LISTEN connection failed"),
        }
        if wakes.send(Wake::Lost).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `url` with the listener's `application_name`.
fn with_application_name(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={LISTENER_NAME}")
}

/// Stops a task when dropped (the listener goes with its session).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
