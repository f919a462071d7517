//! `users`: one row per community member.

use sea_orm::entity::prelude::*;

/// A user as stored: every field of the API's User object but `tags` and `connection_status`,
/// which depend on other tables and on the viewer. Instants are epoch microseconds.
///
/// The field order is the column order of `Column::iter()`, which the page statements read
/// by position (`store::records::user_from_row`).
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// Compared byte for byte (`utf8mb4_bin` on MySQL).
    #[sea_orm(column_type = "String(StringLen::N(150))", unique)]
    pub username: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub real_name: String,
    #[sea_orm(column_type = "String(StringLen::N(2048))")]
    pub avatar: Option<String>,
    pub ext_id: Option<i64>,
    pub followings_counter: i64,
    pub followers_counter: i64,
    pub posts_counter: i64,
    pub discussions_counter: i64,
    pub polls_counter: i64,
    pub categories_counter: i64,
    pub date_joined_us: i64,
    #[sea_orm(column_type = "Text")]
    pub bio: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub location: String,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub location_lat_lng: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub position_lat_lng: Option<String>,
    /// `YYYY-MM-DD`.
    #[sea_orm(column_type = "String(StringLen::N(10))")]
    pub date_of_birth: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The file's and the API's gender word (`community::Gender`).
    #[sea_orm(column_type = "String(StringLen::N(16))")]
    pub gender: String,
    #[sea_orm(column_type = "String(StringLen::N(2048))")]
    pub website: String,
    #[sea_orm(column_type = "String(StringLen::N(2048))")]
    pub cover: Option<String>,
    pub reputation: i64,
    pub community_badge: bool,
    pub reg_approved: bool,
    pub deleted: bool,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub company_name: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub company_role: String,
}

/// The relations to the tables that reference users are declared with those tables
/// (`user_tag`, `connection`, `connection_request`, `access_token`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
