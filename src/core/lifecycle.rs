//! The connection lifecycle (`docs/rest.md`, "Connection lifecycle"): the actions that create,
//! answer, withdraw and end connections, and the reads of one pair's status.
//!
//! Each action reads the pair's rows under the pair's locks (`Store::lock_pair`, which says how
//! each backend serializes the calls on one pair), decides by the tables of the spec
//! (`decide`: state → effect, answer, event), writes, commits, and then waits until this
//! process's graph cache shows the write (read-your-writes). A retry (the pair already in the
//! state the action leaves) answers the current status and writes nothing.

use std::sync::Arc;

use crate::cache::Source;
use crate::error::{ApiError, BAD_CREDENTIALS};
use crate::store::faults::retry_once;
use crate::store::{EventRow, Missing, PairRows, Relation, RequestRow, UserRecord};

use super::gates::{identify, Access, Target};
use super::status::ConnectionStatus;

/// The actions of routes 1–7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Request,
    Accept,
    Reject,
    CancelReject,
    CancelRequest,
    Remove,
    MarkSeen,
}

impl Action {
    /// Whether the action needs friendship mode (all but `mark_seen`).
    pub fn needs_friendship(self) -> bool {
        self != Action::MarkSeen
    }

    /// Whether a soft-deleted target is "not found" (starting a connection: `request`,
    /// `accept`).
    pub fn refuses_deleted_target(self) -> bool {
        matches!(self, Action::Request | Action::Accept)
    }
}

/// What the target's `connectionEvents` subscription receives after an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "ConnectionEventKind", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    /// The user asked the subscriber to connect (`connection_request`).
    RequestReceived,
    /// The user withdrew its request to the subscriber (`connection_cancel_request`).
    RequestCancelled,
    /// The user accepted the subscriber's request, or asked back: they are connected
    /// (`connection_accept`).
    Accepted,
    /// The user declined the subscriber's request (`connection_reject`).
    Rejected,
    /// The user took back its rejection: the subscriber's request is pending again
    /// (`connection_cancel_reject`).
    RejectionCancelled,
    /// The user ended the connection (`connection_remove`).
    Removed,
}

impl EventKind {
    const ALL: [EventKind; 6] = [
        EventKind::RequestReceived,
        EventKind::RequestCancelled,
        EventKind::Accepted,
        EventKind::Rejected,
        EventKind::RejectionCancelled,
        EventKind::Removed,
    ];

    /// The code stored in `connection_events.kind`.
    pub fn code(self) -> i16 {
        match self {
            EventKind::RequestReceived => 1,
            EventKind::RequestCancelled => 2,
            EventKind::Accepted => 3,
            EventKind::Rejected => 4,
            EventKind::RejectionCancelled => 5,
            EventKind::Removed => 6,
        }
    }

    /// The kind a stored code names (None: written by a newer version).
    pub fn from_code(code: i16) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// The state of the pair, from the viewer's side: the first that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairState {
    Connected,
    OutPending,
    OutRejected,
    InPending,
    InRejected,
    None,
}

impl PairState {
    pub fn of(rows: &PairRows) -> PairState {
        let rejected = |r: &RequestRow| r.rejected_at_us.is_some();
        match (rows.connected_at_us, &rows.outgoing, &rows.incoming) {
            (Some(_), _, _) => PairState::Connected,
            (None, Some(out), _) if rejected(out) => PairState::OutRejected,
            (None, Some(_), _) => PairState::OutPending,
            (None, None, Some(inc)) if rejected(inc) => PairState::InRejected,
            (None, None, Some(_)) => PairState::InPending,
            (None, None, None) => PairState::None,
        }
    }
}

impl PairRows {
    /// The same pair seen from the other user.
    fn mirrored(&self) -> PairRows {
        PairRows {
            connected_at_us: self.connected_at_us,
            outgoing: self.incoming,
            incoming: self.outgoing,
        }
    }

    /// The request that decides the pair's state from the viewer's side (the first row of
    /// the state table that holds), if a request links the pair.
    fn deciding_request(&self) -> Option<RequestRow> {
        match self.connected_at_us {
            Some(_) => None,
            None => self.outgoing.or(self.incoming),
        }
    }
}

/// The viewer's `connection_status` towards the target, from the pair's rows.
fn status_of(rows: &PairRows) -> Option<ConnectionStatus> {
    let relation = Relation {
        connected: rows.connected_at_us.is_some(),
        sent_request: rows.outgoing.is_some(),
        received_request: rows
            .incoming
            .is_some_and(|request| request.rejected_at_us.is_none()),
    };
    // Any id but the viewer's: the pair is two distinct users.
    ConnectionStatus::of(Some(0), 1, relation)
}

/// What an action writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A retry, or nothing to do.
    Nothing,
    /// A pending request viewer → target.
    CreateRequest,
    /// The pair connected; every request between them deleted.
    Connect,
    /// The connection deleted.
    Disconnect,
    /// The request target → viewer rejected now.
    RejectIncoming,
    /// The request target → viewer pending again.
    UnrejectIncoming,
    /// The request viewer → target deleted.
    DeleteOutgoing,
    /// The request target → viewer seen now (only if it was not seen yet).
    MarkIncomingSeen,
}

/// The spec's tables ("Actions"): what `action` does in `state`, and the event it produces;
/// or the 400 it answers.
pub fn decide(action: Action, state: PairState) -> Result<(Effect, Option<EventKind>), ApiError> {
    use PairState as S;
    let done = Ok((Effect::Nothing, Option::None));
    match action {
        Action::Request => match state {
            S::None => Ok((Effect::CreateRequest, Some(EventKind::RequestReceived))),
            S::OutPending | S::OutRejected | S::Connected => done,
            S::InPending | S::InRejected => Ok((Effect::Connect, Some(EventKind::Accepted))),
        },
        Action::Accept => match state {
            S::InPending | S::InRejected => Ok((Effect::Connect, Some(EventKind::Accepted))),
            S::Connected => done,
            S::None | S::OutPending | S::OutRejected => Err(ApiError::NoRequest),
        },
        Action::Reject => match state {
            S::InPending => Ok((Effect::RejectIncoming, Some(EventKind::Rejected))),
            S::InRejected => done,
            S::None | S::OutPending | S::OutRejected => Err(ApiError::NoRequest),
            S::Connected => Err(ApiError::AlreadyConnected),
        },
        Action::CancelReject => match state {
            S::InRejected => Ok((
                Effect::UnrejectIncoming,
                Some(EventKind::RejectionCancelled),
            )),
            S::InPending => done,
            S::None | S::OutPending | S::OutRejected => Err(ApiError::NoRequest),
            S::Connected => Err(ApiError::AlreadyConnected),
        },
        Action::CancelRequest => match state {
            S::OutPending | S::OutRejected => {
                Ok((Effect::DeleteOutgoing, Some(EventKind::RequestCancelled)))
            }
            S::None => done,
            S::InPending | S::InRejected => Err(ApiError::NoRequest),
            S::Connected => Err(ApiError::AlreadyConnected),
        },
        Action::Remove => match state {
            S::Connected => Ok((Effect::Disconnect, Some(EventKind::Removed))),
            S::None => done,
            S::OutPending | S::OutRejected | S::InPending | S::InRejected => {
                Err(ApiError::NotConnected)
            }
        },
        // No event: marking seen is not news for the sender.
        Action::MarkSeen => match state {
            S::InPending | S::InRejected => Ok((Effect::MarkIncomingSeen, Option::None)),
            S::None | S::OutPending | S::OutRejected => Err(ApiError::NoRequest),
            S::Connected => Err(ApiError::AlreadyConnected),
        },
    }
}

/// The result of an action: the viewer's status towards the target after the call, and the
/// request between the two. (Its event, if any, was written with it: `event_row`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The target acted on.
    pub target: i64,
    pub status: Option<ConnectionStatus>,
    /// The request between the pair after the call (the one deciding its state), if any.
    pub request: Option<RequestRow>,
    /// Whether anything was written.
    pub changed: bool,
}

/// "Now", truncated to whole seconds (what is stored is what is shown and exported).
fn now_whole_seconds_us() -> i64 {
    crate::store::time::now_us().div_euclid(1_000_000) * 1_000_000
}

/// Runs `action` of `viewer` on `target` (distinct users). A viewer that does not exist is
/// 401 (check 1), a target that does not exist, or is soft-deleted where the action refuses
/// that, is 404 (check 4), as the pair's lock statement reads them (`perform`).
pub async fn act(
    source: &Source,
    viewer: i64,
    target: i64,
    action: Action,
) -> Result<Outcome, ApiError> {
    if viewer == target {
        return Err(ApiError::SelfConnection);
    }
    let store = source.store();
    // On a task of its own: a caller that goes away cannot stop the transaction halfway
    // (`Store::to_completion`).
    let outcome = retry_once(|| {
        store.to_completion(move |store| async move {
            let tx = match store.lock_pair(viewer, target).await? {
                Ok(tx) => tx,
                Err(Missing::Viewer) => return Ok(Err(unknown_viewer())),
                Err(Missing::Target) => return Ok(Err(ApiError::NotFound)),
            };
            // Checks 1 and 4 as the locks found the users (`perform` leaves them to the locks
            // when the cache does not hold the viewer or the target).
            if action.refuses_deleted_target() && tx.target_deleted() {
                return Ok(Err(ApiError::NotFound));
            }
            let mut rows = tx.read(viewer, target).await?;
            let (effect, event) = match decide(action, PairState::of(&rows)) {
                Ok(decision) => decision,
                // Dropping the transaction rolls it back.
                Err(refusal) => return Ok(Err(refusal)),
            };
            let now = now_whole_seconds_us();
            let mut changed = true;
            match effect {
                Effect::Nothing => changed = false,
                Effect::CreateRequest => {
                    rows.outgoing = Some(tx.create_request(viewer, target, now).await?);
                }
                Effect::Connect => {
                    tx.connect(viewer, target, now).await?;
                    rows = PairRows {
                        connected_at_us: Some(now),
                        ..PairRows::default()
                    };
                }
                Effect::Disconnect => {
                    tx.disconnect(viewer, target).await?;
                    rows.connected_at_us = None;
                }
                Effect::RejectIncoming => {
                    tx.set_rejected(target, viewer, Some(now)).await?;
                    if let Some(request) = rows.incoming.as_mut() {
                        request.rejected_at_us = Some(now);
                    }
                }
                Effect::UnrejectIncoming => {
                    tx.set_rejected(target, viewer, None).await?;
                    if let Some(request) = rows.incoming.as_mut() {
                        request.rejected_at_us = None;
                    }
                }
                Effect::DeleteOutgoing => {
                    tx.delete_request(viewer, target).await?;
                    rows.outgoing = None;
                }
                Effect::MarkIncomingSeen => match rows.incoming.as_mut() {
                    // The first time stays.
                    Some(request) if request.viewed_at_us.is_none() => {
                        tx.set_viewed(target, viewer, now).await?;
                        request.viewed_at_us = Some(now);
                    }
                    _ => changed = false,
                },
            }
            if changed {
                if let Some(kind) = event {
                    tx.record_event(event_row(kind, viewer, target, now, &rows))
                        .await?;
                }
                tx.commit().await?;
            }
            Ok(Ok(Outcome {
                target,
                status: status_of(&rows),
                request: rows.deciding_request(),
                changed,
            }))
        })
    })
    .await??;
    if outcome.changed {
        // Read-your-writes: this server's next read shows the write.
        source.wrote_pair(viewer, target).await;
    }
    Ok(outcome)
}

/// The event of `kind` for `target`, whom `actor` acted on at `at_us`, leaving the pair's
/// rows (from the actor's side) as `rows`: a snapshot, so the subscriber sees the pair as the
/// action left it, whatever happens to it before delivery.
fn event_row(kind: EventKind, actor: i64, target: i64, at_us: i64, rows: &PairRows) -> EventRow {
    // The request concerned, as the action left it: the actor's own new request, or the
    // target's request the actor rejected or took back into its inbox; none once deleted.
    let request = match kind {
        EventKind::RequestReceived => rows.outgoing,
        EventKind::Rejected | EventKind::RejectionCancelled => rows.incoming,
        EventKind::RequestCancelled | EventKind::Accepted | EventKind::Removed => None,
    };
    EventRow {
        id: 0,
        kind: kind.code(),
        actor_id: actor,
        target_id: target,
        at_us,
        target_status: status_of(&rows.mirrored()).map(ConnectionStatus::code),
        request_id: request.map(|r| r.id),
        request_from_id: request.map(|r| r.from_user_id),
        request_to_id: request.map(|r| r.to_user_id),
        request_created_us: request.map(|r| r.created_at_us),
        request_rejected_us: request.and_then(|r| r.rejected_at_us),
        request_viewed_us: request.and_then(|r| r.viewed_at_us),
    }
}

/// The viewer's `connection_status` towards each of `others` (stored data, whatever the
/// settings; its own id: null).
pub async fn connection_statuses(
    source: &Source,
    viewer: i64,
    others: &[i64],
) -> Result<Vec<(i64, Option<ConnectionStatus>)>, ApiError> {
    let relations = retry_once(|| source.relations(viewer, others)).await?;
    Ok(others
        .iter()
        .map(|other| {
            let relation = relations.get(other).copied().unwrap_or_default();
            (*other, ConnectionStatus::of(Some(viewer), *other, relation))
        })
        .collect())
}

/// The viewer's `connection_status` towards `target` (self: null).
pub async fn connection_status(
    source: &Source,
    viewer: i64,
    target: i64,
) -> Result<Option<ConnectionStatus>, ApiError> {
    let statuses = connection_statuses(source, viewer, &[target]).await?;
    Ok(statuses.first().and_then(|(_, status)| *status))
}

/// Whether the viewer and `target` are connected (self: false).
pub async fn is_connection(source: &Source, viewer: i64, target: i64) -> Result<bool, ApiError> {
    Ok(connection_status(source, viewer, target).await? == Some(ConnectionStatus::Connected))
}

/// Who acts (check 1 of routes 1–7): the user the credentials name, with the settings in
/// force, and whether that user is known to exist yet.
///
/// When the graph cache serves but does not hold the viewer, its existence is left to the
/// action's lock statement, which reads both users' rows anyway: one statement less for every
/// action of a viewer the cache has not seen (issue 21, `bench/lifecycle`). Every answer that
/// would come before the lock (403, 404, 400 `self_connection`) confirms the viewer first,
/// so the order of the checks is the same either way.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub access: Access,
    /// Whether the viewer's existence was checked (false: the lock statement checks it).
    pub confirmed: bool,
}

impl Actor {
    /// A viewer the door has already checked.
    pub fn confirmed(access: Access) -> Actor {
        Actor {
            access,
            confirmed: true,
        }
    }

    /// `refusal`, once check 1 has passed: made now if it was left to the lock, since a
    /// missing viewer's 401 comes first.
    async fn refuse<T>(&self, source: &Source, refusal: ApiError) -> Result<T, ApiError> {
        if let (false, Some(viewer)) = (self.confirmed, self.access.viewer) {
            if user_record(source, viewer).await?.is_none() {
                return Err(unknown_viewer());
            }
        }
        Err(refusal)
    }
}

/// Check 1 of routes 1–7: credentials are required whatever `content_availability` says, and
/// must name an existing user; when the graph cache serves but does not hold that user, the
/// action's lock statement checks it (`Actor`).
pub async fn authenticate_actor(source: &Source, claimed: Option<i64>) -> Result<Actor, ApiError> {
    let Some(viewer) = claimed else {
        return Err(ApiError::NotAuthenticated);
    };
    if !source.from_memory() {
        // One statement reads the settings and whether the viewer exists.
        return Ok(Actor::confirmed(identify(source, claimed).await?));
    }
    // One lookup of the viewer (a second would count twice in the cache's admission sketch).
    let held = source.cached_user(viewer);
    if let Some(None) = held {
        return Err(unknown_viewer());
    }
    let settings = retry_once(|| source.settings()).await?;
    Ok(Actor {
        access: Access {
            viewer: Some(viewer),
            settings,
        },
        confirmed: held.is_some(),
    })
}

/// A valid credential for a user that does not exist (check 1).
fn unknown_viewer() -> ApiError {
    ApiError::AuthenticationFailed(BAD_CREDENTIALS)
}

/// Checks 3 to 6 of an action (routes 1–7, and their mutations) and the action itself, for a
/// viewer the door has authenticated (check 1, perhaps left to the lock: `Actor`; check 2, the
/// method, is the door's own): friendship mode, the target, self, the pair's state.
pub async fn perform(
    source: &Source,
    actor: &Actor,
    target: Target,
    action: Action,
) -> Result<Outcome, ApiError> {
    let access = &actor.access;
    let viewer = access.viewer.ok_or(ApiError::NotAuthenticated)?;
    if action.needs_friendship() {
        if let Err(refusal) = check_friendship(access) {
            return actor.refuse(source, refusal).await;
        }
    }
    let Target::Id(target) = target else {
        return actor.refuse(source, ApiError::NotFound).await;
    };
    // Check 4 (the target) from the record the cache holds, or before check 5 (self) for the
    // viewer itself. Otherwise the lock statement of the action makes it (`act`): it reads
    // both users' rows anyway, so a target the cache does not hold costs no statement of its
    // own (issue 21, `bench/lifecycle`).
    let refuse_deleted = action.refuses_deleted_target();
    match source.cached_user(target) {
        Some(user) => {
            if let Err(refusal) = admitted(user.as_deref(), refuse_deleted) {
                return actor.refuse(source, refusal).await;
            }
        }
        None if target == viewer => {
            // One read of the viewer's row makes checks 1 and 4 both.
            let user = user_record(source, target).await?;
            if user.is_none() && !actor.confirmed {
                return Err(unknown_viewer());
            }
            admitted(user.as_deref(), refuse_deleted)?;
        }
        None => {}
    }
    act(source, viewer, target, action).await
}

/// Check 1 of the lifecycle routes: credentials are required whatever
/// `content_availability` says, and must name an existing user.
pub async fn authenticate(source: &Source, claimed: Option<i64>) -> Result<Access, ApiError> {
    if claimed.is_none() {
        return Err(ApiError::NotAuthenticated);
    }
    identify(source, claimed).await
}

/// Check 3: friendship mode, for the routes that need it.
pub fn check_friendship(access: &Access) -> Result<(), ApiError> {
    if access.settings.connection_enabled {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// Check 4: the target exists (and, when `refuse_deleted`, is not soft-deleted).
pub async fn admit_target(
    source: &Source,
    target: Target,
    refuse_deleted: bool,
) -> Result<i64, ApiError> {
    let Target::Id(id) = target else {
        return Err(ApiError::NotFound);
    };
    admitted(user_record(source, id).await?.as_deref(), refuse_deleted)?;
    Ok(id)
}

/// User `id`'s record (None: no such user), from the cache or SQL.
async fn user_record(source: &Source, id: i64) -> Result<Option<Arc<UserRecord>>, ApiError> {
    let ids = [id];
    let mut users = retry_once(|| source.users_by_ids(&ids)).await?;
    Ok(users.remove(&id))
}

/// Check 4 on the target's record (None: no such user).
fn admitted(user: Option<&UserRecord>, refuse_deleted: bool) -> Result<(), ApiError> {
    match user {
        Some(user) if !(refuse_deleted && user.deleted) => Ok(()),
        _ => Err(ApiError::NotFound),
    }
}

/// Which of `ids` name existing users (soft-deleted ones included).
pub async fn existing_users(source: &Source, ids: &[i64]) -> Result<Vec<i64>, ApiError> {
    let users = retry_once(|| source.users_by_ids(ids)).await?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| users.contains_key(id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [PairState; 6] = [
        PairState::Connected,
        PairState::OutPending,
        PairState::OutRejected,
        PairState::InPending,
        PairState::InRejected,
        PairState::None,
    ];

    #[test]
    fn only_request_and_retries_succeed_from_none() {
        for action in [
            Action::Accept,
            Action::Reject,
            Action::CancelReject,
            Action::MarkSeen,
        ] {
            assert_eq!(
                decide(action, PairState::None).unwrap_err().code(),
                "no_request"
            );
        }
        assert_eq!(
            decide(Action::Request, PairState::None).unwrap(),
            (Effect::CreateRequest, Some(EventKind::RequestReceived))
        );
        for action in [Action::CancelRequest, Action::Remove] {
            assert_eq!(
                decide(action, PairState::None).unwrap(),
                (Effect::Nothing, None)
            );
        }
    }

    #[test]
    fn remove_never_touches_requests() {
        for state in STATES {
            let decision = decide(Action::Remove, state);
            match state {
                PairState::Connected => assert_eq!(decision.unwrap().0, Effect::Disconnect),
                PairState::None => assert_eq!(decision.unwrap().0, Effect::Nothing),
                _ => assert_eq!(decision.unwrap_err().code(), "not_connected"),
            }
        }
    }

    #[test]
    fn states_in_priority_order() {
        let request = |from, to, rejected: Option<i64>| RequestRow {
            from_user_id: from,
            to_user_id: to,
            created_at_us: 0,
            id: 1,
            rejected_at_us: rejected,
            viewed_at_us: None,
        };
        let both = PairRows {
            connected_at_us: None,
            outgoing: Some(request(1, 2, Some(5))),
            incoming: Some(request(2, 1, None)),
        };
        assert_eq!(PairState::of(&both), PairState::OutRejected);
        assert_eq!(
            status_of(&both),
            Some(ConnectionStatus::SentConnectionRequest)
        );
        let rejected_in = PairRows {
            incoming: Some(request(2, 1, Some(5))),
            ..PairRows::default()
        };
        assert_eq!(PairState::of(&rejected_in), PairState::InRejected);
        assert_eq!(status_of(&rejected_in), None);
        assert_eq!(PairState::of(&PairRows::default()), PairState::None);
    }
}
