//! The JSON shapes of the REST routes: the pages, the User object and the connection request, keys in the wire order of `docs/rest.md`.

use serde::Serialize;

use super::openapi::schemas::User;

use crate::core::{ConnectionStatus, ListedRequest, RequestUser};
use crate::store::time::api_time;
use crate::store::{Settings, TagRecord, UserRecord};

/// One page of a user's connections.
// `deny_unknown_fields`: what makes the derived schema closed (`additionalProperties: false`);
// serde's `Serialize` ignores it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserConnectionsPage)]
pub struct PageBody<'a> {
    /// How many users match the filter, on all pages.
    pub count: u64,
    #[doc = "Absolute URL of the next page (DRF's link: the request's URL with `limit` and \
             `offset` replaced, keys sorted), or null."]
    #[schema(format = "uri", required = true)]
    pub next: Option<String>,
    #[doc = "Absolute URL of the previous page (DRF's link: the request's URL with `limit` \
             and `offset` replaced, keys sorted), or null."]
    #[schema(format = "uri", required = true)]
    pub previous: Option<String>,
    // `UserBody` has no derived schema: the User component is `openapi::user_properties`.
    #[schema(value_type = Vec<User>)]
    pub results: Vec<UserBody<'a>>,
}

/// The SelfCommunity User object. Field order is the wire order.
#[derive(Serialize)]
pub struct UserBody<'a> {
    id: i64,
    username: &'a str,
    real_name: &'a str,
    avatar: Option<&'a str>,
    ext_id: Option<i64>,
    followings_counter: Option<i64>,
    followers_counter: Option<i64>,
    posts_counter: i64,
    discussions_counter: i64,
    polls_counter: i64,
    connection_status: Option<&'static str>,
    categories_counter: i64,
    date_joined: String,
    bio: &'a str,
    location: &'a str,
    location_lat_lng: Option<&'a str>,
    position_lat_lng: Option<&'a str>,
    date_of_birth: Option<&'a str>,
    description: &'a str,
    gender: &'a str,
    website: &'a str,
    cover: Option<&'a str>,
    tags: Vec<TagBody<'a>>,
    reputation: i64,
    community_badge: bool,
    reg_approved: bool,
    deleted: bool,
    company_name: &'a str,
    company_role: &'a str,
}

impl<'a> UserBody<'a> {
    pub fn new(
        user: &'a UserRecord,
        tags: &'a [TagRecord],
        status: Option<ConnectionStatus>,
        settings: &Settings,
    ) -> UserBody<'a> {
        // Follow counters only mean something in follow mode.
        let follow = |n: i64| settings.follow_enabled.then_some(n);
        UserBody {
            id: user.id,
            username: &user.username,
            real_name: &user.real_name,
            avatar: user.avatar.as_deref(),
            ext_id: user.ext_id,
            followings_counter: follow(user.followings_counter),
            followers_counter: follow(user.followers_counter),
            posts_counter: user.posts_counter,
            discussions_counter: user.discussions_counter,
            polls_counter: user.polls_counter,
            connection_status: status.map(ConnectionStatus::as_str),
            categories_counter: user.categories_counter,
            date_joined: api_time(user.date_joined_us),
            bio: &user.bio,
            location: &user.location,
            location_lat_lng: user.location_lat_lng.as_deref(),
            position_lat_lng: user.position_lat_lng.as_deref(),
            date_of_birth: user.date_of_birth.as_deref(),
            description: &user.description,
            gender: &user.gender,
            website: &user.website,
            cover: user.cover.as_deref(),
            tags: tags.iter().map(TagBody::new).collect(),
            reputation: user.reputation,
            community_badge: user.community_badge,
            reg_approved: user.reg_approved,
            deleted: user.deleted,
            company_name: &user.company_name,
            company_role: &user.company_role,
        }
    }
}

/// The SelfCommunity Tag object.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Tag)]
pub struct TagBody<'a> {
    id: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    description: &'a str,
    color: &'a str,
    visible: bool,
    visibility_boost: bool,
    /// RFC 3339, UTC, whole seconds, `Z`.
    #[schema(format = DateTime)]
    created_at: String,
    active: bool,
    deleted: bool,
}

impl<'a> TagBody<'a> {
    fn new(tag: &'a TagRecord) -> TagBody<'a> {
        TagBody {
            id: tag.id,
            kind: &tag.kind,
            name: &tag.name,
            description: &tag.description,
            color: &tag.color,
            visible: tag.visible,
            visibility_boost: tag.visibility_boost,
            created_at: api_time(tag.created_at_us),
            active: tag.active,
            deleted: tag.deleted,
        }
    }
}

/// A page of a request list (routes 10 and 11).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConnectionRequestsPage, description = "One page of the viewer's connection requests.")]
pub struct RequestPageBody<'a> {
    /// How many requests the list holds, on all pages.
    pub count: u64,
    #[doc = "Absolute URL of the next page (DRF's link: the request's URL with `limit` and \
             `offset` replaced, keys sorted), or null."]
    #[schema(format = "uri", required = true)]
    pub next: Option<String>,
    #[doc = "Absolute URL of the previous page (DRF's link: the request's URL with `limit` \
             and `offset` replaced, keys sorted), or null."]
    #[schema(format = "uri", required = true)]
    pub previous: Option<String>,
    pub results: Vec<RequestBody<'a>>,
}

/// The SelfCommunity connection request object (`SCUserConnectionRequestType`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = ConnectionRequest,
    description = "A connection request (`SCUserConnectionRequestType`): exactly these keys, in \
                   this order; both users' `connection_status` is relative to the viewer."
)]
pub struct RequestBody<'a> {
    /// The request's id: unique, stable, never reused.
    #[schema(minimum = 1)]
    id: i64,
    #[schema(value_type = User)]
    from_user: UserBody<'a>,
    #[schema(value_type = User)]
    to_user: UserBody<'a>,
    /// RFC 3339, UTC, whole seconds, `Z`.
    #[schema(format = DateTime)]
    created: String,
    #[doc = "When the recipient rejected the request (RFC 3339, UTC, whole seconds, `Z`), or \
             null."]
    #[schema(format = DateTime, required = true)]
    rejected: Option<String>,
    #[doc = "When the recipient marked seen the request (RFC 3339, UTC, whole seconds, `Z`), \
             or null."]
    #[schema(format = DateTime, required = true)]
    viewed: Option<String>,
}

impl<'a> RequestBody<'a> {
    pub fn new(request: &'a ListedRequest, settings: &Settings) -> RequestBody<'a> {
        let user =
            |user: &'a RequestUser| UserBody::new(&user.record, &user.tags, user.status, settings);
        RequestBody {
            id: request.id,
            from_user: user(&request.from_user),
            to_user: user(&request.to_user),
            created: api_time(request.created_us),
            rejected: request.rejected_us.map(api_time),
            viewed: request.viewed_us.map(api_time),
        }
    }
}
