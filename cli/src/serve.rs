//! `contactsync serve`: the reference discovery server (`contactsync-server`) in the foreground,
//! until Ctrl-C (or SIGTERM).
//!
//! The first line on stderr is `listening on http://ADDR` with the address actually bound, so
//! `--listen 127.0.0.1:0` (a free port) is usable from scripts and tests; with
//! `--metrics-listen`, the second is `metrics on http://ADDR` (scrape `http://ADDR/metrics`).

use std::net::SocketAddr;

use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contactsync_server::{Database, LimitsConfig, ServerConfig};

use crate::UsageError;
use crate::commands::Failure;
use crate::logging::{LogFormat, Logs};
use crate::net_commands::ADMIN_TOKEN_ENV;
use crate::store_commands::data_dir;

/// File name of the server's database inside the data directory.
const SERVER_DB_FILE: &str = "contactsync-server.db";

/// What `serve` was asked for (its command-line arguments).
#[derive(Debug, clap::Args)]
pub struct ServeOptions {
    /// The server's database: an SQLite file (`PATH` or `sqlite:PATH`), or a PostgreSQL URL
    /// (`postgres://user:password@host:5432/db`; several instances may share one; `?pool_size=N`
    /// sets this instance's connections, default 16). Default: `contactsync-server.db` in the
    /// data directory (see `import --help`).
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// Address and port to listen on; port 0 picks a free one. Serve plain HTTP on loopback
    /// and put a TLS proxy in front for anything else.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// The admin token (else `$CONTACTSYNC_ADMIN_TOKEN`, else a random one, printed once).
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Base of invite links (`URL/i/CODE`). Default: the listening address.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Only devices the app's backend vouches for (`POST /v1/admin/clients`) may register.
    #[arg(long)]
    no_open_registration: bool,
    /// New identifiers per device per UTC day (default 100000).
    #[arg(long, value_name = "N")]
    daily_quota: Option<u32>,
    /// Hashes per batch or match request (default 2000).
    #[arg(long, value_name = "N")]
    max_batch: Option<u32>,
    /// Seconds a device with nothing to send waits between checks (default 86400).
    #[arg(long, value_name = "S")]
    check_interval: Option<u32>,
    /// Requests per device per minute (default 120).
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Largest request body in bytes (default 262144).
    #[arg(long, value_name = "BYTES")]
    max_body: Option<u32>,
    /// Serve `GET /metrics` (Prometheus text format) on this address, apart from `--listen`
    /// (keep it private: loopback or an internal interface); port 0 picks a free one. Default:
    /// no metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Which log lines to write, in `RUST_LOG` syntax (`info`, `warn,contactsync_server=debug`).
    /// Default: `$RUST_LOG`, else `info`.
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
    /// Log lines as `text` (default) or `json` (one object a line).
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
}

/// A fresh random admin token: 32 bytes, URL-safe base64.
pub fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| UsageError(format!("no randomness for a token: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// `--db`, else `contactsync-server.db` in the data directory (created when missing).
fn resolve_server_db(arg: Option<&str>) -> Result<Database, Failure> {
    if let Some(value) = arg {
        return Ok(Database::parse(value));
    }
    let dir = data_dir().ok_or_else(|| {
        UsageError(
            "no data directory for the default server database (HOME is not set); use --db".into(),
        )
    })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| UsageError(format!("creating {}: {e}", dir.display())))?;
    Ok(Database::Sqlite(dir.join(SERVER_DB_FILE)))
}

/// `contactsync serve`.
pub fn serve(options: ServeOptions) -> Result<ExitCode, Failure> {
    let db = resolve_server_db(options.db.as_deref())?;
    let given = options
        .admin_token
        .or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let (admin_token, generated) = match given {
        Some(t) => (t, false),
        None => (random_token()?, true),
    };
    let mut limits = LimitsConfig::default();
    if let Some(n) = options.daily_quota {
        limits.daily_new_identifiers = n;
    }
    if let Some(n) = options.max_batch {
        limits.max_batch = n;
    }
    if let Some(s) = options.check_interval {
        limits.check_interval_s = s;
    }
    if let Some(n) = options.rate_limit {
        limits.requests_per_minute = n;
    }
    if let Some(n) = options.max_body {
        limits.max_body_bytes = n;
    }
    // A filter that does not parse is refused before anything starts.
    let log_filter = crate::logging::filter(
        options.log.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    )
    .map_err(UsageError)?;
    let mut config = ServerConfig::new(db.clone(), options.listen, admin_token.clone());
    config.metrics_listen = options.metrics_listen;
    config.open_registration = !options.no_open_registration;
    config.public_url = options.public_url;
    config.limits = limits;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("starting the runtime: {e}")))?;
    let server =
        contactsync_server::start(config).map_err(|e| UsageError(format!("serve {db}: {e}")))?;
    // The first line: scripts and tests read the bound address from it; the metrics address,
    // when asked for, is the second.
    eprintln!("listening on {}", server.url());
    if let Some(url) = server.metrics_url() {
        eprintln!("metrics on {url}");
    }
    eprintln!(
        "contactsync: database {db}; open registration {}",
        if options.no_open_registration {
            "off"
        } else {
            "on"
        }
    );
    if generated {
        eprintln!(
            "contactsync: admin token (generated, shown once; pass --admin-token or set \
             {ADMIN_TOKEN_ENV} to choose one): {admin_token}"
        );
    }
    eprintln!("contactsync: Ctrl-C stops the server");
    // Request logs from here on (after the address lines, which scripts read first): one line
    // per request (request id, method, route template, status, error code, time), never an
    // identifier, a hash or a token; written off-thread, so a log stream nobody reads costs
    // lines, not service.
    let logs = Logs::to_stderr(log_filter, options.log_format.unwrap_or_default());
    runtime.block_on(shutdown_signal());
    // Through the log stream too: a direct write to a stderr nobody reads would block the exit.
    tracing::info!("stopping");
    server.stop();
    drop(logs);
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    // Without a handler there is nothing to wait for but the process being killed.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
