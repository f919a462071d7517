//! `community_settings`: one row (id 1) holding the three community-wide switches.

use sea_orm::entity::prelude::*;

/// The settings row. Its columns other than `id` are the setting keys
/// (`bulk::SETTING_KEYS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "community_settings")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Friendship mode: connections exist and the connections endpoint works.
    pub connection_enabled: bool,
    /// Follow mode: follower/following counters are shown.
    pub follow_enabled: bool,
    /// Content is public: anonymous requests are allowed.
    pub content_availability: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
