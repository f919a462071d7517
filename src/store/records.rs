//! The rows the API serves: the entities' models under the API's names, the settings, and the
//! positional reading of users out of the hand-tuned page statements.

use std::sync::OnceLock;

use sea_orm::{ColIdx, DbErr, IdenStatic, Iterable, QueryResult, TryGetable};

use crate::entity::user::user_fields;
use crate::entity::{community_settings, tag, user};

/// A user as stored (the `users` entity's model): every field of the API's User object but
/// `tags` and `connection_status`, which depend on other tables and on the viewer.
pub type UserRecord = user::Model;

/// A tag as stored (the `tags` entity's model).
pub type TagRecord = tag::Model;

/// The id of the one `community_settings` row.
pub const SETTINGS_ROW_ID: i32 = 1;

/// The three community-wide switches (one row in `community_settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Friendship mode: connections exist and the connections endpoint works.
    pub connection_enabled: bool,
    /// Follow mode: follower/following counters are shown.
    pub follow_enabled: bool,
    /// Content is public: anonymous requests are allowed.
    pub content_availability: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connection_enabled: true,
            follow_enabled: false,
            content_availability: true,
        }
    }
}

impl From<community_settings::Model> for Settings {
    fn from(row: community_settings::Model) -> Settings {
        Settings {
            connection_enabled: row.connection_enabled,
            follow_enabled: row.follow_enabled,
            content_availability: row.content_availability,
        }
    }
}

impl From<Settings> for community_settings::Model {
    /// The settings row (id `SETTINGS_ROW_ID`).
    fn from(s: Settings) -> community_settings::Model {
        community_settings::Model {
            id: SETTINGS_ROW_ID,
            connection_enabled: s.connection_enabled,
            follow_enabled: s.follow_enabled,
            content_availability: s.content_availability,
        }
    }
}

/// The user columns a page statement selects first, qualified by the alias `u`, generated
/// from the entity: its columns in the entity's field order (`user::Column::iter()`), which is
/// the order `user_from_row` reads them in.
pub fn user_select_list() -> &'static str {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(|| {
        user::Column::iter()
            .map(|column| format!("u.{}", column.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Reads a user from the first columns of `row` (selected by `user_select_list`). Read by
/// position, not through the entity's `FromQueryResult` (by name): a page of a thousand users
/// is 27 000 columns, and reading each by name cost a string allocation and a hash lookup.
/// Generated from `entity::user::user_fields!`: the `i`-th field of the list is the `i`-th
/// column of `user::Column::iter()`, and the struct literal names every field.
macro_rules! user_reader {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_reader!(@ $($h)* $($m)* $($t)*);
    };
    (@ $({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal, $kind:ident,
           $doc:literal, $rest:literal })*) => {
        /// The user in the first columns of `row`.
        pub fn user_from_row(row: &QueryResult) -> Result<UserRecord, DbErr> {
            let mut position = 0..;
            let mut next = || position.next().unwrap_or_default();
            Ok(UserRecord {
                $( $field: user_reader!(@read $kind, row, next())?, )*
            })
        }
    };
    // Integers of any width the backend chose; the rest as their type.
    (@read Id, $row:expr, $i:expr) => { int($row, $i) };
    (@read Count, $row:expr, $i:expr) => { int($row, $i) };
    (@read FollowCount, $row:expr, $i:expr) => { int($row, $i) };
    (@read Time, $row:expr, $i:expr) => { int($row, $i) };
    (@read OptId, $row:expr, $i:expr) => { opt_int($row, $i) };
    (@read $other:ident, $row:expr, $i:expr) => { get($row, $i) };
}
user_fields!(user_reader);

/// A column by name or position.
pub fn get<T: TryGetable>(row: &QueryResult, column: impl ColIdx) -> Result<T, DbErr> {
    row.try_get_by::<T, _>(column)
}

/// An integer column, whatever width the backend chose for it: PostgreSQL types a literal
/// as `int4`, MySQL types window functions as `BIGINT UNSIGNED`.
pub fn int(row: &QueryResult, column: impl ColIdx) -> Result<i64, DbErr> {
    if let Ok(v) = row.try_get_by::<i64, _>(column) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get_by::<i32, _>(column) {
        return Ok(v.into());
    }
    // PostgreSQL's SMALLINT (the change feed's `kind`) decodes only as i16.
    if let Ok(v) = row.try_get_by::<i16, _>(column) {
        return Ok(v.into());
    }
    let v = row.try_get_by::<u64, _>(column)?;
    i64::try_from(v).map_err(|_| DbErr::Type(format!("{column:?} out of range")))
}

/// A nullable integer column, as `int`.
pub fn opt_int(row: &QueryResult, column: impl ColIdx) -> Result<Option<i64>, DbErr> {
    if let Ok(v) = row.try_get_by::<Option<i64>, _>(column) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get_by::<Option<i32>, _>(column) {
        return Ok(v.map(Into::into));
    }
    let v = row.try_get_by::<Option<u64>, _>(column)?;
    v.map(|v| i64::try_from(v).map_err(|_| DbErr::Type(format!("{column:?} out of range"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, Statement};

    use super::*;
    use crate::store::db::Store;

    /// A user whose every column holds a different value, so a column read at the wrong
    /// position cannot go unnoticed.
    fn distinct_user() -> UserRecord {
        UserRecord {
            id: 7,
            username: "username".into(),
            real_name: "real_name".into(),
            avatar: Some("avatar".into()),
            ext_id: Some(11),
            followings_counter: 12,
            followers_counter: 13,
            posts_counter: 14,
            discussions_counter: 15,
            polls_counter: 16,
            categories_counter: 17,
            date_joined_us: 18,
            bio: "bio".into(),
            location: "location".into(),
            location_lat_lng: Some("1,2".into()),
            position_lat_lng: Some("3,4".into()),
            date_of_birth: Some("1990-01-02".into()),
            description: "description".into(),
            gender: "female".into(),
            website: "website".into(),
            cover: Some("cover".into()),
            reputation: 19,
            community_badge: true,
            reg_approved: false,
            deleted: true,
            company_name: "company_name".into(),
            company_role: "company_role".into(),
        }
    }

    #[tokio::test]
    async fn positional_read_matches_the_entity() {
        let store = Store::connect("sqlite::memory:", 1).await.expect("connect");
        store.migrate().await.expect("migrate");
        let user = distinct_user();
        user::Entity::insert(user.clone().into_active_model())
            .exec_without_returning(store.connection())
            .await
            .expect("insert");
        let sql = format!("SELECT {} FROM users u", user_select_list());
        let row = store
            .connection()
            .query_one(Statement::from_string(store.backend(), sql))
            .await
            .expect("select")
            .expect("a row");
        assert_eq!(user_from_row(&row).expect("read"), user);
        let by_entity = user::Entity::find_by_id(user.id)
            .one(store.connection())
            .await
            .expect("find");
        assert_eq!(by_entity, Some(user));
    }
}
