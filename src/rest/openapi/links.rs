//! The OpenAPI links on the success responses: what may follow on the same user
//! (`$request.path.id`) or on the first user a list holds (`$response.body#/results/0/...`), so
//! schemathesis's stateful phase chains lifecycle calls; `tests/it/openapi.rs` checks that every
//! link names an existing operation, parameter and source value.
//!
//! Hand-built (`Modify`): the links of an action follow the lifecycle's state tables
//! (`docs/rest.md`, section 13), one table here for all seven actions, which the seven
//! operations share one handler and one attribute for.

use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::Modify;

use super::op;
use crate::core::lifecycle::Action;

/// The runtime expression of a link that keeps the target user of the call it follows.
const SAME_TARGET: &str = "$request.path.id";
/// The first user of a page of users.
const FIRST: &str = "$response.body#/results/0/id";
/// The first request's other user: the sender in the inbox, the recipient in the sent list.
const SENDER: &str = "$response.body#/results/0/from_user/id";
const RECIPIENT: &str = "$response.body#/results/0/to_user/id";

/// One link: its name, target operation, the expression of the target's `id`, a description.
type LinkRow = (&'static str, &'static str, &'static str, &'static str);

pub struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [item.get.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
            {
                let rows = operation
                    .operation_id
                    .as_deref()
                    .map(links_of)
                    .unwrap_or_default();
                let success = operation
                    .responses
                    .responses
                    .iter_mut()
                    .find(|(status, _)| status.starts_with('2'));
                if let Some((_, RefOr::T(response))) = success {
                    for (name, target, expression, description) in rows {
                        response.links.insert(
                            name.to_string(),
                            RefOr::T(link(target, expression, description)),
                        );
                    }
                }
            }
        }
    }
}

fn link(operation_id: &str, expression: &str, description: &str) -> Link {
    LinkBuilder::new()
        .operation_id(operation_id)
        .parameter("id", expression)
        .description(description)
        .build()
}

/// The links of the operation `id`'s success response.
fn links_of(id: &str) -> Vec<LinkRow> {
    let same = |rows: &[(&'static str, &'static str, &'static str)]| -> Vec<LinkRow> {
        rows.iter()
            .map(|&(name, target, description)| (name, target, SAME_TARGET, description))
            .collect()
    };
    match id {
        op::CONNECTIONS => vec![
            (
                "FirstResultConnections",
                op::CONNECTIONS,
                FIRST,
                "The connections of the page's first user.",
            ),
            (
                "FirstResultIsConnection",
                op::IS_CONNECTION,
                FIRST,
                "Whether the viewer is connected with the page's first user.",
            ),
            (
                "FirstResultConnectionStatus",
                op::CONNECTION_STATUS,
                FIRST,
                "The viewer's status with the page's first user.",
            ),
            (
                "FirstResultRemove",
                op::REMOVE,
                FIRST,
                "End the viewer's connection with the page's first user (when connected).",
            ),
        ],
        op::REQUESTS => vec![
            (
                "AcceptFirst",
                op::ACCEPT,
                SENDER,
                "Accept the first request.",
            ),
            (
                "RejectFirst",
                op::REJECT,
                SENDER,
                "Decline the first request.",
            ),
            (
                "MarkSeenFirst",
                op::MARK_SEEN,
                SENDER,
                "Mark the first request as seen.",
            ),
            (
                "RequestFirstSender",
                op::REQUEST,
                SENDER,
                "Ask the first request's sender back (connects the pair).",
            ),
        ],
        op::REQUESTS_SENT => vec![
            (
                "CancelFirst",
                op::CANCEL_REQUEST,
                RECIPIENT,
                "Withdraw the first request.",
            ),
            (
                "FirstRecipientStatus",
                op::CONNECTION_STATUS,
                RECIPIENT,
                "The viewer's status with the first request's recipient.",
            ),
        ],
        op::IS_CONNECTION => same(&[
            ("Remove", op::REMOVE, "End the connection just checked."),
            ("Request", op::REQUEST, "Ask the same user to connect."),
        ]),
        op::CONNECTION_STATUS => same(&[
            ("Request", op::REQUEST, "Ask the same user to connect."),
            ("Accept", op::ACCEPT, "Accept the same user's request."),
            (
                "CancelRequest",
                op::CANCEL_REQUEST,
                "Withdraw the request to the same user.",
            ),
        ]),
        _ => action_of(id).map(action_links).unwrap_or_default(),
    }
}

/// The action whose operation id is `id`.
fn action_of(id: &str) -> Option<Action> {
    Some(match id {
        op::REQUEST => Action::Request,
        op::ACCEPT => Action::Accept,
        op::REJECT => Action::Reject,
        op::CANCEL_REJECT => Action::CancelReject,
        op::CANCEL_REQUEST => Action::CancelRequest,
        op::REMOVE => Action::Remove,
        op::MARK_SEEN => Action::MarkSeen,
        _ => return None,
    })
}

/// What the viewer may do next with the same target after `action`. The reads
/// (`is_connection`, `connection_status`) follow every action, so a sequence checks the state
/// the action left.
fn action_links(action: Action) -> Vec<LinkRow> {
    let reads = [
        (
            "ConnectionStatus",
            op::CONNECTION_STATUS,
            "The viewer's status with the same user after the call.",
        ),
        (
            "IsConnection",
            op::IS_CONNECTION,
            "Whether the viewer and the same user are connected after the call.",
        ),
    ];
    let retry = "Retry: the answer is the same, nothing changes.";
    let next: &[(&'static str, &'static str, &'static str)] = match action {
        Action::Request => &[
            (
                "CancelRequest",
                op::CANCEL_REQUEST,
                "Withdraw the request just sent.",
            ),
            (
                "Remove",
                op::REMOVE,
                "End the connection (when the request connected the pair).",
            ),
            ("RequestAgain", op::REQUEST, retry),
        ],
        Action::Accept => &[
            ("Remove", op::REMOVE, "End the connection just made."),
            ("AcceptAgain", op::ACCEPT, retry),
        ],
        Action::Reject => &[
            (
                "CancelReject",
                op::CANCEL_REJECT,
                "Take the rejection back.",
            ),
            (
                "Accept",
                op::ACCEPT,
                "Accept the rejected request after all.",
            ),
            (
                "MarkSeen",
                op::MARK_SEEN,
                "Mark the rejected request as seen.",
            ),
        ],
        Action::CancelReject => &[
            (
                "Accept",
                op::ACCEPT,
                "Accept the request back in the inbox.",
            ),
            ("Reject", op::REJECT, "Decline the request again."),
            ("MarkSeen", op::MARK_SEEN, "Mark the request as seen."),
        ],
        Action::CancelRequest => &[
            ("Request", op::REQUEST, "Ask the same user again."),
            ("CancelRequestAgain", op::CANCEL_REQUEST, retry),
        ],
        Action::Remove => &[
            (
                "Request",
                op::REQUEST,
                "Ask the same user to connect again.",
            ),
            ("RemoveAgain", op::REMOVE, retry),
        ],
        Action::MarkSeen => &[
            ("Accept", op::ACCEPT, "Accept the request just seen."),
            ("Reject", op::REJECT, "Decline the request just seen."),
        ],
    };
    reads
        .iter()
        .chain(next)
        .map(|&(name, target, description)| (name, target, SAME_TARGET, description))
        .collect()
}
