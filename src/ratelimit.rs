//! Per-client rate limiting (off by default): a token bucket per client, keyed by the hash of
//! its `Authorization` header when it sends one, else by its IP address. Over the limit the
//! client gets 429 with `Retry-After` (`ApiError::Throttled`, rendered by `app` in the shape
//! of the door the request was for).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::sha256_hex;
use crate::error::ApiError;

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
            sha256_hex(&String::from_utf8_lossy(auth.as_bytes()))
        );
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".to_string(),
    }
}

impl Limiter {
    /// Takes one token from the bucket of the client `request` counts against; `Throttled`
    /// (with the wait until the next token, in whole seconds) when it is empty.
    pub fn check(&self, request: &Request) -> Result<(), ApiError> {
        self.buckets
            .check_key(&client_key(request))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let wait_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                ApiError::Throttled { wait_seconds }
            })
    }
}
