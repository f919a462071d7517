//! The settings as an operator meets them: every setting the README documents is a flag of
//! `serve` with its environment variable and the documented default, a bad value of each
//! stops the start with a message naming it, and `LOG_FORMAT=json` writes one JSON object
//! per line. The binary itself is run: these are the paths `main` takes, not the library's.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::common;

const BINARY: &str = env!("CARGO_BIN_EXE_community-gateway");
const README: &str = include_str!("../../README.md");

/// A row of one of the README's settings tables.
#[derive(Debug)]
struct Documented {
    variable: String,
    flag: Option<String>,
    /// The default column's first backticked value, when it starts with one.
    default: Option<String>,
}

/// The first `` `...` `` in a table cell.
fn backticked(cell: &str) -> Option<String> {
    let cell = cell.trim();
    let rest = cell.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The rows of the README's tables whose first column is a `VARIABLE`: the main settings
/// table (`| variable | flag | default | meaning |`) and the GraphQL door's
/// (`| setting | default | |`).
fn documented_settings() -> Vec<Documented> {
    let mut rows = Vec::new();
    let mut header: Vec<String> = Vec::new();
    for line in README.lines() {
        let Some(inner) = line.trim().strip_prefix('|') else {
            header.clear();
            continue;
        };
        let cells: Vec<&str> = inner.trim_end_matches('|').split('|').collect();
        if header.is_empty() {
            header = cells.iter().map(|c| c.trim().to_string()).collect();
            continue;
        }
        let column = |name: &str| header.iter().position(|h| h == name).map(|i| cells[i]);
        let Some(variable) = column("variable")
            .or_else(|| column("setting"))
            .and_then(backticked)
        else {
            continue;
        };
        if !variable
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c == '*')
        {
            continue;
        }
        rows.push(Documented {
            variable,
            flag: column("flag").and_then(backticked),
            default: column("default").and_then(backticked),
        });
    }
    rows
}

/// `serve --help`'s settings: environment variable → (flag, default).
fn served_settings() -> BTreeMap<String, (String, Option<String>)> {
    let output = std::process::Command::new(BINARY)
        .args(["serve", "--help"])
        .output()
        .expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("utf-8 help");
    let mut settings = BTreeMap::new();
    let mut flag = None;
    let mut default = None;
    for line in help.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("--") {
            let name = rest.split([' ', '<']).next().unwrap_or_default();
            flag = Some(format!("--{name}"));
            default = None;
        } else if let Some(value) = line.strip_prefix("[default: ") {
            default = Some(value.trim_end_matches(']').to_string());
        } else if let Some(variable) = line.strip_prefix("[env: ") {
            let variable = variable
                .trim_end_matches(']')
                .trim_end_matches('=')
                .to_string();
            let flag = flag.clone().expect("an env line follows its flag");
            // clap prints the default after the env line: filled in below.
            settings.insert(variable, (flag, None));
        }
        if let (Some(f), Some(d)) = (&flag, &default) {
            for (served_flag, served_default) in settings.values_mut() {
                if served_flag == f {
                    *served_default = Some(d.clone());
                }
            }
        }
    }
    settings
}

#[test]
fn every_documented_setting_is_a_flag_with_its_variable_and_default() {
    let documented = documented_settings();
    let served = served_settings();
    assert!(
        documented.len() >= 20,
        "README tables not found: {documented:?}"
    );
    for row in &documented {
        if row.variable == "GRAPHQL_*" || row.variable == "RUST_LOG" {
            continue; // a pointer to the GraphQL tables; the log filter is tracing's
        }
        let Some((flag, default)) = served.get(&row.variable) else {
            panic!(
                "README documents {} but `serve` does not read it",
                row.variable
            );
        };
        if let Some(documented_flag) = &row.flag {
            assert_eq!(documented_flag, flag, "{}", row.variable);
        }
        if let (Some(documented), Some(served)) = (&row.default, default) {
            assert_eq!(documented, served, "the default of {}", row.variable);
        }
    }
    // And the other way: nothing `serve` reads is undocumented.
    for variable in served.keys() {
        assert!(
            documented.iter().any(|row| &row.variable == variable),
            "`serve` reads {variable}, which the README's settings tables do not list"
        );
    }
}

/// A value of each setting that must stop the start, by variable. Every variable `serve`
/// reads is here, except the ones no value is wrong for.
const BAD_VALUES: &[(&str, &str)] = &[
    ("BIND", "not-an-address"),
    ("DATABASE_URL", "ftp://example.com/db"),
    ("DB_ACQUIRE_TIMEOUT_MS", "1"),
    ("DB_POOL_SIZE", "0"),
    ("JWT_SECRET", "too-short"),
    ("PUBLIC_BASE_URL", "example.com/no-scheme"),
    ("DEFAULT_LIMIT", "0"),
    ("MAX_LIMIT", "ten"),
    ("CORS_ORIGINS", "not an origin"),
    ("GRAPHQL_BATCH_DELAY_MS", "-1"),
    ("REQUEST_TIMEOUT_MS", "0"),
    ("SHUTDOWN_DRAIN_MS", "300001"),
    ("READ_DATABASE_URL", "mysql://root@127.0.0.1:3306/x"),
    ("REPLICA_MAX_LAG_MS", "5"),
    ("MAX_BODY_BYTES", "12"),
    ("RATE_LIMIT_PER_SECOND", "-5"),
    ("RATE_LIMIT_BURST", "0"),
    ("GRAPHQL_MAX_CONCURRENT", "0"),
    ("GRAPHQL_MAX_DEPTH", "1"),
    ("GRAPHQL_MAX_COMPLEXITY", "many"),
    ("GRAPHQL_MAX_FIELDS", "1"),
    ("GRAPHQL_MAX_ROOT_FIELDS", "0"),
    ("GRAPHQL_INTROSPECTION", "sometimes"),
    ("GRAPHQL_COMPILED", "maybe"),
    ("GRAPHQL_VERIFY", "loudly"),
    ("CACHE", "maybe"),
    ("CACHE_MB", "0"),
    ("CACHE_POLL_MS", "0"),
    ("CACHE_LEASE_MS", "5"),
    ("WS_INIT_TIMEOUT_MS", "0"),
    ("WS_MAX_SOCKETS", "0"),
    ("WS_MAX_SUBSCRIPTIONS", "none"),
    ("WS_PING_INTERVAL_MS", "50"),
    ("WS_MAX_OUTBOUND_BYTES", "100"),
    ("WS_SUBSCRIPTION_BUFFER", "0"),
    ("LOG_FORMAT", "xml"),
];

/// Flags whose every value means something (`NO_DEMO` is on unless it reads as false).
const NO_BAD_VALUE: &[&str] = &["NO_DEMO"];

#[tokio::test]
async fn a_bad_value_of_each_setting_stops_the_start_naming_it() {
    for variable in served_settings().keys() {
        assert!(
            BAD_VALUES.iter().any(|(v, _)| v == variable)
                || NO_BAD_VALUE.contains(&variable.as_str()),
            "{variable} has no bad value in this test"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    for (variable, value) in BAD_VALUES {
        let mut command = tokio::process::Command::new(BINARY);
        command
            .args(["serve", "--no-demo"])
            .env("BIND", "127.0.0.1:0")
            .env("DATABASE_URL", &url)
            .env("JWT_SECRET", common::TEST_SECRET)
            .env(variable, value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(20), command.output())
            .await
            .unwrap_or_else(|_| panic!("{variable}={value}: the server started"))
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value}: {stderr}");
        assert!(
            stderr.contains(variable),
            "{variable}={value}: the message does not name the setting: {stderr}"
        );
    }
}

/// What a server started with `LOG_FORMAT=format` on a new SQLite file (the demo community
/// seeded) wrote to stderr, from its start through one request to its exit on SIGTERM.
async fn stderr_of_a_server(format: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut server = tokio::process::Command::new(BINARY)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", format)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = client
        .get(format!("{base}/api/v2/user/1/connections/?limit=1"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let pid = server.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut stderr = String::new();
    let mut pipe = server.stderr.take().expect("stderr");
    tokio::time::timeout(Duration::from_secs(20), pipe.read_to_string(&mut stderr))
        .await
        .expect("the server exits")
        .expect("read stderr");
    let status = server.wait().await.expect("wait");
    assert!(status.success(), "{status:?}: {stderr}");
    stderr
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line() {
    let stderr = stderr_of_a_server("json").await;
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 3, "{stderr}");
    let mut messages = Vec::new();
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not one JSON object ({err}): {line:?}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["timestamp"].is_string(), "{line}");
        messages.push(event["message"].as_str().unwrap_or_default().to_string());
    }
    // The start (demo seeded, listening) and the stop are events too, not plain text.
    for wanted in ["empty database: seeded the demo community", "listening"] {
        assert!(messages.iter().any(|m| m == wanted), "{messages:?}");
    }
    assert!(
        messages.iter().any(|m| m.starts_with("shutting down")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn log_format_plain_stays_text() {
    let stderr = stderr_of_a_server("plain").await;
    assert!(
        stderr.contains("community-gateway listening on http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.lines().all(
            |line| serde_json::from_str::<serde_json::Value>(line).is_err()
                || line.trim().is_empty()
        ),
        "{stderr}"
    );
}
