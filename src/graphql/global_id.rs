//! Global ids (Relay's Node ids): base64 of `Type:id`, as graphql-relay-js's `toGlobalId`
//! writes it, in a field of its own (`nodeId`), so `User.id` stays the REST id.

use async_graphql::ID;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

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
pub fn parse(id: &str) -> Option<(NodeKind, i64)> {
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
