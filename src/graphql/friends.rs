//! `User.friends`: the user's connections as a Relay connection (cursor pages), over the same
//! list, order, gates and loaders as `connections` (`crate::core::friends`, `docs/cursors.md`).

use async_graphql::{Context, SimpleObject};

use super::request::RequestContext;
use super::types::{User, UserSelection};
use crate::core::{self, FriendList, FriendsArgs, FriendsPage, FriendsRequest};
use crate::error::GraphqlResult;
use crate::store::time::api_time;

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
pub(super) async fn friends(
    ctx: &Context<'_>,
    owner: i64,
    args: FriendsArgs,
    mutual: Option<bool>,
) -> async_graphql::Result<FriendConnection> {
    let rc = ctx.data_unchecked::<RequestContext>();
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
    Ok(render(&page))
}

fn render(page: &FriendsPage) -> FriendConnection {
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
        total_count: super::types::page_count(page.total_count),
    }
}
