//! Per-client rate limiting (off by default): a token bucket per client, keyed by the hash of
//! its `Authorization` header when it sends one, else by its IP address. Over the limit the
//! client gets 429 with `Retry-After` and the usual `{"errors": [...]}` body.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::AppState;

pub struct Limiter {
    buckets: DefaultKeyedRateLimiter<String>,
}

impl Limiter {
    /// A limiter of `per_second` requests per client with bursts of `burst`; None when either is 0.
    pub fn new(per_second: u32, burst: u32) -> Option<Arc<Limiter>> {
        let quota =
            Quota::per_second(NonZeroU32::new(per_second)?).allow_burst(NonZeroU32::new(burst)?);
        let limiter = Arc::new(Limiter {
            buckets: RateLimiter::keyed(quota),
        });
        // Forget idle clients now and then, so memory follows the active clients only.
        let weak = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let Some(limiter) = weak.upgrade() else { break };
                limiter.buckets.retain_recent();
            }
        });
        Some(limiter)
    }
}

/// The client a request counts against.
fn client_key(request: &Request) -> String {
    if let Some(auth) = request.headers().get(header::AUTHORIZATION) {
        return format!(
            "auth:{}",
            crate::auth::sha256_hex(&String::from_utf8_lossy(auth.as_bytes()))
        );
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".to_string(),
    }
}

/// Middleware: 429 once a client's bucket is empty.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    match limiter.buckets.check_key(&client_key(&request)) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let body = serde_json::json!({"errors": [{
                "code": "throttled",
                "message": format!("Request was throttled. Expected available in {seconds} second{}.", if seconds == 1 { "" } else { "s" }),
            }]});
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}
