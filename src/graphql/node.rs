//! Relay's `Node` interface: a global id for each `User`, `Tag` and `ConnectionRequest`, and
//! the `node(id:)` / `nodes(ids:)` root fields that fetch any of them by it.
//!
//! The global id is a field of its own, `nodeId` (Relay's compiler takes
//! `nodeInterfaceIdField: "nodeId"`), so `User.id` stays the REST id that clients already use.
//! It is base64 of `Type:id`, as graphql-relay-js's `toGlobalId` writes it.

use async_graphql::{Context, Interface, ID};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::request::RequestContext;
use super::types::{ConnectionRequest, Tag, User};
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

/// What a global id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    User,
    Tag,
    ConnectionRequest,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::User => "User",
            NodeKind::Tag => "Tag",
            NodeKind::ConnectionRequest => "ConnectionRequest",
        }
    }
}

/// The global id of `kind` number `id`.
pub fn global_id(kind: NodeKind, id: i64) -> ID {
    ID(STANDARD.encode(format!("{}:{id}", kind.name())))
}

/// What a global id names; None when it is not one of ours.
fn parse(id: &str) -> Option<(NodeKind, i64)> {
    let text = String::from_utf8(STANDARD.decode(id).ok()?).ok()?;
    let (kind, number) = text.split_once(':')?;
    let kind = match kind {
        "User" => NodeKind::User,
        "Tag" => NodeKind::Tag,
        "ConnectionRequest" => NodeKind::ConnectionRequest,
        _ => return None,
    };
    // The digits as written (no sign, no leading `+`): one spelling per id.
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, number.parse().ok()?))
}

/// The object `id` names, as its own root field would answer it: null when there is none, or
/// when the viewer may not see it (a request is seen only by its two users).
pub(super) async fn node(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Node>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_global_id_reads_back_and_nothing_else_does() {
        for kind in [NodeKind::User, NodeKind::Tag, NodeKind::ConnectionRequest] {
            let id = global_id(kind, 42);
            assert_eq!(parse(&id), Some((kind, 42)));
        }
        assert_eq!(
            global_id(NodeKind::User, 1).0,
            "VXNlcjox",
            "graphql-relay's toGlobalId"
        );
        for bad in [
            "",
            "1",
            "VXNlcjo=",
            "VXNlcjotMQ==",
            "VXNlcjorMQ==",
            "Rm9vOjE=",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
