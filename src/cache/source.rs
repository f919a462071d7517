//! Where the API's reads come from: the graph cache while it follows the change feed, else
//! SQL (today's statements, `store`). The methods mirror the store's read queries, so the
//! gates and the DataLoaders read through this without knowing which answered.
//!
//! A miss reads the missing entries in one statement per kind (whole adjacency lists, pending
//! requests, records, tags) and stores them with the ticket taken before the read
//! (`graph.rs` says why that keeps them exact).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use sea_orm::DbErr;

use super::events::{EventHub, Subscription};
use super::graph::{Adjacency, Entry, GraphCache, Invalidation, Key, Requests};
use super::pages::{page, Perspective};
use crate::store::{
    ConnectionPageRows, Gate, PageSpec, Relation, Settings, Store, TagRecord, UserRecord,
};

/// The reads of the API; cheap to clone.
#[derive(Clone)]
pub struct Source {
    store: Store,
    graph: Option<Arc<GraphCache>>,
    /// The live connection events, as the feed follower reads them.
    events: Arc<EventHub>,
}

impl Source {
    /// Reads through `graph` when given (and following the feed), else from `store`.
    pub fn new(store: Store, graph: Option<Arc<GraphCache>>, events: Arc<EventHub>) -> Source {
        Source {
            store,
            graph,
            events,
        }
    }

    /// This server's subscribers to live connection events.
    pub fn events(&self) -> &Arc<EventHub> {
        &self.events
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn graph(&self) -> Option<&Arc<GraphCache>> {
        self.graph.as_ref()
    }

    /// The cache, when it may serve now.
    fn serving(&self) -> Option<&GraphCache> {
        self.graph.as_deref().filter(|graph| graph.serving())
    }

    /// Whether reads are answered from memory now (else from SQL).
    pub fn from_memory(&self) -> bool {
        self.serving().is_some()
    }

    /// The settings and whether `target` and `viewer` exist (`Store::gate`).
    pub async fn gate(&self, target: Option<i64>, viewer: Option<i64>) -> Result<Gate, DbErr> {
        let Some(graph) = self.serving() else {
            return self.store.gate(target, viewer).await;
        };
        let ids: Vec<i64> = target.into_iter().chain(viewer).collect();
        let settings = self.settings_in(graph).await?;
        let users = self.users_in(graph, &ids).await?;
        let exists = |id: Option<i64>| id.is_some_and(|id| matches!(users.get(&id), Some(Some(_))));
        Ok(Gate {
            settings,
            target_exists: exists(target),
            viewer_exists: exists(viewer),
        })
    }

    /// One page for each of `owners` (`Store::connection_pages`).
    pub async fn connection_pages(
        &self,
        viewer: Option<i64>,
        owners: &[i64],
        spec: PageSpec,
        records: bool,
    ) -> Result<HashMap<i64, ConnectionPageRows>, DbErr> {
        let Some(graph) = self.serving() else {
            return self
                .store
                .connection_pages(viewer, owners, spec, records)
                .await;
        };
        let mut lists: Vec<i64> = owners.iter().copied().chain(viewer).collect();
        lists.sort_unstable();
        lists.dedup();
        let adjacency = self.adjacency_in(graph, &lists).await?;
        let requests = match viewer {
            Some(v) => Some(self.requests_in(graph, v).await?),
            None => None,
        };
        let perspective = match (viewer, &requests) {
            (Some(v), Some(requests)) => adjacency.get(&v).map(|adjacency| Perspective {
                adjacency,
                requests,
            }),
            _ => None,
        };
        let mut pages: HashMap<i64, ConnectionPageRows> = owners
            .iter()
            .filter_map(|owner| {
                let list = adjacency.get(owner)?;
                Some((*owner, page(list, perspective.as_ref(), spec)))
            })
            .collect();
        if records {
            let mut listed: Vec<i64> = pages
                .values()
                .flat_map(|p| p.rows.iter().map(|r| r.id))
                .collect();
            listed.sort_unstable();
            listed.dedup();
            let users = self.users_in(graph, &listed).await?;
            for page in pages.values_mut() {
                for row in &mut page.rows {
                    row.user = users.get(&row.id).cloned().flatten();
                }
                // A listed user deleted since its list was read: its rows go at the next
                // change applied; until then it is not listed without a record.
                page.rows.retain(|row| row.user.is_some());
            }
        }
        Ok(pages)
    }

    /// Users by id (`Store::users_by_ids`).
    pub async fn users_by_ids(&self, ids: &[i64]) -> Result<HashMap<i64, Arc<UserRecord>>, DbErr> {
        let Some(graph) = self.serving() else {
            let users = self.store.users_by_ids(ids).await?;
            return Ok(users.into_iter().map(|(id, u)| (id, Arc::new(u))).collect());
        };
        let users = self.users_in(graph, ids).await?;
        Ok(users
            .into_iter()
            .filter_map(|(id, user)| Some((id, user?)))
            .collect())
    }

    /// Read-your-writes after this process committed a lifecycle action of `actor` on
    /// `target` (`core::lifecycle::act`): this server's next read shows it, without waiting
    /// for the change feed. Such an action writes only the connection and the requests
    /// between the two (and its event for `target`), so what it can make stale is the two
    /// users' adjacency lists and requests, the keys its change rows name. Those are
    /// invalidated here, after the replicas replayed the commit (a refill from a replica that
    /// had not would store the old rows); the ticket rule (`graph.rs`) refuses any entry read
    /// before. The feed reads the same change rows later (evicting those keys once more):
    /// - at once (asked here, not waited for) when `target` subscribes on this server, so
    ///   its event is delivered without delay;
    /// - otherwise at its next wake-up or poll tick: no statement of its own per action.
    ///   Measured (`bench/RESULTS.md`, lifecycle): the feed's poll after every commit took
    ///   11 % of PostgreSQL's core beside 78 % for the actions themselves, and the wait for it
    ///   was in every answer.
    pub async fn wrote_pair(&self, actor: i64, target: i64) {
        self.store.settle_replicas().await;
        if let Some(graph) = self.graph.as_deref() {
            graph.invalidate(Invalidation::Keys(vec![
                Key::Adjacency(actor),
                Key::Adjacency(target),
                Key::Requests(actor),
                Key::Requests(target),
            ]));
        }
        if self.events.wants(target) {
            self.store.poll_feed_now();
        }
    }

    /// Subscribes to `user`'s live events (`capacity`: the subscription's buffer), from the
    /// changes committed after this call on: the feed first reads every change committed so
    /// far, without this subscriber. `wrote_pair` leaves the feed alone for targets nobody
    /// here subscribes to, and an event committed before the subscription must not be
    /// delivered when the feed reads it later (no replay).
    pub async fn subscribe_events(&self, user: i64, capacity: usize) -> Subscription {
        self.store.settle().await;
        self.events.subscribe(user, capacity)
    }

    /// What the cache holds now for user `id`, without reading SQL: `Some(record)` (None:
    /// no such user) when it holds an entry, `None` when only the database can tell.
    pub fn cached_user(&self, id: i64) -> Option<Option<Arc<UserRecord>>> {
        let graph = self.serving()?;
        match graph.get_many(&[Key::User(id)]).pop().flatten()? {
            Entry::User(user) => Some(user),
            _ => None,
        }
    }

    /// The tags each user shows (`Store::visible_tags`).
    pub async fn visible_tags(
        &self,
        user_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<TagRecord>>, DbErr> {
        let Some(graph) = self.serving() else {
            return self.store.visible_tags(user_ids).await;
        };
        let keys: Vec<Key> = user_ids.iter().map(|id| Key::Tags(*id)).collect();
        let store = &self.store;
        let entries = through(graph, &keys, |missing| async move {
            let ids: Vec<i64> = missing.iter().filter_map(Key::user).collect();
            let mut found = store.visible_tags(&ids).await?;
            Ok(ids
                .iter()
                .map(|id| {
                    let tags = found.remove(id).unwrap_or_default();
                    (Key::Tags(*id), Entry::Tags(tags.into()))
                })
                .collect())
        })
        .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, entry)| match (key, entry) {
                (Key::Tags(id), Entry::Tags(tags)) if !tags.is_empty() => Some((id, tags.to_vec())),
                _ => None,
            })
            .collect())
    }

    /// How `viewer` relates to each of `others` (`Store::relations`).
    pub async fn relations(
        &self,
        viewer: i64,
        others: &[i64],
    ) -> Result<HashMap<i64, Relation>, DbErr> {
        let Some(graph) = self.serving() else {
            return self.store.relations(viewer, others).await;
        };
        let adjacency = self.adjacency_in(graph, &[viewer]).await?;
        let requests = self.requests_in(graph, viewer).await?;
        let Some(adjacency) = adjacency.get(&viewer) else {
            return Ok(HashMap::new());
        };
        let perspective = Perspective {
            adjacency,
            requests: &requests,
        };
        Ok(others
            .iter()
            .map(|other| (*other, perspective.relation(*other)))
            .collect())
    }

    /// The community settings (`Store::settings`).
    pub async fn settings(&self) -> Result<Settings, DbErr> {
        match self.serving() {
            Some(graph) => self.settings_in(graph).await,
            None => self.store.settings().await,
        }
    }

    async fn settings_in(&self, graph: &GraphCache) -> Result<Settings, DbErr> {
        let store = &self.store;
        let entries = through(graph, &[Key::Settings], |_| async move {
            Ok(vec![(
                Key::Settings,
                Entry::Settings(store.settings().await?),
            )])
        })
        .await?;
        match entries.get(&Key::Settings) {
            Some(Entry::Settings(settings)) => Ok(*settings),
            _ => Err(DbErr::RecordNotFound("community_settings row 1".into())),
        }
    }

    /// Records of `ids`, None for ids naming no user.
    async fn users_in(
        &self,
        graph: &GraphCache,
        ids: &[i64],
    ) -> Result<HashMap<i64, Option<Arc<UserRecord>>>, DbErr> {
        let keys: Vec<Key> = ids.iter().map(|id| Key::User(*id)).collect();
        let store = &self.store;
        let entries = through(graph, &keys, |missing| async move {
            let ids: Vec<i64> = missing.iter().filter_map(Key::user).collect();
            let mut found = store.users_by_ids(&ids).await?;
            Ok(ids
                .iter()
                .map(|id| (Key::User(*id), Entry::User(found.remove(id).map(Arc::new))))
                .collect())
        })
        .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, entry)| match (key, entry) {
                (Key::User(id), Entry::User(user)) => Some((id, user)),
                _ => None,
            })
            .collect())
    }

    /// Whole adjacency lists of `owners`.
    async fn adjacency_in(
        &self,
        graph: &GraphCache,
        owners: &[i64],
    ) -> Result<HashMap<i64, Arc<Adjacency>>, DbErr> {
        let keys: Vec<Key> = owners.iter().map(|id| Key::Adjacency(*id)).collect();
        let store = &self.store;
        let entries = through(graph, &keys, |missing| async move {
            let ids: Vec<i64> = missing.iter().filter_map(Key::user).collect();
            let lists = store.adjacency(&ids).await?;
            Ok(lists
                .into_iter()
                .map(|(id, list)| {
                    (
                        Key::Adjacency(id),
                        Entry::Adjacency(Arc::new(Adjacency::new(list))),
                    )
                })
                .collect())
        })
        .await?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, entry)| match (key, entry) {
                (Key::Adjacency(id), Entry::Adjacency(list)) => Some((id, list)),
                _ => None,
            })
            .collect())
    }

    /// The requests that count for `user`'s statuses: every request `user` sent (pending or
    /// rejected), and the pending ones `user` received (one `user` rejected no longer counts).
    async fn requests_in(&self, graph: &GraphCache, user: i64) -> Result<Arc<Requests>, DbErr> {
        let store = &self.store;
        let key = Key::Requests(user);
        let entries = through(graph, &[key], |_| async move {
            let found = store.requests_of(&[user]).await?;
            let sent = found.iter().filter(|r| r.from == user).map(|r| r.to);
            let received = found
                .iter()
                .filter(|r| r.to == user && !r.rejected)
                .map(|r| r.from);
            let requests = Requests::new(sent.collect(), received.collect());
            Ok(vec![(key, Entry::Requests(Arc::new(requests)))])
        })
        .await?;
        match entries.get(&key) {
            Some(Entry::Requests(requests)) => Ok(requests.clone()),
            _ => Ok(Arc::default()),
        }
    }
}

/// The cached entries of `keys`, the missing ones read by `load` (with a ticket taken first)
/// and stored.
///
/// Misses are read once however many requests miss the same entry at the same time: the
/// first claims the key and reads it; the others wait for it and take what it stored. Without
/// this, a write to a popular user's list sent every concurrent request for that page to SQL
/// at once (a stampede that, under load, tripled the time until the change showed). A waiter
/// whose entry was not stored (refused as stale, or the reader failed) reads it itself.
async fn through<F, Fut>(
    graph: &GraphCache,
    keys: &[Key],
    load: F,
) -> Result<HashMap<Key, Entry>, DbErr>
where
    F: Fn(Vec<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<(Key, Entry)>, DbErr>>,
{
    let mut entries = HashMap::with_capacity(keys.len());
    let missing = found(graph, keys, &mut entries);
    if missing.is_empty() {
        return Ok(entries);
    }
    let (claim, others) = graph.claim(&missing);
    if !claim.keys().is_empty() {
        read_and_store(graph, claim.keys().to_vec(), &load, &mut entries).await?;
    }
    // Stored (or given up) before the waiters look.
    drop(claim);
    if others.is_empty() {
        return Ok(entries);
    }
    let waited: Vec<Key> = others.iter().map(|(key, _)| *key).collect();
    for (_, mut done) in others {
        // An error means the reader gave up: what it did not store is read below.
        let _ = done.wait_for(|stored| *stored).await;
    }
    let still = found(graph, &waited, &mut entries);
    if !still.is_empty() {
        read_and_store(graph, still, &load, &mut entries).await?;
    }
    Ok(entries)
}

/// Reads `keys` with `load` under a ticket taken first, stores what the ticket allows, and
/// adds every read entry to `entries`.
async fn read_and_store<F, Fut>(
    graph: &GraphCache,
    keys: Vec<Key>,
    load: &F,
    entries: &mut HashMap<Key, Entry>,
) -> Result<(), DbErr>
where
    F: Fn(Vec<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<(Key, Entry)>, DbErr>>,
{
    let ticket = graph.ticket();
    let loaded = load(keys).await?;
    graph.put_many(ticket, loaded.clone());
    entries.extend(loaded);
    Ok(())
}

/// Adds the cached entries of `keys` to `entries`; returns the keys not cached (sorted,
/// without duplicates).
fn found(graph: &GraphCache, keys: &[Key], entries: &mut HashMap<Key, Entry>) -> Vec<Key> {
    let mut missing = Vec::new();
    for (key, entry) in keys.iter().zip(graph.get_many(keys)) {
        match entry {
            Some(entry) => {
                entries.insert(*key, entry);
            }
            None => missing.push(*key),
        }
    }
    missing.sort_unstable();
    missing.dedup();
    missing
}
