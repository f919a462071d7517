//! Expands the template operations (`templates`) into the routes they stand for. Hand-built
//! (`Modify`): a `#[utoipa::path]` documents one function as one operation, and these handlers
//! each serve several routes, told apart by an argument the route table gives (the action, the
//! read, the list); the route tables here are the ones the router is built from.

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{OpenApi, PathItem, RefOr, ResponseBuilder};
use utoipa::Modify;

use super::build::json_content;
use super::build::JSON;
use super::{names, op, templates};
use crate::core::lifecycle::Action;
use crate::rest::lifecycle::{ACTION_ROUTES, REQUESTS_PATH, REQUESTS_SENT_PATH};

pub struct Routes;

impl Modify for Routes {
    fn modify(&self, openapi: &mut OpenApi) {
        let paths = &mut openapi.paths.paths;
        if let Some(template) = paths.remove(templates::ACTION).and_then(|item| item.post) {
            for (suffix, action) in ACTION_ROUTES {
                let operation = action_operation(&template, action);
                paths.insert(
                    format!("/api/v2/user/{{id}}/{suffix}/"),
                    PathItem::new(HttpMethod::Post, operation),
                );
            }
        }
        if let Some(template) = paths.remove(templates::READ_PAIR).and_then(|item| item.get) {
            for (suffix, id, schema, summary) in [
                (
                    "is_connection",
                    op::IS_CONNECTION,
                    names::IS_CONNECTION,
                    "Whether the viewer and a user are connected",
                ),
                (
                    "connection_status",
                    op::CONNECTION_STATUS,
                    names::CONNECTION_STATUS,
                    "The viewer's connection status with a user",
                ),
            ] {
                let mut operation = named(&template, id, summary);
                // The template answers the status body; `is_connection` answers its own.
                if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
                    ok.content
                        .insert(JSON.to_string(), RefOr::T(json_content(schema)));
                }
                paths.insert(
                    format!("/api/v2/user/{{id}}/{suffix}/"),
                    PathItem::new(HttpMethod::Get, operation),
                );
            }
        }
        if let Some(template) = paths
            .remove(templates::REQUEST_LIST)
            .and_then(|item| item.get)
        {
            for (path, id, summary, holds) in [
                (
                    REQUESTS_PATH,
                    op::REQUESTS,
                    "The connection requests the viewer received",
                    "The pending requests to the viewer (rejected ones leave the list until \
                     `cancel_reject`), the most recent first, then by sender id.",
                ),
                (
                    REQUESTS_SENT_PATH,
                    op::REQUESTS_SENT,
                    "The connection requests the viewer sent",
                    "The requests from the viewer, pending and rejected, the most recent first, \
                     then by recipient id.",
                ),
            ] {
                let mut operation = named(&template, id, summary);
                let rest = operation.description.take().unwrap_or_default();
                operation.description = Some(format!("{holds} {rest}"));
                paths.insert(path.to_string(), PathItem::new(HttpMethod::Get, operation));
            }
        }
    }
}

/// The template with the route's operation id and summary.
fn named(template: &Operation, id: &str, summary: &str) -> Operation {
    let mut operation = template.clone();
    operation.operation_id = Some(id.to_string());
    operation.summary = Some(summary.to_string());
    operation
}

/// An action's operation: mark_seen answers 204 without a body, and works with friendship
/// mode off (no 403).
fn action_operation(template: &Operation, action: Action) -> Operation {
    let (id, summary) = match action {
        Action::Request => (op::REQUEST, "Ask a user to connect"),
        Action::Accept => (op::ACCEPT, "Accept a user's request"),
        Action::Reject => (op::REJECT, "Decline a user's request"),
        Action::CancelReject => (
            op::CANCEL_REJECT,
            "Take back the rejection of a user's request",
        ),
        Action::CancelRequest => (op::CANCEL_REQUEST, "Withdraw the request to a user"),
        Action::Remove => (op::REMOVE, "End the connection with a user"),
        Action::MarkSeen => (op::MARK_SEEN, "Mark a user's request as seen"),
    };
    let mut operation = named(template, id, summary);
    if action == Action::MarkSeen {
        let responses = &mut operation.responses.responses;
        responses.remove("200");
        responses.remove("403");
        responses.insert(
            "204".to_string(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("Marked seen (or already seen).")
                    .build(),
            ),
        );
    }
    operation
}
