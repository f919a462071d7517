//! `access_tokens`: one row per bearer token that signs a user in.

use sea_orm::entity::prelude::*;

use crate::entity::user;

/// A token of `user_id`, valid until `expires_at_us` (epoch microseconds). Only the token's
/// SHA-256 (lower-case hex) is kept, so a dump of the table reveals no token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(64))"
    )]
    pub token_sha256: String,
    pub user_id: i64,
    pub expires_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "user::Entity",
        from = "Column::UserId",
        to = "user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
