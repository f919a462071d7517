//! Reading a served app's `GET /metrics`: the text, one value, and the wait for the graph
//! cache to serve (or stop serving) from memory, which several test files need before they
//! measure or compare.

use std::time::{Duration, Instant};

/// The text of `GET {base}/metrics`.
pub async fn metrics_text(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the unlabelled metric `name` in a `/metrics` text, None when it is absent.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
}

/// The value of the unlabelled metric `name` at `GET {base}/metrics`; fails when it is absent.
pub async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    metric_value(&metrics_text(client, base).await, name)
        .unwrap_or_else(|| panic!("{name} is missing from /metrics"))
}

/// Waits until `gateway_cache_serving` on `base` is `want` (0 or 1), at most `within`.
pub async fn wait_serving(client: &reqwest::Client, base: &str, want: f64, within: Duration) {
    let name = "gateway_cache_serving";
    wait_for(
        client,
        base,
        name,
        |value| value == want,
        within,
        "did not become",
        want,
    )
    .await;
}

/// Waits until the unlabelled metric `name` on `base` is at least `want`, at most `within`;
/// returns its value then.
pub async fn wait_at_least(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    want: f64,
    within: Duration,
) -> f64 {
    wait_for(
        client,
        base,
        name,
        |value| value >= want,
        within,
        "stayed below",
        want,
    )
    .await
}

/// Polls `name` every 10 ms until `done` holds for its value (returned), failing after
/// `within` with "`name` of `base` {failure} {want}".
async fn wait_for(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    done: impl Fn(f64) -> bool,
    within: Duration,
    failure: &str,
    want: f64,
) -> f64 {
    let started = Instant::now();
    loop {
        let value = metric(client, base, name).await;
        if done(value) {
            return value;
        }
        assert!(
            started.elapsed() < within,
            "{name} of {base} {failure} {want} within {within:?} (last: {value})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
