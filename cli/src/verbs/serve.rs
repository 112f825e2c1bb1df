//! `contactsync serve`: the reference discovery server (`contactsync-server`) in the foreground,
//! until Ctrl-C (or SIGTERM).
//!
//! The first line on stderr is `listening on http://ADDR` with the address actually bound, so
//! `--listen 127.0.0.1:0` (a free port) is usable from scripts and tests; with
//! `--metrics-listen`, the second is `metrics on http://ADDR` (scrape `http://ADDR/metrics`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use contactsync_server::{Database, IpNet, ServerConfig};

use crate::device_db::data_dir;
use crate::failure::{Failure, UsageError};
use crate::logging::Logs;
use crate::settings::{self, Settings};

/// File name of the server's database inside the data directory.
const SERVER_DB_FILE: &str = "contactsync-server.db";

/// What `serve` was asked for: a config file, or the settings it would print, and the settings
/// themselves (`settings.rs`: each a flag, a variable and a file key).
#[derive(Debug, clap::Args)]
pub struct ServeOptions {
    /// A TOML file of settings: the flags' names as keys (`rate-limit = 120`). An unknown key is
    /// an error. Flags and `CONTACTSYNC_SERVER_*` variables override it.
    #[arg(long, value_name = "FILE", env = "CONTACTSYNC_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Print the settings in effect, where each came from, secrets redacted, as a file
    /// `--config` accepts; then exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    settings: Settings,
}

/// `--db`, else `contactsync-server.db` in the data directory (created when missing, unless
/// `create` is false).
fn resolve_server_db(arg: Option<&str>, create: bool) -> Result<Database, Failure> {
    if let Some(value) = arg {
        return Ok(Database::parse(value));
    }
    let dir = data_dir().ok_or_else(|| {
        UsageError(
            "no data directory for the default server database (HOME is not set); use --db".into(),
        )
    })?;
    if create {
        std::fs::create_dir_all(&dir)
            .map_err(|e| UsageError(format!("creating {}: {e}", dir.display())))?;
    }
    Ok(Database::Sqlite(dir.join(SERVER_DB_FILE)))
}

/// `contactsync serve`.
pub fn serve(out: &mut impl std::io::Write, options: &ServeOptions) -> Result<ExitCode, Failure> {
    settings::check_environment(std::env::vars())?;
    let file = options
        .config
        .as_deref()
        .map(settings::read_file)
        .transpose()?;
    let argv: Vec<String> = std::env::args().collect();
    let effective = settings::effective(&options.settings, file.as_ref(), &argv)?;
    let s = &effective.settings;
    let db = resolve_server_db(s.db.as_deref(), !options.print_config)?;
    if options.print_config {
        out.write_all(effective.render(&db.to_string())?.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    // A filter that does not parse is refused before anything starts.
    let log_filter = crate::logging::filter(s.log.as_deref(), None).map_err(UsageError)?;
    let config = server_config(s, db.clone())?;
    let stored_token = config.admin_token.is_none();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("starting the runtime: {e}")))?;
    let open_registration = config.open_registration;
    let server =
        contactsync_server::start(config).map_err(|e| UsageError(format!("serve {db}: {e}")))?;
    // The first line: scripts and tests read the bound address from it; the metrics address,
    // when asked for, is the second.
    eprintln!("listening on {}", server.url());
    if let Some(url) = server.metrics_url() {
        eprintln!("metrics on {url}");
    }
    eprintln!(
        "contactsync: database {db}; open registration {}; admin token {}",
        if open_registration {
            "on"
        } else {
            "off (--open-registration turns it on)"
        },
        if stored_token {
            "from the database"
        } else {
            "from the configuration"
        }
    );
    if server.needs_admin_token() {
        eprintln!(
            "contactsync: no admin token yet: the admin API refuses every call until one is \
             made. On this machine: contactsync admin token rotate --db '{db}' (prints it \
             once); or give serve --admin-token-file FILE"
        );
    }
    eprintln!("contactsync: Ctrl-C stops the server");
    // Request logs from here on (after the address lines, which scripts read first): one line
    // per request (request id, method, route template, status, error code, time), never an
    // identifier, a hash or a token; written off-thread, so a log stream nobody reads costs
    // lines, not service.
    let logs = Logs::to_stderr(log_filter, s.log_format.unwrap_or_default());
    runtime.block_on(shutdown_signal());
    // Through the log stream too: a direct write to a stderr nobody reads would block the exit.
    tracing::info!("stopping");
    server.stop();
    drop(logs);
    Ok(ExitCode::SUCCESS)
}

/// The server's configuration from the effective settings (every defaulted key is set).
fn server_config(s: &Settings, db: Database) -> Result<ServerConfig, Failure> {
    let missing = |key: &str| UsageError(format!("the setting {key} has no value"));
    let admin_token = admin_token(s)?;
    let mut config = ServerConfig::new(db, s.listen.ok_or_else(|| missing("listen"))?, "");
    config.admin_token = admin_token;
    config.open_registration = s.open_registration.unwrap_or(config.open_registration);
    config.public_url.clone_from(&s.public_url);
    config.links = contactsync_server::LinksConfig {
        app_name: s.invite_app_name.clone(),
        app_scheme: s.invite_app_scheme.clone(),
        redirect: s.invite_redirect.clone(),
        play_store_url: s.invite_play_store_url.clone(),
        app_store_url: s.invite_app_store_url.clone(),
        android_package: s.app_links_package.clone(),
        android_fingerprints: s.app_links_fingerprints.clone().unwrap_or_default(),
        apple_app_ids: s.universal_links_app_ids.clone().unwrap_or_default(),
    };
    let limits = &mut config.limits;
    limits.daily_new_identifiers = s.daily_quota.ok_or_else(|| missing("daily-quota"))?;
    limits.max_batch = s.max_batch.ok_or_else(|| missing("max-batch"))?;
    limits.check_interval_s = s.check_interval.ok_or_else(|| missing("check-interval"))?;
    limits.requests_per_minute = s.rate_limit.ok_or_else(|| missing("rate-limit"))?;
    limits.max_body_bytes = s.max_body.ok_or_else(|| missing("max-body"))?;
    let seconds =
        |value: Option<u64>, key: &str| value.map(Duration::from_secs).ok_or_else(|| missing(key));
    let c = &mut config.connections;
    c.header_read_timeout = seconds(s.header_read_timeout, "header-read-timeout")?;
    c.body_progress_timeout = seconds(s.body_progress_timeout, "body-progress-timeout")?;
    c.shutdown_grace = seconds(s.shutdown_grace, "shutdown-grace")?;
    c.max_connections = s.max_connections;
    config.batch_buckets.clone_from(&s.batch_buckets);
    c.max_bodies_in_flight = s
        .max_bodies_in_flight
        .ok_or_else(|| missing("max-bodies-in-flight"))?;
    config.sweep_every = seconds(s.sweep_every, "sweep-every")?;
    config.private.enabled = s.mode.ok_or_else(|| missing("mode"))?.is_private();
    if let Some(buckets) = &s.private_buckets {
        config.private.buckets.clone_from(buckets);
    }
    config.private.filter_rebuild =
        seconds(s.private_filter_rebuild_s, "private-filter-rebuild-s")?;
    config.private.shard_bits = s.private_shard_bits.unwrap_or(config.private.shard_bits);
    config.metrics_listen = s.metrics_listen;
    config.limits.max_set_size = s.max_set_size.ok_or_else(|| missing("max-set-size"))?;
    let r = &mut config.registration;
    r.per_ip_burst = s
        .registrations_per_ip_burst
        .ok_or_else(|| missing("registrations-per-ip-burst"))?;
    r.per_ip_per_hour = s
        .registrations_per_ip_per_hour
        .ok_or_else(|| missing("registrations-per-ip-per-hour"))?;
    r.global_per_minute = s
        .registrations_global_per_minute
        .ok_or_else(|| missing("registrations-global-per-minute"))?;
    r.identifiers_per_ip_per_day = s
        .open_identifiers_per_ip_per_day
        .ok_or_else(|| missing("open-identifiers-per-ip-per-day"))?;
    r.identifiers_global_per_day = s
        .open_identifiers_global_per_day
        .ok_or_else(|| missing("open-identifiers-global-per-day"))?;
    r.unsynced_client_ttl = s
        .unsynced_client_ttl_hours
        .map(|h| Duration::from_secs(u64::from(h) * 3600))
        .ok_or_else(|| missing("unsynced-client-ttl-hours"))?;
    r.max_tracked_addresses = s
        .max_tracked_addresses
        .ok_or_else(|| missing("max-tracked-addresses"))?;
    config.trusted_proxies = s
        .trusted_proxy
        .iter()
        .flatten()
        .map(|p| {
            p.parse::<IpNet>()
                .map_err(|e| UsageError(format!("trusted-proxy {p:?}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(config)
}

/// The admin token the configuration gives (`--admin-token-file`, `--admin-token` or its
/// variable), or `None`: the one stored in the database.
fn admin_token(s: &Settings) -> Result<Option<String>, Failure> {
    let token = match (&s.admin_token, &s.admin_token_file) {
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "both admin-token and admin-token-file are set: keep one".into(),
            )
            .into());
        }
        (Some(token), None) => token.trim().to_owned(),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!(
                    "reading the admin token file {}: {e}",
                    path.display()
                ))
            })?;
            let token = text.trim().to_owned();
            if token.is_empty() {
                return Err(UsageError(format!(
                    "the admin token file {} is empty",
                    path.display()
                ))
                .into());
            }
            token
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(token).filter(|t| !t.is_empty()))
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
