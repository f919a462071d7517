//! `connection_requests`: one row per connection request, pending or rejected.

use sea_orm::entity::prelude::*;

use crate::entity::user;

/// `from_user_id` asked `to_user_id` to connect at `created_at_us`; the request is known by
/// `id`. It is pending while `rejected_at_us` is NULL, rejected (by `to_user_id`) once set;
/// `viewed_at_us` is when `to_user_id` marked it seen. Instants are epoch microseconds, UTC.
/// The fields follow the table's column order; ordered like the primary key
/// (`from_user_id`, `to_user_id`), which is unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, DeriveEntityModel)]
#[sea_orm(table_name = "connection_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_user_id: i64,
    pub created_at_us: i64,
    /// Unique (`ux_connection_requests_id`).
    #[sea_orm(unique)]
    pub id: i64,
    pub rejected_at_us: Option<i64>,
    pub viewed_at_us: Option<i64>,
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
