//! The batched read queries. Each runs exactly one SQL statement, whatever the number of ids.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};

use super::db::Store;
use super::records::{get, int, Settings, TagRecord, UserRecord, SETTINGS_ROW_ID};
use super::sql::{id_in, Sql, MYSQL_MAX_LIST};
use crate::entity::{access_token, community_settings, connection_request, tag, user, user_tag};

/// What gates a request: the settings, and whether the target and the viewer exist.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    pub settings: Settings,
    pub target_exists: bool,
    pub viewer_exists: bool,
}

/// Which page of a user's connections to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageSpec {
    pub limit: u64,
    /// Ignored by a keyset page.
    pub offset: u64,
    /// `Some(true)`: only mutual connections; `Some(false)`: only non-mutual ones.
    pub mutual: Option<bool>,
    /// A cursor page: `limit` connections on one side of a place in the list, instead of
    /// `limit` from `offset`.
    pub keyset: Option<Keyset>,
}

impl PageSpec {
    /// An offset page.
    pub fn offset(limit: u64, offset: u64, mutual: Option<bool>) -> PageSpec {
        PageSpec {
            limit,
            offset,
            mutual,
            keyset: None,
        }
    }
}

/// The place of a connection in a list in the API's order, as a cursor names it: mutual with
/// the viewer (the mutual ones come first), when it was made (newest first), the listed user
/// (ascending). Every listed connection has a distinct key, and any key, listed or not, has a
/// place: the connections before it and those after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EdgeKey {
    pub mutual: bool,
    pub connected_at_us: i64,
    pub id: i64,
}

impl EdgeKey {
    /// The API's order: `Less` when `self` is listed before `other`.
    pub fn order(&self, other: &EdgeKey) -> std::cmp::Ordering {
        other
            .mutual
            .cmp(&self.mutual)
            .then(other.connected_at_us.cmp(&self.connected_at_us))
            .then(self.id.cmp(&other.id))
    }
}

/// Which way a keyset page reads from its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The first `limit` connections after the place (None: from the start).
    Forward,
    /// The last `limit` connections before the place (None: up to the end).
    Backward,
}

/// A keyset page: where it reads from, and which way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keyset {
    pub direction: Direction,
    pub from: Option<EdgeKey>,
    /// Whether the page's count is wanted: on a miss, counting a hub's list walks all of it,
    /// which a page of 20 after a cursor otherwise does not (the count is then 0).
    pub counted: bool,
}

/// One listed connection.
#[derive(Clone, Debug)]
pub struct PageRow {
    /// The listed user's id.
    pub id: i64,
    /// The listed user's record, when the page was read with records
    /// (`Store::connection_pages`).
    pub user: Option<std::sync::Arc<UserRecord>>,
    /// How the viewer relates to the listed user (read in the same statement as the page);
    /// `relation.connected` is "mutual": the listed user is also a connection of the viewer.
    pub relation: Relation,
    /// When the owner and the listed user were connected (µs since the epoch).
    pub connected_at_us: i64,
}

impl PageRow {
    /// The row's place in the list (`EdgeKey`).
    pub fn key(&self) -> EdgeKey {
        EdgeKey {
            mutual: self.relation.connected,
            connected_at_us: self.connected_at_us,
            id: self.id,
        }
    }
}

/// One page of one user's connections, with the count under the filter.
#[derive(Clone, Debug, Default)]
pub struct ConnectionPageRows {
    pub count: u64,
    /// In the API's order (a backward keyset page too).
    pub rows: Vec<PageRow>,
    /// A keyset page read from a place: whether the list holds a connection at the place or
    /// beyond it on the other side (before it, reading forward; after it, reading backward).
    /// Relay's `hasPreviousPage` / `hasNextPage` for the side the page did not read.
    pub beyond: bool,
}

/// How the viewer relates to another user, before the API's priority rules are applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    pub connected: bool,
    /// The viewer has a request to the other user, pending or rejected.
    pub sent_request: bool,
    /// The other user has a pending request to the viewer (one the viewer rejected does not
    /// count).
    pub received_request: bool,
}

impl Store {
    /// The community settings.
    pub async fn settings(&self) -> Result<Settings, DbErr> {
        community_settings::Entity::find_by_id(SETTINGS_ROW_ID)
            .one(self.reader())
            .await?
            .map(Settings::from)
            .ok_or_else(|| DbErr::RecordNotFound("community_settings row 1".into()))
    }

    /// Settings plus the existence of `target` and `viewer`, in one statement.
    pub async fn gate(&self, target: Option<i64>, viewer: Option<i64>) -> Result<Gate, DbErr> {
        // Raw because one statement answers the settings and both existence checks: one round
        // trip per request instead of three (measured).
        let mut sql = Sql::new(self.backend());
        sql.push(
            "SELECT s.connection_enabled, s.follow_enabled, s.content_availability, \
             (SELECT COUNT(*) FROM users WHERE id = ",
        )
        .bind(target)
        .push(") AS target_exists, (SELECT COUNT(*) FROM users WHERE id = ")
        .bind(viewer)
        .push(") AS viewer_exists FROM community_settings s WHERE s.id = 1");
        let row = self
            .reader()
            .query_one(sql.build())
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("community_settings row 1".into()))?;
        Ok(Gate {
            settings: Settings {
                connection_enabled: get(&row, "connection_enabled")?,
                follow_enabled: get(&row, "follow_enabled")?,
                content_availability: get(&row, "content_availability")?,
            },
            target_exists: int(&row, "target_exists")? > 0,
            viewer_exists: int(&row, "viewer_exists")? > 0,
        })
    }

    /// The user an unexpired stored token belongs to, by the token's SHA-256 (hex), and when
    /// the token expires. The row's hash is returned too so the caller can compare it in
    /// constant time.
    pub async fn token_owner(
        &self,
        token_sha256: &str,
        now_us: i64,
    ) -> Result<Option<(String, i64, i64)>, DbErr> {
        use access_token::Column;
        access_token::Entity::find()
            .inner_join(user::Entity)
            .filter(Column::TokenSha256.eq(token_sha256))
            .filter(Column::ExpiresAtUs.gt(now_us))
            .select_only()
            .columns([Column::TokenSha256, Column::UserId, Column::ExpiresAtUs])
            .into_tuple()
            .one(self.reader())
            .await
    }

    /// Users by id; unknown ids are absent from the map.
    pub async fn users_by_ids(&self, ids: &[i64]) -> Result<HashMap<i64, UserRecord>, DbErr> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        // The ids are bound as one value (`id_in`): one statement text whatever their number.
        let users = user::Entity::find()
            .filter(id_in(self.backend(), (user::Entity, user::Column::Id), ids))
            .all(self.reader())
            .await?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }

    /// A tag by id, if it is shown (visible, active, not deleted: what `User.tags` lists).
    pub async fn shown_tag(&self, id: i64) -> Result<Option<TagRecord>, DbErr> {
        tag::Entity::find_by_id(id)
            .filter(tag::Column::Visible.eq(true))
            .filter(tag::Column::Active.eq(true))
            .filter(tag::Column::Deleted.eq(false))
            .one(self.reader())
            .await
    }

    /// A connection request by id, if `viewer` sent or received it (nobody else sees it).
    pub async fn request_of(
        &self,
        viewer: i64,
        id: i64,
    ) -> Result<Option<connection_request::Model>, DbErr> {
        use connection_request::Column;
        connection_request::Entity::find()
            .filter(Column::Id.eq(id))
            .filter(
                sea_orm::Condition::any()
                    .add(Column::FromUserId.eq(viewer))
                    .add(Column::ToUserId.eq(viewer)),
            )
            .one(self.reader())
            .await
    }

    /// The tags each user shows: visible, active and not deleted, by tag id.
    pub async fn visible_tags(
        &self,
        user_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<TagRecord>>, DbErr> {
        /// A tag and the user carrying it.
        #[derive(FromQueryResult)]
        struct OwnedTag {
            owner_id: i64,
            #[sea_orm(nested)]
            tag: TagRecord,
        }

        let mut tags: HashMap<i64, Vec<TagRecord>> = HashMap::new();
        // A page batch may list up to 100,000 users; MySQL takes one placeholder per id.
        let chunk = match self.backend() {
            DatabaseBackend::MySql => MYSQL_MAX_LIST,
            _ => user_ids.len().max(1),
        };
        for ids in user_ids.chunks(chunk) {
            // The ids are bound as one value (`id_in`): one statement text whatever their
            // number.
            let rows = tag::Entity::find()
                .join(JoinType::InnerJoin, user_tag::Relation::Tag.def().rev())
                .column_as(user_tag::Column::UserId, "owner_id")
                .filter(id_in(
                    self.backend(),
                    (user_tag::Entity, user_tag::Column::UserId),
                    ids,
                ))
                .filter(tag::Column::Visible.eq(true))
                .filter(tag::Column::Active.eq(true))
                .filter(tag::Column::Deleted.eq(false))
                .order_by_asc(user_tag::Column::UserId)
                .order_by_asc(tag::Column::Id)
                .into_model::<OwnedTag>()
                .all(self.reader())
                .await?;
            for row in rows {
                tags.entry(row.owner_id).or_default().push(row.tag);
            }
        }
        Ok(tags)
    }

    /// How `viewer` relates to each of `others`: connected, request sent (pending or
    /// rejected), pending request received.
    pub async fn relations(
        &self,
        viewer: i64,
        others: &[i64],
    ) -> Result<HashMap<i64, Relation>, DbErr> {
        let mut relations: HashMap<i64, Relation> = HashMap::new();
        if others.is_empty() {
            return Ok(relations);
        }
        // Raw because it answers from two tables in one statement (a UNION ALL of three
        // lookups): one round trip instead of three.
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT friend_id AS other_id, 1 AS kind FROM connections WHERE user_id = ")
            .bind(viewer)
            .push(" AND friend_id")
            .in_list(others)
            .push(" UNION ALL SELECT to_user_id, 2 FROM connection_requests WHERE from_user_id = ")
            .bind(viewer)
            .push(" AND to_user_id")
            .in_list(others)
            .push(" UNION ALL SELECT from_user_id, 3 FROM connection_requests WHERE to_user_id = ")
            .bind(viewer)
            .push(" AND rejected_at_us IS NULL AND from_user_id")
            .in_list(others);
        for row in self.reader().query_all(sql.build()).await? {
            let entry = relations.entry(int(&row, "other_id")?).or_default();
            match int(&row, "kind")? {
                1 => entry.connected = true,
                2 => entry.sent_request = true,
                _ => entry.received_request = true,
            }
        }
        Ok(relations)
    }
}

impl Store {
    /// Whether the database holds no users yet (a fresh install).
    pub async fn is_empty(&self) -> Result<bool, DbErr> {
        let any: Option<i64> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .limit(1)
            .into_tuple()
            .one(self.connection())
            .await?;
        Ok(any.is_none())
    }
}
