//! The `graphql-transport-ws` rules and the WebSocket limits, with raw frames against a served
//! app (SQLite: nothing here depends on the backend): each violation closes the socket with
//! the code and reason of graphql-ws's PROTOCOL.md, each limit is a setting, and each close the
//! server decides is counted in `gateway_ws_refused_total{reason}`.

use std::time::{Duration, Instant};

use community_gateway::config::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::common::metrics::{metric_value, metrics_text};
use crate::common::socket::{Socket, WITHIN};
use crate::common::{self, jwt, Backend, TestDb, TEST_SECRET};

/// A served app on a fresh SQLite database of two users, with `config`.
async fn served(test: &str, config: Config) -> Option<(TestDb, String)> {
    let db = TestDb::new(Backend::Sqlite, test).await?;
    common::import_plain_users(&db.store, 2).await;
    let base = common::serve_with(db.store.clone(), config).await;
    Some((db, base))
}

fn config() -> Config {
    Config::with_secret(TEST_SECRET)
}

/// `gateway_ws_refused_total{reason}` on `base` (0 when never counted).
async fn refused(base: &str, reason: &str) -> f64 {
    let text = metrics_text(&reqwest::Client::new(), base).await;
    metric_value(
        &text,
        &format!("gateway_ws_refused_total{{reason=\"{reason}\"}}"),
    )
    .unwrap_or(0.0)
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({"type": "subscribe", "id": id, "payload": {"query": query}})
}

#[tokio::test]
async fn no_connection_init_closes_with_4408_after_the_init_timeout() {
    let mut config = config();
    config.ws.init_timeout = Duration::from_millis(400);
    let Some((_db, base)) = served("ws_init_timeout", config).await else {
        return;
    };
    let opened = Instant::now();
    let mut silent = Socket::open(&base, None).await;
    // One that sends its init in time is not closed when the timeout passes.
    let mut prompt = Socket::of(&base, 1).await;
    assert_eq!(
        silent.expect_close().await,
        (4408, "Connection initialisation timeout".to_string())
    );
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "closed after {waited:?}"
    );
    prompt
        .expect_silence(
            Duration::from_millis(300),
            "an initialised socket stays open",
        )
        .await;
    assert_eq!(refused(&base, "init_timeout").await, 1.0);
}

#[tokio::test]
async fn subscribe_before_connection_init_closes_with_4401() {
    let Some((_db, base)) = served("ws_subscribe_first", config()).await else {
        return;
    };
    let mut socket = Socket::open(&base, None).await;
    socket
        .send(subscribe("1", "{ user(id: \"1\") { id } }"))
        .await;
    assert_eq!(
        socket.expect_close().await,
        (4401, "Unauthorized".to_string())
    );
    assert_eq!(refused(&base, "unauthorized").await, 1.0);
}

#[tokio::test]
async fn a_frame_that_is_not_json_closes_with_4400() {
    let Some((_db, base)) = served("ws_not_json", config()).await else {
        return;
    };
    let mut text = Socket::of(&base, 1).await;
    text.send_text("{not json").await;
    assert_eq!(
        text.expect_close().await,
        (4400, "Invalid message received".to_string())
    );
    // Before connection_init too, and in a binary frame.
    let mut binary = Socket::open(&base, None).await;
    binary
        .send_frame(Message::Binary(b"\x00\x01".to_vec().into()))
        .await;
    assert_eq!(
        binary.expect_close().await,
        (4400, "Invalid message received".to_string())
    );
    assert_eq!(refused(&base, "bad_message").await, 2.0);
}

#[tokio::test]
async fn an_unknown_type_or_a_missing_field_closes_with_4400() {
    let Some((_db, base)) = served("ws_bad_message", config()).await else {
        return;
    };
    let cases = [
        (json!({"type": "hello"}), "Invalid message 'type' property"),
        (json!({"id": "1"}), "Message is missing the 'type' property"),
        // The older subprotocol's messages are not this one's.
        (
            json!({"type": "start", "id": "1", "payload": {"query": "{ __typename }"}}),
            "Invalid message 'type' property",
        ),
        (
            json!({"type": "subscribe", "id": "1"}),
            "A subscribe message requires a 'payload' object",
        ),
        (
            json!({"type": "subscribe", "payload": {"query": "{ __typename }"}}),
            "The message requires a non-empty 'id' string",
        ),
        (
            json!({"type": "subscribe", "id": "1", "payload": {"variables": {}}}),
            "A subscribe payload requires a 'query' string",
        ),
        (
            json!({"type": "complete"}),
            "The message requires a non-empty 'id' string",
        ),
        (
            json!({"type": "ping", "payload": "x"}),
            "The 'payload' must be an object or absent",
        ),
    ];
    for (message, reason) in cases {
        let mut socket = Socket::of(&base, 1).await;
        socket.send(message.clone()).await;
        assert_eq!(
            socket.expect_close().await,
            (4400, reason.to_string()),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_second_subscribe_with_an_id_in_use_closes_with_4409() {
    let Some((_db, base)) = served("ws_duplicate_id", config()).await else {
        return;
    };
    let mut socket = Socket::of(&base, 1).await;
    // An id the server completed (a query: `next`, then `complete`) is free again.
    for _ in 0..2 {
        socket
            .send(subscribe("q", "{ user(id: \"1\") { id } }"))
            .await;
        assert_eq!(socket.expect_json().await["type"], "next");
        assert_eq!(
            socket.expect_json().await,
            json!({"type": "complete", "id": "q"})
        );
    }
    // So is one the client completed.
    socket.subscribe("s").await;
    socket.send(json!({"type": "complete", "id": "s"})).await;
    assert_eq!(
        socket.expect_json().await,
        json!({"type": "complete", "id": "s"})
    );
    socket.subscribe("s").await;
    // One still running is not.
    socket
        .send(subscribe("s", "subscription { connectionEvents { kind } }"))
        .await;
    assert_eq!(
        socket.expect_close().await,
        (4409, "Subscriber for s already exists".to_string())
    );
    assert_eq!(refused(&base, "duplicate_id").await, 1.0);
}

#[tokio::test]
async fn a_second_connection_init_closes_with_4429() {
    let Some((_db, base)) = served("ws_second_init", config()).await else {
        return;
    };
    let mut socket = Socket::of(&base, 1).await;
    socket
        .send(json!({"type": "connection_init", "payload": {}}))
        .await;
    assert_eq!(
        socket.expect_close().await,
        (4429, "Too many initialisation requests".to_string())
    );
    assert_eq!(refused(&base, "too_many_inits").await, 1.0);
}

#[tokio::test]
async fn a_database_failure_during_connection_init_closes_with_1011() {
    let Some((db, base)) = served("ws_init_db_failure", common::sql_only_config()).await else {
        return;
    };
    use sea_orm::ConnectionTrait;
    db.store
        .connection()
        .execute_unprepared("ALTER TABLE users RENAME TO users_away")
        .await
        .expect("rename");
    let mut socket = Socket::init(
        &base,
        json!({"Authorization": format!("Bearer {}", jwt(1))}),
    )
    .await;
    // A server error, not a verdict on the credential (4403 would tell the client to stop
    // trying with it).
    assert_eq!(
        socket.expect_close().await,
        (1011, "Internal server error".to_string())
    );
    assert_eq!(refused(&base, "init_failed").await, 1.0);
    assert_eq!(refused(&base, "forbidden").await, 0.0);
}

#[tokio::test]
async fn past_ws_max_sockets_a_socket_is_closed_with_1013() {
    let mut config = config();
    config.ws.max_sockets = 2;
    let Some((_db, base)) = served("ws_max_sockets", config).await else {
        return;
    };
    let mut first = Socket::of(&base, 1).await;
    let _second = Socket::of(&base, 2).await;
    let mut third = Socket::open(&base, None).await;
    assert_eq!(
        third.expect_close().await,
        (1013, "Try again later".to_string())
    );
    assert_eq!(refused(&base, "sockets_full").await, 1.0);
    // A socket that closes gives its place back.
    first.ws.close(None).await.expect("close");
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut again = Socket::open(&base, None).await;
        again.send(json!({"type": "connection_init"})).await;
        match again.next(WITHIN).await {
            Some(crate::common::socket::Received::Json(ack)) => {
                assert_eq!(ack, json!({"type": "connection_ack"}));
                break;
            }
            other => assert!(Instant::now() < deadline, "no place given back: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn ws_max_subscriptions_bounds_a_socket_with_an_error_message() {
    let mut config = config();
    config.ws.max_subscriptions = 2;
    let Some((_db, base)) = served("ws_max_subscriptions", config).await else {
        return;
    };
    let mut socket = Socket::of(&base, 1).await;
    socket.subscribe("a").await;
    socket.subscribe("b").await;
    socket
        .send(subscribe("c", "subscription { connectionEvents { kind } }"))
        .await;
    let error = socket.expect_json().await;
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("c"))
    );
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        error["payload"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 2")),
        "{error}"
    );
    // The socket goes on: once one ends, the refused id subscribes.
    socket.send(json!({"type": "complete", "id": "a"})).await;
    assert_eq!(
        socket.expect_json().await,
        json!({"type": "complete", "id": "a"})
    );
    socket.subscribe("c").await;
    assert_eq!(refused(&base, "subscriptions_full").await, 1.0);
}

#[tokio::test]
async fn a_frame_over_max_body_bytes_closes_with_1009() {
    let mut config = config();
    config.max_body_bytes = 4096;
    let Some((_db, base)) = served("ws_message_too_big", config).await else {
        return;
    };
    let mut socket = Socket::of(&base, 1).await;
    // Just under the limit: answered.
    let pad = "x".repeat(4000);
    socket
        .send(json!({"type": "ping", "payload": {"pad": pad}}))
        .await;
    assert_eq!(socket.expect_json().await["type"], "pong");
    let pad = "x".repeat(5000);
    socket
        .send(json!({"type": "ping", "payload": {"pad": pad}}))
        .await;
    assert_eq!(
        socket.expect_close().await,
        (1009, "Message too big".to_string())
    );
    assert_eq!(refused(&base, "message_too_big").await, 1.0);
}

#[tokio::test]
async fn the_keep_alive_pings_and_closes_a_silent_peer_with_1001() {
    let mut config = config();
    config.ws.ping_interval = Duration::from_millis(200);
    let Some((_db, base)) = served("ws_keep_alive", config).await else {
        return;
    };
    // A client that never answers (a raw socket that sends its init and then only reads),
    // beside one that reads and so answers the Pings (tungstenite sends the Pong): the one
    // stays, pinged about every interval, the other is closed.
    let silent = tokio::spawn(silent_peer(base.clone(), Duration::from_millis(1000)));
    let mut answering = Socket::of(&base, 1).await;
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(1100);
    while let Ok(message) = tokio::time::timeout_at(
        until.into(),
        futures_util::StreamExt::next(&mut answering.ws),
    )
    .await
    {
        match message {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("expected only Pings, got {other:?}"),
        }
    }
    assert!((3..=7).contains(&pings), "{pings} pings in 1.1 s");
    let frames = silent.await.expect("the silent peer");
    // Acknowledged, pinged, then closed.
    assert_eq!(frames[0], (1, br#"{"type":"connection_ack"}"#.to_vec()));
    assert!(frames.iter().any(|(opcode, _)| *opcode == 9), "{frames:?}");
    let close = frames
        .iter()
        .find(|(opcode, _)| *opcode == 8)
        .expect("a close frame");
    let code = u16::from_be_bytes([close.1[0], close.1[1]]);
    assert_eq!(
        (code, String::from_utf8_lossy(&close.1[2..]).to_string()),
        (1001, "Keep-alive timeout".to_string())
    );
    // The answering one is still open (its own message counts as an answer too).
    answering.send(json!({"type": "ping"})).await;
    assert_eq!(answering.expect_json().await["type"], "pong");
    assert_eq!(refused(&base, "keepalive_timeout").await, 1.0);
}

/// A WebSocket peer that never answers a Ping (tungstenite always does): the handshake and
/// one `connection_init` by hand, then `for_` of reading. Returns the frames received, as
/// (opcode, payload).
async fn silent_peer(base: String, for_: Duration) -> Vec<(u8, Vec<u8>)> {
    let host = base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "GET /graphql HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("handshake");
    let init = br#"{"type":"connection_init"}"#;
    // A masked text frame; the zero mask leaves the payload as it is.
    let mut frame = vec![0x81, 0x80 | init.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(init);
    tcp.write_all(&frame).await.expect("init");
    let mut bytes = Vec::new();
    let until = tokio::time::Instant::now() + for_;
    let mut buffer = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout_at(until, tcp.read(&mut buffer)).await {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buffer[..n]);
    }
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(
        bytes.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&bytes[..head_end])
    );
    // The server's frames: unmasked, short (none here is over 125 bytes).
    let mut frames = Vec::new();
    let mut rest = &bytes[head_end..];
    while rest.len() >= 2 {
        let opcode = rest[0] & 0x0f;
        let len = (rest[1] & 0x7f) as usize;
        assert!(len < 126, "a long frame");
        frames.push((opcode, rest[2..2 + len].to_vec()));
        rest = &rest[2 + len..];
    }
    frames
}
