//! `connection_requests`: one row per pending connection request.

use sea_orm::entity::prelude::*;

use crate::entity::user;

/// `from_user_id` asked `to_user_id` to connect at `created_at_us` (epoch microseconds).
/// Ordered like the primary key (`from_user_id`, `to_user_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, DeriveEntityModel)]
#[sea_orm(table_name = "connection_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_user_id: i64,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "user::Entity",
        from = "Column::FromUserId",
        to = "user::Column::Id",
        on_delete = "Cascade"
    )]
    Sender,
    #[sea_orm(
        belongs_to = "user::Entity",
        from = "Column::ToUserId",
        to = "user::Column::Id",
        on_delete = "Cascade"
    )]
    Recipient,
}

impl ActiveModelBehavior for ActiveModel {}
