//! What the handlers of every door share: the database, the settings and the metrics.
//!
//! A leaf of the module graph: the doors and `app` import it, it imports none of them. What
//! only one door needs (the GraphQL schema, its persisted queries) lives in that door.

use std::sync::Arc;

use crate::cache::{self, FeedOptions, Follower, GraphCache, Source};
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
    /// Stops the cache's feed follower when the last handle on the state goes.
    _feed: Option<Arc<Follower>>,
}

impl AppState {
    /// The state of a server on `store`; with the cache on, starts following the change feed
    /// (on a thread of its own).
    pub fn new(store: Store, config: Config) -> AppState {
        let graph = config.cache.enabled.then(|| {
            Arc::new(GraphCache::new(
                config.cache.budget_bytes,
                config.cache.lease,
            ))
        });
        let feed = graph.as_ref().and_then(|graph| {
            let options = FeedOptions {
                poll: config.cache.poll_interval(store.backend()),
            };
            match cache::start(&store, graph.clone(), options) {
                Ok(follower) => Some(Arc::new(follower)),
                // Without a follower the cache never serves: every read goes to SQL.
                Err(err) => {
                    tracing::error!(error = %err, "graph cache: cannot start the feed follower; serving from SQL");
                    None
                }
            }
        });
        AppState {
            source: Source::new(store.clone(), graph),
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            _feed: feed,
        }
    }
}
