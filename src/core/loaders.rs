//! The DataLoaders: users, tags, statuses and pages of connections, each read for any number of
//! keys in a fixed number of statements. GraphQL batches through them across an operation;
//! REST calls the page loader directly for its one page.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::DbErr;

use super::status::ConnectionStatus;
use crate::cache::Source;
use crate::store::faults::retry_once;
use crate::store::{ConnectionPageRows, PageRow, PageSpec, TagRecord, UserRecord};

/// The viewer a loader answers for. GraphQL learns it only when the first resolver admits the
/// request (so a document rejected by validation runs no SQL at all); REST knows it up front.
#[derive(Clone, Debug, Default)]
pub struct Viewer(Arc<std::sync::OnceLock<Option<i64>>>);

impl Viewer {
    /// A viewer already known.
    pub fn known(viewer: Option<i64>) -> Viewer {
        let cell = Viewer::default();
        cell.set(viewer);
        cell
    }

    /// Records the admitted viewer (once; later calls keep the first value).
    pub fn set(&self, viewer: Option<i64>) {
        let _ = self.0.set(viewer);
    }

    /// The viewer; anonymous until one is recorded.
    pub fn get(&self) -> Option<i64> {
        self.0.get().copied().flatten()
    }
}

/// Loader errors must be `Clone`; the cause is kept whole for the log.
pub type LoadError = Arc<DbErr>;

/// A page of one user's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub owner: i64,
    pub spec: PageSpec,
    /// Whether the listed users' tags are read with the page (in the same batch, so a page
    /// and its tags cost one batching window, not two).
    pub with_tags: bool,
    /// Whether the listed users' records are read with the page (else the rows carry ids).
    pub with_records: bool,
}

/// A loaded page: the listed users with the viewer's relation to each, the count under the
/// filter, and the listed users' tags when the key asked for them.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub count: u64,
    pub rows: Vec<PageRow>,
    /// By user id; empty unless the key asked for tags (a user without tags may be absent).
    pub tags: HashMap<i64, Vec<TagRecord>>,
    /// A keyset page: whether the list goes on beyond its place (`ConnectionPageRows`).
    pub beyond: bool,
}

/// Pages of connections, as seen by one viewer.
pub struct ConnectionPageLoader {
    pub source: Source,
    pub viewer: Viewer,
}

impl Loader<PageKey> for ConnectionPageLoader {
    /// Shared: the loader's cache and every reader hold the same page.
    type Value = Arc<Page>;
    type Error = LoadError;

    async fn load(&self, keys: &[PageKey]) -> Result<HashMap<PageKey, Arc<Page>>, LoadError> {
        // One statement per distinct page shape (limit, offset, filter, records), whatever
        // the owners.
        let mut by_shape: HashMap<(PageSpec, bool), Vec<i64>> = HashMap::new();
        for key in keys {
            let owners = by_shape.entry((key.spec, key.with_records)).or_default();
            if !owners.contains(&key.owner) {
                owners.push(key.owner);
            }
        }
        let mut found: HashMap<Slot, ConnectionPageRows> = HashMap::new();
        for ((spec, records), owners) in by_shape {
            let viewer = self.viewer.get();
            let pages =
                retry_once(|| self.source.connection_pages(viewer, &owners, spec, records)).await?;
            found.extend(
                pages
                    .into_iter()
                    .map(|(owner, page)| ((owner, spec, records), page)),
            );
        }
        // Then one statement for the tags of every page that asked for them. Keys that differ
        // only in `with_tags` share one page (with the tags).
        let wants_tags: HashSet<Slot> = keys
            .iter()
            .filter(|key| key.with_tags)
            .map(PageKey::slot)
            .collect();
        let mut tagged: Vec<i64> = wants_tags
            .iter()
            .filter_map(|slot| found.get(slot))
            .flat_map(|page| page.rows.iter().map(|row| row.id))
            .collect();
        tagged.sort_unstable();
        tagged.dedup();
        let tags = retry_once(|| self.source.visible_tags(&tagged)).await?;

        let mut shared: HashMap<Slot, Arc<Page>> = HashMap::new();
        for key in keys {
            let slot = key.slot();
            if shared.contains_key(&slot) {
                continue;
            }
            // A user with no connections has no rows: an empty page, count 0.
            let rows = found.remove(&slot).unwrap_or_default();
            let page_tags = match wants_tags.contains(&slot) {
                true => rows
                    .rows
                    .iter()
                    .filter_map(|row| tags.get(&row.id).map(|t| (row.id, t.clone())))
                    .collect(),
                false => HashMap::new(),
            };
            let page = Page {
                count: rows.count,
                rows: rows.rows,
                tags: page_tags,
                beyond: rows.beyond,
            };
            shared.insert(slot, Arc::new(page));
        }
        Ok(keys
            .iter()
            .filter_map(|key| Some((*key, shared.get(&key.slot())?.clone())))
            .collect())
    }
}

/// A page as read from the database: owner, shape, and whether with records.
type Slot = (i64, PageSpec, bool);

impl PageKey {
    fn slot(&self) -> Slot {
        (self.owner, self.spec, self.with_records)
    }
}

/// Users by id.
pub struct UserLoader {
    pub source: Source,
}

impl Loader<i64> for UserLoader {
    /// Shared with the graph cache (no copy of a record per read).
    type Value = Arc<UserRecord>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Arc<UserRecord>>, LoadError> {
        Ok(retry_once(|| self.source.users_by_ids(keys)).await?)
    }
}

/// The tags a user shows (visible, active, not deleted; by id).
pub struct TagLoader {
    pub source: Source,
}

impl Loader<i64> for TagLoader {
    type Value = Vec<TagRecord>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<TagRecord>>, LoadError> {
        let mut tags = retry_once(|| self.source.visible_tags(keys)).await?;
        for key in keys {
            tags.entry(*key).or_default();
        }
        Ok(tags)
    }
}

/// Connection statuses relative to one viewer.
pub struct StatusLoader {
    pub source: Source,
    pub viewer: Viewer,
}

impl Loader<i64> for StatusLoader {
    type Value = Option<ConnectionStatus>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[i64],
    ) -> Result<HashMap<i64, Option<ConnectionStatus>>, LoadError> {
        let Some(viewer) = self.viewer.get() else {
            // Anonymous: no status for anyone, and no SQL.
            return Ok(keys.iter().map(|k| (*k, None)).collect());
        };
        let relations = retry_once(|| self.source.relations(viewer, keys)).await?;
        Ok(keys
            .iter()
            .map(|k| {
                let relation = relations.get(k).copied().unwrap_or_default();
                (*k, ConnectionStatus::of(Some(viewer), *k, relation))
            })
            .collect())
    }
}
