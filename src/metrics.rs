//! Prometheus metrics, served at `/metrics` in the text format: HTTP requests by route and
//! status, latency histograms, the database pool, SQL statements, GraphQL errors by code.
//!
//! Each `AppState` owns its registry (no global state), so several servers in one process
//! (the tests) keep separate figures.

use std::time::Instant;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use crate::cache::{EventHub, GraphCache};
use crate::error::ApiError;
use crate::store::Store;
use std::sync::atomic::Ordering::Relaxed;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    graphql_errors: IntCounterVec,
    /// GraphQL executions by path, fallbacks by reason, plan-cache lookups, differences
    /// found by `GRAPHQL_VERIFY`.
    graphql_executions: IntCounterVec,
    graphql_fallbacks: IntCounterVec,
    graphql_plan_lookups: IntCounterVec,
    graphql_verify_differences: IntCounterVec,
    sql_statements: IntGaugeVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    cache: Vec<(CacheFigure, IntGauge)>,
    cache_feed_lag: Gauge,
    /// Live `connectionEvents` subscriptions, and the events handed to them.
    subscriptions: IntGauge,
    events_delivered: IntGauge,
    /// Read replicas: in rotation or not, replay lag, and whether the reads are on the primary.
    replica_in_rotation: IntGaugeVec,
    replica_lag: GaugeVec,
    reads_on_primary: IntGauge,
    /// WebSockets closed, and subscriptions refused, by the server, by reason.
    ws_refused: IntCounterVec,
    /// Bytes waiting in the WebSockets' outbound queues (`graphql::ws_outbound`).
    ws_outbound_bytes: IntGauge,
}

/// The graph cache's figures, read at each scrape.
#[derive(Clone, Copy)]
enum CacheFigure {
    Hits,
    Misses,
    Evictions,
    NotAdmitted,
    Refused,
    Invalidations,
    Resets,
    FeedResets,
    Changes,
    Bytes,
    Entries,
    Serving,
}

const CACHE_FIGURES: [(CacheFigure, &str, &str); 12] = [
    (
        CacheFigure::Hits,
        "cache_hits_total",
        "Graph cache entries found",
    ),
    (
        CacheFigure::Misses,
        "cache_misses_total",
        "Graph cache entries read from SQL",
    ),
    (
        CacheFigure::Evictions,
        "cache_evictions_total",
        "Entries evicted to stay within CACHE_MB",
    ),
    (
        CacheFigure::NotAdmitted,
        "cache_not_admitted_total",
        "Entries read from SQL but not stored: asked for less often than those they would evict (TinyLFU admission)",
    ),
    (
        CacheFigure::Refused,
        "cache_refused_total",
        "Entries read while a change to them was applied, so not stored",
    ),
    (
        CacheFigure::Invalidations,
        "cache_invalidations_total",
        "Batches of changes applied",
    ),
    (
        CacheFigure::Resets,
        "cache_resets_total",
        "Times the whole cache was dropped (import, user deleted, new feed session)",
    ),
    (
        CacheFigure::FeedResets,
        "cache_feed_resets_total",
        "Times the change feed was lost (reads went to SQL until it followed again)",
    ),
    (
        CacheFigure::Changes,
        "cache_feed_changes_total",
        "Change rows applied from the feed",
    ),
    (
        CacheFigure::Bytes,
        "cache_bytes",
        "Estimated bytes held by the graph cache",
    ),
    (
        CacheFigure::Entries,
        "cache_entries",
        "Entries held by the graph cache",
    ),
    (
        CacheFigure::Serving,
        "cache_serving",
        "1 while the graph cache serves reads, 0 while reads go to SQL",
    ),
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("gateway".into()), None).unwrap_or_default();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route"],
        )
        .expect("static metric definition");
        let graphql_errors = IntCounterVec::new(
            Opts::new("graphql_errors_total", "GraphQL errors by extensions.code"),
            &["code"],
        )
        .expect("static metric definition");
        let graphql_executions = IntCounterVec::new(
            Opts::new(
                "graphql_executions_total",
                "GraphQL operations by execution path: compiled, fallback (a plan handed the request to the reference executor), reference",
            ),
            &["path"],
        )
        .expect("static metric definition");
        let graphql_fallbacks = IntCounterVec::new(
            Opts::new(
                "graphql_fallbacks_total",
                "Requests the compiled path handed to the reference executor, by reason",
            ),
            &["reason"],
        )
        .expect("static metric definition");
        let graphql_plan_lookups = IntCounterVec::new(
            Opts::new(
                "graphql_plan_cache_total",
                "Plan cache lookups: hit (a plan ran), ineligible (known, answered by the reference), miss",
            ),
            &["result"],
        )
        .expect("static metric definition");
        let graphql_verify_differences = IntCounterVec::new(
            Opts::new(
                "graphql_verify_differences_total",
                "GRAPHQL_VERIFY: compiled answers that differed from the reference executor's",
            ),
            &["part"],
        )
        .expect("static metric definition");
        let sql_statements = IntGaugeVec::new(
            Opts::new(
                "sql_statements_total",
                "Every SQL statement this process sent to any database since start, by sender: api (requests' reads and writes with their BEGIN, SET TRANSACTION and COMMIT or ROLLBACK, /readyz), feed (the graph cache's change feed: polls, LISTEN, event reads, pruning), replicas (the replica monitor's WAL positions and pings)",
            ),
            &["source"],
        )
        .expect("static metric definition");
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections")
            .expect("static metric definition");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections")
            .expect("static metric definition");
        let cache: Vec<(CacheFigure, IntGauge)> = CACHE_FIGURES
            .iter()
            .map(|(figure, name, help)| {
                (
                    *figure,
                    IntGauge::new(*name, *help).expect("static metric definition"),
                )
            })
            .collect();
        let cache_feed_lag = Gauge::new(
            "cache_feed_lag_seconds",
            "Time since the last successful read of the change feed started",
        )
        .expect("static metric definition");
        for gauge in &cache {
            let _ = registry.register(Box::new(gauge.1.clone()));
        }
        let _ = registry.register(Box::new(cache_feed_lag.clone()));
        let subscriptions = IntGauge::new(
            "live_subscriptions",
            "connectionEvents subscriptions open on this server",
        )
        .expect("static metric definition");
        let events_delivered = IntGauge::new(
            "live_events_delivered_total",
            "Connection events handed to this server's subscribers",
        )
        .expect("static metric definition");
        let replica_in_rotation = IntGaugeVec::new(
            Opts::new(
                "replica_in_rotation",
                "1 while a read replica serves reads or may (replay lag within REPLICA_MAX_LAG_MS, reachable)",
            ),
            &["replica"],
        )
        .expect("static metric definition");
        let replica_lag = GaugeVec::new(
            Opts::new(
                "replica_lag_seconds",
                "Replay lag of a read replica at its last check (-1 while unreachable)",
            ),
            &["replica"],
        )
        .expect("static metric definition");
        let reads_on_primary = IntGauge::new(
            "reads_on_primary",
            "1 while this server's reads go to the primary (no replica configured or in rotation)",
        )
        .expect("static metric definition");
        let ws_refused = IntCounterVec::new(
            Opts::new(
                "ws_refused_total",
                "WebSockets the server closed (protocol violations, limits, keep-alive, credentials) and subscriptions it refused, by reason",
            ),
            &["reason"],
        )
        .expect("static metric definition");
        let ws_outbound_bytes = IntGauge::new(
            "ws_outbound_bytes",
            "Bytes the server holds for its WebSockets that their peers have not taken yet (each socket's at most WS_MAX_OUTBOUND_BYTES)",
        )
        .expect("static metric definition");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(replica_in_rotation.clone()),
            Box::new(replica_lag.clone()),
            Box::new(reads_on_primary.clone()),
            Box::new(ws_refused.clone()),
            Box::new(ws_outbound_bytes.clone()),
            Box::new(latency.clone()),
            Box::new(graphql_errors.clone()),
            Box::new(graphql_executions.clone()),
            Box::new(graphql_fallbacks.clone()),
            Box::new(graphql_plan_lookups.clone()),
            Box::new(graphql_verify_differences.clone()),
            Box::new(sql_statements.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(subscriptions.clone()),
            Box::new(events_delivered.clone()),
        ] {
            // Names are distinct constants: registration cannot collide.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            requests,
            latency,
            graphql_errors,
            graphql_executions,
            graphql_fallbacks,
            graphql_plan_lookups,
            graphql_verify_differences,
            sql_statements,
            pool_size,
            pool_idle,
            cache,
            cache_feed_lag,
            subscriptions,
            events_delivered,
            replica_in_rotation,
            replica_lag,
            reads_on_primary,
            ws_refused,
            ws_outbound_bytes,
        }
    }

    /// A WebSocket closed, or a subscription refused, by the server: `reason` is one of a
    /// fixed set (`graphql::ws_protocol::Refusal`), so the series stay few.
    pub fn ws_refused(&self, reason: &'static str) {
        self.ws_refused.with_label_values(&[reason]).inc();
    }

    /// The gauge of the WebSockets' outbound queues, for each queue to add and take its bytes.
    pub fn ws_outbound_bytes(&self) -> IntGauge {
        self.ws_outbound_bytes.clone()
    }

    /// Counts the errors of one GraphQL response by their `extensions.code`.
    pub fn graphql_error(&self, code: &str) {
        self.graphql_errors.with_label_values(&[code]).inc();
    }

    /// One GraphQL operation run by `path` (`compiled`, `fallback`, `reference`).
    pub fn graphql_execution(&self, path: &str) {
        self.graphql_executions.with_label_values(&[path]).inc();
    }

    /// A request the compiled path handed to the reference, and why.
    pub fn graphql_fallback(&self, reason: &str) {
        self.graphql_fallbacks.with_label_values(&[reason]).inc();
    }

    /// One plan-cache lookup (`hit`, `ineligible`, `miss`).
    pub fn graphql_plan_lookup(&self, result: &str) {
        self.graphql_plan_lookups.with_label_values(&[result]).inc();
    }

    /// A compiled answer that differed from the reference's, in `part` (`status`,
    /// `headers`, `body`).
    pub fn graphql_verify_difference(&self, part: &str) {
        self.graphql_verify_differences
            .with_label_values(&[part])
            .inc();
    }
}

impl Metrics {
    fn read_cache(&self, graph: &GraphCache) {
        let c = &graph.counters;
        let (bytes, entries) = graph.size();
        for (figure, gauge) in &self.cache {
            let value = match figure {
                CacheFigure::Hits => c.hits.load(Relaxed),
                CacheFigure::Misses => c.misses.load(Relaxed),
                CacheFigure::Evictions => c.evictions.load(Relaxed),
                CacheFigure::NotAdmitted => c.not_admitted.load(Relaxed),
                CacheFigure::Refused => c.refused.load(Relaxed),
                CacheFigure::Invalidations => c.invalidations.load(Relaxed),
                CacheFigure::Resets => c.resets.load(Relaxed),
                CacheFigure::FeedResets => c.feed_resets.load(Relaxed),
                CacheFigure::Changes => c.changes.load(Relaxed),
                CacheFigure::Bytes => bytes as u64,
                CacheFigure::Entries => entries as u64,
                CacheFigure::Serving => u64::from(graph.serving()),
            };
            gauge.set(value.min(i64::MAX as u64) as i64);
        }
        self.cache_feed_lag.set(graph.feed_age().as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Middleware: counts and times every request under its route template (not its raw path,
/// which would make one series per user id).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    response
}

impl Metrics {
    /// The text of `GET /metrics`, with the pool and statement figures of `store` read now.
    pub fn render(&self, store: &Store, graph: Option<&GraphCache>, events: &EventHub) -> Response {
        let counts = store.statement_counts();
        for (source, count) in [
            ("api", &counts.api),
            ("feed", &counts.feed),
            ("replicas", &counts.replicas),
        ] {
            let count = count.load(Relaxed).min(i64::MAX as u64) as i64;
            self.sql_statements.with_label_values(&[source]).set(count);
        }
        self.subscriptions.set(events.subscribers() as i64);
        let delivered = events.delivered.load(Relaxed);
        self.events_delivered
            .set(delivered.min(i64::MAX as u64) as i64);
        if let Some(graph) = graph {
            self.read_cache(graph);
        }
        let reads = store.reads();
        self.reads_on_primary
            .set(i64::from(reads.active().is_none()));
        for (name, state) in reads.states() {
            self.replica_in_rotation
                .with_label_values(&[name])
                .set(i64::from(state.in_rotation));
            self.replica_lag
                .with_label_values(&[name])
                .set(state.lag.map_or(-1.0, |lag| lag.as_secs_f64()));
        }
        let (size, idle) = store.pool_stats();
        self.pool_size.set(i64::from(size));
        self.pool_idle.set(idle as i64);
        let mut buffer = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return ApiError::internal(anyhow::anyhow!("metrics encoding failed")).into_response();
        }
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            )],
            buffer,
        )
            .into_response()
    }
}
