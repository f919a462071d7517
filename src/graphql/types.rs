//! The GraphQL types. Resolvers load through the request's DataLoaders and apply the rules of
//! `crate::core`; nothing here talks SQL.

use async_graphql::{Context, Object, SimpleObject, ID};
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::request::RequestContext;
use crate::core::lifecycle;
use crate::core::{
    self, ConnectionPage, ConnectionStatus, FriendList, FriendsArgs, FriendsPage, FriendsRequest,
    Listed, ListedRequest, Offset, PageRequest, RequestPage,
};
use crate::entity::user::user_fields;
use crate::error::{ApiError, GraphqlResult};
use crate::store::time::api_time;
use crate::store::{RequestBox, RequestRow, TagRecord, UserRecord};

fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// A nullable field's own failure, as the GraphQL spec has it: the field is null and the
/// error is reported, and the rest of the response stands. (async-graphql 7.0.17 turns a
/// resolver's error into `data: null` for the whole response instead; it nulls the nearest
/// nullable field only for errors raised below it.)
pub(super) fn nullable<T>(
    ctx: &Context<'_>,
    result: async_graphql::Result<Option<T>>,
) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(value),
        Err(err) => {
            ctx.add_error(ctx.set_error_path(err.into_server_error(ctx.item.pos)));
            Ok(None)
        }
    }
}

/// A GraphQL `ID` read as a user id, as the REST path reads one.
pub(super) use crate::extract::user_id;

/// Most ids one `users(ids:)` call may ask for.
pub(super) const MAX_IDS: usize = 500;

#[derive(Default)]
pub struct Query;

/// The entry points to users (merged with `node::NodeQuery` into the schema's `Query`; the
/// name here is only the part's own).
#[Object(name = "UserQuery")]
impl Query {
    /// A user by id; null when there is no such user.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> async_graphql::Result<Option<User>> {
        let user = async {
            let rc = request(ctx);
            core::check_content(&rc.access().await?).or_graphql()?;
            let Some(id) = user_id(&id) else {
                return Ok(None);
            };
            Ok(rc.user(id).await.or_graphql()?.map(User::new))
        };
        nullable(ctx, user.await)
    }

    /// Users by id, in the order asked, with null for unknown ids (at most 500 ids).
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users' ids.")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<User>>> {
        let rc = request(ctx);
        // Checked first: an oversized list costs no SQL.
        if ids.len() > MAX_IDS {
            return Err(ApiError::Invalid {
                field: "ids",
                message: format!("ids may name at most {MAX_IDS} users."),
            })
            .or_graphql();
        }
        core::check_content(&rc.access().await?).or_graphql()?;
        let parsed: Vec<Option<i64>> = ids.iter().map(|id| user_id(id)).collect();
        let wanted: Vec<i64> = parsed.iter().flatten().copied().collect();
        let found = rc.users(wanted).await.or_graphql()?;
        Ok(parsed
            .into_iter()
            .map(|id| id.and_then(|id| found.get(&id).cloned()).map(User::new))
            .collect())
    }

    /// The viewer (the user the request's token names), or null for anonymous requests.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let me = async {
            let rc = request(ctx);
            let Some(viewer) = rc.access().await?.viewer else {
                return Ok(None);
            };
            Ok(rc.user(viewer).await.or_graphql()?.map(User::new))
        };
        nullable(ctx, me.await)
    }
}

/// A member of the community.
pub struct User {
    id: i64,
    /// The stored record: given, or read through the user loader on first use (a page that
    /// the operation reads only ids, tags and statuses of is read without records).
    record: OnceCell<Arc<UserRecord>>,
    /// Read ahead by the page that lists this user, when the operation selects them: a page
    /// of users then resolves these fields without one DataLoader call per user.
    tags: Option<Vec<TagRecord>>,
    status: Option<Option<ConnectionStatus>>,
}

impl User {
    pub fn new(record: Arc<UserRecord>) -> User {
        User {
            id: record.id,
            record: OnceCell::new_with(Some(record)),
            tags: None,
            status: None,
        }
    }

    /// A user whose status towards the viewer is known (an action's answer, an event);
    /// its record is read on first use.
    pub(super) fn with_status(id: i64, status: Option<ConnectionStatus>) -> User {
        User {
            id,
            record: OnceCell::new(),
            tags: None,
            status: Some(status),
        }
    }

    /// A user of whom only the id is known: the rest is read on first use.
    pub(super) fn lazy(id: i64) -> User {
        User {
            id,
            record: OnceCell::new(),
            tags: None,
            status: None,
        }
    }

    /// A user read ahead with its record, tags and status (a request list).
    pub(super) fn preloaded(
        record: Arc<UserRecord>,
        tags: Vec<TagRecord>,
        status: Option<ConnectionStatus>,
    ) -> User {
        User {
            id: record.id,
            record: OnceCell::new_with(Some(record)),
            tags: Some(tags),
            status: Some(status),
        }
    }

    /// A user listed by a page: its record if the page read it, and what the page read ahead.
    fn listed(listed: Listed<'_>) -> User {
        User {
            id: listed.id,
            record: OnceCell::new_with(listed.record.cloned()),
            tags: listed.tags.map(<[TagRecord]>::to_vec),
            status: Some(listed.status),
        }
    }

    /// A user listed by a cursor page.
    pub(super) fn from_edge(edge: &core::FriendEdge<'_>) -> User {
        User {
            id: edge.id,
            record: OnceCell::new_with(edge.record.cloned()),
            tags: edge.tags.map(<[TagRecord]>::to_vec),
            status: Some(edge.status),
        }
    }

    async fn record(&self, ctx: &Context<'_>) -> async_graphql::Result<&UserRecord> {
        let record = self
            .record
            .get_or_try_init(|| async {
                let user = request(ctx).user(self.id).await;
                user.or_graphql()?
                    .ok_or_else(|| {
                        ApiError::Internal(anyhow::anyhow!("listed user {} has no record", self.id))
                    })
                    .or_graphql()
            })
            .await?;
        Ok(record)
    }
}

/// The User's GraphQL fields, in the schema's order: the stored ones generated from
/// `entity::user::user_fields!` (one resolver per kind below), the ones that depend on the
/// viewer and on other tables written out, each calling its resolver in `impl User` above.
macro_rules! user_object {
    (head: [$($h:tt)*], middle: [$($m:tt)*], tail: [$($t:tt)*],) => {
        user_object!(@munch [] $($h)* @status $($m)* @tags $($t)* @connections);
    };
    (@munch [$($done:tt)*] { $field:ident: [$($ty:tt)*], [$($orm:tt)*], $api:ident, $gql:literal,
        $kind:ident, $doc:literal, $rest:literal } $($more:tt)*) => {
        user_object!(@kind $kind [$($done)*] $field $api $gql $doc [$($more)*]);
    };
    (@munch [$($done:tt)*] @status $($more:tt)*) => {
        user_object!(@munch [$($done)*
            /// How this user relates to the viewer: CONNECTED; SENT_CONNECTION_REQUEST when the viewer
            /// has a request to this user, pending or rejected; RECEIVED_CONNECTION_REQUEST when this
            /// user has a pending request to the viewer; null for anonymous requests, for the viewer
            /// themself, and otherwise.
            async fn connection_status(
                &self,
                ctx: &Context<'_>,
            ) -> async_graphql::Result<Option<ConnectionStatus>> {
                self.status_towards_viewer(ctx).await
            }
            /// Whether this user and the viewer are connected (false for anonymous requests and for
            /// the viewer themself). Stored data, whatever friendship mode says.
            async fn is_connection(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
                Ok(self.status_towards_viewer(ctx).await? == Some(ConnectionStatus::Connected))
            }
            /// The viewer's pending received requests, newest first. Only on the viewer
            /// (`me { connectionRequests { ... } }`): on another user, FORBIDDEN.
            async fn connection_requests(
                &self,
                ctx: &Context<'_>,
                #[graphql(desc = "Page size, at least 1 (default 20, cut to the maximum, 100).")]
                limit: Option<i32>,
                #[graphql(desc = "How many requests to skip, at least 0 (default 0).")] offset: Option<i32>,
            ) -> async_graphql::Result<ConnectionRequestPage> {
                request_list(ctx, self.id, RequestBox::Received, limit, offset).await
            }
            /// The viewer's sent requests, pending and rejected, newest first. Only on the viewer:
            /// on another user, FORBIDDEN.
            async fn connection_requests_sent(
                &self,
                ctx: &Context<'_>,
                #[graphql(desc = "Page size, at least 1 (default 20, cut to the maximum, 100).")]
                limit: Option<i32>,
                #[graphql(desc = "How many requests to skip, at least 0 (default 0).")] offset: Option<i32>,
            ) -> async_graphql::Result<ConnectionRequestPage> {
                request_list(ctx, self.id, RequestBox::Sent, limit, offset).await
            }
        ] $($more)*);
    };
    (@munch [$($done:tt)*] @tags $($more:tt)*) => {
        user_object!(@munch [$($done)*
            /// The user's tags that are visible, active and not deleted, by id.
            async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tag>> {
                self.visible_tags(ctx).await
            }
        ] $($more)*);
    };
    (@munch [$($done:tt)*] @connections) => {
        #[Object]
        impl User {
            $($done)*

            /// A page of this user's connections: mutual connections (shared with the viewer) first,
            /// then the most recently connected, then by id.
            async fn connections(
                &self,
                ctx: &Context<'_>,
                #[graphql(
                    desc = "Page size, at least 1 (default 20; larger than the maximum, 100 by default, is cut to it)."
                )]
                limit: Option<i32>,
                #[graphql(desc = "How many connections to skip, at least 0 (default 0).")] offset: Option<
                    i32,
                >,
                #[graphql(
                    desc = "true: only mutual connections; false: only non-mutual ones; absent: all."
                )]
                mutual: Option<bool>,
            ) -> async_graphql::Result<UserConnectionPage> {
                self.connection_page(ctx, limit, offset, mutual).await
            }

            /// The user's global id (Relay's Node id); `id` is the REST id.
            pub(crate) async fn node_id(&self) -> ID {
                super::global_id::global_id(super::global_id::NodeKind::User, self.id)
            }

            /// The same list as `connections`, in the same order, as a Relay connection: cursor
            /// pages that stay put while the list changes (`after: C` continues right after C's
            /// place). A cursor belongs to the list it came from (this user, this viewer, this
            /// `mutual` filter); used on another list it is refused (BAD_USER_INPUT).
            async fn friends(
                &self,
                ctx: &Context<'_>,
                #[graphql(
                    desc = "The first edges after `after` (default 20 when neither first nor last; more than the maximum, 100 by default, is cut to it)."
                )]
                first: Option<i32>,
                #[graphql(desc = "A cursor: the page starts right after its place.")] after: Option<String>,
                #[graphql(
                    desc = "The last edges before `before` (not with first; cut to the maximum)."
                )]
                last: Option<i32>,
                #[graphql(desc = "A cursor: the page ends right before its place.")] before: Option<String>,
                #[graphql(
                    desc = "true: only mutual connections; false: only non-mutual ones; absent: all."
                )]
                mutual: Option<bool>,
            ) -> async_graphql::Result<FriendConnection> {
                let args = core::FriendsArgs {
                    first: first.map(i64::from),
                    after,
                    last: last.map(i64::from),
                    before,
                };
                friends(ctx, self.id, args, mutual).await
            }
        }
    };
    // One resolver per kind of stored field.
    (@kind Id [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self) -> ID {
                ID(self.$field.to_string())
            }
        ] $($more)*);
    };
    (@kind OptId [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
                Ok(self.record(ctx).await?.$field.map(|id| ID(id.to_string())))
            }
        ] $($more)*);
    };
    (@kind FollowCount [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
                if !request(ctx).access().await?.settings.follow_enabled {
                    return Ok(None);
                }
                Ok(Some(self.record(ctx).await?.$field))
            }
        ] $($more)*);
    };
    (@kind Time [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
                Ok(api_time(self.record(ctx).await?.$field))
            }
        ] $($more)*);
    };
    // Stored as the GraphQL type: counters (`i64`) and flags (`bool`).
    (@kind Count $($same:tt)*) => { user_object!(@copied i64 $($same)*); };
    (@kind Bool $($same:tt)*) => { user_object!(@copied bool $($same)*); };
    (@copied $type:tt [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<$type> {
                Ok(self.record(ctx).await?.$field)
            }
        ] $($more)*);
    };
    (@kind Str [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
                Ok(&self.record(ctx).await?.$field)
            }
        ] $($more)*);
    };
    (@kind Gender $($same:tt)*) => { user_object!(@kind Str $($same)*); };
    (@kind OptStr [$($done:tt)*] $field:ident $api:ident $gql:literal $doc:literal [$($more:tt)*]) => {
        user_object!(@munch [$($done)*
            #[doc = $doc]
            #[graphql(name = $gql)]
            async fn $api(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
                Ok(self.record(ctx).await?.$field.as_deref())
            }
        ] $($more)*);
    };
    (@kind Date $($same:tt)*) => { user_object!(@kind OptStr $($same)*); };
}
user_fields!(user_object);

/// The resolvers of the User fields that are not stored in `users`.
impl User {
    async fn status_towards_viewer(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ConnectionStatus>> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let rc = request(ctx);
        rc.access().await?;
        Ok(rc.status(self.id).await.or_graphql()?.flatten())
    }

    async fn visible_tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tag>> {
        if let Some(tags) = &self.tags {
            return Ok(tags.iter().cloned().map(Tag).collect());
        }
        let rc = request(ctx);
        let tags = rc.tags(self.id).await.or_graphql()?;
        Ok(tags.unwrap_or_default().into_iter().map(Tag).collect())
    }

    async fn connection_page(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
        offset: Option<i32>,
        mutual: Option<bool>,
    ) -> async_graphql::Result<UserConnectionPage> {
        let rc = request(ctx);
        let access = rc.access().await?;
        core::check_settings(&access).or_graphql()?;
        let (limit, offset) = page_arguments(rc, limit, offset)?;
        let request = PageRequest::new(
            self.id,
            limit,
            rc.config.max_limit,
            Offset::from_u64(offset),
            mutual,
        );
        // What the operation selects of the listed users decides what the page reads with
        // them: their tags, and their records unless only ids, tags, statuses and further
        // pages are selected.
        let selected = UserSelection::of([ctx.look_ahead().field("results")]);
        let key = request.key(selected.tags, selected.records);
        let rows = rc.page(key).await.or_graphql()?;
        let page = ConnectionPage::finish(
            &request,
            rows.unwrap_or_default(),
            access.viewer,
            selected.tags,
        );
        // The page read its users' statuses: the status loader need not ask again.
        let statuses: Vec<_> = page.listed().map(|l| (l.id, l.status)).collect();
        rc.remember_statuses(statuses).await;
        Ok(UserConnectionPage::new(
            &page,
            &rc.link_origin,
            self.id,
            offset,
            mutual,
        ))
    }
}

/// The `limit` and `offset` arguments of a page: absent is the default, out of range is an
/// error (`BAD_USER_INPUT`).
pub(super) fn page_arguments(
    rc: &RequestContext,
    limit: Option<i32>,
    offset: Option<i32>,
) -> async_graphql::Result<(u64, u64)> {
    let limit = match limit {
        None => rc.config.default_limit,
        Some(l) if l < 1 => return bad_input("limit", "limit must be at least 1."),
        Some(l) => l as u64,
    };
    let offset = match offset {
        None => 0,
        Some(o) if o < 0 => return bad_input("offset", "offset must not be negative."),
        Some(o) => o as u64,
    };
    Ok((limit, offset))
}

/// A page's `count` as the schema's `Int!` holds it: cut to `i32::MAX`.
pub(super) fn page_count(count: u64) -> i32 {
    count.min(i32::MAX as u64) as i32
}

/// The `next` and `previous` links of a page of `owner`'s connections: those of the
/// equivalent REST request.
pub(super) fn page_links(
    page: &ConnectionPage,
    origin: &str,
    owner: i64,
    offset: u64,
    mutual: Option<bool>,
) -> (Option<String>, Option<String>) {
    let mutual = mutual.map(|m| ("mutual", if m { "1" } else { "0" }));
    let base = format!("{origin}{}", core::connections_path(owner));
    rest_links(
        &base,
        page.limit,
        offset,
        mutual,
        page.next.as_ref(),
        page.previous.as_ref(),
    )
}

impl UserConnectionPage {
    /// The page as GraphQL renders it, with the links of the equivalent REST request.
    fn new(
        page: &ConnectionPage,
        origin: &str,
        owner: i64,
        offset: u64,
        mutual: Option<bool>,
    ) -> UserConnectionPage {
        let (next, previous) = page_links(page, origin, owner, offset, mutual);
        UserConnectionPage {
            count: page_count(page.count),
            next,
            previous,
            results: page.listed().map(User::listed).collect(),
        }
    }
}

/// The `next` and `previous` links of a GraphQL page: those of the equivalent REST request to
/// `base` (`limit`, `offset` unless 0, then `extra`).
fn rest_links(
    base: &str,
    limit: u64,
    offset: u64,
    extra: Option<(&str, &str)>,
    next: Option<&core::Position>,
    previous: Option<&core::Position>,
) -> (Option<String>, Option<String>) {
    let mut query = vec![("limit".to_string(), limit.to_string())];
    if offset > 0 {
        query.push(("offset".to_string(), offset.to_string()));
    }
    if let Some((key, value)) = extra {
        query.push((key.to_string(), value.to_string()));
    }
    let link = |position: &core::Position| core::url(base, &query, limit, position);
    (next.map(link), previous.map(link))
}

/// What an operation selects of the users a page lists (`connections { results }`,
/// `friends { edges { node } nodes }`, through aliases and fragments).
pub(super) struct UserSelection {
    pub tags: bool,
    /// Any field read from the stored record. A wrong guess costs a statement, never a value:
    /// a listed user without its record reads it through the user loader.
    pub records: bool,
}

impl UserSelection {
    /// Over the selections of the listed users.
    pub fn of<'a>(users: impl IntoIterator<Item = async_graphql::Lookahead<'a>>) -> UserSelection {
        // Fields of User that a page answers without the listed users' records.
        const WITHOUT_RECORD: [&str; 7] = [
            "id",
            "nodeId",
            "tags",
            "connectionStatus",
            "connections",
            "friends",
            "__typename",
        ];
        let mut selected = UserSelection {
            tags: false,
            records: false,
        };
        for listed in users {
            for occurrence in listed.selection_fields() {
                for field in occurrence.selection_set() {
                    let name = field.name();
                    selected.tags |= name == "tags";
                    selected.records |= !WITHOUT_RECORD.contains(&name);
                }
            }
        }
        selected
    }
}

fn bad_input<T>(field: &'static str, message: &str) -> async_graphql::Result<T> {
    Err(ApiError::Invalid {
        field,
        message: message.to_string(),
    })
    .or_graphql()
}

/// One page of a user's connections.
#[derive(SimpleObject)]
pub struct UserConnectionPage {
    /// How many connections match the `mutual` filter, over all pages.
    pub count: i32,
    /// REST URL of the next page, or null on the last page.
    pub next: Option<String>,
    /// REST URL of the previous page, or null on the first page.
    pub previous: Option<String>,
    /// The users on this page.
    pub results: Vec<User>,
}

/// A label given to users.
pub struct Tag(pub TagRecord);

#[Object]
impl Tag {
    /// Unique id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The tag's global id (Relay's Node id).
    pub(crate) async fn node_id(&self) -> ID {
        super::global_id::global_id(super::global_id::NodeKind::Tag, self.0.id)
    }
    /// What the tag applies to (e.g. `user`).
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Display colour (e.g. `#3366ff`).
    async fn color(&self) -> &str {
        &self.0.color
    }
    /// Whether the tag is shown.
    async fn visible(&self) -> bool {
        self.0.visible
    }
    /// Whether tagged users are boosted in listings.
    async fn visibility_boost(&self) -> bool {
        self.0.visibility_boost
    }
    /// When the tag was created (RFC 3339, UTC).
    async fn created_at(&self) -> String {
        api_time(self.0.created_at_us)
    }
    /// Whether the tag is active.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Whether the tag is deleted.
    async fn deleted(&self) -> bool {
        self.0.deleted
    }
}

/// A connection request, pending or rejected.
pub struct ConnectionRequest {
    id: i64,
    from_user: User,
    to_user: User,
    created_us: i64,
    rejected_us: Option<i64>,
    viewed_us: Option<i64>,
}

impl ConnectionRequest {
    /// A request as stored, its users' statuses given by `status` (relative to the viewer).
    pub fn of_row(
        row: &RequestRow,
        status: impl Fn(i64) -> Option<ConnectionStatus>,
    ) -> ConnectionRequest {
        ConnectionRequest {
            id: row.id,
            from_user: User::with_status(row.from_user_id, status(row.from_user_id)),
            to_user: User::with_status(row.to_user_id, status(row.to_user_id)),
            created_us: row.created_at_us,
            rejected_us: row.rejected_at_us,
            viewed_us: row.viewed_at_us,
        }
    }

    /// A request as stored, its users read (with their statuses) on first use.
    pub(super) fn unresolved(row: &RequestRow) -> ConnectionRequest {
        ConnectionRequest {
            id: row.id,
            from_user: User::lazy(row.from_user_id),
            to_user: User::lazy(row.to_user_id),
            created_us: row.created_at_us,
            rejected_us: row.rejected_at_us,
            viewed_us: row.viewed_at_us,
        }
    }

    fn listed(request: &ListedRequest) -> ConnectionRequest {
        let user = |listed: &core::RequestUser| {
            User::preloaded(listed.record.clone(), listed.tags.clone(), listed.status)
        };
        ConnectionRequest {
            id: request.id,
            from_user: user(&request.from_user),
            to_user: user(&request.to_user),
            created_us: request.created_us,
            rejected_us: request.rejected_us,
            viewed_us: request.viewed_us,
        }
    }
}

#[Object]
impl ConnectionRequest {
    /// The request's id: unique, never reused.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The request's global id (Relay's Node id).
    pub(crate) async fn node_id(&self) -> ID {
        super::global_id::global_id(super::global_id::NodeKind::ConnectionRequest, self.id)
    }
    /// Who asked.
    async fn from_user(&self) -> &User {
        &self.from_user
    }
    /// Who was asked.
    async fn to_user(&self) -> &User {
        &self.to_user
    }
    /// When it was sent (RFC 3339, UTC, whole seconds).
    async fn created(&self) -> String {
        api_time(self.created_us)
    }
    /// When `toUser` declined it, or null while pending.
    async fn rejected(&self) -> Option<String> {
        self.rejected_us.map(api_time)
    }
    /// When `toUser` marked it seen, or null.
    async fn viewed(&self) -> Option<String> {
        self.viewed_us.map(api_time)
    }
}

/// One page of the viewer's received or sent requests.
#[derive(SimpleObject)]
pub struct ConnectionRequestPage {
    /// How many requests the list holds, over all pages.
    pub count: i32,
    /// REST URL of the next page, or null on the last page.
    pub next: Option<String>,
    /// REST URL of the previous page, or null on the first page.
    pub previous: Option<String>,
    /// The requests on this page.
    pub results: Vec<ConnectionRequest>,
}

/// `User.connectionRequests` and `User.connectionRequestsSent`: a page of `list` of `owner`,
/// who must be the viewer (authentication is checked first), in friendship mode.
pub async fn request_list(
    ctx: &Context<'_>,
    owner: i64,
    list: RequestBox,
    limit: Option<i32>,
    offset: Option<i32>,
) -> async_graphql::Result<ConnectionRequestPage> {
    let rc = request(ctx);
    let (viewer, access) = rc.viewer_required().await?;
    if viewer != owner {
        return Err(ApiError::PermissionDenied).or_graphql();
    }
    lifecycle::check_friendship(&access).or_graphql()?;
    let (limit, offset) = page_arguments(rc, limit, offset)?;
    let page = core::request_page(
        &rc.source,
        &access,
        list,
        limit,
        rc.config.max_limit,
        &Offset::from_u64(offset),
    )
    .await
    .or_graphql()?;
    Ok(render_page(&page, rc, list, offset))
}

/// The page as GraphQL renders it, with the links of the equivalent REST request.
fn render_page(
    page: &RequestPage,
    rc: &RequestContext,
    list: RequestBox,
    offset: u64,
) -> ConnectionRequestPage {
    let base = format!("{}{}", rc.link_origin, core::requests_path(list));
    let (next, previous) = rest_links(
        &base,
        page.limit,
        offset,
        None,
        page.next.as_ref(),
        page.previous.as_ref(),
    );
    ConnectionRequestPage {
        count: page_count(page.count),
        next,
        previous,
        results: page.results.iter().map(ConnectionRequest::listed).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// `User.friends`: the connections as a Relay connection (cursor pages), over the same list,
// order, gates and loaders as `connections` (`crate::core::friends`, `docs/cursors.md`).

/// A page of a user's connections, by the Relay Cursor Connections Specification.
#[derive(SimpleObject)]
pub struct FriendConnection {
    /// The connections on this page, each with its cursor.
    pub edges: Vec<FriendEdge>,
    /// The users on this page (the edges' nodes, for clients that need no cursors).
    pub nodes: Vec<User>,
    pub page_info: PageInfo,
    /// How many connections match the `mutual` filter, over all pages.
    pub total_count: i32,
}

/// One connection of a `FriendConnection`.
#[derive(SimpleObject)]
pub struct FriendEdge {
    /// Where this connection is in the list: `after` it continues right after it, however
    /// the list changed since.
    pub cursor: String,
    pub node: User,
    /// When the two users were connected.
    pub connected_at: String,
    /// Whether the listed user is also a connection of the viewer (mutual ones come first).
    pub is_mutual: bool,
}

/// Relay's page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Reading forward: more edges follow. Reading backward (`last`): the list goes on after
    /// `before`.
    pub has_next_page: bool,
    /// Reading backward: more edges precede. Reading forward: the list holds edges up to
    /// `after`.
    pub has_previous_page: bool,
    /// The first edge's cursor; null on an empty page.
    pub start_cursor: Option<String>,
    /// The last edge's cursor; null on an empty page.
    pub end_cursor: Option<String>,
}

/// The `friends` field of `owner`.
async fn friends(
    ctx: &Context<'_>,
    owner: i64,
    args: FriendsArgs,
    mutual: Option<bool>,
) -> async_graphql::Result<FriendConnection> {
    let rc = request(ctx);
    let access = rc.access().await?;
    core::check_settings(&access).or_graphql()?;
    let list = FriendList {
        owner,
        viewer: access.viewer,
        mutual,
    };
    let request = FriendsRequest::new(list, &args, rc.config.default_limit, rc.config.max_limit)
        .or_graphql()?;
    // What the operation selects of the listed users (through `edges { node }` and `nodes`)
    // decides what the page reads with them, as for `connections`.
    let look = ctx.look_ahead();
    let selected = UserSelection::of([look.field("edges").field("node"), look.field("nodes")]);
    let counted = look.field("totalCount").exists();
    let key = request.key(selected.tags, selected.records, counted);
    let rows = rc.page(key).await.or_graphql()?.unwrap_or_default();
    let page = FriendsPage::finish(&request, rows, selected.tags);
    let statuses: Vec<_> = page.edges().map(|e| (e.id, e.status)).collect();
    rc.remember_statuses(statuses).await;
    Ok(render_friends(&page))
}

fn render_friends(page: &FriendsPage) -> FriendConnection {
    let edges: Vec<FriendEdge> = page
        .edges()
        .map(|edge| FriendEdge {
            cursor: edge.cursor.clone(),
            connected_at: api_time(edge.connected_at_us),
            is_mutual: edge.is_mutual,
            node: User::from_edge(&edge),
        })
        .collect();
    let nodes = page.edges().map(|edge| User::from_edge(&edge)).collect();
    let info = &page.page_info;
    FriendConnection {
        edges,
        nodes,
        page_info: PageInfo {
            has_next_page: info.has_next_page,
            has_previous_page: info.has_previous_page,
            start_cursor: info.start_cursor.clone(),
            end_cursor: info.end_cursor.clone(),
        },
        total_count: page_count(page.total_count),
    }
}
