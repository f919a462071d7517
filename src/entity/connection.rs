//! `connections`: one row per side of a friendship, so `(a, b)` and `(b, a)` are both stored,
//! with the same instant.

use sea_orm::entity::prelude::*;

use crate::entity::user;

/// `friend_id` is a connection of `user_id` since `connected_at_us` (epoch microseconds).
/// Ordered like the primary key (`user_id`, `friend_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub friend_id: i64,
    pub connected_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user whose list the row belongs to.
    #[sea_orm(
        belongs_to = "user::Entity",
        from = "Column::UserId",
        to = "user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The listed connection.
    #[sea_orm(
        belongs_to = "user::Entity",
        from = "Column::FriendId",
        to = "user::Column::Id",
        on_delete = "Cascade"
    )]
    Friend,
}

impl ActiveModelBehavior for ActiveModel {}
