//! What a resolver knows of the request it serves: the viewer (admitted once, by the first
//! resolver that needs it) and the request's DataLoaders.

use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::ErrorExtensions;
use tokio::sync::OnceCell;

use crate::auth::{self, Credential};
use crate::config::Config;
use crate::core::{
    self, Access, ConnectionPageLoader, StatusLoader, TagLoader, UserLoader, Viewer,
};
use crate::error::ApiError;
use crate::cache::Source;

/// Everything a resolver needs about the request it serves.
pub struct RequestContext {
    pub source: Source,
    pub config: Arc<Config>,
    /// The credentials as the `Authorization` header gave them (checked for form and
    /// signature, not yet against the database).
    credential: Result<Option<Credential>, Arc<ApiError>>,
    /// The admitted viewer and settings, resolved by the first resolver that needs them, so a
    /// document that fails validation costs no SQL.
    access: OnceCell<Result<Access, Arc<ApiError>>>,
    viewer: Viewer,
    /// Scheme + host (or the public base URL) for REST links.
    pub link_origin: String,
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub tags: DataLoader<TagLoader, HashMapCache>,
    /// Fed by each connection page (which reads its users' statuses), so listed users cost
    /// no status statement.
    pub statuses: DataLoader<StatusLoader, HashMapCache>,
    pub pages: DataLoader<ConnectionPageLoader, HashMapCache>,
}

impl RequestContext {
    pub fn new(
        source: Source,
        config: Arc<Config>,
        credential: Result<Option<Credential>, ApiError>,
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
            credential: credential.map_err(Arc::new),
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
                let credential = self.credential.clone()?;
                let claimed = auth::claimed_user(credential, self.source.store()).await?;
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
