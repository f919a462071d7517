//! What the handlers of every door share: the database, the settings and the metrics.
//!
//! A leaf of the module graph: the doors and `app` import it, it imports none of them. What
//! only one door needs (the GraphQL schema, its persisted queries) lives in that door.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    /// The server's leaving: `/readyz` and the WebSockets watch it.
    pub drain: Drain,
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
            poll_standby: config.cache.poll_interval_without_listen(),
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
            drain: Drain::default(),
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

/// How a server leaves (`SIGTERM`) without failing a request or resetting a socket:
///
/// 1. `start`: `/readyz` answers 503, and a load balancer's health check takes the server
///    out of rotation while it still serves what reaches it (`SHUTDOWN_DRAIN_MS`);
/// 2. the listener closes and the in-flight HTTP requests finish (axum's graceful shutdown);
/// 3. `close_sockets`: every WebSocket is closed with 1001 "Going away", which graphql-ws
///    clients answer by reconnecting (through the balancer, to another server), and the
///    server waits for their tasks, a bounded time.
///
/// WebSockets need step 3 of their own: an upgraded connection is not one the HTTP server
/// waits for, and a process that exits under it resets it.
#[derive(Clone, Default)]
pub struct Drain {
    draining: Arc<AtomicBool>,
    going_away: CancellationToken,
    sockets: TaskTracker,
}

impl Drain {
    /// Step 1: the server is leaving; `/readyz` says so from now on.
    pub fn start(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Runs one WebSocket's task so that `close_sockets` waits for it.
    pub fn track_socket<F>(
        &self,
        socket: F,
    ) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.sockets.track_future(socket)
    }

    /// Resolves when the sockets are to close (step 3).
    pub fn going_away(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.going_away.clone().cancelled_owned()
    }

    /// Step 3: asks every WebSocket to close, and waits at most `within` for them.
    pub async fn close_sockets(&self, within: Duration) -> bool {
        self.draining.store(true, Ordering::Relaxed);
        self.going_away.cancel();
        self.sockets.close();
        tokio::time::timeout(within, self.sockets.wait())
            .await
            .is_ok()
    }
}
