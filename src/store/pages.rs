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
use super::queries::{ConnectionPageRows, PageRow, PageSpec, Relation};
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
        match owners {
            [] => Ok(HashMap::new()),
            [owner] => {
                let page = self.owner_page(viewer, *owner, spec, records).await?;
                Ok(HashMap::from([(*owner, page)]))
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
        // Materialized: the mutual set is read three times (its rows, its count, and to
        // exclude it from the non-mutual scan). MySQL and MariaDB have no such keyword; there
        // the optimizer decides (a matter of speed only).
        let materialized = match self.backend() {
            DatabaseBackend::MySql => "",
            _ => "MATERIALIZED ",
        };
        sql.push("WITH m AS ")
            .push(materialized)
            .push(
                "(SELECT c.friend_id, c.connected_at_us FROM connections c \
                 JOIN connections v ON v.user_id = ",
            )
            .bind(viewer.clone())
            .push(" AND v.friend_id = c.friend_id WHERE c.user_id = ")
            .bind(owner)
            .push("), p AS (");
        // Positions are 1-based over the filtered list: the mutual rows come first, so the
        // non-mutual rows start after the mutual count unless the filter drops the mutual ones.
        if spec.mutual != Some(false) {
            sql.push(
                "SELECT friend_id, 1 AS mutual, pos FROM (SELECT friend_id, \
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
            sql.push("SELECT friend_id, 0 AS mutual, pos FROM (SELECT friend_id, ")
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
        // One row even for an empty page (offset past the end, no connections), for the counts.
        sql.push(") SELECT ")
            .push(user_columns(records))
            .push(
                ", p.friend_id AS listed_id, k.total, k.mutuals, p.pos, p.mutual, \
                 sr.from_user_id AS sent_by_viewer, rr.to_user_id AS received_by_viewer \
                 FROM (SELECT (SELECT COUNT(*) FROM connections WHERE user_id = ",
            )
            .bind(owner)
            .push(") AS total, (SELECT COUNT(*) FROM m) AS mutuals) k LEFT JOIN p ON 1 = 1");
        if records {
            sql.push(" LEFT JOIN users u ON u.id = p.friend_id");
        }
        push_request_joins(&mut sql, viewer);
        sql.push(" ORDER BY p.pos");

        let mut page = ConnectionPageRows::default();
        for row in self.reader().query_all(sql.build()).await? {
            let total = int(&row, "total")?.max(0) as u64;
            let mutuals = int(&row, "mutuals")?.max(0) as u64;
            page.count = match spec.mutual {
                None => total,
                Some(true) => mutuals,
                Some(false) => total.saturating_sub(mutuals),
            };
            if opt_int(&row, "pos")?.is_some() {
                let connected = int(&row, "mutual")? == 1;
                page.rows.push(page_row(&row, connected, records)?);
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
        let viewer = Value::BigInt(viewer);
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT ")
            .push(user_columns(records))
            .push(
                ", p.friend_id AS listed_id, p.owner_id, p.total, p.rn, p.mutual_with, \
                 sr.from_user_id AS sent_by_viewer, rr.to_user_id AS received_by_viewer \
                 FROM (SELECT c.user_id AS owner_id, c.friend_id, v.friend_id AS mutual_with, \
             ROW_NUMBER() OVER (PARTITION BY c.user_id ORDER BY \
             CASE WHEN v.friend_id IS NULL THEN 1 ELSE 0 END, c.connected_at_us DESC, c.friend_id) AS rn, \
             COUNT(*) OVER (PARTITION BY c.user_id) AS total \
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
        Ok(pages)
    }
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
    })
}
