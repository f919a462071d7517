//! `user_tags`: one row per tag a user carries (the many-to-many link of users and tags).

use sea_orm::entity::prelude::*;

use crate::entity::{tag, user};

/// User `user_id` carries tag `tag_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, DeriveEntityModel)]
#[sea_orm(table_name = "user_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
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
    #[sea_orm(
        belongs_to = "tag::Entity",
        from = "Column::TagId",
        to = "tag::Column::Id",
        on_delete = "Cascade"
    )]
    Tag,
}

impl Related<user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
}

impl Related<Entity> for user::Entity {
    fn to() -> RelationDef {
        Relation::User.def().rev()
    }
}

impl Related<Entity> for tag::Entity {
    fn to() -> RelationDef {
        Relation::Tag.def().rev()
    }
}

/// A user's tags, through `user_tags`.
impl Related<tag::Entity> for user::Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
    fn via() -> Option<RelationDef> {
        Some(Relation::User.def().rev())
    }
}

/// A tag's users, through `user_tags`.
impl Related<user::Entity> for tag::Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
    fn via() -> Option<RelationDef> {
        Some(Relation::Tag.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
