//! The tables a community is loaded into, named by their entities: shared by the portable
//! loader (`import`) and the PostgreSQL one (`pg`).

use sea_orm::{EntityTrait, IdenStatic, Iterable};

use crate::entity::{
    access_token, community_settings, connection, connection_request, tag, user, user_tag,
};

/// Every table, children before parents: the order to empty them in.
pub(crate) fn tables_children_first() -> [String; 7] {
    [
        table::<access_token::Entity>(),
        table::<connection_request::Entity>(),
        table::<connection::Entity>(),
        table::<user_tag::Entity>(),
        table::<user::Entity>(),
        table::<tag::Entity>(),
        table::<community_settings::Entity>(),
    ]
}

/// The table of entity `E`.
pub(crate) fn table<E: EntityTrait>() -> String {
    E::default().as_str().to_string()
}

/// The columns of entity `E` in its field order (`E::Column::iter()`), comma-separated.
pub(crate) fn column_list<E: EntityTrait>() -> String {
    E::Column::iter()
        .map(|column| column.as_str().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
