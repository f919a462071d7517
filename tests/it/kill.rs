//! `kill -9` during writes: nothing acknowledged is lost, nothing is half applied.
//!
//! A gateway process of the test's own serves a community of plain users. Sixteen clients
//! connect disjoint pairs (a request, then its acceptance), readers load pages, and a hundred
//! subscribers listen, while the gateway is killed with SIGKILL three times and started again
//! (and, in the PostgreSQL case, PostgreSQL itself is killed with `pg_ctl -m immediate`).
//! Then, from the database:
//!
//! - every action that answered 2xx is there: an acknowledged request is pending or already
//!   accepted, an acknowledged acceptance is a connection;
//! - nothing is half applied: every connection has both directions, and no pair is both
//!   connected and holding a request;
//! - the events log agrees with the tables: every connection made has its ACCEPTED event and
//!   every pending request its REQUEST_RECEIVED, every event names what the tables hold, and
//!   every event a subscriber received is in the log;
//! - subscribers that connect again after the last restart get every later event.
//!
//! The counts (kills, acknowledged actions, events checked) are printed with the test output.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::common::gateway::Gateway;
use crate::common::socket::{Received, Socket};
use crate::common::throwaway::ThrowawayPostgres;
use crate::common::{self, jwt, TestDb};
use community_gateway::store::Store;

/// Pairs (2k − 1, 2k) for k in 1..=PAIRS; the last LATER of them are kept for after the kills.
const PAIRS: i64 = 800;
const LATER: i64 = 10;
const CLIENTS: i64 = 16;
const SUBSCRIBERS: i64 = 100;
const KILLS: usize = 3;

/// What the clients were told: (actor, target, action) for every 2xx.
type Ledger = Arc<Mutex<Vec<(i64, i64, &'static str)>>>;

/// POSTs `action` of `actor` on `target` until some server answers (the gateway may be down
/// for a while); the status, or None once `stop` is set.
async fn act(
    http: &reqwest::Client,
    base: &str,
    actor: i64,
    target: i64,
    action: &str,
    stop: &AtomicBool,
) -> Option<u16> {
    loop {
        let sent = http
            .post(format!("{base}/api/v2/user/{target}/{action}/"))
            .bearer_auth(jwt(actor))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(response) => return Some(response.status().as_u16()),
            Err(_) if stop.load(Ordering::Relaxed) => return None,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// One client's pairs, request then accept, each acknowledged action written down.
async fn client(base: String, index: i64, ledger: Ledger, stop: Arc<AtomicBool>) {
    let http = reqwest::Client::new();
    for pair in (1..=PAIRS - LATER).filter(|k| k % CLIENTS == index) {
        let (a, b) = (2 * pair - 1, 2 * pair);
        for (actor, target, action) in [(a, b, "connection/request"), (b, a, "connection/accept")] {
            let Some(status) = act(&http, &base, actor, target, action, &stop).await else {
                return;
            };
            if (200..300).contains(&status) {
                ledger.lock().unwrap().push((actor, target, action));
            }
        }
    }
}

/// Pages read all along (answers not checked: the point is load on the server).
async fn reader(base: String, stop: Arc<AtomicBool>) {
    let http = reqwest::Client::new();
    let mut user = 1;
    while !stop.load(Ordering::Relaxed) {
        let _ = http
            .get(format!("{base}/api/v2/user/{user}/connections/"))
            .bearer_auth(jwt(2))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        user = user % (2 * PAIRS) + 1;
    }
}

/// A subscriber: every event it hears, as (kind, actor), until its socket closes.
async fn subscriber(base: String, user: i64, heard: Arc<Mutex<Vec<(String, i64, i64)>>>) {
    let mut socket = Socket::of(&base, user).await;
    socket.subscribe("s").await;
    while let Some(Received::Json(message)) = socket.next(Duration::from_secs(30)).await {
        let event = &message["payload"]["data"]["connectionEvents"];
        if let (Some(kind), Some(actor)) = (event["kind"].as_str(), event["user"]["id"].as_str()) {
            let actor = actor.parse().unwrap_or_default();
            heard.lock().unwrap().push((kind.to_string(), actor, user));
        }
    }
}

/// Rows of `sql`, each as integers (of whatever width the column has). After a crash of the
/// database the pool may still hold dead connections: a failed read is tried again.
async fn rows(store: &Store, sql: &str) -> Vec<Vec<i64>> {
    let backend = store.backend();
    let mut attempts = 0;
    let found = loop {
        match store
            .connection()
            .query_all(Statement::from_string(backend, sql.to_string()))
            .await
        {
            Ok(found) => break found,
            Err(err) if attempts < 5 => {
                attempts += 1;
                eprintln!("the check read failed ({err}), again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("the check reads: {err}"),
        }
    };
    let int = |row: &sea_orm::QueryResult, i: usize| {
        row.try_get_by_index::<i64>(i)
            .or_else(|_| row.try_get_by_index::<i32>(i).map(i64::from))
            .or_else(|_| row.try_get_by_index::<i16>(i).map(i64::from))
            .expect("an integer column")
    };
    found
        .iter()
        .map(|row| (0..row.column_names().len()).map(|i| int(row, i)).collect())
        .collect()
}

/// Loads the gateway, kills it (and, with `crash_database`, the database) `KILLS` times, and
/// checks what the database holds against what was acknowledged.
async fn kill_under_load(
    label: &str,
    store: &Store,
    url: &str,
    crash_database: Option<&(dyn Fn() + Sync)>,
) {
    common::import_plain_users(store, 2 * PAIRS).await;
    let mut gateway = Gateway::start(url, 0).await;
    let base = gateway.base();
    let ledger: Ledger = Arc::default();
    let heard: Arc<Mutex<Vec<(String, i64, i64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for index in 0..CLIENTS {
        tasks.push(tokio::spawn(client(
            base.clone(),
            index,
            ledger.clone(),
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(reader(base.clone(), stop.clone())));
    let mut listeners = Vec::new();
    // How many actions were acknowledged when each kill came: the kills must land while the
    // clients are still writing.
    let mut killed_at = Vec::new();
    for kill in 0..KILLS {
        // Subscribers of this round: the targets of requests (even users) and of acceptances
        // (odd users). One whose socket the kill cuts mid-handshake ends with a panic of its
        // own task, which the test does not wait for.
        for user in (1..=SUBSCRIBERS).map(|i| i + (kill as i64 % 2) * SUBSCRIBERS) {
            listeners.push(tokio::spawn(subscriber(base.clone(), user, heard.clone())));
        }
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        gateway.kill().await;
        killed_at.push(ledger.lock().unwrap().len());
        if let Some(crash) = crash_database {
            crash();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        gateway.start_again().await;
    }
    // The clients finish their pairs against the last server.
    for task in tasks.drain(..CLIENTS as usize) {
        let _ = tokio::time::timeout(Duration::from_secs(120), task).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }

    // After the last restart: subscribers connected again hear every later event.
    let mut later = Vec::new();
    for pair in PAIRS - LATER + 1..=PAIRS {
        let (a, b) = (2 * pair - 1, 2 * pair);
        let mut socket = Socket::of(&base, b).await;
        socket.subscribe("s").await;
        later.push((a, b, socket));
    }
    let http = reqwest::Client::new();
    let never = AtomicBool::new(false);
    for (a, b, socket) in &mut later {
        let status = act(&http, &base, *a, *b, "connection/request", &never).await;
        assert_eq!(status, Some(200), "{label}: a request after the kills");
        let event = socket.event("s").await;
        assert_eq!(event["kind"], "REQUEST_RECEIVED", "{label}");
        assert_eq!(event["user"]["id"], json!(a.to_string()), "{label}");
    }
    for handle in listeners {
        handle.abort();
    }

    // What the database holds.
    let connections: HashSet<(i64, i64)> =
        rows(store, "SELECT user_id, friend_id FROM connections")
            .await
            .into_iter()
            .map(|r| (r[0], r[1]))
            .collect();
    let requests: HashSet<(i64, i64)> = rows(
        store,
        "SELECT from_user_id, to_user_id FROM connection_requests",
    )
    .await
    .into_iter()
    .map(|r| (r[0], r[1]))
    .collect();
    let events: Vec<(i64, i64, i64)> = rows(
        store,
        "SELECT kind, actor_id, target_id FROM connection_events",
    )
    .await
    .into_iter()
    .map(|r| (r[0], r[1], r[2]))
    .collect();
    let connected = |a: i64, b: i64| connections.contains(&(a, b));
    let acknowledged = ledger.lock().unwrap().clone();
    for (actor, target, action) in &acknowledged {
        match *action {
            "connection/request" => assert!(
                requests.contains(&(*actor, *target)) || connected(*actor, *target),
                "{label}: the acknowledged request {actor}→{target} is lost"
            ),
            _ => assert!(
                connected(*actor, *target),
                "{label}: the acknowledged acceptance {actor}→{target} is lost"
            ),
        }
    }
    for (a, b) in &connections {
        assert!(connected(*b, *a), "{label}: {a}→{b} without its reverse");
        assert!(
            !requests.contains(&(*a, *b)),
            "{label}: {a} and {b} are connected and still hold a request"
        );
    }
    // Events against tables: each state has its event, each event its state.
    let event = |kind: i64, actor: i64, target: i64| events.contains(&(kind, actor, target));
    for (a, b) in connections
        .iter()
        .filter(|(a, b)| a % 2 == 1 && *b == a + 1)
    {
        assert!(
            event(3, *b, *a),
            "{label}: {a}–{b} connected without ACCEPTED"
        );
    }
    for (from, to) in &requests {
        assert!(
            event(1, *from, *to),
            "{label}: request {from}→{to} without REQUEST_RECEIVED"
        );
    }
    for (kind, actor, target) in &events {
        let holds = match kind {
            1 => requests.contains(&(*actor, *target)) || connected(*actor, *target),
            3 => connected(*actor, *target),
            _ => false,
        };
        assert!(
            holds,
            "{label}: event {kind} {actor}→{target} names nothing the tables hold"
        );
    }
    let heard = heard.lock().unwrap().clone();
    for (kind, actor, target) in &heard {
        let code = match kind.as_str() {
            "REQUEST_RECEIVED" => 1,
            "ACCEPTED" => 3,
            other => panic!("{label}: an event of kind {other}"),
        };
        assert!(
            event(code, *actor, *target),
            "{label}: subscriber {target} heard {kind} from {actor}, which the log does not hold"
        );
    }
    assert!(
        killed_at.last().is_some_and(|n| *n < acknowledged.len()),
        "{label}: the clients were done before the last kill ({killed_at:?})"
    );
    let accepts = acknowledged
        .iter()
        .filter(|(_, _, a)| *a == "connection/accept")
        .count();
    assert!(
        accepts > 50,
        "{label}: too little got through ({accepts} acceptances)"
    );
    eprintln!(
        "kill -9 on {label}: {KILLS} kills{} (after {killed_at:?} acknowledged actions), {} \
         acknowledged actions ({accepts} acceptances), \
         {} connections, {} pending requests, {} events in the log checked, {} heard by \
         subscribers, {} heard after the last restart",
        if crash_database.is_some() {
            " of the gateway and of PostgreSQL"
        } else {
            ""
        },
        acknowledged.len(),
        connections.len() / 2,
        requests.len(),
        events.len(),
        heard.len(),
        later.len(),
    );
}

#[tokio::test]
async fn a_killed_gateway_loses_nothing_acknowledged() {
    for db in TestDb::all("kill_gateway").await {
        let label = format!("{:?}", db.backend);
        kill_under_load(&label, &db.store, &db.url, None).await;
    }
}

#[tokio::test]
async fn a_crashed_postgres_loses_nothing_acknowledged() {
    let Some(cluster) = ThrowawayPostgres::start("kill_postgres") else {
        return;
    };
    let store = Store::connect(&cluster.url(), 8).await.expect("connect");
    store.migrate().await.expect("migrate");
    let crash = || {
        cluster.stop_immediate();
        cluster.start_again();
    };
    kill_under_load("PostgreSQL crashed", &store, &cluster.url(), Some(&crash)).await;
}
