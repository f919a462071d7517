//! THE connections resolver: the rules of the API, shared by the REST route and GraphQL.
//!
//! - `admit`: the gates of a request, in the spec's order (the token's user exists → content
//!   availability → friendship mode → target exists), from one SQL statement;
//! - `ConnectionPageLoader`: pages of connections in the API's total order (mutual first,
//!   `connected_at` newest first, user id), with the count under the `mutual` filter, for any
//!   number of users in one statement per distinct page shape (and whether the listed users'
//!   records are read), plus one for the listed users' tags when asked;
//! - `ConnectionStatus::of`: the viewer-relative status of a listed user;
//! - the loaders for users, tags and statuses, so N users cost a fixed number of statements
//!   (a page's tags are read by the page loader itself, in the same batch).
//!
//! The doors only parse their input and shape their output.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::DbErr;

use crate::error::{ApiError, BAD_CREDENTIALS};
use crate::store::{
    ConnectionPageRows, Gate, PageRow, PageSpec, Relation, Settings, Store, TagRecord, UserRecord,
};

/// The target of a request, as the path or argument gave it.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// No target to check (GraphQL resolves users through the user loader).
    None,
    /// A well-formed id (it may still name no user).
    Id(i64),
    /// An id that is not a positive 64-bit integer: never found.
    Malformed,
}

/// An admitted request: who is asking and the community settings in force.
#[derive(Clone, Copy, Debug)]
pub struct Access {
    pub viewer: Option<i64>,
    pub settings: Settings,
}

/// Applies the gates of the spec in order; `claimed` is the user the credentials name.
pub async fn admit(
    store: &Store,
    claimed: Option<i64>,
    target: Target,
) -> Result<Access, ApiError> {
    let target_id = match target {
        Target::Id(id) => Some(id),
        Target::None | Target::Malformed => None,
    };
    let gate = store.gate(target_id, claimed).await?;
    let access = identified(claimed, gate)?;
    check_settings(&access)?;
    // 4. The target.
    match target {
        Target::None => Ok(access),
        Target::Id(_) if gate.target_exists => Ok(access),
        Target::Id(_) | Target::Malformed => Err(ApiError::NotFound),
    }
}

/// Gate 1 alone, for GraphQL (whose fields apply the other gates themselves): the viewer the
/// credentials name, confirmed to exist, and the settings in force.
pub async fn identify(store: &Store, claimed: Option<i64>) -> Result<Access, ApiError> {
    let gate = store.gate(None, claimed).await?;
    identified(claimed, gate)
}

/// A valid token for a user that no longer exists is a bad token.
fn identified(claimed: Option<i64>, gate: Gate) -> Result<Access, ApiError> {
    if claimed.is_some() && !gate.viewer_exists {
        return Err(ApiError::AuthenticationFailed(BAD_CREDENTIALS));
    }
    Ok(Access {
        viewer: claimed,
        settings: gate.settings,
    })
}

/// Gates 2 and 3: content availability, then friendship mode.
pub fn check_settings(access: &Access) -> Result<(), ApiError> {
    check_content(access)?;
    if !access.settings.connection_enabled {
        return Err(ApiError::PermissionDenied);
    }
    Ok(())
}

/// Gate 2 alone: anonymous requests need public content.
pub fn check_content(access: &Access) -> Result<(), ApiError> {
    if !access.settings.content_availability && access.viewer.is_none() {
        return Err(ApiError::NotAuthenticated);
    }
    Ok(())
}

/// How a listed user relates to the viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionStatus {
    /// The user and the viewer are connected.
    Connected,
    /// The viewer has sent the user a connection request that is still pending.
    SentConnectionRequest,
    /// The user has sent the viewer a connection request that is still pending.
    ReceivedConnectionRequest,
}

impl ConnectionStatus {
    /// The spec's rule: the first that holds of anonymous/self (none), connected, sent,
    /// received; otherwise none.
    pub fn of(viewer: Option<i64>, user: i64, relation: Relation) -> Option<ConnectionStatus> {
        match viewer {
            None => None,
            Some(v) if v == user => None,
            Some(_) if relation.connected => Some(ConnectionStatus::Connected),
            Some(_) if relation.sent_request => Some(ConnectionStatus::SentConnectionRequest),
            Some(_) if relation.received_request => {
                Some(ConnectionStatus::ReceivedConnectionRequest)
            }
            Some(_) => None,
        }
    }

    /// The REST spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::SentConnectionRequest => "sent_connection_request",
            ConnectionStatus::ReceivedConnectionRequest => "received_connection_request",
        }
    }
}

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
}

/// Pages of connections, as seen by one viewer.
pub struct ConnectionPageLoader {
    pub store: Store,
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
            let pages = self
                .store
                .connection_pages(self.viewer.get(), &owners, spec, records)
                .await?;
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
        let tags = self.store.visible_tags(&tagged).await?;

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
    pub store: Store,
}

impl Loader<i64> for UserLoader {
    type Value = UserRecord;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, UserRecord>, LoadError> {
        Ok(self.store.users_by_ids(keys).await?)
    }
}

/// The tags a user shows (visible, active, not deleted; by id).
pub struct TagLoader {
    pub store: Store,
}

impl Loader<i64> for TagLoader {
    type Value = Vec<TagRecord>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<TagRecord>>, LoadError> {
        let mut tags = self.store.visible_tags(keys).await?;
        for key in keys {
            tags.entry(*key).or_default();
        }
        Ok(tags)
    }
}

/// Connection statuses relative to one viewer.
pub struct StatusLoader {
    pub store: Store,
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
        let relations = self.store.relations(viewer, keys).await?;
        Ok(keys
            .iter()
            .map(|k| {
                let relation = relations.get(k).copied().unwrap_or_default();
                (*k, ConnectionStatus::of(Some(viewer), *k, relation))
            })
            .collect())
    }
}

impl From<LoadError> for ApiError {
    fn from(err: LoadError) -> Self {
        ApiError::from_db(&err).unwrap_or_else(|| ApiError::Internal(anyhow::anyhow!("{err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_priority() {
        let all = Relation {
            connected: true,
            sent_request: true,
            received_request: true,
        };
        assert_eq!(ConnectionStatus::of(None, 2, all), None);
        assert_eq!(ConnectionStatus::of(Some(2), 2, all), None);
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, all),
            Some(ConnectionStatus::Connected)
        );
        let both = Relation {
            sent_request: true,
            received_request: true,
            ..Default::default()
        };
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, both),
            Some(ConnectionStatus::SentConnectionRequest)
        );
        let received = Relation {
            received_request: true,
            ..Default::default()
        };
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, received),
            Some(ConnectionStatus::ReceivedConnectionRequest)
        );
        assert_eq!(ConnectionStatus::of(Some(1), 2, Relation::default()), None);
    }

    #[test]
    fn gates_in_order() {
        let settings = |c, a| Settings {
            connection_enabled: c,
            follow_enabled: false,
            content_availability: a,
        };
        let anon = |s| Access {
            viewer: None,
            settings: s,
        };
        let user = |s| Access {
            viewer: Some(1),
            settings: s,
        };
        assert_eq!(
            check_settings(&anon(settings(false, false)))
                .unwrap_err()
                .code(),
            "not_authenticated"
        );
        assert_eq!(
            check_settings(&user(settings(false, false)))
                .unwrap_err()
                .code(),
            "permission_denied"
        );
        assert_eq!(
            check_settings(&anon(settings(false, true)))
                .unwrap_err()
                .code(),
            "permission_denied"
        );
        assert!(check_settings(&anon(settings(true, true))).is_ok());
        assert!(check_settings(&user(settings(true, false))).is_ok());
    }
}
