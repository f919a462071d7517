//! The entities under their table's name, for `use crate::entity::prelude::*`.

pub use super::access_token::Entity as AccessTokens;
pub use super::community_settings::Entity as CommunitySettings;
pub use super::connection::Entity as Connections;
pub use super::connection_request::Entity as ConnectionRequests;
pub use super::tag::Entity as Tags;
pub use super::user::Entity as Users;
pub use super::user_tag::Entity as UserTags;
