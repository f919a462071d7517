//! The SeaORM entities: one per table of the schema (`migrations`), each the one definition of
//! its table's columns. A `Model` is one row; the order of its fields is the order of
//! `Column::iter()`, which the hand-written statements (`store::pages`, the PostgreSQL COPY
//! loader) use to generate their column lists.
//!
//! Relations follow the foreign keys and live with the child table (`user_tag`, `connection`,
//! ...), so a parent entity never names its children; `user_tag` also joins users and tags
//! many-to-many (`user::Entity::find_related(tag::Entity)`).

pub mod access_token;
pub mod community_settings;
pub mod connection;
pub mod connection_event;
pub mod connection_request;
pub mod prelude;
pub mod tag;
pub mod user;
pub mod user_tag;
