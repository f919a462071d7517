//! GraphQL over WebSocket on `/graphql` (`graphql-transport-ws`, the protocol of the
//! `graphql-ws` library): the transport of the `connectionEvents` subscription (operations of
//! every type run on it too).
//!
//! `async-graphql-axum`'s `GraphQLWebSocket` speaks the protocol; this module adds what the
//! spec asks beyond it:
//!
//! - credentials from the `connection_init` payload (`{"Authorization": "Bearer ..."}`, key in
//!   any case), else from the upgrade request's `Authorization` header. A bad token closes
//!   the socket with 4403 `Forbidden` (the library closes a refused init with 1002; the
//!   outgoing sink turns that close into 4403). No credentials: acknowledged, anonymous;
//! - when the credential expires (a JWT's `exp`, a stored token's `expires_at`), the server
//!   closes the socket with 4401 `Unauthorized`;
//! - an operation that fails as a whole (it does not validate, or the subscription is refused:
//!   `data` is null) is answered with an `error` message rather than a `next` (the library
//!   only sends `next`), and without the `complete` that would follow it;
//! - persisted queries and document limits apply as on HTTP (`GatewayExecutor`);
//! - the protocol's rules the library does not keep (`ws_protocol`: 4400, 4401, 4409, 4429,
//!   1009), the init timeout (4408 after `WS_INIT_TIMEOUT_MS`), the keep-alive (a Ping every
//!   `WS_PING_INTERVAL_MS`, 1001 for a peer silent one more interval) and the bound on open
//!   sockets (`WS_MAX_SOCKETS`, 1013). Each close the server decides is counted in
//!   `gateway_ws_refused_total{reason}`;
//! - a bounded outbound queue per socket (`ws_outbound`, `WS_MAX_OUTBOUND_BYTES`): a peer that
//!   does not read what is sent to it is closed with 4413 `Outbound queue full` instead of
//!   making the server hold its events without bound.
//!
//! What an idle socket costs is sized here on purpose (`socket_buffers`): tungstenite's
//! default 128 KiB read buffer, zero-filled at the first read, was most of it.

use std::any::TypeId;
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream::StreamExt;
use futures_util::SinkExt;
use serde_json::Value;
use tokio::sync::{oneshot, Mutex};

use super::documents::Documents;
use super::events::SocketSubscriptions;
use super::http;
use super::request::RequestContext;
use super::schema::GatewaySchema;
use super::state::GraphqlState;
use super::ws_outbound::{Outbound, SharedSink};
use super::ws_protocol::{self, Close, Incoming, Refusal};
use crate::core;
use crate::error::ApiError;
use crate::extract::Credentials;
use crate::state::AppState;
use crate::store::time::now_us;

/// The reason of a refused `connection_init` (turned into close code 4403).
const FORBIDDEN: &str = "Forbidden";
/// The reason of an init that failed on our side (close code 1011).
const INTERNAL: &str = "Internal server error";
/// The longest single wait for a credential's expiry (longer ones wait again).
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);
/// The longest wait to write a close frame: a peer that reads nothing must not hold the
/// socket's task.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest wait to write the 4413 close to a peer that stopped reading: longer than other
/// closes, so that a peer that was only stalled for a moment (a suspended tab, a slow link)
/// learns why it was closed instead of seeing a bare 1006. It holds the socket's task and
/// what tungstenite still holds of one message, no more: the queue is emptied first.
const OUTBOUND_FULL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The close of a peer that does not read its messages. A 4xxx code, not 1008 Policy
/// Violation: graphql-ws clients treat every 1xxx code but a few (1000, 1001, 1005, 1006,
/// 1012-1014) as fatal and stop retrying, while they reconnect after a 4xxx code they do not
/// know; a peer that fell behind for a while should come back (and refetch what it missed:
/// events are not replayed). 413 as in HTTP's Content Too Large: what waited for it was.
const OUTBOUND_FULL: (u16, &str) = (4413, "Outbound queue full");

/// tungstenite's buffers for one socket (its defaults: 128 KiB to read into, zero-filled at
/// the first read, so 128 KiB of every socket's RSS; writes staged up to 128 KiB; no bound
/// on the write buffer).
mod socket_buffers {
    /// What one read from the kernel takes at most. The client's messages are small (an init
    /// with a token, a subscribe, a ping: a few hundred bytes); a larger frame, up to
    /// `MAX_BODY_BYTES`, is still read whole, the buffer growing for it.
    pub const READ: usize = 4 * 1024;
    /// Frames are written to the kernel at once: the outbound queue flushes after every
    /// message anyway, and staging would only add a copy held per socket.
    pub const WRITE: usize = 0;
    /// A backstop on tungstenite's write buffer: the outbound queue hands it one message at a
    /// time and waits for its flush, so it holds one message (then the close). Only a single
    /// message larger than this is refused (the socket then fails); the GraphQL limits keep
    /// answers far below it.
    pub const MAX_WRITE: usize = 16 * 1024 * 1024;
}

/// `GET /graphql`: a WebSocket upgrade, else GraphQL over HTTP (or the playground).
pub async fn get(State(state): State<GraphqlState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if !is_websocket_upgrade(&parts.headers) {
        let Ok(credentials) = Credentials::from_request_parts(&mut parts, &state).await;
        return http::get(State(state), credentials, parts.headers, parts.uri).await;
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(_) => {
            return http::refusal(
                &parts.headers,
                ApiError::BadRequest(
                    "Sec-WebSocket-Protocol must name graphql-transport-ws.".to_string(),
                ),
            )
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let config = &state.app.config;
    let upgrade = upgrade
        .max_message_size(config.max_body_bytes)
        .read_buffer_size(socket_buffers::READ)
        .write_buffer_size(socket_buffers::WRITE)
        .max_write_buffer_size(socket_buffers::MAX_WRITE)
        .protocols(ALL_WEBSOCKET_PROTOCOLS);
    let Some(slot) = SocketSlot::take(&state.sockets, config.ws.max_sockets) else {
        // Over WS_MAX_SOCKETS the upgrade is accepted and closed at once with 1013 rather
        // than answered 503: a browser's WebSocket reports a refused upgrade as a bare 1006
        // (no status, no reason), while 1013 `Try again later` reaches the client's close
        // handler as it is, and graphql-ws clients retry it (with back-off) as they do 1006.
        // The refused socket costs one short task, not a slot.
        state.app.metrics.ws_refused(Refusal::SocketsFull.label());
        return upgrade.on_upgrade(|socket| async move {
            let (mut sink, _stream) = socket.split();
            let close = Close::new(1013, "Try again later", Refusal::SocketsFull);
            let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, sink.send(close.frame())).await;
        });
    };
    let strict = speaks_transport_ws(&parts.headers);
    let Ok(credentials) = Credentials::from_request_parts(&mut parts, &state).await;
    let session = Session {
        credentials,
        origin: core::origin(config.public_base_url.as_deref(), &parts.headers, None),
    };
    upgrade.on_upgrade(move |socket| {
        let drain = state.app.drain.clone();
        drain.track_socket(serve(state, socket, protocol, strict, session, slot))
    })
}

/// Whether the subprotocol chosen (as `GraphQLProtocol` chooses it: the first one known of
/// the request's list) is `graphql-transport-ws`, whose rules `ws_protocol` checks.
fn speaks_transport_ws(headers: &HeaderMap) -> bool {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
        == Some(WebSocketProtocols::GraphQLWS)
}

/// One of the server's `WS_MAX_SOCKETS` sockets, held while the socket lives.
struct SocketSlot(Arc<AtomicUsize>);

impl SocketSlot {
    /// A slot, unless `max` sockets are open.
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<SocketSlot> {
        // Counted first, then checked: two upgrades at once cannot both take the last slot
        // (the one refused gives its count back as the slot drops).
        let before = open.fetch_add(1, Ordering::Relaxed);
        let slot = SocketSlot(open.clone());
        (before < max).then_some(slot)
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// What the upgrade request tells the socket.
struct Session {
    /// Its `Authorization` header's (used when `connection_init` carries none).
    credentials: Credentials,
    /// Scheme + host for REST links.
    origin: String,
}

/// Serves one socket until it closes, breaks a rule, falls silent, stops reading, or its
/// credential expires.
async fn serve(
    state: GraphqlState,
    socket: WebSocket,
    protocol: GraphQLProtocol,
    strict: bool,
    session: Session,
    _slot: SocketSlot,
) {
    let (sink, stream) = socket.split();
    let sink: SharedSink = Arc::new(Mutex::new(sink));
    let tracker = ws_protocol::Shared::default();
    let (expiry_tx, expiry_rx) = oneshot::channel::<i64>();
    let app = state.app.clone();
    let limits = app.config.ws;
    let going_away = app.drain.going_away();
    let outbound = Arc::new(Outbound::new(
        limits.max_outbound_bytes,
        app.metrics.ws_outbound_bytes(),
    ));
    let outgoing = futures_util::sink::unfold(
        Outgoing {
            outbound: outbound.clone(),
            rewriter: Rewriter::default(),
            tracker: tracker.clone(),
            app: app.clone(),
        },
        |mut out, message: Message| async move {
            if let Some(message) = out.rewriter.rewrite(message) {
                match &message {
                    // Before it is sent: the client may answer it at once.
                    Message::Text(text) => ws_protocol::lock(&out.tracker).sent(text.as_str()),
                    Message::Close(Some(frame)) => {
                        if let Some(refusal) = library_refusal(frame.code) {
                            out.app.metrics.ws_refused(refusal.label());
                        }
                    }
                    _ => {}
                }
                // Queued, not written: the library goes on serving the socket's other
                // operations while the peer reads (`ws_outbound`). A message that does not fit
                // ends the socket (the `overflowed` branch below).
                out.outbound.push(message);
            }
            Ok::<_, axum::Error>(out)
        },
    );
    let executor = GatewayExecutor {
        schema: state.schema.clone(),
        documents: state.documents.clone(),
    };
    let incoming = Incoming::new(stream, tracker.clone(), strict);
    let init_app = app.clone();
    let socket = GraphQLWebSocket::new_with_pair(outgoing, incoming, executor, protocol)
        .on_connection_init(move |payload| connection_init(init_app, session, payload, expiry_tx));
    let close = tokio::select! {
        // The library stops when the socket closes, or when `Incoming` met a violation.
        _ = socket.serve() => ws_protocol::lock(&tracker).take_violation(),
        // The socket is broken: nothing more can be written.
        _ = outbound.write(&sink) => return,
        _ = outbound.overflowed() => {
            let (code, reason) = OUTBOUND_FULL;
            Some(Close::new(code, reason, Refusal::OutboundFull))
        }
        _ = expiry(expiry_rx) => {
            Some(Close::new(4401, "Unauthorized", Refusal::CredentialExpired))
        }
        _ = init_timeout(&tracker, limits.init_timeout) => Some(Close::new(
            4408,
            "Connection initialisation timeout",
            Refusal::InitTimeout,
        )),
        // 1001 rather than 1011: the peer (or the path to it) went away, the server did not
        // fail; graphql-ws clients reconnect after 1001 and give up after 1011, and a peer
        // that was only starved (a suspended tab, a network blip) should come back.
        _ = keep_alive(&sink, &tracker, limits.ping_interval) => {
            Some(Close::new(1001, "Keep-alive timeout", Refusal::KeepAlive))
        }
        _ = going_away => Some(Close::going_away()),
    };
    let overflowed = close
        .as_ref()
        .is_some_and(|close| close.refusal == Some(Refusal::OutboundFull));
    let within = if overflowed {
        OUTBOUND_FULL_CLOSE_TIMEOUT
    } else {
        CLOSE_WRITE_TIMEOUT
    };
    if let Some(refusal) = close.as_ref().and_then(|close| close.refusal) {
        app.metrics.ws_refused(refusal.label());
    }
    // What the library queued before the end goes first (its own close, a last answer), then
    // the close the server decided; within one bound, for a peer that reads nothing.
    let finish = async {
        outbound.write_queued(&sink).await?;
        match close {
            Some(close) => sink.lock().await.send(close.frame()).await,
            None => Ok(()),
        }
    };
    let _ = tokio::time::timeout(within, finish).await;
}

/// Why the library closed the socket, once `Rewriter` has given the close its code.
fn library_refusal(code: u16) -> Option<Refusal> {
    match code {
        4403 => Some(Refusal::Forbidden),
        1011 => Some(Refusal::InitFailed),
        // The older subprotocol's messages are the library's to check.
        1002 | 4400 => Some(Refusal::BadMessage),
        4429 => Some(Refusal::TooManyInits),
        _ => None,
    }
}

/// Resolves `within` after the socket opened if no `connection_init` arrived by then.
async fn init_timeout(tracker: &ws_protocol::Shared, within: Duration) {
    tokio::time::sleep(within).await;
    if ws_protocol::lock(tracker).init_received() {
        std::future::pending::<()>().await;
    }
}

/// Pings the peer every `interval`; resolves when it sent nothing at all (no Pong, no
/// message) in the interval after a Ping, or when a Ping cannot be written within one.
async fn keep_alive(sink: &SharedSink, tracker: &ws_protocol::Shared, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unanswered: Option<Instant> = None;
    loop {
        ticks.tick().await;
        if let Some(pinged) = unanswered {
            if ws_protocol::lock(tracker).last_seen() < pinged {
                return;
            }
        }
        // Taken before the write: on loopback the Pong can be read before the write returns.
        unanswered = Some(Instant::now());
        let ping = async {
            sink.lock()
                .await
                .send(Message::Ping(axum::body::Bytes::new()))
                .await
        };
        if !matches!(tokio::time::timeout(interval, ping).await, Ok(Ok(()))) {
            return;
        }
    }
}

/// `connection_init`: authenticates the socket (the payload's credentials, else the upgrade
/// request's) and admits its viewer once, so a `subscribe` registers without a round trip.
async fn connection_init(
    app: AppState,
    session: Session,
    payload: Value,
    expiry: oneshot::Sender<i64>,
) -> async_graphql::Result<Data> {
    let config = &app.config;
    let credentials = match init_authorization(&payload) {
        // An entry that cannot be a header value is a bad credential, not an absent one.
        Some(value) => Credentials::read(
            Some(
                &value
                    .as_str()
                    .and_then(|value| HeaderValue::from_str(value).ok())
                    .ok_or_else(|| async_graphql::Error::new(FORBIDDEN))?,
            ),
            config,
        ),
        None => session.credentials,
    };
    let refuse = |err: ApiError| match err {
        ApiError::AuthenticationFailed(_) | ApiError::NotAuthenticated => {
            async_graphql::Error::new(FORBIDDEN)
        }
        other => {
            tracing::warn!(error = %other, "WebSocket connection_init failed");
            async_graphql::Error::new(INTERNAL)
        }
    };
    if let Some(claimed) = credentials
        .clone()
        .session(app.source.store())
        .await
        .map_err(refuse)?
    {
        let _ = expiry.send(claimed.expires_at_us);
    }
    let context = RequestContext::new(
        app.source.clone(),
        config.clone(),
        credentials,
        session.origin,
    );
    // A token whose user no longer exists is refused here too; a failure to find out (the
    // database) is ours: 1011, not a verdict on the credential.
    context.access().await.map_err(|err| {
        let code = err.extensions.as_ref().and_then(|e| e.get("code"));
        if code == Some(&async_graphql::Value::from("UNAUTHENTICATED")) {
            async_graphql::Error::new(FORBIDDEN)
        } else {
            tracing::warn!(error = %err.message, "WebSocket connection_init failed");
            async_graphql::Error::new(INTERNAL)
        }
    })?;
    let mut data = Data::default();
    data.insert(context);
    let metrics = app.metrics.clone();
    data.insert(SocketSubscriptions::new(
        config.ws.max_subscriptions,
        Arc::new(move || metrics.ws_refused(Refusal::SubscriptionsFull.label())),
    ));
    Ok(data)
}

/// The `Authorization` entry of a `connection_init` payload (key in any case; `null` is no
/// entry).
fn init_authorization(payload: &Value) -> Option<&Value> {
    payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// Resolves when the credential given at `connection_init` expires (never without one).
async fn expiry(expires_at_us: oneshot::Receiver<i64>) {
    let Ok(at_us) = expires_at_us.await else {
        return std::future::pending().await;
    };
    loop {
        let left = at_us.saturating_sub(now_us());
        if left <= 0 {
            return;
        }
        let wait = Duration::from_micros(left.unsigned_abs()).min(LONGEST_WAIT);
        tokio::time::sleep(wait).await;
    }
}

/// The socket's outgoing side, as the protocol library writes to it.
struct Outgoing {
    outbound: Arc<Outbound>,
    rewriter: Rewriter,
    /// Told what is sent: the acknowledgement, the operations that end.
    tracker: ws_protocol::Shared,
    app: AppState,
}

/// Turns the library's messages into what the spec asks for (module comment).
#[derive(Default)]
struct Rewriter {
    /// Operations answered with an `error` message: their `complete` is not sent.
    failed: HashSet<String>,
}

impl Rewriter {
    /// What is sent for a message of the library (None: nothing).
    fn rewrite(&mut self, message: Message) -> Option<Message> {
        let close = |code: u16, reason: &str| {
            Some(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
        };
        match message {
            Message::Close(Some(frame)) if frame.code == 1002 && frame.reason == FORBIDDEN => {
                close(4403, FORBIDDEN)
            }
            Message::Close(Some(frame)) if frame.code == 1002 && frame.reason == INTERNAL => {
                close(1011, INTERNAL)
            }
            Message::Text(text) => self
                .rewrite_text(text.as_str())
                .map(|text| Message::Text(text.into())),
            other => Some(other),
        }
    }

    fn rewrite_text(&mut self, text: &str) -> Option<String> {
        // Most messages are events: only those that can need a change are parsed.
        let may_fail = text.contains("\"errors\"");
        let may_complete = text.starts_with("{\"type\":\"complete\"");
        if !may_fail && !may_complete {
            return Some(text.to_string());
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Some(text.to_string());
        };
        let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
        match value.get("type").and_then(Value::as_str) {
            Some("complete") if self.failed.remove(id) => None,
            Some("next") => {
                let payload = value.get("payload");
                let no_data = payload
                    .and_then(|p| p.get("data"))
                    .is_none_or(Value::is_null);
                match payload.and_then(|p| p.get("errors")) {
                    Some(errors) if no_data => {
                        self.failed.insert(id.to_string());
                        let error =
                            serde_json::json!({"type": "error", "id": id, "payload": errors});
                        Some(error.to_string())
                    }
                    _ => Some(text.to_string()),
                }
            }
            _ => Some(text.to_string()),
        }
    }
}

/// The schema behind the socket, with the document checks of the HTTP door (persisted
/// queries, field limits) applied to every operation first.
#[derive(Clone)]
struct GatewayExecutor {
    schema: GatewaySchema,
    documents: Arc<Documents>,
}

impl Executor for GatewayExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        match self.documents.prepare(request) {
            Ok(request) => self.schema.execute(request).await,
            Err(error) => async_graphql::Response::from_errors(vec![error]),
        }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        // One context serves the socket's operations: each reads the data as it is now.
        let context = session_data
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<RequestContext>()))
            .and_then(|context| context.downcast_ref::<RequestContext>());
        if let Some(context) = context {
            context.forget();
        }
        match self.documents.prepare(request) {
            Ok(request) => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                .boxed(),
            Err(error) => futures_util::stream::once(async move {
                async_graphql::Response::from_errors(vec![error])
            })
            .boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(message: Option<Message>) -> Option<String> {
        match message? {
            Message::Text(text) => Some(text.to_string()),
            other => panic!("not a text message: {other:?}"),
        }
    }

    #[test]
    fn init_authorization_takes_the_key_in_any_case() {
        let payload = serde_json::json!({"authorization": "Bearer x"});
        assert_eq!(init_authorization(&payload), Some(&Value::from("Bearer x")));
        let payload = serde_json::json!({"AUTHORIZATION": "Bearer y"});
        assert_eq!(init_authorization(&payload), Some(&Value::from("Bearer y")));
        assert_eq!(init_authorization(&serde_json::json!({})), None);
        assert_eq!(init_authorization(&serde_json::json!(null)), None);
        assert_eq!(
            init_authorization(&serde_json::json!({"Authorization": null})),
            None
        );
    }

    #[test]
    fn a_failed_operation_is_an_error_message_without_its_complete() {
        let mut rewriter = Rewriter::default();
        let next = r#"{"type":"next","id":"1","payload":{"data":null,"errors":[{"message":"no","extensions":{"code":"UNAUTHENTICATED"}}]}}"#;
        let sent: Value =
            serde_json::from_str(&text(rewriter.rewrite(Message::Text(next.into()))).unwrap())
                .unwrap();
        assert_eq!(sent["type"], "error");
        assert_eq!(sent["id"], "1");
        assert_eq!(sent["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
        let complete = r#"{"type":"complete","id":"1"}"#;
        assert_eq!(rewriter.rewrite(Message::Text(complete.into())), None);
        // Another operation's complete goes through.
        let other = r#"{"type":"complete","id":"2"}"#;
        assert_eq!(
            text(rewriter.rewrite(Message::Text(other.into()))).as_deref(),
            Some(other)
        );
    }

    #[test]
    fn events_and_partial_errors_stay_next_messages() {
        let mut rewriter = Rewriter::default();
        for message in [
            r#"{"type":"next","id":"1","payload":{"data":{"connectionEvents":{"kind":"ACCEPTED"}}}}"#,
            r#"{"type":"next","id":"2","payload":{"data":{"requestConnection":null},"errors":[{"message":"x"}]}}"#,
        ] {
            assert_eq!(
                text(rewriter.rewrite(Message::Text(message.into()))).as_deref(),
                Some(message)
            );
        }
    }

    #[test]
    fn a_refused_init_closes_with_4403() {
        let mut rewriter = Rewriter::default();
        let refused = Message::Close(Some(CloseFrame {
            code: 1002,
            reason: FORBIDDEN.into(),
        }));
        match rewriter.rewrite(refused) {
            Some(Message::Close(Some(frame))) => {
                assert_eq!((frame.code, frame.reason.as_str()), (4403, FORBIDDEN))
            }
            other => panic!("{other:?}"),
        }
        // A protocol error keeps the library's code.
        let malformed = Message::Close(Some(CloseFrame {
            code: 1002,
            reason: "missing field `type`".into(),
        }));
        match rewriter.rewrite(malformed) {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, 1002),
            other => panic!("{other:?}"),
        }
    }
}
