//! A whole page of a user's connections, finished: the listed users with their statuses (and
//! tags and records when asked), the count under the `mutual` filter, and where the next and
//! previous pages start. Both doors render this and nothing else: REST as DRF JSON with
//! absolute links, GraphQL as its types (`docs/rest.md`, `docs/graphql.md`).

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::gates::Access;
use super::links::{self, Position};
use super::loaders::{ConnectionPageLoader, Page, PageKey, Viewer};
use super::status::ConnectionStatus;
use crate::cache::Source;
use crate::error::ApiError;
use crate::store::{PageSpec, TagRecord, UserRecord};

/// Where a page starts, as decimal digits: the offset a client wrote may exceed every integer
/// type (DRF's offsets are Python integers), and the `previous` link must still be exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offset(String);

impl Offset {
    pub fn zero() -> Offset {
        Offset("0".to_string())
    }

    /// `digits`: ASCII decimal digits, at least one (leading zeros are dropped).
    pub fn from_digits(digits: &str) -> Offset {
        let trimmed = digits.trim_start_matches('0');
        match trimmed.is_empty() {
            true => Offset::zero(),
            false => Offset(trimmed.to_string()),
        }
    }

    pub fn from_u64(offset: u64) -> Offset {
        Offset(offset.to_string())
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The offset for the store: past `u64` a page is past the end of any list anyway.
    pub(super) fn saturated(&self) -> u64 {
        self.0.parse().unwrap_or(u64::MAX)
    }
}

/// A page a door asks for, its values already parsed by the door's own rules.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub owner: i64,
    /// At least 1, at most the configured maximum (`new` cuts it).
    pub limit: u64,
    pub offset: Offset,
    /// `Some(true)`: only mutual connections; `Some(false)`: only non-mutual ones.
    pub mutual: Option<bool>,
}

/// A page size as both doors serve it: at least 1, at most the configured maximum. The one
/// place the cut is made (REST reads any positive number, GraphQL refuses below 1).
pub fn clamp_limit(limit: u64, max_limit: u64) -> u64 {
    limit.clamp(1, max_limit.max(1))
}

impl PageRequest {
    /// A request for `limit` connections (cut to `max_limit`) of `owner` from `offset`.
    pub fn new(
        owner: i64,
        limit: u64,
        max_limit: u64,
        offset: Offset,
        mutual: Option<bool>,
    ) -> PageRequest {
        PageRequest {
            owner,
            limit: clamp_limit(limit, max_limit),
            offset,
            mutual,
        }
    }

    /// The loader key of this page; `with_tags` / `with_records`: whether the listed users'
    /// tags and stored records are read with it.
    pub fn key(&self, with_tags: bool, with_records: bool) -> PageKey {
        PageKey {
            owner: self.owner,
            spec: PageSpec::offset(self.limit, self.offset.saturated(), self.mutual),
            with_tags,
            with_records,
        }
    }
}

/// A finished page.
#[derive(Clone, Debug)]
pub struct ConnectionPage {
    pub count: u64,
    pub limit: u64,
    /// Where the next page starts; None on the last page.
    pub next: Option<Position>,
    /// Where the previous page starts; None on the first page.
    pub previous: Option<Position>,
    rows: Arc<Page>,
    statuses: Vec<Option<ConnectionStatus>>,
    with_tags: bool,
}

/// A listed user, as the page read it.
pub struct Listed<'a> {
    pub id: i64,
    /// The stored record, when the page was read with records.
    pub record: Option<&'a Arc<UserRecord>>,
    /// The visible tags, when the page was read with tags.
    pub tags: Option<&'a [TagRecord]>,
    pub status: Option<ConnectionStatus>,
}

impl ConnectionPage {
    /// The page `request` asked for, from the rows the loader read for `viewer`.
    pub fn finish(
        request: &PageRequest,
        rows: Arc<Page>,
        viewer: Option<i64>,
        with_tags: bool,
    ) -> ConnectionPage {
        let statuses = rows
            .rows
            .iter()
            .map(|row| ConnectionStatus::of(viewer, row.id, row.relation))
            .collect();
        let (next, previous) = links::positions(request.limit, request.offset.digits(), rows.count);
        ConnectionPage {
            count: rows.count,
            limit: request.limit,
            next,
            previous,
            rows,
            statuses,
            with_tags,
        }
    }

    /// The listed users, in the API's order.
    pub fn listed(&self) -> impl ExactSizeIterator<Item = Listed<'_>> {
        self.rows
            .rows
            .iter()
            .zip(&self.statuses)
            .map(|(row, status)| Listed {
                id: row.id,
                record: row.user.as_ref(),
                tags: self
                    .with_tags
                    .then(|| self.rows.tags.get(&row.id).map_or(&[][..], Vec::as_slice)),
                status: *status,
            })
    }
}

/// One page, read at once (no batching window): what a REST request needs.
pub async fn load(
    source: &Source,
    access: &Access,
    request: &PageRequest,
    with_tags: bool,
    with_records: bool,
) -> Result<ConnectionPage, ApiError> {
    let key = request.key(with_tags, with_records);
    let loader = ConnectionPageLoader {
        source: source.clone(),
        viewer: Viewer::known(access.viewer),
    };
    let rows = loader.load(&[key]).await?.remove(&key).unwrap_or_default();
    Ok(ConnectionPage::finish(
        request,
        rows,
        access.viewer,
        with_tags,
    ))
}
