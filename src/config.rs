//! Settings from flags and the environment, checked once at start-up.
//!
//! Every setting can be given as a flag or through its environment variable; bad values fail
//! fast with a message naming the setting, before anything listens or writes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

/// Where the embedded SQLite database lives when `DATABASE_URL` is not set.
pub const DEFAULT_SQLITE_PATH: &str = "data/community.db";

/// The default of every setting that has one: the flags' defaults and `Config::with_secret`
/// (the configuration tests and embedders start from) both read them here.
pub mod defaults {
    pub const DB_ACQUIRE_TIMEOUT_MS: u64 = 3000;
    pub const BIND: &str = "127.0.0.1:8080";
    pub const DEFAULT_LIMIT: u64 = 20;
    pub const MAX_LIMIT: u64 = 100;
    pub const GRAPHQL_BATCH_DELAY_MS: u64 = 1;
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    pub const SHUTDOWN_DRAIN_MS: u64 = 2_000;
    pub const REPLICA_MAX_LAG_MS: u64 = 1_000;
    pub const MAX_BODY_BYTES: u64 = 262_144;
    pub const RATE_LIMIT_PER_SECOND: u32 = 0;
    pub const RATE_LIMIT_BURST: u32 = 50;
    pub const GRAPHQL_MAX_CONCURRENT: u32 = 8;
    pub const GRAPHQL_MAX_DEPTH: u32 = 15;
    pub const GRAPHQL_MAX_COMPLEXITY: u32 = 20_000;
    pub const GRAPHQL_MAX_FIELDS: u32 = 2_000;
    pub const GRAPHQL_MAX_ROOT_FIELDS: u32 = 100;
    pub const GRAPHQL_INTROSPECTION: bool = true;
    pub const GRAPHQL_COMPILED: bool = true;
    pub const GRAPHQL_VERIFY: super::Verify = super::Verify::Off;
    pub const CACHE: super::CacheMode = super::CacheMode::On;
    pub const CACHE_MB: u64 = 256;
    pub const CACHE_LEASE_MS: u64 = 1_000;
    pub const WS_INIT_TIMEOUT_MS: u64 = 3_000;
    pub const WS_MAX_SOCKETS: u32 = 10_000;
    pub const WS_MAX_SUBSCRIPTIONS: u32 = 16;
    pub const WS_PING_INTERVAL_MS: u64 = 15_000;
    pub const WS_MAX_OUTBOUND_BYTES: u32 = 65_536;
    pub const WS_SUBSCRIPTION_BUFFER: u32 = 64;
}

/// Options shared by every subcommand that touches the database.
#[derive(Args, Debug, Clone)]
pub struct DbOptions {
    /// Database URL: sqlite://PATH, postgres://..., or mysql://... [default: a SQLite file at
    /// data/community.db, created when missing]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// How long a request may wait for a pooled database connection before it is answered
    /// 503, in milliseconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = defaults::DB_ACQUIRE_TIMEOUT_MS, global = true,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub db_acquire_timeout_ms: u64,

    /// Maximum number of pooled database connections [default: 16; on SQLite, twice the CPU
    /// cores, at most 16].
    #[arg(long, env = "DB_POOL_SIZE", global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: Option<u32>,
}

impl DbOptions {
    /// The pool size: as given, else the default for the database `url` names. SQLite runs
    /// each statement on its connection's own thread, inside this process: connections beyond
    /// what the cores can run add only memory (each keeps its page cache and prepared
    /// statements; 16 of them doubled the server's peak RSS under load, at the same
    /// throughput as 4 on 2 cores).
    pub fn pool_size(&self, url: &str) -> u32 {
        if let Some(size) = self.db_pool_size {
            return size;
        }
        if url.starts_with("sqlite:") {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            return (2 * cores).clamp(2, 16);
        }
        16
    }

    /// The URL to connect to, with the embedded SQLite default filled in (its folder created).
    pub fn resolved_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => {
                let url = url.trim();
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("mysql://")
                    || url.starts_with("mariadb://"))
                {
                    bail!("DATABASE_URL must start with sqlite:, postgres://, postgresql:// or mysql:// (got a URL of another scheme)");
                }
                Ok(url.replacen("mariadb://", "mysql://", 1))
            }
            _ => {
                let path = Path::new(DEFAULT_SQLITE_PATH);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("DATABASE_URL: cannot create {}", dir.display())
                    })?;
                }
                Ok(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }
}

/// Options of the HTTP server (`serve`).
#[derive(Args, Debug, Clone)]
pub struct ServeOptions {
    /// Address and port to listen on.
    #[arg(long, env = "BIND", default_value = defaults::BIND)]
    pub bind: SocketAddr,

    /// HS256 secret for JWT access tokens. When unset with SQLite, a random secret is made once
    /// and kept beside the database file; PostgreSQL and MySQL require it.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Base URL used in `next`/`previous` links in place of the request's scheme and host,
    /// e.g. https://community.example.com
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,

    /// Page size when a request gives none (or an invalid one).
    #[arg(long, env = "DEFAULT_LIMIT", default_value_t = defaults::DEFAULT_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub default_limit: u64,

    /// Largest page size; larger requests are cut to it.
    #[arg(long, env = "MAX_LIMIT", default_value_t = defaults::MAX_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_limit: u64,

    /// Origins allowed to call the API from a browser (CORS), comma-separated, or * for any.
    /// Unset: no CORS headers (same-origin only).
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// How long a GraphQL DataLoader waits to gather keys into one batch, in milliseconds.
    #[arg(long, env = "GRAPHQL_BATCH_DELAY_MS", default_value_t = defaults::GRAPHQL_BATCH_DELAY_MS,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub graphql_batch_delay_ms: u64,

    /// Longest time a request may take before it is answered 503, in milliseconds.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub request_timeout_ms: u64,

    /// On SIGTERM, how long /readyz answers 503 while the server still serves, before the
    /// listener closes, in milliseconds: long enough for a load balancer's health checks to
    /// take the server out of rotation. Ctrl-C (SIGINT) does not wait.
    #[arg(long, env = "SHUTDOWN_DRAIN_MS", default_value_t = defaults::SHUTDOWN_DRAIN_MS,
          value_parser = clap::value_parser!(u64).range(0..=300_000))]
    pub shutdown_drain_ms: u64,

    /// Largest request body accepted, in bytes (GraphQL documents and variables).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES,
          value_parser = clap::value_parser!(u64).range(1024..=67_108_864))]
    pub max_body_bytes: u64,

    /// Requests per second allowed to one client (its token, else its IP address); 0 turns
    /// rate limiting off. Over the limit: 429 with Retry-After.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = defaults::RATE_LIMIT_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_limit_per_second: u32,

    /// Burst a client may send above the rate before being limited.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = defaults::RATE_LIMIT_BURST,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,

    /// GraphQL operations executed at once; more wait their turn. Bounds the memory a burst of
    /// large operations can take (a 1,000-user operation holds a few MB while it runs).
    #[arg(long, env = "GRAPHQL_MAX_CONCURRENT", default_value_t = defaults::GRAPHQL_MAX_CONCURRENT,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub graphql_max_concurrent: u32,

    /// GraphQL: deepest selection nesting accepted.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = defaults::GRAPHQL_MAX_DEPTH,
          value_parser = clap::value_parser!(u32).range(2..=100))]
    pub graphql_max_depth: u32,

    /// GraphQL: highest query complexity accepted (each field counts 1, fragments expanded).
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = defaults::GRAPHQL_MAX_COMPLEXITY,
          value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub graphql_max_complexity: u32,

    /// GraphQL: most fields one document may select.
    #[arg(long, env = "GRAPHQL_MAX_FIELDS", default_value_t = defaults::GRAPHQL_MAX_FIELDS,
          value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    pub graphql_max_fields: u32,

    /// GraphQL: most root fields (aliases included) one operation may select.
    #[arg(long, env = "GRAPHQL_MAX_ROOT_FIELDS", default_value_t = defaults::GRAPHQL_MAX_ROOT_FIELDS,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub graphql_max_root_fields: u32,

    /// GraphQL: answer introspection queries (the playground needs them).
    #[arg(long, env = "GRAPHQL_INTROSPECTION", default_value_t = defaults::GRAPHQL_INTROSPECTION, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,

    /// GraphQL: answer the queries it covers with the compiled execution path
    /// (`docs/graphql-execution.md`); `false` runs every operation on the reference executor.
    #[arg(long, env = "GRAPHQL_COMPILED", default_value_t = defaults::GRAPHQL_COMPILED, action = clap::ArgAction::Set)]
    pub graphql_compiled: bool,

    /// GraphQL: run the reference executor beside every compiled answer and compare the two.
    /// `on` logs and counts a difference (`gateway_graphql_verify_differences_total`) and
    /// answers the reference's response; `strict` also answers a difference with a 500 (for
    /// test suites); `off` runs the compiled path alone.
    #[arg(long, env = "GRAPHQL_VERIFY", default_value_t = defaults::GRAPHQL_VERIFY, value_enum)]
    pub graphql_verify: Verify,

    /// The in-process graph cache: `on` serves pages from memory, kept coherent by the
    /// database's change feed; `off` reads everything from SQL.
    #[arg(long, env = "CACHE", default_value_t = defaults::CACHE, value_enum)]
    pub cache: CacheMode,

    /// Memory budget of the graph cache, in MiB (least recently used entries go first).
    #[arg(long, env = "CACHE_MB", default_value_t = defaults::CACHE_MB,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub cache_mb: u64,

    /// How often the cache polls the change feed, in milliseconds [default: 100 on
    /// PostgreSQL, where LISTEN/NOTIFY wakes it at once and the poll is the safety net; 10 on
    /// MariaDB/MySQL and SQLite, where an indexed read of the feed's end costs microseconds].
    #[arg(long, env = "CACHE_POLL_MS",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub cache_poll_ms: Option<u64>,

    /// The cache serves nothing when its last successful read of the change feed started
    /// longer ago than this, in milliseconds (reads go to SQL until it follows again).
    #[arg(long, env = "CACHE_LEASE_MS", default_value_t = defaults::CACHE_LEASE_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub cache_lease_ms: u64,

    /// PostgreSQL hot standbys that serve the reads (pages, users, gates, token lookups),
    /// comma-separated; the primary (DATABASE_URL) takes the writes. Unset: reads on the
    /// primary.
    #[arg(
        long,
        env = "READ_DATABASE_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub read_database_url: Vec<String>,

    /// A replica whose replay lags more than this, in milliseconds, is out of rotation until
    /// it catches up; a write waits at most this long for the replicas to replay it.
    #[arg(long, env = "REPLICA_MAX_LAG_MS", default_value_t = defaults::REPLICA_MAX_LAG_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub replica_max_lag_ms: u64,
    /// WebSocket: how long a socket may stay open without sending `connection_init`, in
    /// milliseconds; then it is closed with 4408.
    #[arg(long, env = "WS_INIT_TIMEOUT_MS", default_value_t = defaults::WS_INIT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub ws_init_timeout_ms: u64,

    /// WebSocket: most sockets open on this server at once; one more is closed at once with
    /// 1013 `Try again later`.
    #[arg(long, env = "WS_MAX_SOCKETS", default_value_t = defaults::WS_MAX_SOCKETS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ws_max_sockets: u32,

    /// WebSocket: most `connectionEvents` subscriptions one socket may hold at once; one more
    /// is answered with an `error` message.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS", default_value_t = defaults::WS_MAX_SUBSCRIPTIONS,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ws_max_subscriptions: u32,

    /// WebSocket: how often the server pings each socket, in milliseconds; a peer that sends
    /// nothing (not even the Pong) for one more interval is closed with 1001.
    #[arg(long, env = "WS_PING_INTERVAL_MS", default_value_t = defaults::WS_PING_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub ws_ping_interval_ms: u64,

    /// WebSocket: most bytes of messages waiting for a socket whose peer does not read fast
    /// enough (the one being written included); one more closes the socket with 4413.
    #[arg(long, env = "WS_MAX_OUTBOUND_BYTES", default_value_t = defaults::WS_MAX_OUTBOUND_BYTES,
          value_parser = clap::value_parser!(u32).range(1024..=1 << 30))]
    pub ws_max_outbound_bytes: u32,

    /// WebSocket: most events one `connectionEvents` subscription may have waiting (handed
    /// over by the feed, not yet resolved and queued for its socket); one more ends the
    /// subscription with an error.
    #[arg(long, env = "WS_SUBSCRIPTION_BUFFER", default_value_t = defaults::WS_SUBSCRIPTION_BUFFER,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ws_subscription_buffer: u32,

    /// Skip running migrations at start-up.
    #[arg(long)]
    pub no_migrate: bool,

    /// Do not seed the demo community into an empty database.
    #[arg(long, env = "NO_DEMO")]
    pub no_demo: bool,
}

/// The checked configuration the running service uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt_secret: Vec<u8>,
    /// Browser origins allowed by CORS; `["*"]` for any, empty for none.
    pub cors_origins: Vec<String>,
    pub public_base_url: Option<String>,
    pub default_limit: u64,
    pub max_limit: u64,
    /// The window in which a GraphQL DataLoader gathers keys into one SQL statement.
    pub batch_delay: std::time::Duration,
    /// Longest time a request may take.
    pub request_timeout: std::time::Duration,
    /// On SIGTERM, how long the server answers /readyz 503 before it stops listening.
    pub shutdown_drain: std::time::Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Per-client rate limit: (requests per second, burst); None when off.
    pub rate_limit: Option<(u32, u32)>,
    /// Bounds on GraphQL operations.
    pub graphql: GraphqlLimits,
    /// GraphQL operations executed at once.
    pub graphql_max_concurrent: usize,
    /// Whether the compiled execution path answers the queries it covers.
    pub graphql_compiled: bool,
    /// Whether the reference executor checks the compiled path's answers.
    pub graphql_verify: Verify,
    /// The graph cache.
    pub cache: CacheConfig,
    /// The WebSocket transport's bounds.
    pub ws: WsLimits,
}

/// Bounds on the GraphQL WebSocket transport (`graphql::ws`).
#[derive(Clone, Copy, Debug)]
pub struct WsLimits {
    /// How long a socket may wait before its `connection_init` (then 4408).
    pub init_timeout: std::time::Duration,
    /// Sockets open on this server at once.
    pub max_sockets: usize,
    /// `connectionEvents` subscriptions one socket may hold.
    pub max_subscriptions: usize,
    /// The keep-alive: a Ping this often; silence for one more interval closes the socket.
    pub ping_interval: std::time::Duration,
    /// Bytes of messages that may wait for one socket (the one being written included); past
    /// it the socket is closed with 4413.
    pub max_outbound_bytes: usize,
    /// Events that may wait for one subscription before it is resolved and sent; past it the
    /// subscription ends with an error.
    pub subscription_buffer: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            init_timeout: std::time::Duration::from_millis(defaults::WS_INIT_TIMEOUT_MS),
            max_sockets: defaults::WS_MAX_SOCKETS as usize,
            max_subscriptions: defaults::WS_MAX_SUBSCRIPTIONS as usize,
            ping_interval: std::time::Duration::from_millis(defaults::WS_PING_INTERVAL_MS),
            max_outbound_bytes: defaults::WS_MAX_OUTBOUND_BYTES as usize,
            subscription_buffer: defaults::WS_SUBSCRIPTION_BUFFER as usize,
        }
    }
}

/// `CACHE`: whether pages are served from the in-process graph cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    On,
    Off,
}

/// `GRAPHQL_VERIFY`: how the reference executor checks the compiled path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Verify {
    Off,
    /// Log and count differences; answer the reference's response.
    On,
    /// As `On`, and answer a difference with a 500.
    Strict,
}

/// How the graph cache runs (`crate::cache`).
#[derive(Clone, Copy, Debug)]
pub struct CacheConfig {
    pub enabled: bool,
    pub budget_bytes: usize,
    /// The feed's poll interval; None: the backend's default.
    pub poll: Option<std::time::Duration>,
    pub lease: std::time::Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: defaults::CACHE == CacheMode::On,
            budget_bytes: (defaults::CACHE_MB as usize) << 20,
            poll: None,
            lease: std::time::Duration::from_millis(defaults::CACHE_LEASE_MS),
        }
    }
}

impl CacheConfig {
    /// The poll interval on `backend`.
    pub fn poll_interval(&self, backend: sea_orm::DatabaseBackend) -> std::time::Duration {
        match backend {
            sea_orm::DatabaseBackend::Postgres => {
                self.poll.unwrap_or(std::time::Duration::from_millis(100))
            }
            _ => self.poll_interval_without_listen(),
        }
    }

    /// The poll interval where nothing wakes the follower: MariaDB/MySQL, SQLite, and a
    /// PostgreSQL hot standby (`LISTEN` is refused during recovery).
    pub fn poll_interval_without_listen(&self) -> std::time::Duration {
        self.poll.unwrap_or(std::time::Duration::from_millis(10))
    }
}

impl Config {
    /// A configuration for tests and embedding: the given secret, the documented defaults.
    pub fn with_secret(secret: &str) -> Self {
        Config {
            jwt_secret: secret.as_bytes().to_vec(),
            cors_origins: Vec::new(),
            public_base_url: None,
            default_limit: defaults::DEFAULT_LIMIT,
            max_limit: defaults::MAX_LIMIT,
            batch_delay: std::time::Duration::from_millis(defaults::GRAPHQL_BATCH_DELAY_MS),
            request_timeout: std::time::Duration::from_millis(defaults::REQUEST_TIMEOUT_MS),
            shutdown_drain: std::time::Duration::from_millis(defaults::SHUTDOWN_DRAIN_MS),
            max_body_bytes: defaults::MAX_BODY_BYTES as usize,
            rate_limit: None,
            graphql: GraphqlLimits::default(),
            graphql_max_concurrent: defaults::GRAPHQL_MAX_CONCURRENT as usize,
            graphql_compiled: defaults::GRAPHQL_COMPILED,
            graphql_verify: defaults::GRAPHQL_VERIFY,
            cache: CacheConfig::default(),
            ws: WsLimits::default(),
        }
    }
}

/// Bounds on an operation, checked before any resolver (and so any SQL) runs.
#[derive(Clone, Copy, Debug)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Fields selected in a whole document (fragments counted once).
    pub max_fields: usize,
    /// Fields at the root of an operation, aliases included.
    pub max_root_fields: usize,
    pub introspection: bool,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        GraphqlLimits {
            max_depth: defaults::GRAPHQL_MAX_DEPTH as usize,
            max_complexity: defaults::GRAPHQL_MAX_COMPLEXITY as usize,
            max_fields: defaults::GRAPHQL_MAX_FIELDS as usize,
            max_root_fields: defaults::GRAPHQL_MAX_ROOT_FIELDS as usize,
            introspection: defaults::GRAPHQL_INTROSPECTION,
        }
    }
}

impl ServeOptions {
    /// Checks the options against each other and the database URL.
    pub fn to_config(&self, database_url: &str) -> anyhow::Result<Config> {
        // Every option by name, no `..`: a setting added to `ServeOptions` does not compile
        // until it is read here (or, for the three `main` reads, named below).
        let ServeOptions {
            bind: _,               // main: the listener
            no_migrate: _,         // main: before serving
            no_demo: _,            // main: before serving
            read_database_url: _,  // main: the store's replicas
            replica_max_lag_ms: _, // main: the store's replicas
            jwt_secret,
            public_base_url,
            default_limit,
            max_limit,
            cors_origins,
            graphql_batch_delay_ms,
            request_timeout_ms,
            shutdown_drain_ms,
            max_body_bytes,
            rate_limit_per_second,
            rate_limit_burst,
            graphql_max_concurrent,
            graphql_max_depth,
            graphql_max_complexity,
            graphql_max_fields,
            graphql_max_root_fields,
            graphql_introspection,
            graphql_compiled,
            graphql_verify,
            cache,
            cache_mb,
            cache_poll_ms,
            cache_lease_ms,
            ws_init_timeout_ms,
            ws_max_sockets,
            ws_max_subscriptions,
            ws_ping_interval_ms,
            ws_max_outbound_bytes,
            ws_subscription_buffer,
        } = self;
        if default_limit > max_limit {
            bail!("DEFAULT_LIMIT ({default_limit}) must not exceed MAX_LIMIT ({max_limit})");
        }
        let public_base_url = match public_base_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(parse_public_base_url(raw)?),
        };
        let ms = |ms: &u64| std::time::Duration::from_millis(*ms);
        Ok(Config {
            jwt_secret: resolve_jwt_secret(jwt_secret.as_deref(), database_url)?,
            cors_origins: parse_cors_origins(cors_origins)?,
            public_base_url,
            default_limit: *default_limit,
            max_limit: *max_limit,
            batch_delay: ms(graphql_batch_delay_ms),
            request_timeout: ms(request_timeout_ms),
            shutdown_drain: ms(shutdown_drain_ms),
            max_body_bytes: *max_body_bytes as usize,
            rate_limit: (*rate_limit_per_second > 0)
                .then_some((*rate_limit_per_second, *rate_limit_burst)),
            graphql: GraphqlLimits {
                max_depth: *graphql_max_depth as usize,
                max_complexity: *graphql_max_complexity as usize,
                max_fields: *graphql_max_fields as usize,
                max_root_fields: *graphql_max_root_fields as usize,
                introspection: *graphql_introspection,
            },
            graphql_max_concurrent: *graphql_max_concurrent as usize,
            graphql_compiled: *graphql_compiled,
            graphql_verify: *graphql_verify,
            cache: CacheConfig {
                enabled: *cache == CacheMode::On,
                budget_bytes: (*cache_mb as usize).saturating_mul(1 << 20),
                poll: cache_poll_ms.as_ref().map(ms),
                lease: ms(cache_lease_ms),
            },
            ws: WsLimits {
                init_timeout: ms(ws_init_timeout_ms),
                max_sockets: *ws_max_sockets as usize,
                max_subscriptions: *ws_max_subscriptions as usize,
                ping_interval: ms(ws_ping_interval_ms),
                max_outbound_bytes: *ws_max_outbound_bytes as usize,
                subscription_buffer: *ws_subscription_buffer as usize,
            },
        })
    }
}

fn parse_cors_origins(raw: &[String]) -> anyhow::Result<Vec<String>> {
    let origins: Vec<String> = raw
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        if origin != "*" && axum::http::HeaderValue::from_str(origin).is_err()
            || origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://"))
        {
            bail!("CORS_ORIGINS: {origin:?} is not an origin like https://app.example.com (or *)");
        }
    }
    Ok(origins)
}

fn parse_public_base_url(raw: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(raw)
        .with_context(|| format!("PUBLIC_BASE_URL is not a valid absolute URL: {raw:?}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("PUBLIC_BASE_URL must be an http(s) URL with a host, e.g. https://community.example.com");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("PUBLIC_BASE_URL must not carry a query or a fragment");
    }
    // Kept without a trailing slash: request paths start with one.
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The JWT secret: the configured one, or (SQLite only) one generated once and stored beside
/// the database file so tokens survive restarts.
pub fn resolve_jwt_secret(configured: Option<&str>, database_url: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        if secret.len() < 16 {
            bail!("JWT_SECRET must be at least 16 bytes long");
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let Some(db_path) = sqlite_file(database_url) else {
        bail!("JWT_SECRET is required with PostgreSQL or MySQL (a generated secret is only kept beside a SQLite file)");
    };
    let secret_path = db_path.with_extension("jwt-secret");
    match std::fs::read_to_string(&secret_path) {
        Ok(secret) if secret.trim().len() >= 16 => Ok(secret.trim().as_bytes().to_vec()),
        _ => {
            let secret = crate::auth::random_hex(32);
            std::fs::write(&secret_path, &secret)
                .with_context(|| format!("JWT_SECRET: cannot write {}", secret_path.display()))?;
            tracing::info!(path = %secret_path.display(), "JWT_SECRET not set: generated a random secret and stored it beside the database");
            Ok(secret.into_bytes())
        }
    }
}

/// The file behind a `sqlite:` URL, if it names one (not `:memory:`).
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}
