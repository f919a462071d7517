//! The keys of the REST shapes, in the spec's order: the one list every test compares a body
//! or a schema against. Typed from the spec on purpose, not taken from the library: the
//! library's own list (`rest::body::USER_KEYS`, generated from `entity::user::user_fields!`)
//! is checked against it (`the_library_writes_the_spec_keys`), so a field added to the
//! definition without the spec fails here.

/// The User keys of the spec, in its order.
pub const USER_KEYS: [&str; 29] = [
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
    "connection_status",
    "categories_counter",
    "date_joined",
    "bio",
    "location",
    "location_lat_lng",
    "position_lat_lng",
    "date_of_birth",
    "description",
    "gender",
    "website",
    "cover",
    "tags",
    "reputation",
    "community_badge",
    "reg_approved",
    "deleted",
    "company_name",
    "company_role",
];

/// The Tag keys of the spec, in its order.
pub const TAG_KEYS: [&str; 10] = [
    "id",
    "type",
    "name",
    "description",
    "color",
    "visible",
    "visibility_boost",
    "created_at",
    "active",
    "deleted",
];

#[test]
fn the_library_writes_the_spec_keys() {
    assert_eq!(community_gateway::rest::body::USER_KEYS, USER_KEYS);
}
