//! The rows the API serves, decoded from query results.

use sea_orm::{ColIdx, DbErr, QueryResult, TryGetable};

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

/// A user as stored: every field of the API's User object but `tags` and
/// `connection_status`, which depend on other tables and on the viewer.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub real_name: String,
    pub avatar: Option<String>,
    pub ext_id: Option<i64>,
    pub followings_counter: i64,
    pub followers_counter: i64,
    pub posts_counter: i64,
    pub discussions_counter: i64,
    pub polls_counter: i64,
    pub categories_counter: i64,
    pub date_joined_us: i64,
    pub bio: String,
    pub location: String,
    pub location_lat_lng: Option<String>,
    pub position_lat_lng: Option<String>,
    pub date_of_birth: Option<String>,
    pub description: String,
    pub gender: String,
    pub website: String,
    pub cover: Option<String>,
    pub reputation: i64,
    pub community_badge: bool,
    pub reg_approved: bool,
    pub deleted: bool,
    pub company_name: String,
    pub company_role: String,
}

/// The column list that `UserRecord::from_row` reads, qualified by the alias `u`. It must come
/// first in the select list: `from_row` reads by position, because a page of a thousand users
/// is 27 000 columns, and reading each by name cost a string allocation and a hash lookup.
pub const USER_COLUMNS: &str = "u.id, u.username, u.real_name, u.avatar, u.ext_id, \
    u.followings_counter, u.followers_counter, u.posts_counter, u.discussions_counter, \
    u.polls_counter, u.categories_counter, u.date_joined_us, u.bio, u.location, \
    u.location_lat_lng, u.position_lat_lng, u.date_of_birth, u.description, u.gender, \
    u.website, u.cover, u.reputation, u.community_badge, u.reg_approved, u.deleted, \
    u.company_name, u.company_role";

impl UserRecord {
    /// The user in the first columns of `row` (see `USER_COLUMNS`).
    pub fn from_row(row: &QueryResult) -> Result<UserRecord, DbErr> {
        Ok(UserRecord {
            id: int(row, 0)?,
            username: get(row, 1)?,
            real_name: get(row, 2)?,
            avatar: get(row, 3)?,
            ext_id: get(row, 4)?,
            followings_counter: int(row, 5)?,
            followers_counter: int(row, 6)?,
            posts_counter: int(row, 7)?,
            discussions_counter: int(row, 8)?,
            polls_counter: int(row, 9)?,
            categories_counter: int(row, 10)?,
            date_joined_us: int(row, 11)?,
            bio: get(row, 12)?,
            location: get(row, 13)?,
            location_lat_lng: get(row, 14)?,
            position_lat_lng: get(row, 15)?,
            date_of_birth: get(row, 16)?,
            description: get(row, 17)?,
            gender: get(row, 18)?,
            website: get(row, 19)?,
            cover: get(row, 20)?,
            reputation: int(row, 21)?,
            community_badge: get(row, 22)?,
            reg_approved: get(row, 23)?,
            deleted: get(row, 24)?,
            company_name: get(row, 25)?,
            company_role: get(row, 26)?,
        })
    }
}

/// A tag as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TagRecord {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub visible: bool,
    pub visibility_boost: bool,
    pub active: bool,
    pub deleted: bool,
    pub created_at_us: i64,
}

pub const TAG_COLUMNS: &str = "t.id, t.type, t.name, t.description, t.color, t.visible, \
    t.visibility_boost, t.active, t.deleted, t.created_at_us";

impl TagRecord {
    pub fn from_row(row: &QueryResult) -> Result<TagRecord, DbErr> {
        Ok(TagRecord {
            id: int(row, "id")?,
            kind: get(row, "type")?,
            name: get(row, "name")?,
            description: get(row, "description")?,
            color: get(row, "color")?,
            visible: get(row, "visible")?,
            visibility_boost: get(row, "visibility_boost")?,
            active: get(row, "active")?,
            deleted: get(row, "deleted")?,
            created_at_us: int(row, "created_at_us")?,
        })
    }
}

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
