//! The entries of the graph cache and the rules that keep them exact.
//!
//! Entries: each user's connections in the API's order, each user's requests, user
//! records (or the fact that a user does not exist), each user's visible tags, and the
//! community settings. They live in one LRU bounded by an estimate of their bytes.
//!
//! **Admission (TinyLFU, as in Caffeine).** A pure LRU lets a crawler that reads every
//! user's page once flush the hot set: each one-hit entry pushes out the least recently used,
//! however often that one was read. So every lookup also counts its key in a small
//! frequency sketch (`Admission`: a doorkeeper bit set for the first sighting, then a
//! count-min sketch of 4-bit counters, all halved every `10 × width` lookups so that old
//! popularity fades), and a new entry that does not fit may push out the LRU's victims only
//! if it has been asked for more often than each of them; otherwise it is not stored (the
//! next miss reads it again). Within the budget every entry is admitted, replacing an entry
//! is always allowed, and invalidations remove entries exactly as before: admission only
//! decides between two entries that are both exact. The sketch costs 4 bytes of counters and
//! 16 bytes of doorkeeper per 512 bytes of budget, rounded up to powers of two (at least
//! 1,024 counters per row): about 4 % to 8 % of `CACHE_MB`, outside the budget.
//!
//! **Why an entry is never stale.** The feed follower applies each batch of changes as one
//! *invalidation* and numbers it (the epoch). A reader that misses takes a ticket (the epoch
//! now) *before* it reads the database, and may store what it read only if no invalidation
//! applied since its ticket touched that entry. A change committed after the reader's
//! snapshot is applied after that commit, so after the ticket: either it has been applied
//! when the reader stores (the entry is refused) or it is applied later (the entry is
//! evicted). Recent invalidations are kept a while for this check; a ticket older than them
//! stores nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio::sync::watch;

use crate::store::{Settings, TagRecord, UserRecord};

/// What an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A user's connections.
    Adjacency(i64),
    /// The requests that count for a user's statuses (`Requests`).
    Requests(i64),
    /// A user's record (or that there is none).
    User(i64),
    /// A user's visible tags.
    Tags(i64),
    Settings,
}

impl Key {
    /// The user the entry is about (None for the settings).
    pub fn user(&self) -> Option<i64> {
        match self {
            Key::Adjacency(id) | Key::Requests(id) | Key::User(id) | Key::Tags(id) => Some(*id),
            Key::Settings => None,
        }
    }
}

/// A user's connections: in the API's order with when each was made, and sorted by id (with
/// each one's place in the order) for membership tests and intersections.
#[derive(Debug)]
pub struct Adjacency {
    pub ordered: Box<[i64]>,
    /// `connected_at_us` of `ordered[i]`.
    pub connected_at: Box<[i64]>,
    sorted: Box<[i64]>,
    /// The index in `ordered` of `sorted[i]` (u32: no list holds four billion connections).
    places: Box<[u32]>,
}

impl Adjacency {
    /// `ordered`: (listed user, connected_at_us), in the API's order.
    pub fn new(ordered: Vec<(i64, i64)>) -> Adjacency {
        let mut by_id: Vec<(i64, u32)> = ordered
            .iter()
            .enumerate()
            .map(|(place, (id, _))| (*id, place as u32))
            .collect();
        by_id.sort_unstable();
        Adjacency {
            ordered: ordered.iter().map(|(id, _)| *id).collect(),
            connected_at: ordered.iter().map(|(_, at)| *at).collect(),
            sorted: by_id.iter().map(|(id, _)| *id).collect(),
            places: by_id.iter().map(|(_, place)| *place).collect(),
        }
    }

    pub fn contains(&self, user: i64) -> bool {
        self.sorted.binary_search(&user).is_ok()
    }

    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// The places (indexes in `ordered`) of the users that are also in `other`, ascending:
    /// the smaller list is walked and looked up in the larger, so a hub's list costs the
    /// length of the other one.
    pub fn common_places(&self, other: &Adjacency) -> Vec<usize> {
        let mut places: Vec<usize> = match self.len() <= other.len() {
            true => (0..self.len())
                .filter(|i| other.contains(self.ordered[*i]))
                .collect(),
            false => other
                .sorted
                .iter()
                .filter_map(|id| self.sorted.binary_search(id).ok())
                .map(|i| self.places[i] as usize)
                .collect(),
        };
        places.sort_unstable();
        places
    }

    /// How many connections are listed before (`connected_at_us`, `id`) in the order, and
    /// with `inclusive` at it too: the place where the ones after start (a binary search).
    pub fn split(&self, connected_at_us: i64, id: i64, inclusive: bool) -> usize {
        // The order is `connected_at` descending, then id ascending: "before" holds for a
        // prefix of the list, whose end a binary search finds.
        let before = |i: usize| {
            let at = self.connected_at[i];
            let listed = self.ordered[i];
            at > connected_at_us
                || (at == connected_at_us && (listed < id || (inclusive && listed == id)))
        };
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match before(mid) {
                true => low = mid + 1,
                false => high = mid,
            }
        }
        low
    }
}

/// The users one user has a request to (pending or rejected: both read
/// `sent_connection_request`), and a pending request from (one the user rejected no longer
/// counts); each sorted.
#[derive(Debug, Default)]
pub struct Requests {
    sent: Box<[i64]>,
    received: Box<[i64]>,
}

impl Requests {
    pub fn new(mut sent: Vec<i64>, mut received: Vec<i64>) -> Requests {
        sent.sort_unstable();
        sent.dedup();
        received.sort_unstable();
        received.dedup();
        Requests {
            sent: sent.into_boxed_slice(),
            received: received.into_boxed_slice(),
        }
    }

    pub fn sent_to(&self, user: i64) -> bool {
        self.sent.binary_search(&user).is_ok()
    }

    pub fn received_from(&self, user: i64) -> bool {
        self.received.binary_search(&user).is_ok()
    }
}

/// A cached value.
#[derive(Clone, Debug)]
pub enum Entry {
    Adjacency(Arc<Adjacency>),
    Requests(Arc<Requests>),
    /// None: no such user.
    User(Option<Arc<UserRecord>>),
    Tags(Arc<[TagRecord]>),
    Settings(Settings),
}

impl Entry {
    /// An estimate of the bytes the entry holds (the budget counts these).
    fn bytes(&self) -> usize {
        const SLOT: usize = 96; // the LRU node, the key, the Arc header
        SLOT + match self {
            // The id, its time, its sorted copy and its place.
            Entry::Adjacency(a) => 28 * a.len(),
            Entry::Requests(r) => 8 * (r.sent.len() + r.received.len()),
            // The record's fixed part plus a typical share of text (names, bio, links).
            Entry::User(Some(_)) => std::mem::size_of::<UserRecord>() + 192,
            Entry::User(None) => 0,
            Entry::Tags(t) => t.len() * (std::mem::size_of::<TagRecord>() + 48),
            Entry::Settings(_) => 0,
        }
    }
}

/// What one applied batch of changes invalidates.
#[derive(Clone, Debug)]
pub enum Invalidation {
    Keys(Vec<Key>),
    /// Every user's tags (a tag itself changed).
    AllTags,
    /// Everything.
    All,
}

impl Invalidation {
    fn touches(&self, key: &Key) -> bool {
        match self {
            Invalidation::Keys(keys) => keys.contains(key),
            Invalidation::AllTags => matches!(key, Key::Tags(_)),
            Invalidation::All => true,
        }
    }
}

/// Keys a reader is reading from SQL; dropped, it tells the readers waiting for them.
pub struct Claim<'a> {
    graph: &'a GraphCache,
    keys: Vec<Key>,
    done: watch::Sender<bool>,
}

impl Claim<'_> {
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut inflight = self
            .graph
            .inflight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in &self.keys {
            inflight.remove(key);
        }
        drop(inflight);
        // Whether or not the entries were stored: the waiters look again either way.
        let _ = self.done.send(true);
    }
}

/// A reader's place in the order of invalidations, taken before it reads the database.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

/// How long applied invalidations are remembered for readers still reading: far longer than
/// any read (a read that takes longer stores nothing).
const REMEMBER: Duration = Duration::from_secs(30);

/// How often keys were asked for, approximately (TinyLFU: Einziger, Friedman, Manes, "TinyLFU:
/// A Highly Efficient Cache Admission Policy"). Each key hashes to one counter in each of four
/// rows; its estimate is the smallest of them (collisions only raise counters). The
/// doorkeeper keeps a key's first sighting out of the counters, so the one-hit keys of a
/// scan leave them to the keys seen twice or more.
struct Admission {
    hasher: std::collections::hash_map::RandomState,
    /// Four rows of `mask + 1` counters, each saturating at 15.
    counters: Vec<u8>,
    /// Keys seen once since the last halving: one bit each, 8 bits per lookup of a period,
    /// so that a period's one-hit keys (up to `period` of them) rarely share a bit (a shared
    /// bit would pass a one-hit key on to the counters).
    doorkeeper: Vec<u64>,
    door_mask: usize,
    mask: usize,
    /// Lookups counted since the last halving, and how many trigger the next one.
    counted: usize,
    period: usize,
}

const ROWS: usize = 4;

impl Admission {
    /// A sketch sized for about `entries` entries.
    fn new(entries: usize) -> Admission {
        let width = entries.clamp(1024, 1 << 24).next_power_of_two();
        Admission {
            // Seeded per process: ids chosen to collide cannot be worked out in advance.
            hasher: std::collections::hash_map::RandomState::new(),
            counters: vec![0; ROWS * width],
            doorkeeper: vec![0; (80 * width).next_power_of_two() / 64],
            door_mask: (80 * width).next_power_of_two() - 1,
            mask: width - 1,
            counted: 0,
            period: 10 * width,
        }
    }

    /// The counter positions of `key`: one per row, from two halves of one hash.
    fn slots(&self, key: &Key) -> [usize; ROWS] {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(key);
        let (low, high) = (hash as usize, (hash >> 32) as usize | 1);
        std::array::from_fn(|row| {
            row * (self.mask + 1) + (low.wrapping_add(row.wrapping_mul(high)) & self.mask)
        })
    }

    fn door_bit(&self, key: &Key) -> (usize, u64) {
        use std::hash::BuildHasher;
        // Bits of the hash the counters' positions use least (rotated), over a wider range.
        let bit = self.hasher.hash_one(key).rotate_left(17) as usize & self.door_mask;
        (bit / 64, 1 << (bit % 64))
    }

    /// One lookup of `key`.
    fn record(&mut self, key: &Key) {
        let (word, bit) = self.door_bit(key);
        if self.doorkeeper[word] & bit == 0 {
            self.doorkeeper[word] |= bit;
        } else {
            for slot in self.slots(key) {
                let counter = &mut self.counters[slot];
                *counter = (*counter + 1).min(15);
            }
        }
        self.counted += 1;
        if self.counted >= self.period {
            // Aging: what was popular a while ago counts half as much.
            for counter in &mut self.counters {
                *counter /= 2;
            }
            self.doorkeeper.iter_mut().for_each(|word| *word = 0);
            self.counted = 0;
        }
    }

    /// About how often `key` was asked for lately.
    fn frequency(&self, key: &Key) -> u8 {
        let (word, bit) = self.door_bit(key);
        let seen = u8::from(self.doorkeeper[word] & bit != 0);
        let counted = self
            .slots(key)
            .iter()
            .map(|slot| self.counters[*slot])
            .min()
            .unwrap_or(0);
        counted + seen
    }
}

/// A typical entry's estimated bytes, to size the sketch for the budget.
const TYPICAL_ENTRY: usize = 512;

struct Inner {
    lru: LruCache<Key, (Entry, usize)>,
    admission: Admission,
    bytes: usize,
    epoch: u64,
    /// Invalidations applied in the last `REMEMBER`, oldest first.
    recent: VecDeque<(u64, Instant, Invalidation)>,
    /// The newest epoch no longer in `recent`: tickets up to it cannot be checked.
    forgotten: u64,
}

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct CacheCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
    pub invalidations: AtomicU64,
    pub refused: AtomicU64,
    /// Times everything was forgotten at once (an import, a user deleted, a new feed session).
    pub resets: AtomicU64,
    /// Times the follower lost the feed (reads went to SQL until it followed again).
    pub feed_resets: AtomicU64,
    /// Change rows applied.
    pub changes: AtomicU64,
    /// Entries read from SQL but not stored: asked for less often than those they would
    /// have evicted (admission, module comment).
    pub not_admitted: AtomicU64,
}

/// The graph cache of one server process.
pub struct GraphCache {
    inner: Mutex<Inner>,
    /// Keys being read from SQL right now, and how to wait for them.
    inflight: Mutex<HashMap<Key, watch::Receiver<bool>>>,
    budget: usize,
    pub counters: CacheCounters,
    /// Set by the feed follower: whether it follows the feed (else every read goes to SQL).
    following: AtomicBool,
    /// When the last successful poll of the feed started, in µs since `started`.
    last_poll_us: AtomicU64,
    started: Instant,
    /// Longest time since the last successful poll during which entries are still served.
    lease: Duration,
}

impl GraphCache {
    /// An empty cache holding at most about `budget_bytes`; entries are served only while the
    /// feed was read successfully within `lease`.
    pub fn new(budget_bytes: usize, lease: Duration) -> GraphCache {
        GraphCache {
            inner: Mutex::new(Inner {
                // Bounded by bytes (`budget`), not by a count of entries.
                lru: LruCache::unbounded(),
                admission: Admission::new(budget_bytes / TYPICAL_ENTRY),
                bytes: 0,
                epoch: 0,
                recent: VecDeque::new(),
                forgotten: 0,
            }),
            inflight: Mutex::new(HashMap::new()),
            budget: budget_bytes,
            counters: CacheCounters::default(),
            following: AtomicBool::new(false),
            last_poll_us: AtomicU64::new(0),
            started: Instant::now(),
            lease,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only a cache behind: keep going with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether entries may be served now: the follower follows the feed, and read it
    /// successfully within the lease.
    pub fn serving(&self) -> bool {
        self.following.load(Ordering::Acquire) && self.feed_age() <= self.lease
    }

    /// Time since the last successful poll of the feed started.
    pub fn feed_age(&self) -> Duration {
        let now = self.started.elapsed().as_micros() as u64;
        Duration::from_micros(now.saturating_sub(self.last_poll_us.load(Ordering::Acquire)))
    }

    /// The follower read every change committed before `poll_started`.
    pub fn polled(&self, poll_started: Instant) {
        let at = poll_started
            .saturating_duration_since(self.started)
            .as_micros() as u64;
        self.last_poll_us.fetch_max(at, Ordering::AcqRel);
        self.following.store(true, Ordering::Release);
    }

    /// The follower lost the feed: serve nothing until it follows again.
    pub fn lost_feed(&self) {
        self.following.store(false, Ordering::Release);
    }

    /// Splits missing `keys` into those this reader claims (and must read) and those another
    /// reader is reading already (with what to wait on).
    pub fn claim(&self, keys: &[Key]) -> (Claim<'_>, Vec<(Key, watch::Receiver<bool>)>) {
        let (done, waiting) = watch::channel(false);
        let mut mine = Vec::new();
        let mut others = Vec::new();
        let mut inflight = self
            .inflight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in keys {
            match inflight.get(key) {
                Some(theirs) => others.push((*key, theirs.clone())),
                None => {
                    inflight.insert(*key, waiting.clone());
                    mine.push(*key);
                }
            }
        }
        drop(inflight);
        let claim = Claim {
            graph: self,
            keys: mine,
            done,
        };
        (claim, others)
    }

    /// Takes a ticket before reading the database for entries to store.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().epoch)
    }

    /// The entries for `keys`, in order (None: not cached); counts hits and misses.
    pub fn get_many(&self, keys: &[Key]) -> Vec<Option<Entry>> {
        let mut inner = self.lock();
        let found: Vec<Option<Entry>> = keys
            .iter()
            .map(|key| {
                inner.admission.record(key);
                inner.lru.get(key).map(|(entry, _)| entry.clone())
            })
            .collect();
        drop(inner);
        let hits = found.iter().filter(|e| e.is_some()).count() as u64;
        self.counters.hits.fetch_add(hits, Ordering::Relaxed);
        self.counters
            .misses
            .fetch_add(keys.len() as u64 - hits, Ordering::Relaxed);
        found
    }

    /// Stores entries read with `ticket`, each unless an invalidation since touched it.
    pub fn put_many(&self, ticket: Ticket, entries: Vec<(Key, Entry)>) {
        let mut inner = self.lock();
        if ticket.0 < inner.forgotten {
            self.counters
                .refused
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            return;
        }
        for (key, entry) in entries {
            let touched = inner
                .recent
                .iter()
                .rev()
                .take_while(|(epoch, _, _)| *epoch > ticket.0)
                .any(|(_, _, invalidation)| invalidation.touches(&key));
            if touched {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let bytes = entry.bytes();
            if bytes > self.budget {
                continue;
            }
            if !self.admits(&inner, &key, bytes) {
                self.counters.not_admitted.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if let Some((_, old)) = inner.lru.put(key, (entry, bytes)) {
                inner.bytes -= old;
            }
            inner.bytes += bytes;
            while inner.bytes > self.budget {
                let Some((_, (_, freed))) = inner.lru.pop_lru() else {
                    break;
                };
                inner.bytes -= freed;
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether `key`, new and of `bytes`, may take its place: always when it fits or replaces
    /// an entry; else only if it was asked for more often than every entry the LRU would
    /// evict for it (a tie keeps the entries held: a scan's one-hit keys tie with each other).
    fn admits(&self, inner: &Inner, key: &Key, bytes: usize) -> bool {
        if inner.lru.contains(key) || inner.bytes + bytes <= self.budget {
            return true;
        }
        let candidate = inner.admission.frequency(key);
        let mut freed = 0;
        for (victim, (_, victim_bytes)) in inner.lru.iter().rev() {
            if inner.admission.frequency(victim) >= candidate {
                return false;
            }
            freed += victim_bytes;
            if inner.bytes + bytes - freed <= self.budget {
                return true;
            }
        }
        true
    }

    /// Applies one batch of changes: removes what it touches and remembers it for the
    /// readers still reading.
    pub fn invalidate(&self, invalidation: Invalidation) {
        let mut inner = self.lock();
        inner.epoch += 1;
        let epoch = inner.epoch;
        match &invalidation {
            Invalidation::Keys(keys) => {
                for key in keys {
                    if let Some((_, bytes)) = inner.lru.pop(key) {
                        inner.bytes -= bytes;
                    }
                }
            }
            Invalidation::AllTags => {
                let tags: Vec<Key> = inner
                    .lru
                    .iter()
                    .filter(|(key, _)| matches!(key, Key::Tags(_)))
                    .map(|(key, _)| *key)
                    .collect();
                for key in tags {
                    if let Some((_, bytes)) = inner.lru.pop(&key) {
                        inner.bytes -= bytes;
                    }
                }
            }
            Invalidation::All => {
                inner.lru.clear();
                inner.bytes = 0;
                self.counters.resets.fetch_add(1, Ordering::Relaxed);
            }
        }
        let now = Instant::now();
        inner.recent.push_back((epoch, now, invalidation));
        while let Some((old, at, _)) = inner.recent.front() {
            if now.duration_since(*at) <= REMEMBER {
                break;
            }
            inner.forgotten = *old;
            inner.recent.pop_front();
        }
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes held (estimated) and entries.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.bytes, inner.lru.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(budget: usize) -> GraphCache {
        GraphCache::new(budget, Duration::from_secs(1))
    }

    fn adjacency(ids: &[i64]) -> Entry {
        Entry::Adjacency(Arc::new(Adjacency::new(
            ids.iter().map(|id| (*id, 0)).collect(),
        )))
    }

    #[test]
    fn an_entry_read_before_an_invalidation_that_touches_it_is_refused() {
        let c = cache(1 << 20);
        let ticket = c.ticket();
        c.invalidate(Invalidation::Keys(vec![Key::Adjacency(1)]));
        c.put_many(
            ticket,
            vec![
                (Key::Adjacency(1), adjacency(&[2])),
                (Key::Adjacency(3), adjacency(&[4])),
            ],
        );
        let found = c.get_many(&[Key::Adjacency(1), Key::Adjacency(3)]);
        assert!(found[0].is_none(), "a stale read must not be stored");
        assert!(found[1].is_some(), "an untouched entry is stored");
    }

    #[test]
    fn a_reset_refuses_every_read_in_flight() {
        let c = cache(1 << 20);
        let ticket = c.ticket();
        c.invalidate(Invalidation::All);
        c.put_many(ticket, vec![(Key::Settings, Entry::User(None))]);
        assert!(c.get_many(&[Key::Settings])[0].is_none());
        let fresh = c.ticket();
        c.put_many(fresh, vec![(Key::Settings, Entry::User(None))]);
        assert!(c.get_many(&[Key::Settings])[0].is_some());
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let one = adjacency(&[1; 100]).bytes();
        let c = cache(one * 2 + one / 2);
        let t = c.ticket();
        c.put_many(t, vec![(Key::Adjacency(1), adjacency(&[1; 100]))]);
        c.put_many(t, vec![(Key::Adjacency(2), adjacency(&[1; 100]))]);
        // 1 used: 2 is now the least recently used.
        assert!(c.get_many(&[Key::Adjacency(1)])[0].is_some());
        // 3 missed twice (as readers do before they store): asked for more often than 2.
        for _ in 0..2 {
            assert!(c.get_many(&[Key::Adjacency(3)])[0].is_none());
        }
        c.put_many(t, vec![(Key::Adjacency(3), adjacency(&[1; 100]))]);
        let found = c.get_many(&[Key::Adjacency(1), Key::Adjacency(2), Key::Adjacency(3)]);
        assert!(found[0].is_some() && found[1].is_none() && found[2].is_some());
        assert_eq!(c.counters.evictions.load(Ordering::Relaxed), 1);
        assert!(c.size().0 <= one * 2 + one / 2);
    }

    /// Reads `key` as the read path does: a lookup, and on a miss a store; whether it hit.
    fn read(c: &GraphCache, key: Key) -> bool {
        if c.get_many(&[key])[0].is_some() {
            return true;
        }
        c.put_many(c.ticket(), vec![(key, adjacency(&[1; 40]))]);
        false
    }

    #[test]
    fn a_scan_of_one_hit_keys_does_not_flush_the_hot_set() {
        let one = adjacency(&[1; 40]).bytes();
        // Room for 200 entries; a hot set of 100, read again after every 1,000 keys of a
        // scan of 50,000 that reads each key once. An LRU would hold only scan keys by then.
        let c = cache(one * 200);
        let hot: Vec<Key> = (0..100).map(Key::Adjacency).collect();
        for _ in 0..3 {
            for key in &hot {
                read(&c, *key);
            }
        }
        let (mut hits, mut reads) = (0, 0);
        for (n, id) in (1_000..51_000).enumerate() {
            read(&c, Key::Adjacency(id));
            if n % 1_000 == 999 {
                for key in &hot {
                    hits += usize::from(read(&c, *key));
                    reads += 1;
                }
            }
        }
        assert!(
            hits * 100 >= reads * 99,
            "hot set hit rate {hits}/{reads} during the scan"
        );
        assert!(c.size().0 <= one * 200, "within the budget");
        // The scan's keys still get the room the hot set leaves.
        assert!(c.size().1 > 150, "{} entries", c.size().1);
    }

    #[test]
    fn a_key_that_becomes_hot_is_admitted() {
        let one = adjacency(&[1; 40]).bytes();
        let c = cache(one * 10);
        for id in 0..10 {
            read(&c, Key::Adjacency(id));
        }
        // A new key asked for again and again wins its place against one-hit entries.
        let hits: usize = (0..5)
            .map(|_| usize::from(read(&c, Key::Adjacency(99))))
            .sum();
        assert!(hits >= 3, "{hits} hits of 5");
        assert!(c.size().0 <= one * 10);
    }

    #[tokio::test]
    async fn a_key_being_read_is_read_once() {
        let c = cache(1 << 20);
        let (first, none) = c.claim(&[Key::Adjacency(1), Key::Adjacency(2)]);
        assert_eq!(first.keys(), &[Key::Adjacency(1), Key::Adjacency(2)]);
        assert!(none.is_empty());
        let (second, mut waits) = c.claim(&[Key::Adjacency(2), Key::Adjacency(3)]);
        assert_eq!(
            second.keys(),
            &[Key::Adjacency(3)],
            "2 is being read already"
        );
        assert_eq!(waits.len(), 1);
        let (_, mut done) = waits.remove(0);
        assert!(!*done.borrow());
        drop(first);
        done.wait_for(|stored| *stored)
            .await
            .expect("told when the reader is done");
        let (third, waits) = c.claim(&[Key::Adjacency(2)]);
        assert_eq!(
            third.keys(),
            &[Key::Adjacency(2)],
            "released with the first claim"
        );
        assert!(waits.is_empty());
    }

    #[test]
    fn nothing_is_served_without_a_recent_poll() {
        let c = GraphCache::new(1 << 20, Duration::from_millis(50));
        assert!(!c.serving(), "not before the first poll");
        c.polled(Instant::now());
        assert!(c.serving());
        c.lost_feed();
        assert!(!c.serving());
        c.polled(Instant::now());
        std::thread::sleep(Duration::from_millis(80));
        assert!(!c.serving(), "not past the lease");
    }
}
