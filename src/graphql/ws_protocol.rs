//! The rules of `graphql-transport-ws` (graphql-ws's PROTOCOL.md) that the protocol library
//! (`async_graphql::http::WebSocket`) does not keep, checked on every frame before the library
//! reads it:
//!
//! - a frame that is not a message of the protocol (not JSON, an unknown `type`, a required
//!   field missing or of the wrong type): close 4400 with what is wrong (the library closes
//!   with 1002 and serde's text, which is often longer than a close reason may be, so the
//!   frame was refused and the peer saw 1006);
//! - a second `connection_init`: 4429 `Too many initialisation requests`;
//! - `subscribe` before the connection is acknowledged: 4401 `Unauthorized` (the library
//!   closes with 1011, a server error);
//! - `subscribe` with the id of an operation still running: 4409 `Subscriber for <id> already
//!   exists` (the library silently replaced the running one);
//! - a frame larger than `MAX_BODY_BYTES`: 1009 `Message too big` (the library ended the
//!   socket without a close).
//!
//! `Incoming` wraps the socket's read half: on a violation it records the close in the
//! socket's `Tracker` and ends, so the library stops, and `ws::serve` sends the close through
//! the shared write half. The write half tells the tracker what the server sent
//! (`Tracker::sent`): the `connection_ack`, and the `complete` or `error` that frees an id.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use async_graphql::http::ClientMessage;
use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why the server closed a socket or refused a subscription: the `reason` label of
/// `gateway_ws_refused_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `connection_init` within `WS_INIT_TIMEOUT_MS` (4408).
    InitTimeout,
    /// A frame that is not a message of the protocol (4400).
    BadMessage,
    /// `subscribe` before `connection_ack` (4401).
    Unauthorized,
    /// `subscribe` with an id in use (4409).
    DuplicateId,
    /// A second `connection_init` (4429).
    TooManyInits,
    /// A bad credential at `connection_init` (4403).
    Forbidden,
    /// `connection_init` failed on our side, e.g. the database (1011).
    InitFailed,
    /// A frame over `MAX_BODY_BYTES` (1009).
    MessageTooBig,
    /// `WS_MAX_SOCKETS` sockets already open (1013).
    SocketsFull,
    /// `WS_MAX_SUBSCRIPTIONS` subscriptions already on the socket (an `error` message).
    SubscriptionsFull,
    /// No frame from the peer for a ping interval after a Ping (1001).
    KeepAlive,
    /// The credential expired (4401).
    CredentialExpired,
    /// The peer did not read its messages: `WS_MAX_OUTBOUND_BYTES` waiting (4413).
    OutboundFull,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::InitTimeout => "init_timeout",
            Refusal::BadMessage => "bad_message",
            Refusal::Unauthorized => "unauthorized",
            Refusal::DuplicateId => "duplicate_id",
            Refusal::TooManyInits => "too_many_inits",
            Refusal::Forbidden => "forbidden",
            Refusal::InitFailed => "init_failed",
            Refusal::MessageTooBig => "message_too_big",
            Refusal::SocketsFull => "sockets_full",
            Refusal::SubscriptionsFull => "subscriptions_full",
            Refusal::KeepAlive => "keepalive_timeout",
            Refusal::CredentialExpired => "credential_expired",
            Refusal::OutboundFull => "outbound_full",
        }
    }
}

/// A close the server sends, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
    /// None for a close that refuses nothing (the server leaving).
    pub refusal: Option<Refusal>,
}

/// The longest close reason: a close frame is a control frame (125 bytes), 2 of them the code.
const MAX_REASON_BYTES: usize = 123;

impl Close {
    pub fn new(code: u16, reason: impl Into<String>, refusal: Refusal) -> Close {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            // A longer reason makes the frame invalid: the peer would see no close at all.
            let mut end = MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Close {
            code,
            reason,
            refusal: Some(refusal),
        }
    }

    /// The close of every socket when the server leaves (`state::Drain`): graphql-ws clients
    /// answer it by reconnecting, to another server behind the balancer.
    pub fn going_away() -> Close {
        Close {
            code: 1001,
            reason: "Going away".into(),
            refusal: None,
        }
    }

    pub fn frame(&self) -> Message {
        Message::Close(Some(CloseFrame {
            code: self.code,
            reason: self.reason.as_str().into(),
        }))
    }

    fn bad(reason: &str) -> Close {
        Close::new(4400, reason, Refusal::BadMessage)
    }
}

/// Where the connection is in its initialisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Init {
    #[default]
    Waiting,
    /// `connection_init` received, not yet acknowledged.
    Received,
    Acknowledged,
}

/// What one socket's protocol state is, shared by its read and write halves.
#[derive(Debug)]
pub struct Tracker {
    init: Init,
    /// The ids of the operations running (subscribed, not yet completed by either side).
    ids: HashSet<String>,
    /// The close a violation calls for, once one is seen.
    violation: Option<Close>,
    /// When the peer last sent a frame (of any kind): the keep-alive reads it.
    last_seen: Instant,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            init: Init::Waiting,
            ids: HashSet::new(),
            violation: None,
            last_seen: Instant::now(),
        }
    }
}

/// A socket's tracker, as both halves hold it.
pub type Shared = Arc<Mutex<Tracker>>;

/// The tracker, whatever a panic elsewhere left (its fields stay consistent one by one).
pub fn lock(tracker: &Shared) -> MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tracker {
    /// Whether `connection_init` has arrived (the init timeout stops counting then).
    pub fn init_received(&self) -> bool {
        self.init != Init::Waiting
    }

    pub fn last_seen(&self) -> Instant {
        self.last_seen
    }

    /// The close a violation called for (taken: it is sent once).
    pub fn take_violation(&mut self) -> Option<Close> {
        self.violation.take()
    }

    /// Checks one text (or binary) frame from the client and records what it changes.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), Close> {
        let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
            return Err(Close::bad("Invalid message received"));
        };
        let Some(message) = value.as_object() else {
            return Err(Close::bad("Invalid message received"));
        };
        let kind = message_kind(message)?;
        // The library reads the message again: what it cannot read must not reach it (it
        // would close with 1002 and serde's text).
        if ClientMessage::deserialize(&value).is_err() {
            return Err(Close::bad("Invalid message received"));
        }
        match kind {
            Kind::Init => {
                if self.init != Init::Waiting {
                    return Err(Close::new(
                        4429,
                        "Too many initialisation requests",
                        Refusal::TooManyInits,
                    ));
                }
                self.init = Init::Received;
            }
            Kind::Subscribe(id) => {
                if self.init != Init::Acknowledged {
                    return Err(Close::new(4401, "Unauthorized", Refusal::Unauthorized));
                }
                if !self.ids.insert(id.to_string()) {
                    return Err(Close::new(
                        4409,
                        format!("Subscriber for {id} already exists"),
                        Refusal::DuplicateId,
                    ));
                }
            }
            Kind::Complete(id) => {
                self.ids.remove(id);
            }
            Kind::Other => {}
        }
        Ok(())
    }

    /// Records a message the server sends (as text, after `ws::Rewriter`): the
    /// acknowledgement, and the end of an operation, whose id may then be used again.
    pub fn sent(&mut self, text: &str) {
        // Events (`next`) are most messages: only the three that matter are parsed.
        let matters = ["connection_ack", "complete", "error"]
            .iter()
            .any(|kind| text.starts_with(&format!("{{\"type\":\"{kind}\"")));
        if !matters {
            return;
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return;
        };
        match value.get("type").and_then(Value::as_str) {
            Some("connection_ack") => self.init = Init::Acknowledged,
            Some("complete" | "error") => {
                if let Some(id) = value.get("id").and_then(Value::as_str) {
                    self.ids.remove(id);
                }
            }
            _ => {}
        }
    }
}

/// What a valid message does to the connection's state.
enum Kind<'a> {
    Init,
    Subscribe(&'a str),
    Complete(&'a str),
    Other,
}

/// The message's type, once its fields are as PROTOCOL.md (and graphql-ws's
/// `validateMessage`) asks.
fn message_kind(message: &Map<String, Value>) -> Result<Kind<'_>, Close> {
    let Some(kind) = message.get("type") else {
        return Err(Close::bad("Message is missing the 'type' property"));
    };
    // Absent and null are the same for the optional fields.
    let object_or_null = |key: &str| {
        message
            .get(key)
            .is_none_or(|value| value.is_null() || value.is_object())
    };
    let id = || match message.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(Close::bad("The message requires a non-empty 'id' string")),
    };
    match kind.as_str() {
        Some(kind @ ("connection_init" | "ping" | "pong")) => {
            if !object_or_null("payload") {
                return Err(Close::bad("The 'payload' must be an object or absent"));
            }
            Ok(if kind == "connection_init" {
                Kind::Init
            } else {
                Kind::Other
            })
        }
        Some("subscribe") => {
            let id = id()?;
            let Some(payload) = message.get("payload").and_then(Value::as_object) else {
                return Err(Close::bad(
                    "A subscribe message requires a 'payload' object",
                ));
            };
            if !payload.get("query").is_some_and(Value::is_string) {
                return Err(Close::bad("A subscribe payload requires a 'query' string"));
            }
            let optional = |key: &str, ok: fn(&Value) -> bool| {
                payload
                    .get(key)
                    .is_none_or(|value| value.is_null() || ok(value))
            };
            if !optional("operationName", Value::is_string)
                || !optional("variables", Value::is_object)
                || !optional("extensions", Value::is_object)
            {
                return Err(Close::bad(
                    "A subscribe payload's operationName, variables or extensions has the wrong type",
                ));
            }
            Ok(Kind::Subscribe(id))
        }
        Some("complete") => Ok(Kind::Complete(id()?)),
        _ => Err(Close::bad("Invalid message 'type' property")),
    }
}

/// Whether a read error is a frame over the size limit.
fn too_big(err: &axum::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)))
}

/// The socket's read half, checked (module comment). `strict`: the socket speaks
/// `graphql-transport-ws` (the older subprotocol has other messages, which the library checks).
pub struct Incoming<S> {
    inner: S,
    tracker: Shared,
    strict: bool,
    ended: bool,
}

impl<S> Incoming<S> {
    pub fn new(inner: S, tracker: Shared, strict: bool) -> Incoming<S> {
        Incoming {
            inner,
            tracker,
            strict,
            ended: false,
        }
    }
}

impl<S> Stream for Incoming<S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let Poll::Ready(item) = self.inner.poll_next_unpin(cx) else {
            return Poll::Pending;
        };
        let this = &mut *self;
        let mut tracker = lock(&this.tracker);
        let verdict = match &item {
            None => Err(None),
            Some(Err(err)) if too_big(err) => Err(Some(Close::new(
                1009,
                "Message too big",
                Refusal::MessageTooBig,
            ))),
            // Another read error: the connection is broken, nobody to tell.
            Some(Err(_)) => Err(None),
            Some(Ok(message)) => {
                tracker.last_seen = Instant::now();
                match message {
                    Message::Text(text) if this.strict => tracker.receive(text.as_str().as_bytes()),
                    Message::Binary(bytes) if this.strict => tracker.receive(bytes),
                    _ => Ok(()),
                }
                .map_err(Some)
            }
        };
        match verdict {
            Ok(()) => Poll::Ready(item),
            Err(close) => {
                this.ended = true;
                tracker.violation = close;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acknowledged() -> Tracker {
        let mut tracker = Tracker::default();
        tracker
            .receive(br#"{"type":"connection_init"}"#)
            .expect("init");
        tracker.sent(r#"{"type":"connection_ack"}"#);
        tracker
    }

    fn code(result: Result<(), Close>) -> Option<(u16, String)> {
        result.err().map(|close| (close.code, close.reason))
    }

    const SUBSCRIBE: &[u8] =
        br#"{"type":"subscribe","id":"1","payload":{"query":"{ __typename }"}}"#;

    #[test]
    fn what_is_not_a_message_of_the_protocol_is_4400() {
        for frame in [
            &b"not json"[..],
            b"[1]",
            br#"{"id":"1"}"#,
            br#"{"type":"hello"}"#,
            br#"{"type":"start","id":"1","payload":{"query":"{ a }"}}"#,
            br#"{"type":"connection_init","payload":7}"#,
            br#"{"type":"subscribe","payload":{"query":"{ a }"}}"#,
            br#"{"type":"subscribe","id":"","payload":{"query":"{ a }"}}"#,
            br#"{"type":"subscribe","id":"1","payload":{}}"#,
            br#"{"type":"subscribe","id":"1","payload":{"query":"{ a }","variables":[]}}"#,
            br#"{"type":"complete"}"#,
        ] {
            let mut tracker = acknowledged();
            let close = tracker.receive(frame).expect_err("refused");
            assert_eq!(close.code, 4400, "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn the_order_of_the_handshake_is_kept() {
        let mut tracker = Tracker::default();
        assert_eq!(
            code(tracker.receive(SUBSCRIBE)),
            Some((4401, "Unauthorized".into()))
        );
        let mut tracker = Tracker::default();
        assert!(!tracker.init_received());
        tracker
            .receive(br#"{"type":"connection_init","payload":{}}"#)
            .expect("init");
        assert!(tracker.init_received());
        // Received, not yet acknowledged: still no subscribing.
        assert_eq!(code(tracker.receive(SUBSCRIBE)).map(|c| c.0), Some(4401));
        let mut tracker = acknowledged();
        assert_eq!(
            code(tracker.receive(br#"{"type":"connection_init"}"#)),
            Some((4429, "Too many initialisation requests".into()))
        );
    }

    #[test]
    fn an_id_is_free_again_once_either_side_completes_it() {
        let mut tracker = acknowledged();
        tracker.receive(SUBSCRIBE).expect("first");
        assert_eq!(
            code(tracker.receive(SUBSCRIBE)),
            Some((4409, "Subscriber for 1 already exists".into()))
        );
        let mut tracker = acknowledged();
        tracker.receive(SUBSCRIBE).expect("first");
        tracker
            .receive(br#"{"type":"complete","id":"1"}"#)
            .expect("complete");
        tracker
            .receive(SUBSCRIBE)
            .expect("again after the client's complete");
        tracker.sent(r#"{"type":"complete","id":"1"}"#);
        tracker
            .receive(SUBSCRIBE)
            .expect("again after the server's complete");
        tracker.sent(r#"{"type":"error","id":"1","payload":[]}"#);
        tracker.receive(SUBSCRIBE).expect("again after an error");
        // An event does not end anything.
        tracker.sent(r#"{"type":"next","id":"1","payload":{"data":{}}}"#);
        assert_eq!(code(tracker.receive(SUBSCRIBE)).map(|c| c.0), Some(4409));
    }

    #[test]
    fn a_long_reason_is_cut_to_what_a_close_frame_holds() {
        let id = "é".repeat(100);
        let close = Close::new(
            4409,
            format!("Subscriber for {id} already exists"),
            Refusal::DuplicateId,
        );
        assert!(close.reason.len() <= MAX_REASON_BYTES);
        assert!(close.reason.starts_with("Subscriber for é"));
    }
}
