//! A gateway process of the tests' own (the built binary, `serve`), on a port of its own: for
//! the tests that stop servers as an operator or a crash would (SIGTERM, SIGKILL).

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::process::{Child, Command};

use super::TEST_SECRET;

const BINARY: &str = env!("CARGO_BIN_EXE_community-gateway");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A gateway process serving `url`.
pub struct Gateway {
    child: Child,
    pub port: u16,
    url: String,
    drain_ms: u64,
}

impl Gateway {
    /// Started and ready, draining `drain_ms` on SIGTERM.
    pub async fn start(url: &str, drain_ms: u64) -> Gateway {
        Gateway::start_on(url, free_port(), drain_ms).await
    }

    pub async fn start_on(url: &str, port: u16, drain_ms: u64) -> Gateway {
        let child = Command::new(BINARY)
            .args(["serve", "--no-demo", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", TEST_SECRET)
            .env("SHUTDOWN_DRAIN_MS", drain_ms.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway starts");
        let gateway = Gateway {
            child,
            port,
            url: url.to_string(),
            drain_ms,
        };
        gateway.wait_ready().await;
        gateway
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("{}/readyz", self.base())).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "{signal} sent");
    }

    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// SIGKILL: the process ends at once, mid-request, as in a crash.
    pub async fn kill(&mut self) {
        self.signal("-KILL");
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Waits for the process to end; it must end by itself, cleanly, within its drain and a
    /// few seconds.
    pub async fn exited(&mut self) {
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("the gateway leaves after SIGTERM")
            .expect("wait");
        assert!(status.success(), "the gateway exits cleanly: {status:?}");
    }

    /// SIGTERM, a clean exit, and a new process on the same port.
    pub async fn restart(&mut self) {
        self.terminate();
        self.exited().await;
        *self = Gateway::start_on(&self.url, self.port, self.drain_ms).await;
    }

    /// A new process on the same port, after this one ended.
    pub async fn start_again(&mut self) {
        *self = Gateway::start_on(&self.url, self.port, self.drain_ms).await;
    }
}
