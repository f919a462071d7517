//! What the graph cache reads: the change feed (`graph_changes`, written by the triggers of
//! the change-feed migration) and, on a miss, whole adjacency lists and requests.

use std::collections::HashMap;

use migrations::change_feed::CHANGES_TABLE;
use sea_orm::{
    Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::db::Store;
use super::records::{int, opt_int};
use super::sql::{id_in, Sql, MYSQL_MAX_LIST};
use crate::entity::{connection, connection_request};

/// One row of the change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    /// `migrations::change_feed::kind`.
    pub kind: i16,
    pub a: Option<i64>,
    pub b: Option<i64>,
}

/// A connection request, as the statuses see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestEnds {
    pub from: i64,
    pub to: i64,
    /// Declined by `to` (else pending).
    pub rejected: bool,
}

impl Store {
    /// The changes after `cursor` (at most `limit` of them) and those among `gaps` (ids
    /// skipped earlier, whose writers may commit late), in id order.
    ///
    /// Raw because the change table has no entity: it is the triggers' table, not the API's.
    /// Two statements when there are gaps, not one `id > $1 OR id IN (...)`: PostgreSQL's
    /// generic plan for the OR form (which it may switch to once a prepared statement has run
    /// a few times with long gap lists) walks the whole primary key and filters: 8 ms per poll
    /// on 100,000 retained rows instead of 0.02 ms (measured with `plan_cache_mode =
    /// force_generic_plan`); a `UNION ALL` of the two got a parallel plan costing 5 ms.
    pub async fn changes_after(
        &self,
        cursor: i64,
        gaps: &[i64],
        limit: u64,
    ) -> Result<Vec<Change>, DbErr> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT id, kind, a, b FROM ")
            .push(CHANGES_TABLE)
            .push(" WHERE id > ")
            .bind(cursor)
            .push(" ORDER BY id LIMIT ")
            .bind(limit.min(i64::MAX as u64) as i64);
        let mut changes = self.read_changes(sql).await?;
        if !gaps.is_empty() {
            let mut sql = Sql::new(self.backend());
            sql.push("SELECT id, kind, a, b FROM ")
                .push(CHANGES_TABLE)
                .push(" WHERE id")
                .in_list(gaps);
            // Gaps are below the cursor: filled ones come first.
            let mut filled = self.read_changes(sql).await?;
            filled.sort_unstable_by_key(|change| change.id);
            filled.append(&mut changes);
            changes = filled;
        }
        Ok(changes)
    }

    async fn read_changes(&self, sql: Sql) -> Result<Vec<Change>, DbErr> {
        let rows = self.connection().query_all(sql.build()).await?;
        rows.iter()
            .map(|row| {
                Ok(Change {
                    id: int(row, "id")?,
                    kind: int(row, "kind")? as i16,
                    a: opt_int(row, "a")?,
                    b: opt_int(row, "b")?,
                })
            })
            .collect()
    }

    /// The ids of the change rows from `from` up, in order (the follower's starting point:
    /// the ids missing among the last ones are writes that may still commit).
    pub async fn change_ids_from(&self, from: i64) -> Result<Vec<i64>, DbErr> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT id FROM ")
            .push(CHANGES_TABLE)
            .push(" WHERE id >= ")
            .bind(from)
            .push(" ORDER BY id");
        let rows = self.connection().query_all(sql.build()).await?;
        rows.iter().map(|row| int(row, "id")).collect()
    }

    /// The highest change id (0 when the feed is empty).
    pub async fn last_change_id(&self) -> Result<i64, DbErr> {
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT COALESCE(MAX(id), 0) AS last FROM ")
            .push(CHANGES_TABLE);
        match self.connection().query_one(sql.build()).await? {
            Some(row) => int(&row, "last"),
            None => Ok(0),
        }
    }

    /// Deletes the change rows below `below` (every follower has read them long ago).
    pub async fn prune_changes(&self, below: i64) -> Result<u64, DbErr> {
        let mut sql = Sql::new(self.backend());
        sql.push("DELETE FROM ")
            .push(CHANGES_TABLE)
            .push(" WHERE id < ")
            .bind(below);
        Ok(self
            .connection()
            .execute(sql.build())
            .await?
            .rows_affected())
    }

    /// Writes a change row that tells every follower to forget everything.
    pub async fn announce_reset(&self) -> Result<(), DbErr> {
        // Unprepared: past the metric callback.
        self.counted(1);
        self.connection()
            .execute_unprepared(&migrations::change_feed::reset_statement())
            .await
            .map(|_| ())
    }

    /// The whole connection lists of `owners`, each in the API's order (`connected_at`
    /// newest first, then id) with when each was made: one range scan of
    /// `ix_connections_order` per owner, no sort. Read where the reads go (a replica in
    /// rotation, else the primary): the feed that invalidates these entries follows the same
    /// database, so an entry is never older than the changes applied after its ticket.
    pub async fn adjacency(&self, owners: &[i64]) -> Result<HashMap<i64, Vec<(i64, i64)>>, DbErr> {
        use connection::Column;
        let mut lists: HashMap<i64, Vec<(i64, i64)>> =
            owners.iter().map(|o| (*o, Vec::new())).collect();
        for chunk in owners.chunks(self.list_chunk(owners.len())) {
            let rows: Vec<(i64, i64, i64)> = connection::Entity::find()
                .select_only()
                .columns([Column::UserId, Column::FriendId, Column::ConnectedAtUs])
                .filter(id_in(
                    self.backend(),
                    (connection::Entity, Column::UserId),
                    chunk,
                ))
                .order_by_asc(Column::UserId)
                .order_by_desc(Column::ConnectedAtUs)
                .order_by_asc(Column::FriendId)
                .into_tuple()
                .all(self.reader())
                .await?;
            for (owner, friend, at) in rows {
                lists.entry(owner).or_default().push((friend, at));
            }
        }
        Ok(lists)
    }

    /// The requests sent or received by any of `users`, pending or rejected.
    pub async fn requests_of(&self, users: &[i64]) -> Result<Vec<RequestEnds>, DbErr> {
        use connection_request::Column;
        let mut requests = Vec::new();
        for chunk in users.chunks(self.list_chunk(users.len()) / 2) {
            let found: Vec<(i64, i64, Option<i64>)> = connection_request::Entity::find()
                .select_only()
                .columns([Column::FromUserId, Column::ToUserId, Column::RejectedAtUs])
                .filter(
                    Condition::any()
                        .add(id_in(
                            self.backend(),
                            (connection_request::Entity, Column::FromUserId),
                            chunk,
                        ))
                        .add(id_in(
                            self.backend(),
                            (connection_request::Entity, Column::ToUserId),
                            chunk,
                        )),
                )
                .into_tuple()
                .all(self.reader())
                .await?;
            requests.extend(
                found
                    .into_iter()
                    .map(|(from, to, rejected_at_us)| RequestEnds {
                        from,
                        to,
                        rejected: rejected_at_us.is_some(),
                    }),
            );
        }
        Ok(requests)
    }

    /// How many ids one statement may bind: MySQL takes one placeholder per id.
    fn list_chunk(&self, len: usize) -> usize {
        match self.backend() {
            sea_orm::DatabaseBackend::MySql => MYSQL_MAX_LIST,
            _ => len.max(2),
        }
    }
}
