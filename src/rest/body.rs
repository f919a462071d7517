//! The JSON shapes of the REST routes: the pages, the User object and the connection request, keys in the wire order of `docs/rest.md`.

use serde::ser::SerializeStruct;
use serde::Serialize;

use super::openapi::schemas::User;

use crate::core::{ConnectionStatus, ListedRequest, RequestUser};
use crate::entity::user::user_fields;
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

/// The SelfCommunity User object, written from the stored record in the wire order of
/// `entity::user::user_fields!` (with `connection_status` and `tags` where the spec has them).
pub struct UserBody<'a> {
    user: &'a UserRecord,
    tags: &'a [TagRecord],
    status: Option<ConnectionStatus>,
    /// Follow mode: the follow counters are shown (else null).
    follow: bool,
}

impl<'a> UserBody<'a> {
    pub fn new(
        user: &'a UserRecord,
        tags: &'a [TagRecord],
        status: Option<ConnectionStatus>,
        settings: &Settings,
    ) -> UserBody<'a> {
        UserBody {
            user,
            tags,
            status,
            follow: settings.follow_enabled,
        }
    }
}

/// The REST side of each field kind: its value as serde writes it.
macro_rules! rest_value {
    (FollowCount, $body:expr, $field:ident) => {
        // Follow counters only mean something in follow mode.
        &$body.follow.then_some($body.user.$field)
    };
    (Time, $body:expr, $field:ident) => {
        &api_time($body.user.$field)
    };
    ($kind:ident, $body:expr, $field:ident) => {
        &$body.user.$field
    };
}

macro_rules! user_body {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_body!(@ [$($h)*] [$($m)*] [$($t)*]);
    };
    (@ $([$({ $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal,
               $kind:ident, $doc:literal, $rest:literal })*])*) => {
        /// The User object's keys, in wire order.
        pub const USER_KEYS: &[&str] = &user_body!(@keys $([$(stringify!($api)),*])*);

        impl Serialize for UserBody<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_struct("User", USER_KEYS.len())?;
                user_body!(@write self, map, $([$($api $field $kind)*])*);
                map.end()
            }
        }
    };
    (@keys [$($h:expr),*] [$($m:expr),*] [$($t:expr),*]) => {
        [$($h,)* "connection_status", $($m,)* "tags", $($t),*]
    };
    (@write $body:ident, $map:ident, [$($ha:ident $hf:ident $hk:ident)*]
        [$($ma:ident $mf:ident $mk:ident)*] [$($ta:ident $tf:ident $tk:ident)*]) => {
        $( $map.serialize_field(stringify!($ha), rest_value!($hk, $body, $hf))?; )*
        $map.serialize_field("connection_status", &$body.status.map(ConnectionStatus::as_str))?;
        $( $map.serialize_field(stringify!($ma), rest_value!($mk, $body, $mf))?; )*
        $map.serialize_field(
            "tags",
            &$body.tags.iter().map(TagBody::new).collect::<Vec<_>>(),
        )?;
        $( $map.serialize_field(stringify!($ta), rest_value!($tk, $body, $tf))?; )*
    };
}
user_fields!(user_body);

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
