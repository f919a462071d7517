//! The `connectionEvents` subscription over WebSocket (`graphql-transport-ws`), with a real
//! client (tokio-tungstenite) against served apps:
//!
//! 1. every event kind reaches the user acted upon, after commit, in order, with its snapshot
//!    (`user.connectionStatus`, `at`, `request`); the actor, no-ops and `mark_seen` send
//!    nothing; nothing is replayed (all three backends);
//! 2. events written through one server reach a subscriber of another server on the same
//!    database, in commit order, under concurrent writers (PostgreSQL, MariaDB);
//! 3. the protocol's refusals: a bad token closes with 4403, anonymous and friendship-off
//!    subscriptions answer an `error` message, an expiring token closes with 4401, friendship
//!    mode turned off completes the subscription; credentials from the init payload (any key
//!    case) or the upgrade request's header.

use std::time::Duration;

use community_gateway::store::Store;
use serde_json::{json, Value};

use crate::common::jwt;
use crate::common::metrics::wait_at_least;
use crate::common::socket::{Received, Socket, WITHIN};
use crate::common::{self, plain_user, Backend, TestDb, TEST_SECRET};

/// A community of `users` plain users, no links.
async fn load(store: &Store, users: i64) {
    let users: Vec<Value> = (1..=users).map(|id| plain_user(id, &[])).collect();
    common::import_json(
        store,
        &json!({"settings": {}, "tags": [], "users": users, "connections": [],
        "connection_requests": [], "access_tokens": []}),
    )
    .await;
}

/// REST actions.
struct Rest {
    http: reqwest::Client,
    base: String,
}

impl Rest {
    fn new(base: &str) -> Rest {
        Rest {
            http: reqwest::Client::new(),
            base: base.to_string(),
        }
    }

    async fn act(&self, viewer: i64, action: &str, target: i64) -> (u16, Value) {
        let path = match action {
            "mark_seen" => format!("{target}/connection_requests/mark_seen/"),
            action => format!("{target}/connection/{action}/"),
        };
        let response = self
            .http
            .post(format!("{}/api/v2/user/{path}", self.base))
            .bearer_auth(jwt(viewer))
            .send()
            .await
            .expect("action");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn ok(&self, viewer: i64, action: &str, target: i64) -> Value {
        let (status, body) = self.act(viewer, action, target).await;
        assert!(
            status == 200 || status == 204,
            "{action} {viewer}→{target}: {status} {body}"
        );
        body
    }
}

/// `connected_at` of the connection of `user` and `friend`, as stored, in the API's form.
async fn connected_at(store: &Store, user: i64, friend: i64) -> String {
    use community_gateway::entity::connection;
    use sea_orm::EntityTrait;
    let row = connection::Entity::find_by_id((user, friend))
        .one(store.connection())
        .await
        .expect("read")
        .expect("connected");
    community_gateway::store::time::api_time(row.connected_at_us)
}

/// Now, as the API writes instants (UTC, whole seconds, `Z`).
fn whole_second_now() -> String {
    community_gateway::store::time::api_time(community_gateway::store::time::now_us())
}

/// `at` is an API instant between `before` and `after` (same format: they order as text).
fn assert_within(at: &Value, before: &str, after: &str) {
    let at = at.as_str().expect("at is a string");
    assert!(at.len() == 20 && at.ends_with('Z'), "{at}");
    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
}

fn user(id: i64, status: Option<&str>) -> Value {
    json!({"id": id.to_string(), "connectionStatus": status})
}

/// Every kind, on every backend: subscriber 2 is acted upon by 1; 1 also subscribes and gets
/// only what 2 does to it.
#[tokio::test]
async fn every_event_reaches_the_user_acted_upon_with_its_snapshot() {
    for db in TestDb::all("subscription_kinds").await {
        let backend = db.backend;
        load(&db.store, 3).await;
        let base = common::serve(db.store.clone()).await;
        let rest = Rest::new(&base);
        // A write before subscribing is not replayed.
        rest.ok(1, "request", 2).await;
        rest.ok(1, "cancel_request", 2).await;
        let mut two = Socket::of(&base, 2).await;
        two.subscribe("s").await;
        let mut one = Socket::of(&base, 1).await;
        one.subscribe("s").await;

        // REQUEST_RECEIVED: the new request, pending.
        rest.ok(1, "request", 2).await;
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REQUEST_RECEIVED", "{backend:?}");
        assert_eq!(event["user"], user(1, Some("RECEIVED_CONNECTION_REQUEST")));
        let request = &event["request"];
        assert_eq!(
            request["fromUser"],
            user(1, Some("RECEIVED_CONNECTION_REQUEST"))
        );
        assert_eq!(request["toUser"], user(2, None));
        assert_eq!(event["at"], request["created"], "{backend:?}");
        assert!(request["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 20));
        assert_eq!(
            (request["rejected"].clone(), request["viewed"].clone()),
            (Value::Null, Value::Null)
        );
        let first_id = request["id"].clone();

        // A retry and a refused call send nothing; REQUEST_CANCELLED comes next, request
        // gone, `at` the second the withdrawal committed.
        rest.ok(1, "request", 2).await;
        assert_eq!(
            rest.act(1, "accept", 2).await.0,
            400,
            "{backend:?}: refused"
        );
        let before = whole_second_now();
        rest.ok(1, "cancel_request", 2).await;
        let after = whole_second_now();
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REQUEST_CANCELLED", "{backend:?}");
        assert_eq!(event["user"], user(1, None));
        assert_eq!(event["request"], Value::Null);
        assert_within(&event["at"], &before, &after);

        // 2 asks 1: 1 hears it, 2 (the actor) does not.
        rest.ok(2, "request", 1).await;
        let event = one.event("s").await;
        assert_eq!(event["kind"], "REQUEST_RECEIVED", "{backend:?}");
        assert_eq!(event["user"], user(2, Some("RECEIVED_CONNECTION_REQUEST")));
        assert_ne!(
            event["request"]["id"], first_id,
            "request ids are never reused"
        );

        // REJECTED: 2's request stays (sent), with its rejection time.
        rest.ok(1, "mark_seen", 2).await;
        rest.ok(1, "reject", 2).await;
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REJECTED", "{backend:?}");
        assert_eq!(event["user"], user(1, Some("SENT_CONNECTION_REQUEST")));
        assert_eq!(event["request"]["fromUser"], user(2, None));
        assert_eq!(
            event["request"]["toUser"],
            user(1, Some("SENT_CONNECTION_REQUEST"))
        );
        assert_eq!(event["at"], event["request"]["rejected"]);
        assert!(
            event["request"]["viewed"].is_string(),
            "mark_seen's time is in the snapshot"
        );

        // REJECTION_CANCELLED: pending again.
        rest.ok(1, "reject", 2).await;
        rest.ok(1, "cancel_reject", 2).await;
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REJECTION_CANCELLED", "{backend:?}");
        assert_eq!(event["user"], user(1, Some("SENT_CONNECTION_REQUEST")));
        assert_eq!(event["request"]["rejected"], Value::Null);

        // ACCEPTED: connected; `at` is the connection's time.
        rest.ok(1, "accept", 2).await;
        let event = two.event("s").await;
        assert_eq!(event["kind"], "ACCEPTED", "{backend:?}");
        assert_eq!(event["user"], user(1, Some("CONNECTED")));
        assert_eq!(event["request"], Value::Null);
        assert_eq!(event["at"], connected_at(&db.store, 2, 1).await.as_str());

        // REMOVED, by either side, at the second it committed; a retry sends nothing.
        rest.ok(1, "accept", 2).await;
        let before = whole_second_now();
        rest.ok(1, "remove", 2).await;
        let after = whole_second_now();
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REMOVED", "{backend:?}");
        assert_eq!(event["user"], user(1, None));
        assert_within(&event["at"], &before, &after);
        rest.ok(1, "remove", 2).await;

        // A request that is answered by asking back: ACCEPTED to the first asker.
        rest.ok(3, "request", 2).await;
        rest.ok(2, "request", 3).await;
        let event = two.event("s").await;
        assert_eq!(event["kind"], "REQUEST_RECEIVED", "{backend:?}");
        assert_eq!(event["user"]["id"], "3");

        two.expect_silence(Duration::from_millis(300), "after the last event")
            .await;
        // Two subscriptions open; every event above was handed over and counted.
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(
            metrics.contains("gateway_live_subscriptions 2"),
            "{metrics}"
        );
        assert!(
            metrics.contains("gateway_live_events_delivered_total 8"),
            "{metrics}"
        );
        one.expect_silence(Duration::from_millis(100), "the actor hears nothing")
            .await;
    }
}

/// A writer leaves the feed alone when nobody on its server subscribes to the target
/// (`Source::wrote_pair`), so an event can still be unread by the feed when its target
/// subscribes. The subscription has the feed read what is committed first: that event is not
/// delivered (no replay). Once subscribed, the target's events come at once, not at the
/// feed's next poll (30 s here). All three backends, graph cache on and off (the feed runs
/// for the events either way).
#[tokio::test]
async fn an_event_unread_when_its_target_subscribes_is_not_delivered() {
    for db in TestDb::all("subscription_unread").await {
        let backend = db.backend;
        load(&db.store, 6).await;
        for (cache, first) in [(true, 1), (false, 4)] {
            let (asker, target, later) = (first, first + 1, first + 2);
            let mut config = community_gateway::config::Config::with_secret(TEST_SECRET);
            config.cache.enabled = cache;
            config.cache.poll = Some(Duration::from_secs(30));
            config.cache.lease = Duration::from_secs(60);
            let base = common::serve_with(db.store.clone(), config).await;
            let rest = Rest::new(&base);
            let case = format!("{backend:?}, cache {cache}");

            rest.ok(asker, "request", target).await;
            let mut socket = Socket::of(&base, target).await;
            socket.subscribe("s").await;
            let http = reqwest::Client::new();
            let live = "gateway_live_subscriptions";
            wait_at_least(&http, &base, live, 1.0, WITHIN).await;

            rest.ok(later, "request", target).await;
            let event = socket.event("s").await;
            assert_eq!(event["kind"], "REQUEST_RECEIVED", "{case}");
            assert_eq!(
                event["user"]["id"],
                json!(later.to_string()),
                "{case}: the request from before the subscription is not delivered"
            );
            socket
                .expect_silence(Duration::from_millis(300), "one event")
                .await;
        }
    }
}

/// Events of writes through one server reach the subscribers of another, in commit order,
/// each once, with many writers at once.
#[tokio::test]
async fn events_cross_servers_in_commit_order() {
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(db) = TestDb::new(backend, "subscription_servers").await else {
            continue;
        };
        const ASKERS: i64 = 40;
        load(&db.store, ASKERS + 1).await;
        let writer = common::serve(db.store.clone()).await;
        let other = Store::connect(&db.url, 4).await.expect("connect");
        let reader = common::serve(other).await;
        let mut subscriber = Socket::of(&reader, 1).await;
        subscriber.subscribe("s").await;

        let rest = Rest::new(&writer);
        let askers = (2..=ASKERS + 1).map(|asker| {
            let rest = &rest;
            async move { rest.ok(asker, "request", 1).await }
        });
        futures_util::future::join_all(askers).await;
        let mut seen = std::collections::BTreeSet::new();
        let mut last_request = 0;
        for _ in 2..=ASKERS + 1 {
            let event = subscriber.event("s").await;
            assert_eq!(event["kind"], "REQUEST_RECEIVED", "{backend:?}");
            assert!(
                seen.insert(event["user"]["id"].to_string()),
                "{backend:?}: once each"
            );
            // Each request takes its id under user 1's row lock (every asker locks it), so
            // ids rise in commit order.
            let id: i64 = event["request"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("int");
            assert!(id > last_request, "{backend:?}: commit order");
            last_request = id;
        }
        subscriber
            .expect_silence(Duration::from_millis(300), "each event once")
            .await;
    }
}

#[tokio::test]
async fn refusals_follow_the_protocol() {
    let Some(db) = TestDb::new(Backend::Sqlite, "subscription_refusals").await else {
        return;
    };
    load(&db.store, 2).await;
    let base = common::serve(db.store.clone()).await;

    // A bad token: closed with 4403.
    let mut bad = Socket::init(&base, json!({"Authorization": "Bearer not-a-token"})).await;
    assert_eq!(bad.next(WITHIN).await, Some(Received::Closed(Some(4403))));
    // A JWT of a user who does not exist: 4403 too.
    let mut ghost = Socket::init(
        &base,
        json!({"authorization": format!("Bearer {}", jwt(99))}),
    )
    .await;
    assert_eq!(ghost.next(WITHIN).await, Some(Received::Closed(Some(4403))));

    // An Authorization entry that is not a usable header value: 4403, not anonymous.
    for bad in [json!(7), json!("Bearer \u{7}x"), json!({"token": "x"})] {
        let mut socket = Socket::init(&base, json!({"Authorization": bad})).await;
        assert_eq!(
            socket.next(WITHIN).await,
            Some(Received::Closed(Some(4403))),
            "{bad}"
        );
    }

    // Anonymous: acknowledged; subscribing answers an `error` message, without `complete`.
    let mut anonymous = Socket::init(&base, json!({})).await;
    anonymous.expect_ack().await;
    anonymous
        .send(json!({"type": "subscribe", "id": "a",
            "payload": {"query": "subscription { connectionEvents { kind } }"}}))
        .await;
    let error = anonymous.expect_json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "a");
    assert_eq!(error["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    anonymous
        .expect_silence(Duration::from_millis(200), "no complete after an error")
        .await;
    // The socket stays usable: a query runs on it.
    anonymous
        .send(json!({"type": "subscribe", "id": "q",
            "payload": {"query": "{ user(id: \"1\") { id } }"}}))
        .await;
    let next = anonymous.expect_json().await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["data"], json!({"user": {"id": "1"}}));
    assert_eq!(
        anonymous.expect_json().await,
        json!({"type": "complete", "id": "q"})
    );

    // Credentials in the upgrade request's header, with an empty init payload.
    let header = format!("Bearer {}", jwt(2));
    let mut by_header = Socket::open(&base, Some(&header)).await;
    by_header.send(json!({"type": "connection_init"})).await;
    by_header.expect_ack().await;
    by_header.subscribe("h").await;
    Rest::new(&base).ok(1, "request", 2).await;
    assert_eq!(by_header.event("h").await["kind"], "REQUEST_RECEIVED");

    // At most 16 subscriptions per socket; one stopped makes room for another.
    let mut many = Socket::of(&base, 1).await;
    for n in 0..16 {
        many.subscribe(&format!("m{n}")).await;
    }
    many.send(json!({"type": "subscribe", "id": "over",
        "payload": {"query": "subscription { connectionEvents { kind } }"}}))
        .await;
    let error = many.expect_json().await;
    assert_eq!(
        (error["type"].as_str(), error["id"].as_str()),
        (Some("error"), Some("over")),
        "{error}"
    );
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    many.send(json!({"type": "complete", "id": "m0"})).await;
    // (The library acknowledges a client's `complete` with its own, which clients ignore.)
    assert_eq!(
        many.expect_json().await,
        json!({"type": "complete", "id": "m0"})
    );
    many.subscribe("again").await;
    Rest::new(&base).ok(2, "request", 1).await;
    let mut heard = std::collections::BTreeSet::new();
    for _ in 0..16 {
        let message = many.expect_json().await;
        assert_eq!(message["type"], "next", "{message}");
        heard.insert(message["id"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        heard.contains("again") && !heard.contains("m0"),
        "{heard:?}"
    );

    // Friendship mode off at subscribe time: an `error` with FORBIDDEN.
    common::set_settings(&db.store, false, false, true).await;
    let mut off = Socket::of(&base, 2).await;
    off.send(json!({"type": "subscribe", "id": "f",
        "payload": {"query": "subscription { connectionEvents { kind } }"}}))
        .await;
    let error = off.expect_json().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn friendship_mode_turned_off_completes_the_subscription() {
    for db in TestDb::all("subscription_settings").await {
        load(&db.store, 2).await;
        let base = common::serve(db.store.clone()).await;
        let mut socket = Socket::of(&base, 2).await;
        socket.subscribe("s").await;
        // A settings change that keeps friendship mode on does not end it, and neither it nor
        // an import sends anything: the next message is the next action's event.
        common::set_settings(&db.store, true, true, true).await;
        load(&db.store, 2).await;
        Rest::new(&base).ok(1, "request", 2).await;
        assert_eq!(socket.event("s").await["kind"], "REQUEST_RECEIVED");
        common::set_settings(&db.store, false, false, true).await;
        assert_eq!(
            socket.expect_json().await,
            json!({"type": "complete", "id": "s"}),
            "{:?}",
            db.backend
        );
    }
}

#[tokio::test]
async fn an_expiring_token_closes_the_socket_with_4401() {
    let Some(db) = TestDb::new(Backend::Sqlite, "subscription_expiry").await else {
        return;
    };
    load(&db.store, 2).await;
    let base = common::serve(db.store.clone()).await;
    let short = community_gateway::auth::issue_jwt(2, 2, TEST_SECRET.as_bytes()).expect("jwt");
    let mut socket = Socket::init(&base, json!({"Authorization": format!("Bearer {short}")})).await;
    socket.expect_ack().await;
    socket.subscribe("s").await;
    assert_eq!(
        socket.next(Duration::from_secs(6)).await,
        Some(Received::Closed(Some(4401)))
    );
}
