//! Pages of connections in the API's order: mutual with the viewer first, then `connected_at`
//! newest first, then user id; with each owner's count under the `mutual` filter. One SQL
//! statement per call, whatever the number of owners.
//!
//! Two statement shapes, because one owner and many owners have different costs:
//!
//! - **One owner** (every REST request, a top-level GraphQL page) reads only what the page
//!   needs: the mutual set (the owner's and the viewer's lists intersected, small), the first
//!   `offset + limit` non-mutual connections straight off `ix_connections_order` (already in
//!   the API's order, so the scan stops early), and the two counts. A popular owner with
//!   thousands of connections costs a few hundred index entries, not a sort of all of them.
//! - **Several owners** (a nested GraphQL page, `users(ids:)`) number each owner's list with
//!   window functions partitioned by owner. Neither SQLite nor MariaDB has `LATERAL`, which the
//!   one-owner shape would need per owner; nested owners are ordinary users with short lists,
//!   for which the sort is cheap.
//!
//! Both shapes carry the requests between the viewer and each listed user (the ones the
//! statuses count: the viewer's, pending or rejected, and the listed user's pending one), so
//! the page's connection statuses cost no statement of their own.
//!
//! Raw SQL because an entity query cannot say this: one statement per page with its counts
//! and statuses, and window / `NOT IN` shapes chosen per backend (measured). The listed users
//! are still the user entity's models: their columns come from the entity
//! (`records::user_select_list`) and are read back by position (`records::user_from_row`).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Value};

use super::db::Store;
use super::queries::{ConnectionPageRows, Direction, EdgeKey, Keyset, PageRow, PageSpec, Relation};
use super::records::{int, opt_int, user_from_row, user_select_list};
use super::sql::Sql;

/// `offset` and `offset + limit`, bounded so the arithmetic and the bound values stay within
/// BIGINT.
fn window(spec: PageSpec) -> (i64, i64) {
    let offset = spec.offset.min(i64::MAX as u64 / 2) as i64;
    let limit = spec.limit.min(i64::MAX as u64 / 2) as i64;
    (offset, offset.saturating_add(limit))
}

impl Store {
    /// One page of connections for each of `owners`, with each owner's count under the filter.
    /// An owner with no connections may be absent from the map (the several-owners statement
    /// returns no row for it) or present with count 0. With `records` false the rows
    /// carry the listed users' ids without their records (no join with `users`): for a
    /// caller that needs only ids, a page of a thousand users is then a third of the work.
    pub async fn connection_pages(
        &self,
        viewer: Option<i64>,
        owners: &[i64],
        spec: PageSpec,
        records: bool,
    ) -> Result<HashMap<i64, ConnectionPageRows>, DbErr> {
        match (owners, spec.keyset) {
            ([], _) => Ok(HashMap::new()),
            ([owner], None) => {
                let page = self.owner_page(viewer, *owner, spec, records).await?;
                Ok(HashMap::from([(*owner, page)]))
            }
            ([owner], Some(keyset)) => {
                let page = self
                    .owner_keyset_page(viewer, *owner, spec, keyset, records)
                    .await?;
                Ok(HashMap::from([(*owner, page)]))
            }
            // A cursor names the one list it came from: several owners with the same place
            // do not happen (core refuses a cursor on another list), but stay correct.
            (_, Some(keyset)) if keyset.from.is_some() => {
                let mut pages = HashMap::new();
                for owner in owners {
                    let page = self
                        .owner_keyset_page(viewer, *owner, spec, keyset, records)
                        .await?;
                    pages.insert(*owner, page);
                }
                Ok(pages)
            }
            _ => self.owners_pages(viewer, owners, spec, records).await,
        }
    }

    /// The one-owner statement (see the module comment).
    async fn owner_page(
        &self,
        viewer: Option<i64>,
        owner: i64,
        spec: PageSpec,
        records: bool,
    ) -> Result<ConnectionPageRows, DbErr> {
        let (offset, end) = window(spec);
        // An anonymous viewer binds NULL: `v.user_id = NULL` never holds, so nothing is mutual.
        let viewer = Value::BigInt(viewer);
        let mut sql = Sql::new(self.backend());
        push_mutual_set(&mut sql, viewer.clone(), owner);
        // Positions are 1-based over the filtered list: the mutual rows come first, so the
        // non-mutual rows start after the mutual count unless the filter drops the mutual ones.
        if spec.mutual != Some(false) {
            sql.push(
                "SELECT friend_id, connected_at_us, 1 AS mutual, pos FROM (SELECT friend_id, \
                 connected_at_us, \
                 ROW_NUMBER() OVER (ORDER BY connected_at_us DESC, friend_id) AS pos FROM m) x \
                 WHERE pos > ",
            )
            .bind(offset)
            .push(" AND pos <= ")
            .bind(end);
        }
        if spec.mutual.is_none() {
            sql.push(" UNION ALL ");
        }
        if spec.mutual != Some(true) {
            let first = match spec.mutual {
                None => "(SELECT COUNT(*) FROM m) + ",
                _ => "",
            };
            sql.push(
                "SELECT friend_id, connected_at_us, 0 AS mutual, pos FROM (SELECT friend_id, \
                 connected_at_us, ",
            )
            .push(first)
            .push(
                "ROW_NUMBER() OVER (ORDER BY connected_at_us DESC, friend_id) AS pos \
                     FROM (SELECT friend_id, connected_at_us FROM connections WHERE user_id = ",
            )
            .bind(owner)
            // NOT IN over the (materialized, small) mutual set: PostgreSQL hashes it once and
            // keeps walking the index in order; NOT EXISTS would turn into an anti-join that
            // reads the owner's whole list.
            .push(
                " AND friend_id NOT IN (SELECT friend_id FROM m) \
                     ORDER BY connected_at_us DESC, friend_id LIMIT ",
            )
            .bind(end)
            .push(") n) y WHERE pos > ")
            .bind(offset)
            .push(" AND pos <= ")
            .bind(end);
        }
        push_counted_rows(&mut sql, owner, viewer, records, "p.pos", true);
        sql.push(" ORDER BY p.pos");

        let mut page = ConnectionPageRows::default();
        for row in self.reader().query_all(sql.build()).await? {
            page.count = filtered_count(&row, spec.mutual)?;
            if opt_int(&row, "pos")?.is_some() {
                let connected = int(&row, "mutual")? == 1;
                page.rows.push(page_row(&row, connected, records)?);
            }
        }
        Ok(page)
    }

    /// The one-owner keyset statement: the page's rows on one side of the place, and one row
    /// on the other side (`beyond`), each part of the list read by its own `LIMIT`ed range
    /// of `ix_connections_order` (or of the mutual set) starting at the place. A page deep in
    /// a hub's list then costs what the first page costs; an offset page there walks every
    /// entry before it.
    async fn owner_keyset_page(
        &self,
        viewer: Option<i64>,
        owner: i64,
        spec: PageSpec,
        keyset: Keyset,
        records: bool,
    ) -> Result<ConnectionPageRows, DbErr> {
        let limit = spec.limit.min(i64::MAX as u64 / 2) as i64;
        let viewer = Value::BigInt(viewer);
        let mut sql = Sql::new(self.backend());
        push_mutual_set(&mut sql, viewer.clone(), owner);
        let segments = segments(spec.mutual, keyset);
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            let rows = match segment.beyond {
                true => 1,
                false => limit,
            };
            push_segment(&mut sql, owner, segment, rows, i);
        }
        if segments.is_empty() {
            sql.push(
                "SELECT friend_id, connected_at_us, 0 AS mutual, 0 AS beyond \
                 FROM connections WHERE 1 = 0",
            );
        }
        push_counted_rows(&mut sql, owner, viewer, records, "p.beyond", keyset.counted);

        let mut page = ConnectionPageRows::default();
        for row in self.reader().query_all(sql.build()).await? {
            page.count = filtered_count(&row, spec.mutual)?;
            if opt_int(&row, "listed_id")?.is_none() {
                continue;
            }
            match int(&row, "beyond")? == 1 {
                true => page.beyond = true,
                false => {
                    let connected = int(&row, "mutual")? == 1;
                    page.rows.push(page_row(&row, connected, records)?);
                }
            }
        }
        // Each part was read in its own order; the page is the `limit` nearest the place.
        page.rows.sort_by(|a, b| a.key().order(&b.key()));
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        if page.rows.len() > keep {
            match keyset.direction {
                Direction::Forward => page.rows.truncate(keep),
                Direction::Backward => {
                    page.rows.drain(..page.rows.len() - keep);
                }
            }
        }
        Ok(page)
    }

    /// The several-owners statement (see the module comment). The row numbered 1 of each owner
    /// is always returned so that its count survives an offset past the end of its list.
    async fn owners_pages(
        &self,
        viewer: Option<i64>,
        owners: &[i64],
        spec: PageSpec,
        records: bool,
    ) -> Result<HashMap<i64, ConnectionPageRows>, DbErr> {
        let (offset, end) = window(spec);
        // A backward page without a place (Relay's `last` alone) numbers each list from its
        // end; its rows are put back in the API's order below.
        let backward = spec
            .keyset
            .is_some_and(|k| k.direction == Direction::Backward);
        let order = match backward {
            false => "CASE WHEN v.friend_id IS NULL THEN 1 ELSE 0 END, c.connected_at_us DESC, c.friend_id",
            true => "CASE WHEN v.friend_id IS NULL THEN 1 ELSE 0 END DESC, c.connected_at_us, c.friend_id DESC",
        };
        let viewer = Value::BigInt(viewer);
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT ")
            .push(user_columns(records))
            .push(
                ", p.friend_id AS listed_id, p.connected_at_us, p.owner_id, p.total, p.rn, \
                 p.mutual_with, \
                 sr.from_user_id AS sent_by_viewer, rr.to_user_id AS received_by_viewer \
                 FROM (SELECT c.user_id AS owner_id, c.friend_id, c.connected_at_us, \
                 v.friend_id AS mutual_with, ROW_NUMBER() OVER (PARTITION BY c.user_id ORDER BY ",
            )
            .push(order)
            .push(
                ") AS rn, COUNT(*) OVER (PARTITION BY c.user_id) AS total \
             FROM connections c LEFT JOIN connections v ON v.user_id = ",
            )
            .bind(viewer.clone())
            .push(" AND v.friend_id = c.friend_id WHERE c.user_id")
            .in_list(owners);
        match spec.mutual {
            Some(true) => sql.push(" AND v.friend_id IS NOT NULL"),
            Some(false) => sql.push(" AND v.friend_id IS NULL"),
            None => &mut sql,
        };
        sql.push(") p");
        if records {
            sql.push(" JOIN users u ON u.id = p.friend_id");
        }
        push_request_joins(&mut sql, viewer);
        sql.push(" WHERE p.rn = 1 OR (p.rn > ")
            .bind(offset)
            .push(" AND p.rn <= ")
            .bind(end)
            .push(") ORDER BY p.owner_id, p.rn");

        let mut pages: HashMap<i64, ConnectionPageRows> = HashMap::new();
        for row in self.reader().query_all(sql.build()).await? {
            let page = pages.entry(int(&row, "owner_id")?).or_default();
            page.count = int(&row, "total")?.max(0) as u64;
            let rn = int(&row, "rn")?;
            if rn > offset && rn <= end {
                let connected = opt_int(&row, "mutual_with")?.is_some();
                page.rows.push(page_row(&row, connected, records)?);
            }
        }
        if backward {
            for page in pages.values_mut() {
                page.rows.reverse();
            }
        }
        Ok(pages)
    }
}

/// `WITH m AS (…), p AS (`: the owner's connections that are also the viewer's (none for an
/// anonymous viewer, who binds NULL: `v.user_id = NULL` never holds). Materialized: the
/// mutual set is read several times (its rows, its count, and to exclude it from the
/// non-mutual scans). MySQL and MariaDB have no such keyword; there the optimizer decides (a
/// matter of speed only).
fn push_mutual_set(sql: &mut Sql, viewer: Value, owner: i64) {
    let materialized = match sql.backend() {
        DatabaseBackend::MySql => "",
        _ => "MATERIALIZED ",
    };
    sql.push("WITH m AS ")
        .push(materialized)
        .push(
            "(SELECT c.friend_id, c.connected_at_us FROM connections c \
             JOIN connections v ON v.user_id = ",
        )
        .bind(viewer)
        .push(" AND v.friend_id = c.friend_id WHERE c.user_id = ")
        .bind(owner)
        .push("), p AS (");
}

/// `) SELECT …`: the rows of `p` with the listed users (and their records) and the requests
/// that count for their statuses, after one row of the owner's two counts, so that even an
/// empty page (past the end, no connections) answers the counts. `extra`: one more column
/// of `p` the caller reads. Without `counted`, both counts read 0 (nothing is counted).
fn push_counted_rows(
    sql: &mut Sql,
    owner: i64,
    viewer: Value,
    records: bool,
    extra: &str,
    counted: bool,
) {
    sql.push(") SELECT ")
        .push(user_columns(records))
        .push(", p.friend_id AS listed_id, p.connected_at_us, p.mutual, ")
        .push(extra)
        .push(
            ", k.total, k.mutuals, \
             sr.from_user_id AS sent_by_viewer, rr.to_user_id AS received_by_viewer FROM ",
        );
    match counted {
        true => sql
            .push("(SELECT (SELECT COUNT(*) FROM connections WHERE user_id = ")
            .bind(owner)
            .push(") AS total, (SELECT COUNT(*) FROM m) AS mutuals) k"),
        false => sql.push("(SELECT 0 AS total, 0 AS mutuals) k"),
    };
    sql.push(" LEFT JOIN p ON 1 = 1");
    if records {
        sql.push(" LEFT JOIN users u ON u.id = p.friend_id");
    }
    push_request_joins(sql, viewer);
}

/// The count under the `mutual` filter, from a row of `push_counted_rows`.
fn filtered_count(row: &QueryResult, mutual: Option<bool>) -> Result<u64, DbErr> {
    let total = int(row, "total")?.max(0) as u64;
    let mutuals = int(row, "mutuals")?.max(0) as u64;
    Ok(match mutual {
        None => total,
        Some(true) => mutuals,
        Some(false) => total.saturating_sub(mutuals),
    })
}

/// One part of a keyset statement: a range of the mutual set or of the other connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    mutual: bool,
    /// The part's connections on one side of a place, or all of them.
    range: Option<Range>,
    /// Read from the end of the range backwards (the rows nearest the place first).
    backward: bool,
    /// The row tells only whether the list goes on beyond the place (`ConnectionPageRows`).
    beyond: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    key: EdgeKey,
    /// After the place (else before it).
    after: bool,
    /// The place's own connection included.
    inclusive: bool,
}

/// The parts a keyset page reads. A mutual place has every other connection after it; a
/// place among the others has every mutual one before it.
fn segments(filter: Option<bool>, keyset: Keyset) -> Vec<Segment> {
    let forward = keyset.direction == Direction::Forward;
    let part = |mutual: bool, range: Option<Range>, beyond: bool| Segment {
        mutual,
        range,
        // Beyond rows are read nearest the place too: either order finds one.
        backward: forward == beyond,
        beyond,
    };
    let mut parts = Vec::new();
    match keyset.from {
        None => parts.extend([part(true, None, false), part(false, None, false)]),
        Some(key) => {
            let page = Range {
                key,
                after: forward,
                inclusive: false,
            };
            let beyond = Range {
                key,
                after: !forward,
                inclusive: true,
            };
            // The parts entirely on one side of a place.
            let whole_after = |mutual: bool| key.mutual && !mutual;
            for mutual in [true, false] {
                let (page_part, beyond_part) = match (key.mutual == mutual, whole_after(mutual)) {
                    // The place's own part: split by it.
                    (true, _) => (Some(Some(page)), Some(Some(beyond))),
                    // Wholly after the place.
                    (false, true) => match forward {
                        true => (Some(None), None),
                        false => (None, Some(None)),
                    },
                    // Wholly before it.
                    (false, false) => match forward {
                        true => (None, Some(None)),
                        false => (Some(None), None),
                    },
                };
                if let Some(range) = page_part {
                    parts.push(part(mutual, range, false));
                }
                if let Some(range) = beyond_part {
                    parts.push(part(mutual, range, true));
                }
            }
        }
    }
    parts.retain(|s| filter.is_none_or(|only_mutual| only_mutual == s.mutual));
    parts
}

/// `SELECT * FROM (…) s<i>`: a segment's rows, `rows` of them, nearest its place first.
fn push_segment(sql: &mut Sql, owner: i64, segment: &Segment, rows: i64, i: usize) {
    sql.push("SELECT * FROM (SELECT friend_id, connected_at_us, ")
        .push(if segment.mutual { "1" } else { "0" })
        .push(" AS mutual, ")
        .push(if segment.beyond { "1" } else { "0" })
        .push(" AS beyond FROM ");
    match segment.mutual {
        true => sql.push("m WHERE 1 = 1"),
        false => sql
            .push("connections WHERE user_id = ")
            .bind(owner)
            // As in the offset statement: NOT IN over the small materialized set keeps the
            // walk of the index in order.
            .push(" AND friend_id NOT IN (SELECT friend_id FROM m)"),
    };
    if let Some(range) = segment.range {
        let at = range.key.connected_at_us;
        // The first comparison bounds the index range; the second settles the ties on
        // `connected_at`, which the index orders by id ascending.
        let (bound, strict, tie) = match (range.after, range.inclusive) {
            (true, false) => ("<=", "<", ">"),
            (true, true) => ("<=", "<", ">="),
            (false, false) => (">=", ">", "<"),
            (false, true) => (">=", ">", "<="),
        };
        sql.push(" AND connected_at_us ")
            .push(bound)
            .push(" ")
            .bind(at)
            .push(" AND (connected_at_us ")
            .push(strict)
            .push(" ")
            .bind(at)
            .push(" OR friend_id ")
            .push(tie)
            .push(" ")
            .bind(range.key.id)
            .push(")");
    }
    sql.push(match segment.backward {
        false => " ORDER BY connected_at_us DESC, friend_id LIMIT ",
        true => " ORDER BY connected_at_us, friend_id DESC LIMIT ",
    })
    .bind(rows)
    .push(") s")
    .push(&i.to_string());
}

/// Joins the requests between the viewer and each listed user (`p.friend_id`) that count for
/// the status: `sr`, the viewer's request to them, pending or rejected (it still exists and
/// still reads `sent_connection_request`); `rr`, their request to the viewer, only while
/// pending (one the viewer rejected no longer counts).
fn push_request_joins(sql: &mut Sql, viewer: Value) {
    sql.push(" LEFT JOIN connection_requests sr ON sr.from_user_id = ")
        .bind(viewer.clone())
        .push(
            " AND sr.to_user_id = p.friend_id LEFT JOIN connection_requests rr ON rr.to_user_id = ",
        )
        .bind(viewer)
        .push(" AND rr.from_user_id = p.friend_id AND rr.rejected_at_us IS NULL");
}

/// The leading columns of a page statement: the listed user's record (`user_select_list`:
/// the user entity's columns, in its field order, read back by position), or without records
/// a placeholder column that keeps the rest of the select list in place.
fn user_columns(records: bool) -> &'static str {
    match records {
        true => user_select_list(),
        false => "NULL AS no_record",
    }
}

/// A listed user and how the viewer relates to them.
fn page_row(row: &QueryResult, connected: bool, records: bool) -> Result<PageRow, DbErr> {
    Ok(PageRow {
        id: int(row, "listed_id")?,
        user: match records {
            true => Some(std::sync::Arc::new(user_from_row(row)?)),
            false => None,
        },
        relation: Relation {
            connected,
            sent_request: opt_int(row, "sent_by_viewer")?.is_some(),
            received_request: opt_int(row, "received_by_viewer")?.is_some(),
        },
        connected_at_us: int(row, "connected_at_us")?,
    })
}
