//! The GraphQL door's state: the schema, persisted queries, the operation permits.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::documents::{DocumentLimits, Documents};
use super::plan::Plans;
use super::schema::{schema, GatewaySchema};
use crate::state::AppState;

/// The state of the GraphQL routes.
#[derive(Clone)]
pub struct GraphqlState {
    pub app: AppState,
    pub schema: GatewaySchema,
    /// Persisted queries and document limits, applied before the schema runs.
    pub documents: Arc<Documents>,
    /// The compiled plans of the queries seen (`graphql::plan`).
    pub plans: Arc<Plans>,
    /// Permits to execute an operation (`GRAPHQL_MAX_CONCURRENT`).
    pub permits: Arc<Semaphore>,
    /// The WebSockets open (`WS_MAX_SOCKETS`).
    pub sockets: Arc<AtomicUsize>,
}

impl GraphqlState {
    pub fn new(app: AppState) -> GraphqlState {
        let limits = app.config.graphql;
        GraphqlState {
            schema: schema(limits),
            documents: Arc::new(Documents::new(DocumentLimits {
                max_fields: limits.max_fields,
                max_root_fields: limits.max_root_fields,
            })),
            plans: Arc::new(Plans::default()),
            permits: Arc::new(Semaphore::new(app.config.graphql_max_concurrent)),
            sockets: Arc::default(),
            app,
        }
    }
}

/// The extractors shared by both doors (`crate::extract`) read the application's state.
impl AsRef<AppState> for GraphqlState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}
