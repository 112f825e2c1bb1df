//! `contactsync serve`: the reference discovery server (`contactsync-server`) in the foreground,
//! until Ctrl-C (or SIGTERM).
//!
//! The first line on stderr is `listening on http://ADDR` with the address actually bound, so
//! `--listen 127.0.0.1:0` (a free port) is usable from scripts and tests.

use std::net::SocketAddr;

use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contactsync_server::{Database, IpNet, LimitsConfig, ServerConfig};

use crate::UsageError;
use crate::commands::Failure;
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
    /// Let any device register itself (`POST /v1/clients`), within the limits below. Without
    /// it only devices the app's backend vouches for (`POST /v1/admin/clients`) may register:
    /// a self-registered device costs nothing and brings its own daily quota (docs/privacy.md).
    #[arg(long)]
    open_registration: bool,
    /// Open registration: registrations one client address may make back to back (default 5).
    #[arg(long, value_name = "N")]
    registrations_per_ip_burst: Option<u32>,
    /// Open registration: registrations per client address per hour after the burst (default 1).
    #[arg(long, value_name = "N")]
    registrations_per_ip_per_hour: Option<u32>,
    /// Open registration: registrations per minute, all addresses together (default 60).
    #[arg(long, value_name = "N")]
    registrations_global_per_minute: Option<u32>,
    /// Open registration: new identifiers per UTC day that self-registered devices may add from
    /// one client address, all together (default 50000).
    #[arg(long, value_name = "N")]
    open_identifiers_per_ip_per_day: Option<u32>,
    /// Open registration: new identifiers per UTC day that all self-registered devices may add
    /// together (default 1000000).
    #[arg(long, value_name = "N")]
    open_identifiers_global_per_day: Option<u32>,
    /// Hours a self-registered device that never uploaded is kept (default 24).
    #[arg(long, value_name = "HOURS")]
    unsynced_client_ttl_hours: Option<u32>,
    /// A reverse proxy (an address or an ADDR/LEN block) whose `X-Forwarded-For` names the
    /// client's address for the registration limits; repeatable. Default: none (the TCP peer).
    #[arg(long, value_name = "ADDR_OR_CIDR")]
    trusted_proxy: Vec<IpNet>,
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
    /// Hashes one device's set may hold (default 100000).
    #[arg(long, value_name = "N")]
    max_set_size: Option<u32>,
    /// Largest request body in bytes (default 262144).
    #[arg(long, value_name = "BYTES")]
    max_body: Option<u32>,
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
    if let Some(n) = options.max_set_size {
        limits.max_set_size = n;
    }
    let mut config = ServerConfig::new(db.clone(), options.listen, admin_token.clone());
    config.open_registration = options.open_registration;
    let r = &mut config.registration;
    if let Some(n) = options.registrations_per_ip_burst {
        r.per_ip_burst = n;
    }
    if let Some(n) = options.registrations_per_ip_per_hour {
        r.per_ip_per_hour = n;
    }
    if let Some(n) = options.registrations_global_per_minute {
        r.global_per_minute = n;
    }
    if let Some(n) = options.open_identifiers_per_ip_per_day {
        r.identifiers_per_ip_per_day = n;
    }
    if let Some(n) = options.open_identifiers_global_per_day {
        r.identifiers_global_per_day = n;
    }
    if let Some(h) = options.unsynced_client_ttl_hours {
        r.unsynced_client_ttl = std::time::Duration::from_secs(u64::from(h) * 3600);
    }
    config.trusted_proxies = options.trusted_proxy;
    config.public_url = options.public_url;
    config.limits = limits;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("starting the runtime: {e}")))?;
    let server =
        contactsync_server::start(config).map_err(|e| UsageError(format!("serve {db}: {e}")))?;
    // The first line: scripts and tests read the bound address from it.
    eprintln!("listening on {}", server.url());
    eprintln!(
        "contactsync: database {db}; open registration {}",
        if options.open_registration {
            "on"
        } else {
            "off (--open-registration turns it on)"
        }
    );
    if generated {
        eprintln!(
            "contactsync: admin token (generated, shown once; pass --admin-token or set \
             {ADMIN_TOKEN_ENV} to choose one): {admin_token}"
        );
    }
    eprintln!("contactsync: Ctrl-C stops the server");
    // Request logs from here on (after the address line, which scripts read first): method,
    // path template, status and time at info level, never an identifier, a hash or a token;
    // written off-thread, so a log stream nobody reads costs lines, not service.
    let logs = crate::logging::Logs::to_stderr();
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
