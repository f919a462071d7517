//! Relay's `Node` interface: `User`, `Tag` and `ConnectionRequest` by their global id
//! (`global_id`), and the `node(id:)` / `nodes(ids:)` root fields that fetch any of them.
//! Relay's compiler takes the id field with `nodeInterfaceIdField: "nodeId"`.

use async_graphql::{Context, Interface, Object, ID};

use super::global_id::{parse, NodeKind};
use super::request::RequestContext;
use super::types::{nullable, ConnectionRequest, Tag, User, MAX_IDS};
use crate::core;
use crate::error::{ApiError, GraphqlResult};

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(
    name = "node_id",
    ty = "ID",
    desc = "The object's global id (Relay's Node id): `node(id:)` fetches it back."
))]
pub enum Node {
    User(User),
    Tag(Tag),
    ConnectionRequest(ConnectionRequest),
}

/// The object `id` names, as its own root field would answer it: null when there is none, or
/// when the viewer may not see it (a request is seen only by its two users).
async fn node(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Node>> {
    let rc = ctx.data_unchecked::<RequestContext>();
    let Some((kind, id)) = parse(id) else {
        return Err(ApiError::Invalid {
            field: "id",
            message: "id is not a global id of this API (the nodeId of a User, Tag or \
                      ConnectionRequest)."
                .to_string(),
        })
        .or_graphql();
    };
    let access = rc.access().await?;
    core::check_content(&access).or_graphql()?;
    Ok(match kind {
        NodeKind::User => rc
            .user(id)
            .await
            .or_graphql()?
            .map(|u| Node::User(User::new(u))),
        NodeKind::Tag => rc
            .source
            .store()
            .shown_tag(id)
            .await
            .or_graphql()?
            .map(|t| Node::Tag(Tag(t))),
        NodeKind::ConnectionRequest => {
            let Some(viewer) = access.viewer else {
                return Ok(None);
            };
            core::check_settings(&access).or_graphql()?;
            rc.source
                .store()
                .request_of(viewer, id)
                .await
                .or_graphql()?
                .map(|row| Node::ConnectionRequest(ConnectionRequest::unresolved(&row)))
        }
    })
}

/// The root fields of the Node interface (merged into `Query` by `schema`).
#[derive(Default)]
pub struct NodeQuery;

#[Object(name = "NodeQuery")]
impl NodeQuery {
    /// The User, Tag or ConnectionRequest a global id (`nodeId`) names (Relay's Node
    /// interface); null when there is none or the viewer may not see it (a request is seen
    /// only by its two users).
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id (`nodeId`).")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let found = node(ctx, &id).await;
        nullable(ctx, found)
    }

    /// The objects global ids name, in the order asked, with null where `node` is null (at
    /// most 500 ids).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids (`nodeId`).")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_IDS {
            return Err(ApiError::Invalid {
                field: "ids",
                message: format!("ids may name at most {MAX_IDS} objects."),
            })
            .or_graphql();
        }
        // Together: the users among them are read by one batch of the user loader.
        let found = futures_util::future::join_all(ids.iter().map(|id| node(ctx, id)));
        found.await.into_iter().collect()
    }
}
