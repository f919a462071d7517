//! The connection lifecycle on the GraphQL door (`docs/graphql.md`, "Connection lifecycle"):
//! one mutation per REST action and its payload. The checks and the actions are `core::lifecycle`'s, as on the REST door; this
//! module only parses arguments and renders results. (The request objects and lists live
//! with `User` in `types`, which they contain and which lists them.)

use async_graphql::{Context, Object, ID};

use super::request::RequestContext;
use super::types::{nullable, user_id, ConnectionRequest, User};
use crate::core::lifecycle::{self, Action, Actor, Outcome};
use crate::core::Target;
use crate::error::GraphqlResult;

fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

pub struct Mutation;

/// The actions of the connection lifecycle. Each answers the payload, or null and one error
/// (`extensions.code`: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, or BAD_USER_INPUT with
/// `extensions.reason` set to the REST code). A retry (the pair already as the action leaves
/// it) changes nothing and is not an error.
#[Object]
impl Mutation {
    /// Asks the user to connect (accepts instead when the user asked first).
    async fn request_connection(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::Request).await
    }
    /// Accepts the user's request (a rejected one too): the two are connected.
    async fn accept_connection(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::Accept).await
    }
    /// Declines the user's pending request (it stays in the user's sent list).
    async fn reject_connection(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::Reject).await
    }
    /// Takes back the rejection of the user's request: pending again.
    async fn cancel_connection_rejection(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::CancelReject).await
    }
    /// Withdraws the viewer's request to the user, pending or rejected.
    async fn cancel_connection_request(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::CancelRequest).await
    }
    /// Ends the connection with the user.
    async fn remove_connection(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::Remove).await
    }
    /// Marks the user's request to the viewer as seen (the first time stays). Works with
    /// friendship mode off.
    async fn mark_connection_request_seen(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Option<ConnectionPayload>> {
        run(ctx, &user_id, Action::MarkSeen).await
    }
}

/// One mutation: the checks in the REST routes' order (authentication, friendship mode,
/// target, self, state), the action, and its payload; a failure is this field's null and
/// one error.
async fn run(
    ctx: &Context<'_>,
    user: &ID,
    action: Action,
) -> async_graphql::Result<Option<ConnectionPayload>> {
    nullable(ctx, act(ctx, user, action).await)
}

async fn act(
    ctx: &Context<'_>,
    user: &ID,
    action: Action,
) -> async_graphql::Result<Option<ConnectionPayload>> {
    let rc = request(ctx);
    let (viewer, access) = rc.viewer_required().await?;
    let target = user_id(user).map_or(Target::Malformed, Target::Id);
    let actor = Actor::confirmed(access);
    let outcome = lifecycle::perform(&rc.source, &actor, target, action)
        .await
        .or_graphql()?;
    Ok(Some(ConnectionPayload::new(viewer, &outcome)))
}

/// What a lifecycle mutation answers.
pub struct ConnectionPayload {
    user: User,
    request: Option<ConnectionRequest>,
}

impl ConnectionPayload {
    fn new(viewer: i64, outcome: &Outcome) -> ConnectionPayload {
        // The request's users are the viewer (no status) and the target.
        let status = |id: i64| if id == viewer { None } else { outcome.status };
        ConnectionPayload {
            user: User::with_status(outcome.target, outcome.status),
            request: outcome
                .request
                .map(|row| ConnectionRequest::of_row(&row, status)),
        }
    }
}

#[Object]
impl ConnectionPayload {
    /// The target; its `connectionStatus` is the viewer's status with it after the call.
    async fn user(&self) -> &User {
        &self.user
    }
    /// The request between the viewer and the target after the call, or null (none, or
    /// deleted by the call).
    async fn request(&self) -> Option<&ConnectionRequest> {
        self.request.as_ref()
    }
}
