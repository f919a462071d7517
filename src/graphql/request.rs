//! What a resolver knows of the request it serves: the viewer (admitted once, by the first
//! resolver that needs it) and the request's DataLoaders.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::ErrorExtensions;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::extract::Credentials;
use async_graphql::dataloader::Loader;

use crate::cache::Source;
use crate::core::{
    self, Access, ConnectionPageLoader, ConnectionStatus, LoadError, Page, PageKey, StatusLoader,
    TagLoader, UserLoader, Viewer,
};
use crate::error::ApiError;
use crate::store::{TagRecord, UserRecord};

/// Everything a resolver needs about the request it serves.
pub struct RequestContext {
    pub source: Source,
    pub config: Arc<Config>,
    /// The credentials as the `Authorization` header gave them (checked for form and
    /// signature, not yet against the database).
    credentials: Credentials,
    /// The admitted viewer and settings, resolved by the first resolver that needs them, so a
    /// document that fails validation costs no SQL.
    access: OnceCell<Result<Access, Arc<ApiError>>>,
    viewer: Viewer,
    /// Scheme + host (or the public base URL) for REST links.
    pub link_origin: String,
    users: DataLoader<UserLoader, HashMapCache>,
    tags: DataLoader<TagLoader, HashMapCache>,
    /// Fed by each connection page (which reads its users' statuses), so listed users cost
    /// no status statement.
    statuses: DataLoader<StatusLoader, HashMapCache>,
    pages: DataLoader<ConnectionPageLoader, HashMapCache>,
}

impl RequestContext {
    pub fn new(
        source: Source,
        config: Arc<Config>,
        credentials: Credentials,
        link_origin: String,
    ) -> RequestContext {
        let viewer = Viewer::default();
        let delay = config.batch_delay;
        let users = UserLoader {
            source: source.clone(),
        };
        let tags = TagLoader {
            source: source.clone(),
        };
        let statuses = StatusLoader {
            source: source.clone(),
            viewer: viewer.clone(),
        };
        let pages = ConnectionPageLoader {
            source: source.clone(),
            viewer: viewer.clone(),
        };
        // Per-request caches: a user, tag list or page asked twice in one operation is read once.
        let cached = HashMapCache::default;
        RequestContext {
            users: DataLoader::with_cache(users, tokio::spawn, cached()).delay(delay),
            tags: DataLoader::with_cache(tags, tokio::spawn, cached()).delay(delay),
            statuses: DataLoader::with_cache(statuses, tokio::spawn, cached()).delay(delay),
            pages: DataLoader::with_cache(pages, tokio::spawn, cached()).delay(delay),
            source,
            config,
            credentials,
            access: OnceCell::new(),
            viewer,
            link_origin,
        }
    }

    /// The admitted access (gate 1: the credentials' user exists; and the settings), or the
    /// credential error as a GraphQL error. Resolved once per request.
    pub async fn access(&self) -> async_graphql::Result<Access> {
        let access = self
            .access
            .get_or_init(|| async {
                let claimed = self
                    .credentials
                    .clone()
                    .claimed(self.source.store())
                    .await?;
                let access = core::identify(&self.source, claimed).await?;
                self.viewer.set(access.viewer);
                Ok(access)
            })
            .await;
        // `ApiError::extend` by name: `&Arc<ApiError>` would pick async-graphql's blanket
        // `ErrorExtensions for &E` (no `extensions.code`).
        access.as_ref().copied().map_err(|e| ApiError::extend(e))
    }
}

impl RequestContext {
    /// The viewer and the access, for what requires credentials whatever
    /// `content_availability` says (the lifecycle): UNAUTHENTICATED when anonymous.
    pub async fn viewer_required(&self) -> async_graphql::Result<(i64, Access)> {
        let access = self.access().await?;
        match access.viewer {
            Some(viewer) => Ok((viewer, access)),
            None => Err(ApiError::NotAuthenticated.extend()),
        }
    }

    /// Forgets what the loaders cached: a live subscription serves many events with one
    /// context, and each must read the data as it is when it is delivered.
    pub fn forget(&self) {
        self.users.clear::<i64>();
        self.tags.clear::<i64>();
        self.statuses.clear::<i64>();
        self.pages.clear::<PageKey>();
    }
}

/// The resolvers' reads. While the graph cache serves, each goes straight to its loader: an
/// in-memory read gains nothing from a batching window, and the window's timer (a thread of
/// its own), task and channel cost a GraphQL page about a fifth of its CPU (measured with
/// `perf`, bench/RESULTS.md). Otherwise they batch through the DataLoaders, so an operation
/// costs a fixed number of SQL statements however many users it lists.
impl RequestContext {
    pub async fn user(&self, id: i64) -> Result<Option<Arc<UserRecord>>, LoadError> {
        match self.source.from_memory() {
            true => Ok(self.load_users(&[id]).await?.remove(&id)),
            false => self.users.load_one(id).await,
        }
    }

    pub async fn users(&self, ids: Vec<i64>) -> Result<HashMap<i64, Arc<UserRecord>>, LoadError> {
        match self.source.from_memory() {
            true => self.load_users(&ids).await,
            false => self.users.load_many(ids).await,
        }
    }

    pub async fn page(&self, key: PageKey) -> Result<Option<Arc<Page>>, LoadError> {
        match self.source.from_memory() {
            true => Ok(self.load_pages(&[key]).await?.remove(&key)),
            false => self.pages.load_one(key).await,
        }
    }

    pub async fn tags(&self, id: i64) -> Result<Option<Vec<TagRecord>>, LoadError> {
        match self.source.from_memory() {
            true => Ok(self.load_tags(&[id]).await?.remove(&id)),
            false => self.tags.load_one(id).await,
        }
    }

    /// Statuses a page read with its users: the status loader need not ask again (the
    /// direct reads from memory have no loader cache to feed).
    pub async fn remember_statuses(&self, statuses: Vec<(i64, Option<ConnectionStatus>)>) {
        if !self.source.from_memory() {
            self.statuses.feed_many(statuses).await;
        }
    }

    pub async fn status(&self, id: i64) -> Result<Option<Option<ConnectionStatus>>, LoadError> {
        match self.source.from_memory() {
            true => Ok(self.load_statuses(&[id]).await?.remove(&id)),
            false => self.statuses.load_one(id).await,
        }
    }
}

/// Reads straight from the loaders, with no batching window: what the resolvers do while
/// the graph cache serves, and what the compiled path (`graphql::plan`) always does, as it
/// gathers the keys of a whole level of the operation itself (one statement, or one pass
/// over the graph cache, for all of them).
impl RequestContext {
    pub async fn load_users(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Arc<UserRecord>>, LoadError> {
        self.users.loader().load(ids).await
    }

    pub async fn load_tags(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<TagRecord>>, LoadError> {
        self.tags.loader().load(ids).await
    }

    pub async fn load_statuses(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Option<ConnectionStatus>>, LoadError> {
        self.statuses.loader().load(ids).await
    }

    pub async fn load_pages(
        &self,
        keys: &[PageKey],
    ) -> Result<HashMap<PageKey, Arc<Page>>, LoadError> {
        self.pages.loader().load(keys).await
    }
}
