//! The outbound bound of the live door (`WS_MAX_OUTBOUND_BYTES`), with real sockets against a
//! served app (SQLite: nothing here depends on the backend): a subscriber that stops reading
//! its TCP socket while events are produced for it is closed with 4413 once what waits for it
//! reaches the bound, the bytes the server holds for it never pass the bound
//! (`gateway_ws_outbound_bytes`), and another subscriber of the same user on another socket
//! receives every event promptly, before and after.

use std::time::{Duration, Instant};

use community_gateway::config::Config;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use crate::common::metrics::{metric_value, metrics_text, wait_at_least};
use crate::common::socket::{Received, Socket, WITHIN};
use crate::common::{self, jwt, Backend, TestDb, TEST_SECRET};

/// The bound of the test (the default): a few rounds of events.
const MAX_OUTBOUND: usize = 64 * 1024;
/// The slow socket's subscriptions (each event reaches it this many times).
const SLOW_SUBSCRIPTIONS: usize = 8;
/// How long an event may take to reach the subscriber that reads.
const PROMPTLY: Duration = Duration::from_secs(2);

/// An event with the actor's record several times over (aliases): about a KiB per event, so the
/// kernel's buffers and the bound fill in a few dozen actions.
fn fat_events() -> String {
    let user = "id username realName avatar bio location description gender website dateJoined \
                connectionStatus";
    let aliases: Vec<String> = (0..6).map(|i| format!("u{i}: user {{ {user} }}")).collect();
    format!(
        "subscription {{ connectionEvents {{ kind at {} }} }}",
        aliases.join(" ")
    )
}

/// A socket for `user` whose receive buffer is small (so it fills at once), acknowledged.
async fn small_buffer_socket(base: &str, user: i64) -> Socket {
    let host = base.trim_start_matches("http://");
    let address = host.parse().expect("address");
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    // Before connect: the window the kernel offers is fixed by then (no autotuning).
    tcp.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = tcp.connect(address).await.expect("connect");
    let mut request = format!("ws://{host}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("upgrade");
    let mut socket = Socket { ws };
    socket
        .send(json!({"type": "connection_init",
            "payload": {"Authorization": format!("Bearer {}", jwt(user))}}))
        .await;
    socket.expect_ack().await;
    socket
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    metric_value(&metrics_text(http, base).await, name).unwrap_or(0.0)
}

/// User 1 requests a connection to user 2, or takes the request back (an event for 2 each).
async fn act(http: &reqwest::Client, base: &str, round: usize) -> &'static str {
    let (action, kind) = if round.is_multiple_of(2) {
        ("request", "REQUEST_RECEIVED")
    } else {
        ("cancel_request", "REQUEST_CANCELLED")
    };
    let response = http
        .post(format!("{base}/api/v2/user/2/connection/{action}/"))
        .bearer_auth(jwt(1))
        .send()
        .await
        .expect("action");
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    kind
}

/// The next event of the reading subscriber arrives within `PROMPTLY`, of `kind`.
async fn expect_event(reader: &mut Socket, kind: &str, round: usize) {
    let sent = Instant::now();
    match reader.next(PROMPTLY).await {
        Some(Received::Json(message)) => {
            assert_eq!(message["type"], "next", "round {round}: {message}");
            assert_eq!(
                message["payload"]["data"]["connectionEvents"]["kind"], kind,
                "round {round}: {message}"
            );
        }
        other => panic!(
            "round {round}: no event within {PROMPTLY:?} ({:?}): {other:?}",
            sent.elapsed()
        ),
    }
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_closed_with_4413_and_the_others_go_on() {
    let Some(db) = TestDb::new(Backend::Sqlite, "ws_outbound_full").await else {
        return;
    };
    common::import_plain_users(&db.store, 2).await;
    let mut config = Config::with_secret(TEST_SECRET);
    config.ws.max_outbound_bytes = MAX_OUTBOUND;
    // The slow peer answers no Ping while it does not read: the keep-alive must not be what
    // closes it.
    config.ws.ping_interval = Duration::from_secs(600);
    let base = common::serve_with(db.store.clone(), config).await;
    let http = reqwest::Client::new();

    let mut slow = small_buffer_socket(&base, 2).await;
    for i in 0..SLOW_SUBSCRIPTIONS {
        slow.send(json!({"type": "subscribe", "id": format!("s{i}"),
            "payload": {"query": fat_events()}}))
            .await;
    }
    slow.send(json!({"type": "ping"})).await;
    assert_eq!(slow.expect_json().await["type"], "pong");
    let mut reader = Socket::of(&base, 2).await;
    reader.subscribe("r").await;
    let live = "gateway_live_subscriptions";
    // Each registers once the feed caught up for it (`common::socket`, `subscribe`).
    let all = (SLOW_SUBSCRIPTIONS + 1) as f64;
    assert_eq!(wait_at_least(&http, &base, live, all, WITHIN).await, all);

    // From here on `slow` reads nothing: its events pile up in the kernel's buffers, then in
    // the server's queue, until they reach the bound.
    let refused = "gateway_ws_refused_total{reason=\"outbound_full\"}";
    let mut held_most = 0.0_f64;
    let mut round = 0;
    loop {
        assert!(
            round < 2000,
            "{round} actions and the slow socket is still open"
        );
        let kind = act(&http, &base, round).await;
        expect_event(&mut reader, kind, round).await;
        round += 1;
        let text = metrics_text(&http, &base).await;
        let held = metric_value(&text, "gateway_ws_outbound_bytes").unwrap_or(0.0);
        held_most = held_most.max(held);
        assert!(
            held <= MAX_OUTBOUND as f64,
            "round {round}: {held} bytes held for the slow socket"
        );
        if metric_value(&text, refused).unwrap_or(0.0) >= 1.0 {
            break;
        }
    }
    assert!(held_most > 0.0, "the queue never held anything");

    // The slow peer reads again: what the kernel held (events), then the close, with its
    // reason.
    let closed = tokio::spawn(async move {
        loop {
            let message = tokio::time::timeout(WITHIN, slow.ws.next())
                .await
                .expect("the close within WITHIN");
            match message {
                Some(Ok(Message::Text(text))) => assert!(text.contains("\"next\""), "{text}"),
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected events then a close, got {other:?}"),
            }
        }
    });
    // The reading subscriber goes on, as prompt.
    for _ in 0..6 {
        let kind = act(&http, &base, round).await;
        expect_event(&mut reader, kind, round).await;
        round += 1;
    }
    assert_eq!(
        closed.await.expect("the slow peer"),
        (4413, "Outbound queue full".to_string())
    );
    // The slow socket's subscriptions are gone, and so is what was held for it.
    let deadline = Instant::now() + WITHIN;
    while metric(&http, &base, live).await != 1.0 {
        assert!(
            Instant::now() < deadline,
            "the slow socket's subscriptions live on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&http, &base, "gateway_ws_outbound_bytes").await, 0.0);
    assert_eq!(metric(&http, &base, refused).await, 1.0);
}
