//! A `graphql-transport-ws` client for the tests of the live door (real sockets).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::jwt;

pub const EVENT_FIELDS: &str = "kind at user { id connectionStatus } \
    request { id fromUser { id connectionStatus } toUser { id connectionStatus } created rejected viewed }";

/// How long a test waits for a message that must come.
pub const WITHIN: Duration = Duration::from_secs(5);

/// What the server sent.
#[derive(Debug, PartialEq)]
pub enum Received {
    Json(Value),
    Closed(Option<u16>),
}

/// A `graphql-transport-ws` client.
pub struct Socket {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Opens a socket on `base` (`http://host:port`), with `header` as the upgrade request's
    /// `Authorization`.
    pub async fn open(base: &str, header: Option<&str>) -> Socket {
        let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(header) = header {
            request.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(header).expect("header"),
            );
        }
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("upgrade");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap_or_default()),
            Some("graphql-transport-ws")
        );
        Socket { ws }
    }

    /// Opens a socket and sends `connection_init` with `payload`.
    pub async fn init(base: &str, payload: Value) -> Socket {
        let mut socket = Socket::open(base, None).await;
        socket
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        socket
    }

    /// A socket acknowledged for `user` (a JWT in the init payload).
    pub async fn of(base: &str, user: i64) -> Socket {
        let mut socket = Socket::init(
            base,
            json!({"Authorization": format!("Bearer {}", jwt(user))}),
        )
        .await;
        socket.expect_ack().await;
        socket
    }

    pub async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends a text frame as it is (not necessarily JSON).
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends a frame of any kind.
    pub async fn send_frame(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The close frame the server sends next, as (code, reason), skipping Pings; fails on a
    /// message, on the socket ending without a close frame, or after `WITHIN`.
    pub async fn expect_close(&mut self) -> (u16, String) {
        loop {
            let message = tokio::time::timeout(WITHIN, self.ws.next())
                .await
                .expect("a close within WITHIN");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code.into(), frame.reason.to_string())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// The next message within `within`, or None.
    pub async fn next(&mut self, within: Duration) -> Option<Received> {
        loop {
            let message = tokio::time::timeout(within, self.ws.next()).await.ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(Received::Json(serde_json::from_str(&text).expect("json")))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Received::Closed(frame.map(|f| f.code.into())))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Received::Closed(None)),
            }
        }
    }

    pub async fn expect_json(&mut self) -> Value {
        match self.next(WITHIN).await {
            Some(Received::Json(value)) => value,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    pub async fn expect_ack(&mut self) {
        assert_eq!(self.expect_json().await, json!({"type": "connection_ack"}));
    }

    pub async fn subscribe(&mut self, id: &str) {
        self.send(json!({"type": "subscribe", "id": id,
            "payload": {"query": format!("subscription {{ connectionEvents {{ {EVENT_FIELDS} }} }}")}}))
            .await;
        // A round trip on the same socket (ping → pong) makes sure the server has read the
        // subscribe message. It does not make sure the subscriber is registered: async-graphql
        // answers the ping before it first polls the new subscription, whose resolver has the
        // feed catch up before it registers (`graphql::events`). A test that needs the
        // registration waits for `gateway_live_subscriptions` (`metrics::wait_at_least`).
        self.send(json!({"type": "ping"})).await;
        assert_eq!(self.expect_json().await["type"], "pong");
    }

    /// The next event of subscription `id`.
    pub async fn event(&mut self, id: &str) -> Value {
        let message = self.expect_json().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"]["connectionEvents"].clone()
    }

    /// Nothing arrives within `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration, why: &str) {
        if let Some(message) = self.next(quiet).await {
            panic!("{why}: expected nothing, got {message:?}");
        }
    }
}
