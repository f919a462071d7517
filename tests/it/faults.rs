//! Faults for real: the database goes away behind a TCP proxy (every connection cut, new ones
//! refused) and comes back. While it is away requests answer 503 with the `{"errors": [...]}`
//! body within the acquire timeout; when it returns the service recovers by itself.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Backend, TestDb};
use community_gateway::store::Store;
use sea_orm::ConnectionTrait;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A TCP proxy to `upstream` that can be cut and restored on the same port.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy {
            port,
            upstream,
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Cuts every connection and stops listening (new connections are refused).
    async fn cut(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    /// Cuts every connection, then accepts new ones and never answers on them: a database
    /// that hangs rather than refuses.
    async fn hang(&mut self) {
        self.cut().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut held = Vec::new();
            while let Ok((client, _)) = listener.accept().await {
                held.push(client);
            }
        });
        self.tasks = Some(tasks);
    }
}

/// A fresh PostgreSQL database holding the example community, a proxy in front of it, and the
/// database URL through the proxy; None (skipped) without PostgreSQL.
async fn proxied_example(test: &str) -> Option<(TestDb, Proxy, url::Url)> {
    let db = TestDb::new(Backend::Postgres, test).await?;
    common::import_example(&db.store).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream).await;
    url.set_port(Some(proxy.port)).unwrap();
    Some((db, proxy, url))
}

async fn get(client: &reqwest::Client, base: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = client
        .get(format!("{base}/api/v2/user/1/connections/"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap(), started.elapsed())
}

#[tokio::test]
async fn database_going_away_gives_503_then_recovers() {
    let Some((_db, mut proxy, url)) = proxied_example("database_going_away").await else {
        return;
    };
    let store = Store::connect_with(url.as_str(), 4, Duration::from_millis(500))
        .await
        .unwrap();
    let base = common::serve(store).await;
    let client = reqwest::Client::new();

    assert_eq!(get(&client, &base).await.0, 200);

    proxy.cut().await;
    for _ in 0..3 {
        let (status, body, took) = get(&client, &base).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            body.starts_with(r#"{"errors":[{"code":"service_unavailable""#),
            "{body}"
        );
        assert!(took < Duration::from_secs(3), "503 took {took:?}");
    }
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body, _) = get(&client, &base).await;
        if status == 200 {
            assert!(body.starts_with(r#"{"count":4,"#), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not recover: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_hanging_database_is_answered_503_within_the_request_timeout() {
    let Some((_db, mut proxy, url)) = proxied_example("hanging_database").await else {
        return;
    };
    // The pool would wait 30 s for a connection; the request timeout (400 ms) answers first.
    let store = Store::connect_with(url.as_str(), 4, Duration::from_secs(30))
        .await
        .unwrap();
    let mut config = community_gateway::config::Config::with_secret(common::TEST_SECRET);
    config.request_timeout = Duration::from_millis(400);
    let base = common::serve_with(store, config).await;
    let client = reqwest::Client::new();
    assert_eq!(get(&client, &base).await.0, 200);

    proxy.hang().await;
    // The pooled connections were cut: a request that uses one fails at once (503) and the
    // pool drops it. Once the pool must open a connection, the request hangs on it until the
    // request timeout answers 503.
    let mut timed_out = false;
    for _ in 0..6 {
        let (status, body, took) = get(&client, &base).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            body.starts_with(r#"{"errors":[{"code":"service_unavailable""#),
            "{body}"
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
        if took >= Duration::from_millis(350) {
            timed_out = true;
            break;
        }
    }
    assert!(timed_out, "no request waited for the hanging database");
}

/// SIGTERM lets a request in flight finish before the process exits.
#[tokio::test]
async fn sigterm_drains_requests_in_flight() {
    let Some((_db, mut proxy, url)) = proxied_example("sigterm_drains").await else {
        return;
    };

    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_community-gateway"))
        .args(["serve", "--no-demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url.as_str())
        .env("JWT_SECRET", common::TEST_SECRET)
        .env("REQUEST_TIMEOUT_MS", "1500")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
            break;
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A request held in flight by a hanging database, then SIGTERM.
    proxy.hang().await;
    let in_flight = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move { get(&client, &base).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // The in-flight request still gets its answer (503 at the request timeout), then the
    // process exits cleanly; new connections are no longer accepted meanwhile.
    let (status, body, _) = in_flight.await.unwrap();
    assert_eq!(status, 503, "{body}");
    let exit = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

/// PostgreSQL answers 55000 (`object_not_in_prerequisite_state`) to a statement that needs
/// the server in a state it is not in right now. Against this service that is recovery:
/// `pg_current_wal_lsn()`, which a lifecycle write and the replica monitor send to the
/// primary, answers 55000 "recovery is in progress" on a server that is still a standby (a
/// failover between the address moving and the promotion). Here PostgreSQL raises the same
/// state the other way round, in the request's own statement: a trigger the test installs
/// calls `pg_wal_replay_pause()` on a primary ("recovery is not in progress"). Either way
/// the client is told to come back (503, `Retry-After: 1`), not that the server broke.
#[tokio::test]
async fn a_database_not_in_the_state_a_statement_needs_answers_503() {
    let Some(db) = TestDb::new(Backend::Postgres, "prerequisite_state").await else {
        return;
    };
    common::import_example(&db.store).await;
    // Hand-written: a trigger is the only way to make the lifecycle's own INSERT meet a
    // server-raised 55000 (`pg_wal_replay_pause()` needs recovery).
    db.store
        .connection()
        .execute_unprepared(
            "CREATE FUNCTION needs_recovery() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_wal_replay_pause(); RETURN NEW; END $$; \
             CREATE TRIGGER needs_recovery BEFORE INSERT ON connection_requests \
             FOR EACH ROW EXECUTE FUNCTION needs_recovery()",
        )
        .await
        .expect("a trigger that needs recovery");
    let api = common::Api::new(&db.store).await;

    // REST: 4 and 5 share nothing, so the request inserts a row.
    let response = api.act_response(4, 5, "connection/request").await;
    let status = response.status();
    let retry = response.headers().get("retry-after").cloned();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
    assert!(
        body.starts_with(r#"{"errors":[{"code":"service_unavailable""#),
        "{body}"
    );

    // GraphQL: the same refusal as a field error, with `Retry-After` (its only error).
    let response = api
        .request("POST", "/graphql", Some(&common::jwt(6)))
        .json(&serde_json::json!({"query": "mutation { requestConnection(userId: \"5\") { user { id } } }"}))
        .send()
        .await
        .expect("send");
    let retry = response.headers().get("retry-after").cloned();
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    assert_eq!(retry.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));

    // Nothing was written, and the pair can act once the state passes.
    db.store
        .connection()
        .execute_unprepared("DROP TRIGGER needs_recovery ON connection_requests")
        .await
        .expect("drop the trigger");
    let (status, body) = api.act(4, 5, "connection/request").await;
    assert_eq!(status, 200, "{body}");
}
