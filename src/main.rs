//! The `community-gateway` command line: serve (the default), migrate, import, export, seed,
//! token, schema and settings.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use community_gateway::app;
use community_gateway::config::{self, DbOptions, ServeOptions};
use community_gateway::progress::Progress;
use community_gateway::state::AppState;
use community_gateway::{auth, bulk, datafile, graphql, store::Store};

/// mimalloc instead of the system allocator: a GraphQL response of a thousand users is
/// thousands of short-lived allocations, on which glibc's malloc spent a third of the server's
/// CPU (perf profile of G2) and fragmented its arenas under load. `bench/RESULTS.md`, run of
/// 2026-11-27 02:41, is the first with it: peak RSS 46 MB / 71 MB (PostgreSQL / SQLite), from
/// 110 MB / 289 MB in the run before (together with that run's statement changes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "community-gateway",
    version,
    about = "A community's friendship graph over GraphQL and the SelfCommunity v2 REST API"
)]
struct Cli {
    #[command(flatten)]
    db: DbOptions,
    /// Log output: plain text or one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", default_value = "plain", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Plain,
    Json,
}

impl LogFormat {
    /// A line for the operator on standard error: as it is in plain text, as a log event in
    /// JSON (so that every line of a JSON log parses).
    fn say(self, text: &str) {
        match self {
            LogFormat::Plain => eprintln!("{text}"),
            LogFormat::Json => tracing::info!("{text}"),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default): migrations, demo data on an empty database, then serve.
    // Boxed: the server's settings outweigh every other command's (clippy's
    // large_enum_variant), and the value is read once.
    Serve(Box<ServeOptions>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Replace the database's community with a data file (one transaction; a bad file changes nothing).
    Import {
        /// The community data file (JSON), or - for standard input.
        file: PathBuf,
        #[command(flatten)]
        output: ProgressOptions,
    },
    /// Write the database's community as a data file.
    Export {
        /// Where to write, or - for standard output.
        file: PathBuf,
        #[command(flatten)]
        output: ProgressOptions,
    },
    /// Replace the database's community with a deterministic synthetic one.
    Seed {
        /// Number of users.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        users: u64,
        /// Average number of connections per user.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=10_000))]
        avg_degree: u32,
        /// Random seed: the same seed gives the same community.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        output: ProgressOptions,
    },
    /// Print a signed JWT access token for a user.
    Token(TokenOptions),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Show the community settings, or change them with `settings set KEY=VALUE...`.
    Settings {
        #[command(subcommand)]
        action: Option<SettingsAction>,
    },
}

/// How `import`, `export` and `seed` report their phases: a progress bar on a terminal, a
/// line per finished phase otherwise (`import: users 1000 rows in 0.05 s (20000 rows/s)`).
#[derive(Args)]
struct ProgressOptions {
    /// No progress output (errors, and the summary line of import and seed, still print).
    #[arg(short, long)]
    quiet: bool,
}

impl ProgressOptions {
    /// Nothing when quiet; a bar per phase when standard error is a terminal and the log is
    /// plain text; else one line per phase, said as `LogFormat::say` says it (a log event in
    /// JSON, so that every line of a JSON log parses).
    fn progress(&self, command: &'static str, format: LogFormat) -> Progress {
        if self.quiet {
            Progress::quiet()
        } else if matches!(format, LogFormat::Plain)
            && std::io::IsTerminal::is_terminal(&std::io::stderr())
        {
            Progress::bar(command)
        } else {
            Progress::lines(command, move |line| format.say(line))
        }
    }
}

#[derive(Args)]
struct TokenOptions {
    /// The user the token is for.
    #[arg(long)]
    user: i64,
    /// Lifetime, e.g. 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: i64,
    /// HS256 secret (as the server's JWT_SECRET).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

#[derive(Subcommand)]
enum SettingsAction {
    /// Change settings, e.g. `settings set connection_enabled=false follow_enabled=true`.
    Set {
        /// KEY=VALUE pairs; keys: connection_enabled, follow_enabled, content_availability; values: true/false.
        #[arg(required = true, value_parser = parse_setting)]
        changes: Vec<(String, bool)>,
    },
}

fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30m or 1h"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    match n.checked_mul(scale) {
        Some(secs) if secs > 0 && secs <= 366 * 86_400 => Ok(secs),
        _ => Err("the lifetime must be between 1 second and 366 days".into()),
    }
}

fn parse_setting(text: &str) -> Result<(String, bool), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    let value = match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => true,
        "false" | "0" | "off" | "no" => false,
        other => return Err(format!("{key}: {other:?} is not true or false")),
    };
    Ok((key.trim().to_string(), value))
}

#[tokio::main]
async fn main() {
    // The command line first: the log format is one of its settings.
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let format = cli.log_format;
    if let Err(err) = run(cli).await {
        match format {
            LogFormat::Plain => eprintln!("error: {err:#}"),
            LogFormat::Json => tracing::error!("{err:#}"),
        }
        std::process::exit(1);
    }
}

/// The target sqlx logs PostgreSQL's notices under, at INFO.
const NOTICES: &str = "sqlx::postgres::notice";

/// Logs go to standard error, as plain text or one JSON object per line (`LOG_FORMAT`).
fn init_logging(format: LogFormat) {
    let filter = log_filter(std::env::var(EnvFilter::DEFAULT_ENV).ok().as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // A log shipper reads a line as one event: the fields flattened next to the message,
        // no colour codes.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .init(),
    }
}

/// `RUST_LOG` (`info` when unset or unreadable), with PostgreSQL's notices (a migration
/// check's "relation ... already exists, skipping", an import's "table ... does not exist,
/// skipping") not news to an operator: sqlx logs them at INFO, they are shown as DEBUG is,
/// i.e. only when `RUST_LOG` asks for debug (or names their target); otherwise warnings and
/// up only.
fn log_filter(rust_log: Option<&str>) -> EnvFilter {
    let filter = rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let debug = filter
        .max_level_hint()
        .is_some_and(|max| max >= tracing_subscriber::filter::LevelFilter::DEBUG);
    let named = rust_log.is_some_and(|directives| directives.contains(NOTICES));
    if debug || named {
        return filter;
    }
    match format!("{NOTICES}=warn").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(Box::new(ServeOnly::parse_from(["community-gateway"]).serve)),
    };
    match command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Token(options) => token(&cli.db, options),
        Command::Serve(options) => serve(&cli.db, *options, cli.log_format).await,
        Command::Migrate => {
            open(&cli.db).await?;
            cli.log_format.say("migrations applied");
            Ok(())
        }
        Command::Import { file, output } => {
            let progress = output.progress("import", cli.log_format);
            let store = open(&cli.db).await?;
            let bytes = read_input(&file, &progress)?;
            let parsed = datafile::parse_with(&bytes, &progress)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            drop(bytes);
            let report = bulk::import_with(&store, &parsed, &progress).await?;
            cli.log_format.say(&report.to_string());
            Ok(())
        }
        Command::Export { file, output } => {
            let progress = output.progress("export", cli.log_format);
            let store = open(&cli.db).await?;
            let community = datafile::export_with(&store, &progress).await?;
            let phase = progress.phase("write", "bytes", None);
            let json = datafile::to_json(&community);
            write_output(&file, &json)?;
            phase.inc(json.len() as u64);
            phase.finish();
            Ok(())
        }
        Command::Seed {
            users,
            avg_degree,
            seed,
            output,
        } => {
            let progress = output.progress("seed", cli.log_format);
            let store = open(&cli.db).await?;
            let phase = progress.phase("generate", "users", None);
            let file = datafile::synthetic(users, avg_degree, seed);
            phase.inc(file.users.len() as u64);
            phase.finish();
            let community = datafile::validate_with(file, &progress)?;
            let report = bulk::import_with(&store, &community, &progress).await?;
            cli.log_format.say(&report.to_string());
            Ok(())
        }
        Command::Settings { action } => {
            let store = open(&cli.db).await?;
            let settings = match action {
                None => store.settings().await?,
                Some(SettingsAction::Set { changes }) => {
                    bulk::apply_settings(&store, &changes).await?
                }
            };
            println!("{}", serde_json::to_string_pretty(&settings)?);
            Ok(())
        }
    }
}

/// Parses the serve options alone, to run `serve` when no subcommand is given.
#[derive(Parser)]
struct ServeOnly {
    #[command(flatten)]
    serve: ServeOptions,
}

/// Connects and migrates.
async fn open(db: &DbOptions) -> anyhow::Result<Store> {
    let url = db.resolved_url()?;
    let store = Store::connect(&url, db.pool_size(&url)).await?;
    store.migrate().await?;
    Ok(store)
}

/// The file's bytes, as the phase `read` of `progress`.
fn read_input(file: &PathBuf, progress: &Progress) -> anyhow::Result<Vec<u8>> {
    let stdin = file.as_os_str() == "-";
    let size = (!stdin)
        .then(|| std::fs::metadata(file).ok().map(|m| m.len()))
        .flatten();
    let phase = progress.phase("read", "bytes", size);
    let bytes = if stdin {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("reading standard input")?;
        buf
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    phase.inc(bytes.len() as u64);
    phase.finish();
    Ok(bytes)
}

fn write_output(file: &PathBuf, text: &str) -> anyhow::Result<()> {
    if file.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

fn token(db: &DbOptions, options: TokenOptions) -> anyhow::Result<()> {
    let url = db.resolved_url()?;
    let secret = config::resolve_jwt_secret(options.jwt_secret.as_deref(), &url)?;
    println!("{}", auth::issue_jwt(options.user, options.ttl, &secret)?);
    Ok(())
}

async fn serve(db: &DbOptions, options: ServeOptions, format: LogFormat) -> anyhow::Result<()> {
    let url = db.resolved_url()?;
    let config = options.to_config(&url)?;
    let acquire = std::time::Duration::from_millis(db.db_acquire_timeout_ms);
    // A server started together with its database waits for it (at most a minute).
    let store = Store::connect_waiting(
        &url,
        db.pool_size(&url),
        acquire,
        std::time::Duration::from_secs(60),
    )
    .await?;
    if !options.no_migrate {
        store.migrate().await?;
    }
    if !options.no_demo && store.is_empty().await? {
        let report = bulk::import(&store, &datafile::validate(datafile::demo())?).await?;
        tracing::info!(%report, "empty database: seeded the demo community");
    }
    let read_urls: Vec<String> = options
        .read_database_url
        .iter()
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .collect();
    let store = store
        .with_replicas(
            &read_urls,
            db.pool_size(&url),
            acquire,
            std::time::Duration::from_millis(options.replica_max_lag_ms),
        )
        .await?;
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("BIND: cannot listen on {}", options.bind))?;
    let demo_jwt = auth::issue_jwt(1, 3600, &config.jwt_secret)?;
    print_banner(listener.local_addr()?, &demo_jwt, format);
    let drain_for = config.shutdown_drain;
    let state = AppState::new(store, config);
    let drain = state.drain.clone();
    let router = app::router(state);
    // Connection info gives the rate limiter the client's address.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let leaving = {
        let drain = drain.clone();
        async move {
            let signal = shutdown_signal().await;
            drain.start();
            if signal == Signal::Terminate && !drain_for.is_zero() {
                tracing::info!(
                    drain_ms = drain_for.as_millis() as u64,
                    "SIGTERM: /readyz answers 503; still serving while the load balancer drains this server"
                );
                tokio::time::sleep(drain_for).await;
            }
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
        }
    };
    axum::serve(listener, service)
        .with_graceful_shutdown(leaving)
        .await
        .context("HTTP server failed")?;
    // The HTTP requests are answered; the WebSockets get their close frame (`state::Drain`).
    if !drain.close_sockets(std::time::Duration::from_secs(5)).await {
        tracing::warn!("WebSockets still open after 5 s: leaving anyway");
    }
    tracing::info!("stopped");
    Ok(())
}

/// What asked the server to stop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// Ctrl-C: someone at a terminal, who does not wait for a load balancer.
    Interrupt,
    /// SIGTERM: a service manager, an orchestrator, a rolling deploy.
    Terminate,
}

fn print_banner(bind: std::net::SocketAddr, demo_jwt: &str, format: LogFormat) {
    let base = format!("http://{bind}");
    match format {
        LogFormat::Plain => eprintln!(
            "\ncommunity-gateway listening on {base}\n\
             \n  GraphQL playground:  {base}/graphql\
             \n  REST example:        curl -H 'Authorization: Bearer {demo}' '{base}/api/v2/user/1/connections/?limit=5'\
             \n  Demo tokens:         opaque '{demo}' (user 1, if the demo community is loaded)\
             \n                       JWT (user 1, 1 h): {demo_jwt}\n",
            demo = datafile::DEMO_TOKEN,
        ),
        // No tokens in a log that is shipped somewhere: only where to find the server.
        LogFormat::Json => tracing::info!(address = %bind, graphql = %format!("{base}/graphql"), "listening"),
    }
}

/// Resolves on Ctrl-C or SIGTERM, saying which.
async fn shutdown_signal() -> Signal {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => Signal::Interrupt,
        _ = terminate => Signal::Terminate,
    }
}
