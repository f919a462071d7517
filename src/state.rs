//! What the handlers of every door share: the database, the settings and the metrics.
//!
//! A leaf of the module graph: the doors and `app` import it, it imports none of them. What
//! only one door needs (the GraphQL schema, its persisted queries) lives in that door.

use std::sync::Arc;

use crate::cache::{self, EventHub, FeedOptions, Follower, GraphCache, Source};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The API's reads: through the graph cache when it is on, else SQL.
    pub source: Source,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Stops the feed follower when the last handle on the state goes.
    _feed: Option<Arc<Follower>>,
}

impl AppState {
    /// The state of a server on `store`: starts following the change feed (on a thread of its
    /// own), for the graph cache when it is on and for the live connection events always.
    pub fn new(store: Store, config: Config) -> AppState {
        let graph = Arc::new(GraphCache::new(
            config.cache.budget_bytes,
            config.cache.lease,
        ));
        let events = Arc::new(EventHub::new());
        let options = FeedOptions {
            poll: config.cache.poll_interval(store.backend()),
        };
        let feed = match cache::start(&store, graph.clone(), events.clone(), options) {
            Ok(follower) => Some(Arc::new(follower)),
            // Without a follower the cache never serves (every read goes to SQL) and no
            // event is delivered.
            Err(err) => {
                tracing::error!(error = %err, "cannot start the change feed follower: serving from SQL, without live events");
                None
            }
        };
        // With the cache off, the follower's invalidations land in a cache nobody reads.
        let graph = config.cache.enabled.then_some(graph);
        AppState {
            source: Source::new(store.clone(), graph, events),
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            _feed: feed,
        }
    }
}

/// The extractors shared by both doors (`crate::extract`) read the state by reference: no
/// clone of it per request.
impl AsRef<AppState> for AppState {
    fn as_ref(&self) -> &AppState {
        self
    }
}
