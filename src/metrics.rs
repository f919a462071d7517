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
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::store::Store;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    graphql_errors: IntCounterVec,
    sql_statements: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
}

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
        let sql_statements =
            IntGauge::new("sql_statements_total", "SQL statements run since start")
                .expect("static metric definition");
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections")
            .expect("static metric definition");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections")
            .expect("static metric definition");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(graphql_errors.clone()),
            Box::new(sql_statements.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
        ] {
            // Names are distinct constants: registration cannot collide.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            requests,
            latency,
            graphql_errors,
            sql_statements,
            pool_size,
            pool_idle,
        }
    }

    /// Counts the errors of one GraphQL response by their `extensions.code`.
    pub fn graphql_error(&self, code: &str) {
        self.graphql_errors.with_label_values(&[code]).inc();
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
    pub fn render(&self, store: &Store) -> Response {
        self.sql_statements.set(store.statement_count() as i64);
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
