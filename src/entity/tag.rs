//! `tags`: one row per tag a user may carry.

use sea_orm::entity::prelude::*;

/// A tag as stored. Instants are epoch microseconds.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// The tag's type (`type` is a Rust keyword).
    #[sea_orm(column_name = "type", column_type = "String(StringLen::N(64))")]
    pub kind: String,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "String(StringLen::N(32))")]
    pub color: String,
    pub visible: bool,
    pub visibility_boost: bool,
    pub active: bool,
    pub deleted: bool,
    pub created_at_us: i64,
}

/// The link to users is declared with `user_tag`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
