//! The tables a community is loaded into, and their columns in load order: shared by the
//! portable loader (`import`) and the PostgreSQL one (`pg`).

/// Every table, children before parents: the order to empty them in.
pub(crate) const TABLES_CHILDREN_FIRST: &[&str] = &[
    "access_tokens",
    "connection_requests",
    "connections",
    "user_tags",
    "users",
    "tags",
    "community_settings",
];

pub(crate) const TAG_COLUMNS: &[&str] = &[
    "id",
    "type",
    "name",
    "description",
    "color",
    "visible",
    "visibility_boost",
    "active",
    "deleted",
    "created_at_us",
];

pub(crate) const USER_COLUMNS: &[&str] = &[
    "id",
    "username",
    "real_name",
    "avatar",
    "ext_id",
    "followings_counter",
    "followers_counter",
    "posts_counter",
    "discussions_counter",
    "polls_counter",
    "categories_counter",
    "date_joined_us",
    "bio",
    "location",
    "location_lat_lng",
    "position_lat_lng",
    "date_of_birth",
    "description",
    "gender",
    "website",
    "cover",
    "reputation",
    "community_badge",
    "reg_approved",
    "deleted",
    "company_name",
    "company_role",
];

pub(crate) const USER_TAG_COLUMNS: &[&str] = &["user_id", "tag_id"];
pub(crate) const CONNECTION_COLUMNS: &[&str] = &["user_id", "friend_id", "connected_at_us"];
pub(crate) const REQUEST_COLUMNS: &[&str] = &["from_user_id", "to_user_id", "created_at_us"];
pub(crate) const TOKEN_COLUMNS: &[&str] = &["token_sha256", "user_id", "expires_at_us"];
