//! A server leaves without failing anyone (`state::Drain`): on SIGTERM `/readyz` answers 503
//! while requests are still served, then the listener closes, in-flight requests finish, and
//! every WebSocket gets a clean 1001 "Going away" close before the process exits.
//!
//! Then the same with the real pieces of a deployment: two gateway processes on one
//! PostgreSQL database behind HAProxy (`deploy/haproxy.cfg`, health checks on `/readyz` every
//! 200 ms, no retries), `wrk` running through it, and a rolling restart (one gateway, then the
//! other): no request fails, and a subscriber connected through the balancer hears every
//! action, done through either gateway, across the restart (it reconnects on each 1001).
//!
//! HAProxy and wrk come from Debian's packages (`.ci/services.sh` installs them). Without them
//! the balancer test says it is skipped, except where `REQUIRE_LB_TOOLS=1` (CI) makes that a
//! failure.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::common::gateway::{free_port, Gateway};
use crate::common::socket::{Received, Socket};
use crate::common::{self, Api, Backend, TestDb};

/// How long the gateways under test drain: past HAProxy's 200 ms check interval, with margin.
const DRAIN_MS: u64 = 700;
/// Who acts on user 2, the subscriber, in the example community (the two are not connected).
const ACTOR: i64 = 4;

#[tokio::test]
async fn sigterm_drains_readyz_first_and_closes_sockets_with_1001() {
    let Some(db) = TestDb::new(Backend::Sqlite, "drain_sigterm").await else {
        return;
    };
    common::import_example(&db.store).await;
    let mut gateway = Gateway::start(&db.url, DRAIN_MS).await;
    let base = gateway.base();
    let client = reqwest::Client::new();
    let mut socket = Socket::of(&base, 2).await;
    socket.subscribe("s").await;

    let asked = Instant::now();
    gateway.terminate();
    // Draining: /readyz says so at once, and everything else is still served.
    let deadline = Instant::now() + Duration::from_millis(DRAIN_MS / 2);
    loop {
        let status = get_status(&client, &format!("{base}/readyz")).await;
        if status == Some(StatusCode::SERVICE_UNAVAILABLE) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {status:?} while draining"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let page = client
        .get(format!("{base}/api/v2/user/1/connections/"))
        .bearer_auth(common::jwt(1))
        .send()
        .await
        .expect("served while draining");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        get_status(&client, &format!("{base}/healthz")).await,
        Some(StatusCode::OK)
    );
    // The subscription keeps working while the server drains.
    let api = Api {
        http: client.clone(),
        base: base.clone(),
    };
    assert!(api.act(ACTOR, 2, "connection/request").await.0.is_success());
    assert_eq!(socket.event("s").await["kind"], "REQUEST_RECEIVED");

    // Then the socket gets its clean close, no sooner than the drain.
    let closed = socket.next(Duration::from_secs(5)).await;
    assert_eq!(closed, Some(Received::Closed(Some(1001))));
    assert!(
        asked.elapsed() >= Duration::from_millis(DRAIN_MS),
        "closed after {:?}, before the drain ended",
        asked.elapsed()
    );
    gateway.exited().await;
    assert_eq!(get_status(&client, &format!("{base}/healthz")).await, None);
}

async fn get_status(client: &reqwest::Client, url: &str) -> Option<StatusCode> {
    client.get(url).send().await.ok().map(|r| r.status())
}

/// Whether `program` runs here; without it the caller's test is skipped, unless
/// `REQUIRE_LB_TOOLS` says the tools must be there.
fn have(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("REQUIRE_LB_TOOLS").is_none(),
            "{program} is required (REQUIRE_LB_TOOLS is set) but not installed"
        );
        eprintln!("skipped: {program} is not installed (apt-get install haproxy wrk)");
    }
    found
}

/// HAProxy with `deploy/haproxy.cfg` in front of `a` and `b`.
struct Balancer {
    _child: Child,
    port: u16,
    stats_port: u16,
}

impl Balancer {
    async fn start(a: &Gateway, b: &Gateway) -> Balancer {
        let (port, stats_port) = (free_port(), free_port());
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");
        let child = Command::new("haproxy")
            .args(["-db", "-f", config])
            .env("LB_BIND", format!("127.0.0.1:{port}"))
            .env("LB_STATS_BIND", format!("127.0.0.1:{stats_port}"))
            .env("GATEWAY_A", format!("127.0.0.1:{}", a.port))
            .env("GATEWAY_B", format!("127.0.0.1:{}", b.port))
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy starts");
        let balancer = Balancer {
            _child: child,
            port,
            stats_port,
        };
        balancer.wait_up(2).await;
        balancer
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The servers HAProxy's stats page shows UP.
    async fn servers_up(&self) -> usize {
        let url = format!("http://127.0.0.1:{}/stats;csv", self.stats_port);
        let Ok(response) = reqwest::get(url).await else {
            return 0;
        };
        let csv = response.text().await.unwrap_or_default();
        let Some(header) = csv.lines().next() else {
            return 0;
        };
        let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
        let at = |name: &str| columns.iter().position(|c| *c == name);
        let (Some(svname), Some(status)) = (at("svname"), at("status")) else {
            return 0;
        };
        csv.lines()
            .skip(1)
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|row| {
                row.get(svname)
                    .is_some_and(|name| !["FRONTEND", "BACKEND"].contains(name))
                    && row.get(status).is_some_and(|s| s.starts_with("UP"))
            })
            .count()
    }

    /// Waits until `servers` gateways are in rotation.
    async fn wait_up(&self, servers: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.servers_up().await < servers {
            assert!(
                Instant::now() < deadline,
                "HAProxy did not put {servers} gateways in rotation"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What wrk reported.
#[derive(Debug, Default)]
struct Load {
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
}

fn parse_wrk(output: &str) -> Load {
    let mut load = Load::default();
    for line in output.lines().map(str::trim) {
        let number_after = |label: &str| {
            line.split(label)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.trim_end_matches(',').parse::<u64>().ok())
                .unwrap_or(0)
        };
        if line.contains(" requests in ") {
            load.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if line.starts_with("Non-2xx or 3xx responses:") {
            load.non_2xx = number_after("responses:");
        } else if line.starts_with("Socket errors:") {
            load.socket_errors = ["connect", "read", "write", "timeout"]
                .iter()
                .map(|label| number_after(label))
                .sum();
        }
    }
    load
}

#[tokio::test]
async fn a_rolling_restart_behind_haproxy_fails_no_request_and_loses_no_event() {
    if !have("haproxy") || !have("wrk") {
        return;
    }
    let Some(db) = TestDb::new(Backend::Postgres, "drain_rolling_restart").await else {
        return;
    };
    common::import_example(&db.store).await;
    let mut a = Gateway::start(&db.url, DRAIN_MS).await;
    let mut b = Gateway::start(&db.url, DRAIN_MS).await;
    let balancer = Balancer::start(&a, &b).await;
    let lb = balancer.base();

    // A subscriber through the balancer (it lands on either gateway), hearing user 4's
    // actions done through each gateway directly.
    let mut two = Subscriber::through(&lb).await;
    two.hears_actions_through(&[&a, &b]).await;

    // Load through the balancer for the whole rolling restart.
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", "-d12s"])
        .arg(format!("{lb}/api/v2/user/1/connections/?limit=5"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("wrk starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for gateway in [&mut a, &mut b] {
        let started = Instant::now();
        gateway.restart().await;
        // A subscriber on the gateway that left got its 1001 before the process ended.
        if let Some(message) = two.socket.next(Duration::from_millis(300)).await {
            assert_eq!(message, Received::Closed(Some(1001)), "a clean close");
            two = Subscriber {
                reconnects: two.reconnects + 1,
                ..Subscriber::through(&lb).await
            };
        }
        balancer.wait_up(2).await;
        eprintln!("restarted a gateway in {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let output = wrk.wait_with_output().await.expect("wrk ends");
    let report = String::from_utf8_lossy(&output.stdout);
    let load = parse_wrk(&report);
    eprintln!("rolling restart under load: {load:?}\n{report}");
    assert!(output.status.success(), "wrk: {report}");
    assert!(
        load.requests > 1000,
        "too little load to prove anything: {load:?}"
    );
    assert_eq!(load.non_2xx, 0, "failed responses: {load:?}");
    assert_eq!(load.socket_errors, 0, "failed connections: {load:?}");

    // Each gateway that left while holding the subscriber closed it with 1001: once, or
    // twice when its reconnection landed on the other gateway before the first was back in
    // rotation. It hears actions through either gateway.
    assert!(
        (1..=2).contains(&two.reconnects),
        "{} reconnections",
        two.reconnects
    );
    two.hears_actions_through(&[&a, &b]).await;
}

/// User 2, subscribed to its connection events through the balancer.
struct Subscriber {
    socket: Socket,
    /// Whether `ACTOR`'s request to user 2 is pending (the next action cancels it).
    pending: bool,
    reconnects: usize,
}

impl Subscriber {
    async fn through(lb: &str) -> Subscriber {
        let mut socket = Socket::of(lb, 2).await;
        socket.subscribe("s").await;
        // A reconnected subscriber starts from the database's state.
        let status = Api {
            http: reqwest::Client::new(),
            base: lb.to_string(),
        }
        .status(2, ACTOR)
        .await;
        Subscriber {
            socket,
            pending: status == "RECEIVED_CONNECTION_REQUEST",
            reconnects: 0,
        }
    }

    /// `ACTOR` requests (or cancels) through each of `gateways`; user 2 hears each action.
    async fn hears_actions_through(&mut self, gateways: &[&Gateway]) {
        for gateway in gateways {
            let api = Api {
                http: reqwest::Client::new(),
                base: gateway.base(),
            };
            let (route, kind) = if self.pending {
                ("connection/cancel_request", "REQUEST_CANCELLED")
            } else {
                ("connection/request", "REQUEST_RECEIVED")
            };
            let (status, body) = api.act(ACTOR, 2, route).await;
            assert!(status.is_success(), "{route}: {status} {body}");
            self.pending = !self.pending;
            assert_eq!(self.socket.event("s").await["kind"], kind, "{route}");
        }
    }
}
