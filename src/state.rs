//! What the handlers of every door share: the database, the settings and the metrics.
//!
//! A leaf of the module graph: the doors and `app` import it, it imports none of them. What
//! only one door needs (the GraphQL schema, its persisted queries) lives in that door.

use std::sync::Arc;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
        }
    }
}
