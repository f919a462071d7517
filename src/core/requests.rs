//! The request lists (routes 10 and 11, `docs/rest.md`, "Request lists"): a page of the
//! viewer's received (pending) or sent (pending and rejected) requests, each with both users'
//! records, tags and statuses relative to the viewer, the list's count and where the next and
//! previous pages start.

use std::sync::Arc;

use super::gates::Access;
use super::links::{self, Position};
use super::pages::Offset;
use super::status::ConnectionStatus;
use crate::cache::Source;
use crate::error::ApiError;
use crate::store::faults::retry_once;
use crate::store::{RequestBox, RequestRow, TagRecord, UserRecord};

/// A user of a listed request, as the request list shows it.
#[derive(Clone, Debug)]
pub struct RequestUser {
    pub record: Arc<UserRecord>,
    pub tags: Vec<TagRecord>,
    /// Relative to the viewer (the viewer itself: none).
    pub status: Option<ConnectionStatus>,
}

/// A listed request.
#[derive(Clone, Debug)]
pub struct ListedRequest {
    pub id: i64,
    pub from_user: RequestUser,
    pub to_user: RequestUser,
    /// Epoch microseconds, UTC.
    pub created_us: i64,
    pub rejected_us: Option<i64>,
    pub viewed_us: Option<i64>,
}

/// A finished page of a request list.
#[derive(Clone, Debug)]
pub struct RequestPage {
    pub count: u64,
    pub limit: u64,
    /// Where the next page starts; None on the last page.
    pub next: Option<Position>,
    /// Where the previous page starts; None on the first page.
    pub previous: Option<Position>,
    pub results: Vec<ListedRequest>,
}

/// The page of `list` of the viewer of `access` from `offset`, `limit` requests long (cut to
/// 1..=`max_limit`). The doors check authentication and friendship mode first.
pub async fn request_page(
    source: &Source,
    access: &Access,
    list: RequestBox,
    limit: u64,
    max_limit: u64,
    offset: &Offset,
) -> Result<RequestPage, ApiError> {
    let viewer = access.viewer.ok_or(ApiError::NotAuthenticated)?;
    let limit = super::pages::clamp_limit(limit, max_limit);
    let rows = retry_once(|| {
        source
            .store()
            .request_list(viewer, list, offset.saturated(), limit)
    })
    .await?;
    let (next, previous) = links::positions(limit, offset.digits(), rows.count);

    let mut ids: Vec<i64> = rows
        .rows
        .iter()
        .flat_map(|row| [row.from_user_id, row.to_user_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let others: Vec<i64> = ids.iter().copied().filter(|id| *id != viewer).collect();
    let users = retry_once(|| source.users_by_ids(&ids)).await?;
    let tags = retry_once(|| source.visible_tags(&ids)).await?;
    let relations = retry_once(|| source.relations(viewer, &others)).await?;
    let user = |id: i64| {
        let record = users.get(&id)?.clone();
        let relation = relations.get(&id).copied().unwrap_or_default();
        Some(RequestUser {
            record,
            tags: tags.get(&id).cloned().unwrap_or_default(),
            status: ConnectionStatus::of(Some(viewer), id, relation),
        })
    };
    let results = rows
        .rows
        .iter()
        // A user deleted (for good) between the statements takes its requests with it.
        .filter_map(|row: &RequestRow| {
            Some(ListedRequest {
                id: row.id,
                from_user: user(row.from_user_id)?,
                to_user: user(row.to_user_id)?,
                created_us: row.created_at_us,
                rejected_us: row.rejected_at_us,
                viewed_us: row.viewed_at_us,
            })
        })
        .collect();
    Ok(RequestPage {
        count: rows.count,
        limit,
        next,
        previous,
        results,
    })
}
