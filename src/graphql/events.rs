//! The `connectionEvents` subscription: what happens to the subscriber's connections, live.
//!
//! Events come from the database (`connection_events`, written by each action in its
//! transaction) through this server's feed follower and `cache::EventHub`: so a subscriber
//! sees the actions of every server, after they commit, in commit order. Delivery starts when
//! the subscription is registered (no replay) and ends when the client stops, when friendship
//! mode is turned off (the stream completes), or with an error when the client reads too
//! slowly to keep up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_graphql::{Context, Object, Subscription, ID};
use futures_util::stream::{self, Stream};

use super::request::RequestContext;
use super::types::{ConnectionRequest, FriendEdge, User};
use crate::cache::{self, Source};
use crate::core::lifecycle::EventKind;
use crate::core::{ConnectionStatus, FriendList};
use crate::error::{ApiError, GraphqlResult};
use crate::store::time::api_time;
use crate::store::{EdgeKey, EventRow, RequestRow};

fn request<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// The subscriptions open on one socket (in the socket's connection data), and how many it
/// may hold (`WS_MAX_SUBSCRIPTIONS`: each is a buffer on the server; a client needs one).
#[derive(Clone)]
pub struct SocketSubscriptions {
    open: Arc<AtomicUsize>,
    max: usize,
    /// Called on each refusal (the socket counts it in its metrics).
    on_refused: Arc<dyn Fn() + Send + Sync>,
}

impl SocketSubscriptions {
    pub fn new(max: usize, on_refused: Arc<dyn Fn() + Send + Sync>) -> SocketSubscriptions {
        SocketSubscriptions {
            open: Arc::default(),
            max,
            on_refused,
        }
    }
}

/// One of a socket's subscriptions: counted while it lives.
struct Counted(SocketSubscriptions);

impl Counted {
    /// Counts a new subscription on the socket of `ctx` (subscriptions run on sockets only),
    /// or refuses it past the maximum: an `error` message for that operation, the socket and
    /// its other subscriptions going on (the protocol has no close code for it).
    fn open(ctx: &Context<'_>) -> async_graphql::Result<Counted> {
        let socket = ctx.data::<SocketSubscriptions>()?;
        let open = socket.open.fetch_add(1, Ordering::Relaxed);
        let counted = Counted(socket.clone());
        if open >= socket.max {
            (socket.on_refused)();
            let max = socket.max;
            return Err(ApiError::Invalid {
                field: "connectionEvents",
                message: format!("A socket may hold at most {max} connectionEvents subscriptions."),
            })
            .or_graphql();
        }
        Ok(counted)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The subscriber's connection events: another user requested, withdrew, accepted,
    /// rejected, took back a rejection, or removed a connection. Requires credentials and
    /// friendship mode; completes when friendship mode is turned off.
    async fn connection_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ConnectionEvent>>> {
        let rc = request(ctx);
        let (viewer, _) = rc.viewer_required().await?;
        let counted = Counted::open(ctx)?;
        // Registered before the settings are read: an event committed from now on is not
        // missed, and one that arrives before friendship mode is confirmed waits in the
        // subscription's buffer. None from before (`Source::subscribe_events`).
        let subscription = rc
            .source
            .subscribe_events(viewer, rc.config.ws.subscription_buffer)
            .await;
        let settings = rc.source.settings().await.or_graphql()?;
        if !settings.connection_enabled {
            return Err(ApiError::PermissionDenied).or_graphql();
        }
        Ok(live(rc.source.clone(), subscription, counted))
    }
}

/// The stream of one subscription.
fn live(
    source: Source,
    subscription: cache::Subscription,
    counted: Counted,
) -> impl Stream<Item = async_graphql::Result<ConnectionEvent>> {
    stream::unfold(Some((source, subscription, counted)), |state| async move {
        let (source, mut subscription, counted) = state?;
        let item = next_event(&source, &mut subscription).await?;
        // After an error the stream ends.
        let state = item.is_ok().then_some((source, subscription, counted));
        Some((item, state))
    })
}

/// The next event to send; None when the subscription ends (friendship mode off, or the
/// server stopping).
async fn next_event(
    source: &Source,
    subscription: &mut cache::Subscription,
) -> Option<async_graphql::Result<ConnectionEvent>> {
    loop {
        // Only the two waits stay in an idle subscription's state: the reads that follow a
        // wake-up (the cache, or SQL on a miss) are futures of kilobytes, boxed so that they
        // take memory while they run instead of in every subscription all along.
        let woke = tokio::select! {
            event = subscription.events.recv() => Woke::Event(event),
            changed = subscription.settings.changed() => Woke::Settings(changed.is_ok()),
        };
        match woke {
            Woke::Event(None) => {
                return subscription.overflowed().then(|| {
                    Err(async_graphql::Error::new(
                        "Events were dropped: the subscription fell too far behind. Subscribe again.",
                    ))
                });
            }
            Woke::Event(Some(row)) => match Box::pin(ConnectionEvent::of_row(source, &row)).await {
                Ok(Some(event)) => return Some(Ok(event)),
                // The actor was deleted for good before delivery: nobody to show.
                Ok(None) => continue,
                Err(err) => return Some(Err(err)),
            },
            Woke::Settings(false) => return None,
            Woke::Settings(true) => match Box::pin(source.settings()).await {
                Ok(settings) if !settings.connection_enabled => return None,
                Ok(_) => continue,
                Err(err) => return Some(Err(err).or_graphql()),
            },
        }
    }
}

/// What woke a subscription up.
enum Woke {
    /// An event, or None: the hub dropped the subscription.
    Event(Option<Arc<EventRow>>),
    /// The settings may have changed (false: the hub is gone).
    Settings(bool),
}

/// What happened, who did it, when, and the request concerned.
pub struct ConnectionEvent {
    kind: EventKind,
    user: User,
    at_us: i64,
    request: Option<ConnectionRequest>,
    /// ACCEPTED: the new connection as an edge of the subscriber's `friends`.
    edge: Option<FriendEdge>,
    /// REMOVED: the user whose connection was removed.
    removed: Option<i64>,
}

impl ConnectionEvent {
    /// The event of a stored row, with the actor's record as it is now; None when the actor
    /// no longer exists.
    async fn of_row(
        source: &Source,
        row: &EventRow,
    ) -> async_graphql::Result<Option<ConnectionEvent>> {
        let Some(kind) = EventKind::from_code(row.kind) else {
            return Ok(None);
        };
        let actors = source.users_by_ids(&[row.actor_id]).await.or_graphql()?;
        if !actors.contains_key(&row.actor_id) {
            return Ok(None);
        }
        // The subscriber's status with the actor as the action left it; the subscriber has
        // none with itself.
        let status = row.target_status.and_then(ConnectionStatus::from_code);
        let status_of = |id: i64| if id == row.actor_id { status } else { None };
        // The subscriber's own list, as the subscriber reads it: every connection there is
        // one of the subscriber's, so mutual; the action's time is the connection's.
        let edge = (kind == EventKind::Accepted).then(|| {
            let list = FriendList {
                owner: row.target_id,
                viewer: Some(row.target_id),
                mutual: None,
            };
            FriendEdge {
                cursor: list.cursor(EdgeKey {
                    mutual: true,
                    connected_at_us: row.at_us,
                    id: row.actor_id,
                }),
                node: User::with_status(row.actor_id, status),
                connected_at: api_time(row.at_us),
                is_mutual: true,
            }
        });
        Ok(Some(ConnectionEvent {
            kind,
            user: User::with_status(row.actor_id, status),
            at_us: row.at_us,
            request: request_of(row).map(|r| ConnectionRequest::of_row(&r, status_of)),
            edge,
            removed: (kind == EventKind::Removed).then_some(row.actor_id),
        }))
    }
}

/// The request an event carries, as the action left it.
fn request_of(row: &EventRow) -> Option<RequestRow> {
    Some(RequestRow {
        id: row.request_id?,
        from_user_id: row.request_from_id?,
        to_user_id: row.request_to_id?,
        created_at_us: row.request_created_us?,
        rejected_at_us: row.request_rejected_us,
        viewed_at_us: row.request_viewed_us,
    })
}

#[Object]
impl ConnectionEvent {
    /// What happened.
    async fn kind(&self) -> EventKind {
        self.kind
    }
    /// The user who acted; `connectionStatus` is the subscriber's status with them after the
    /// event.
    async fn user(&self, ctx: &Context<'_>) -> &User {
        // Each event is resolved with the subscription's one context: what its loaders
        // remember of earlier events is forgotten.
        request(ctx).forget();
        &self.user
    }
    /// When: the time the action wrote (RFC 3339, UTC, whole seconds).
    async fn at(&self) -> String {
        api_time(self.at_us)
    }
    /// The request concerned, as it is after the event; null once deleted (REQUEST_CANCELLED,
    /// ACCEPTED, REMOVED).
    async fn request(&self, ctx: &Context<'_>) -> Option<&ConnectionRequest> {
        request(ctx).forget();
        self.request.as_ref()
    }
    /// ACCEPTED: the new connection as an edge of the subscriber's `friends` list (read by
    /// the subscriber, without a `mutual` filter): a client splices it into its cached list
    /// without a refetch (`docs/cursors.md`). Null for the other kinds.
    async fn edge(&self, ctx: &Context<'_>) -> Option<&FriendEdge> {
        request(ctx).forget();
        self.edge.as_ref()
    }
    /// REMOVED: the id of the user whose connection with the subscriber was removed, the
    /// edge to drop from the subscriber's cached lists. Null for the other kinds.
    async fn removed_id(&self) -> Option<ID> {
        self.removed.map(|id| ID(id.to_string()))
    }
}
