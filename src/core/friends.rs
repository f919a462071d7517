//! Cursor pages of a user's connections (GraphQL's `friends`, a Relay connection): the same
//! list as `pages`, in the same order and under the same gates, read from a place in the list
//! instead of from an offset (`docs/cursors.md`).
//!
//! A cursor is the key of its edge (`EdgeKey`: mutual or not, `connected_at`, the listed
//! user), so `after: C` continues right after C's place however the list changed since; if
//! C's own connection was removed, the page still starts where C would be. It also names the
//! list it came from (the owner, the viewer it was read for, the `mutual` filter), so a
//! cursor used on another list is refused rather than misread.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::loaders::{Page, PageKey};
use super::pages::clamp_limit;
use super::status::ConnectionStatus;
use crate::error::ApiError;
use crate::store::{Direction, EdgeKey, Keyset, PageSpec, TagRecord, UserRecord};

/// The version written first in every cursor: a cursor of another version is refused.
const VERSION: &str = "f1";

/// The list a page is read from: its owner, the viewer it is ordered for (None: anonymous)
/// and the `mutual` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FriendList {
    pub owner: i64,
    pub viewer: Option<i64>,
    pub mutual: Option<bool>,
}

impl FriendList {
    /// The opaque cursor of `key` in this list.
    pub fn cursor(&self, key: EdgeKey) -> String {
        let viewer = self.viewer.map_or("-".to_string(), |v| v.to_string());
        let text = format!(
            "{VERSION}:{}:{viewer}:{}:{}:{}:{}",
            self.owner,
            filter_code(self.mutual),
            u8::from(key.mutual),
            key.connected_at_us,
            key.id
        );
        URL_SAFE_NO_PAD.encode(text)
    }

    /// The place `cursor` names in this list; `argument` (`after` or `before`) names it in
    /// the error.
    pub fn place(&self, argument: &'static str, cursor: &str) -> Result<EdgeKey, ApiError> {
        let invalid = |message: String| ApiError::Invalid {
            field: argument,
            message,
        };
        let text = URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid(format!("{argument} is not a cursor of this API.")))?;
        let parts: Vec<&str> = text.split(':').collect();
        let [version, owner, viewer, filter, mutual, at, id] = parts[..] else {
            return Err(invalid(format!("{argument} is not a cursor of this API.")));
        };
        if version != VERSION {
            return Err(invalid(format!(
                "{argument} is not a cursor of this API (or of an older version of it)."
            )));
        }
        let number = |text: &str| text.parse::<i64>().ok();
        let malformed = || invalid(format!("{argument} is a malformed cursor."));
        let owner = number(owner).ok_or_else(malformed)?;
        let viewer = match viewer {
            "-" => None,
            v => Some(number(v).ok_or_else(malformed)?),
        };
        let filter = match filter {
            "a" => None,
            "m" => Some(true),
            "n" => Some(false),
            _ => return Err(malformed()),
        };
        let mutual = match mutual {
            "1" => true,
            "0" => false,
            _ => return Err(malformed()),
        };
        let key = EdgeKey {
            mutual,
            connected_at_us: number(at).ok_or_else(malformed)?,
            id: number(id).ok_or_else(malformed)?,
        };
        if owner != self.owner {
            return Err(invalid(format!(
                "{argument} is a cursor of another user's friends."
            )));
        }
        if viewer != self.viewer {
            return Err(invalid(format!(
                "{argument} is a cursor of this list as another viewer sees it \
                 (mutual connections come first, and they are the viewer's)."
            )));
        }
        if filter != self.mutual {
            return Err(invalid(format!(
                "{argument} is a cursor of this list under another mutual filter."
            )));
        }
        if key.mutual && (self.viewer.is_none() || self.mutual == Some(false)) {
            return Err(malformed());
        }
        Ok(key)
    }
}

fn filter_code(mutual: Option<bool>) -> &'static str {
    match mutual {
        None => "a",
        Some(true) => "m",
        Some(false) => "n",
    }
}

/// The arguments of a Relay connection field, as the client wrote them.
#[derive(Clone, Debug, Default)]
pub struct FriendsArgs {
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

/// A cursor page to read, its arguments checked.
#[derive(Clone, Debug)]
pub struct FriendsRequest {
    pub list: FriendList,
    direction: Direction,
    /// How many edges the page holds at most (`first` or `last`, cut to the maximum).
    count: u64,
    after: Option<EdgeKey>,
    before: Option<EdgeKey>,
}

impl FriendsRequest {
    /// Checks the arguments by the Relay spec: `first` and `last` not both, neither negative;
    /// neither is `first: default_limit`; more than `max_limit` is cut to it (as `limit`).
    pub fn new(
        list: FriendList,
        args: &FriendsArgs,
        default_limit: u64,
        max_limit: u64,
    ) -> Result<FriendsRequest, ApiError> {
        let invalid = |field: &'static str, message: &str| ApiError::Invalid {
            field,
            message: message.to_string(),
        };
        let count = |field: &'static str, value: i64| match u64::try_from(value) {
            Ok(n) => Ok(n.min(max_limit.max(1))),
            Err(_) => Err(invalid(field, &format!("{field} must not be negative."))),
        };
        let (direction, count) =
            match (args.first, args.last) {
                (Some(_), Some(_)) => return Err(invalid(
                    "last",
                    "first and last cannot be used together: page forward with first and after, \
                     or backward with last and before.",
                )),
                (Some(first), None) => (Direction::Forward, count("first", first)?),
                (None, Some(last)) => (Direction::Backward, count("last", last)?),
                (None, None) => (Direction::Forward, clamp_limit(default_limit, max_limit)),
            };
        let after = args
            .after
            .as_deref()
            .map(|c| list.place("after", c))
            .transpose()?;
        let before = args
            .before
            .as_deref()
            .map(|c| list.place("before", c))
            .transpose()?;
        Ok(FriendsRequest {
            list,
            direction,
            count,
            after,
            before,
        })
    }

    /// The loader key: one edge more than the page holds, to know whether the list goes on;
    /// `counted`: whether `totalCount` is asked for.
    pub fn key(&self, with_tags: bool, with_records: bool, counted: bool) -> PageKey {
        let from = match self.direction {
            Direction::Forward => self.after,
            Direction::Backward => self.before,
        };
        PageKey {
            owner: self.list.owner,
            spec: PageSpec {
                limit: self.count + 1,
                offset: 0,
                mutual: self.list.mutual,
                keyset: Some(Keyset {
                    direction: self.direction,
                    from,
                    counted,
                }),
            },
            with_tags,
            with_records,
        }
    }
}

/// Relay's `pageInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// A listed connection of a cursor page.
pub struct FriendEdge<'a> {
    pub cursor: String,
    pub id: i64,
    pub connected_at_us: i64,
    pub is_mutual: bool,
    /// The stored record, when the page was read with records.
    pub record: Option<&'a Arc<UserRecord>>,
    /// The visible tags, when the page was read with tags.
    pub tags: Option<&'a [TagRecord]>,
    pub status: Option<ConnectionStatus>,
}

/// A finished cursor page.
pub struct FriendsPage {
    pub total_count: u64,
    pub page_info: PageInfo,
    rows: Arc<Page>,
    /// The rows of `rows` on the page.
    range: std::ops::Range<usize>,
    statuses: Vec<Option<ConnectionStatus>>,
    list: FriendList,
    with_tags: bool,
}

impl FriendsPage {
    /// The page `request` asked for, from what the loader read, by the Relay spec's
    /// algorithm: the edges between the cursors, the first `first` (or the last `last`) of
    /// them; `hasNextPage` when more follow (reading forward) or when the list goes on after
    /// `before` (reading backward), and `hasPreviousPage` the other way round.
    pub fn finish(request: &FriendsRequest, rows: Arc<Page>, with_tags: bool) -> FriendsPage {
        let keys: Vec<EdgeKey> = rows.rows.iter().map(|r| r.key()).collect();
        let after_bound = |key: &EdgeKey| {
            request
                .after
                .is_none_or(|a| a.order(key) == std::cmp::Ordering::Less)
        };
        let before_bound = |key: &EdgeKey| {
            request
                .before
                .is_none_or(|b| key.order(&b) == std::cmp::Ordering::Less)
        };
        // The loader read from one cursor; the other one, if given, cuts what it read.
        let mut start = 0;
        let mut end = keys.len();
        while start < end && !after_bound(&keys[start]) {
            start += 1;
        }
        while end > start && !before_bound(&keys[end - 1]) {
            end -= 1;
        }
        // Relay: reading forward, `hasNextPage` also holds when the list goes on after
        // `before` (seen here when `before` cut what was read), and `hasPreviousPage` when
        // it holds edges up to `after` (`beyond`); reading backward, the other way round.
        let count = usize::try_from(request.count).unwrap_or(usize::MAX);
        let more = end - start > count;
        let (has_next_page, has_previous_page) = match request.direction {
            Direction::Forward => {
                let past_before = end < keys.len();
                end = end.min(start + count);
                (more || past_before, rows.beyond)
            }
            Direction::Backward => {
                let up_to_after = start > 0;
                start = start.max(end.saturating_sub(count));
                (rows.beyond, more || up_to_after)
            }
        };
        let statuses = rows
            .rows
            .iter()
            .map(|row| ConnectionStatus::of(request.list.viewer, row.id, row.relation))
            .collect();
        let cursor = |i: usize| request.list.cursor(keys[i]);
        let page_info = PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: (start < end).then(|| cursor(start)),
            end_cursor: (start < end).then(|| cursor(end - 1)),
        };
        FriendsPage {
            total_count: rows.count,
            page_info,
            rows,
            range: start..end,
            statuses,
            list: request.list,
            with_tags,
        }
    }

    /// The edges, in the API's order.
    pub fn edges(&self) -> impl ExactSizeIterator<Item = FriendEdge<'_>> {
        self.rows.rows[self.range.clone()]
            .iter()
            .zip(&self.statuses[self.range.clone()])
            .map(|(row, status)| FriendEdge {
                cursor: self.list.cursor(row.key()),
                id: row.id,
                connected_at_us: row.connected_at_us,
                is_mutual: row.relation.connected,
                record: row.user.as_ref(),
                tags: self
                    .with_tags
                    .then(|| self.rows.tags.get(&row.id).map_or(&[][..], Vec::as_slice)),
                status: *status,
            })
    }
}
