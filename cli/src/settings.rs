//! The settings of `contactsync serve`: every one a flag, an environment variable and a key of
//! the `--config` TOML file, under one name (`--rate-limit`, `CONTACTSYNC_SERVER_RATE_LIMIT`,
//! `rate-limit = 120`), taken in that order of precedence: flag, environment, file, default.
//!
//! One name on three surfaces is what an operator can guess; a file key that names nothing (a
//! typo, a setting of another version) is an error, not a silently ignored line. The variables
//! carry `SERVER_` because `CONTACTSYNC_DB` already names the *device's* database for the other
//! verbs; the admin token's variable stays `CONTACTSYNC_ADMIN_TOKEN`, shared with the `admin`
//! verbs on purpose.
//!
//! Over 600 lines: one struct of every setting with its three names and help, which reads best
//! whole (the invite links' eight settings took it past 800).
//!
//! Merging goes through TOML tables: the flags and variables clap read, the file, and the
//! defaults (taken from the server crate's own `Default`s, so there is one source of them) are
//! each a table of the keys they set; the first table that has a key gives its value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use contactsync_server::{ConnectionLimits, LimitsConfig, RegistrationLimits};
use serde::{Deserialize, Serialize};

use crate::failure::UsageError;
use crate::logging::LogFormat;

/// The prefix of the variables of `serve`'s settings.
pub const ENV_PREFIX: &str = "CONTACTSYNC_SERVER_";

/// How the server's devices discover their contacts (`--mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    /// Keyed hashes of identifiers (HMAC-SHA-256 under the server's key).
    #[default]
    Hashed,
    /// Private discovery: blinded identifiers, an oblivious PRF and the users' filter.
    Private,
}

impl ServerMode {
    /// The mode of a server whose private discovery is `enabled` or not.
    pub fn of(enabled: bool) -> ServerMode {
        if enabled {
            ServerMode::Private
        } else {
            ServerMode::Hashed
        }
    }

    /// Whether this is the private mode (the server's `private.enabled`).
    pub fn is_private(self) -> bool {
        self == ServerMode::Private
    }
}

/// What `serve` was asked for: its flags (each also a variable and a file key).
#[derive(Debug, Default, Clone, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// The server's database: an SQLite file (`PATH` or `sqlite:PATH`), or a PostgreSQL URL
    /// (`postgres://user:password@host:5432/db`; several instances may share one; `?pool_size=N`
    /// sets this instance's connections, default 16). Default: `contactsync-server.db` in the
    /// data directory (see `import --help`).
    #[arg(long, value_name = "PATH|URL", env = "CONTACTSYNC_SERVER_DB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    /// Address and port to listen on; port 0 picks a free one. Serve plain HTTP on loopback
    /// and put a TLS proxy in front for anything else (docs/deployment.md). [default:
    /// 127.0.0.1:8787]
    #[arg(long, value_name = "ADDR", env = "CONTACTSYNC_SERVER_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Base of invite links (`URL/i/CODE`). Default: the listening address.
    #[arg(long, value_name = "URL", env = "CONTACTSYNC_SERVER_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// A file holding the admin token (one line), e.g. a systemd credential. Without it (and
    /// without `--admin-token`) the token is the one stored in the database: `contactsync admin
    /// token rotate` makes it.
    #[arg(long, value_name = "FILE", env = "CONTACTSYNC_SERVER_ADMIN_TOKEN_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token_file: Option<PathBuf>,
    /// The admin token itself. A flag shows in `ps`: prefer `--admin-token-file`, or the
    /// variable.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CONTACTSYNC_ADMIN_TOKEN",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// Let any device register itself (`POST /v1/clients`); else only devices the app's backend
    /// vouches for (`POST /v1/admin/clients`). [default: true]
    #[arg(
        long,
        value_name = "BOOL",
        env = "CONTACTSYNC_SERVER_OPEN_REGISTRATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_registration: Option<bool>,
    /// How devices discover: `hashed` (keyed hashes: the server holds the key) or `private`
    /// (an oblivious PRF on blinded identifiers and a filter of the users that devices query
    /// locally: the server never sees a contact who is not a user; docs/protocol.md, "Private
    /// discovery"). Devices follow the server's mode at their next sync. Users registered
    /// while the mode was `hashed` must be registered again. [default: hashed]
    #[arg(long, value_name = "MODE", env = "CONTACTSYNC_SERVER_MODE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ServerMode>,

    /// New identifiers per device per UTC day. [default: 100000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_DAILY_QUOTA",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_quota: Option<u32>,
    /// Hashes per batch or match request. [default: 2000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_MAX_BATCH",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<u32>,
    /// The entry counts devices pad keyed-hash batches to with dummies, ascending (the variable:
    /// comma-separated; docs/protocol.md, "Padded batches"). Default: 16,64,256,1024, those
    /// up to max-batch and what max-body carries (and that figure itself when it is below 1024).
    #[arg(
        long,
        value_name = "N,...",
        env = "CONTACTSYNC_SERVER_BATCH_BUCKETS",
        value_delimiter = ',',
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_buckets: Option<Vec<u32>>,
    /// Seconds a device with nothing to send waits between checks. [default: 86400]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_CHECK_INTERVAL",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_interval: Option<u32>,
    /// Requests per device per minute. [default: 120]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_RATE_LIMIT",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// Largest request body in bytes. [default: 262144]
    #[arg(
        long,
        value_name = "BYTES",
        env = "CONTACTSYNC_SERVER_MAX_BODY",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body: Option<u32>,

    /// Hashes one device's set may hold (what it can watch for joins). [default: 100000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_MAX_SET_SIZE",
        help_heading = "Limits"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_set_size: Option<u32>,

    /// Open registration: registrations one client address may make back to back. [default: 5]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_REGISTRATIONS_PER_IP_BURST",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations_per_ip_burst: Option<u32>,
    /// Open registration: registrations per client address per hour after the burst.
    /// [default: 1]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_REGISTRATIONS_PER_IP_PER_HOUR",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations_per_ip_per_hour: Option<u32>,
    /// Open registration: registrations per minute, all addresses together. [default: 60]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_REGISTRATIONS_GLOBAL_PER_MINUTE",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations_global_per_minute: Option<u32>,
    /// Open registration: new identifiers per UTC day that self-registered devices may add from
    /// one client address, all together. [default: 50000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_OPEN_IDENTIFIERS_PER_IP_PER_DAY",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_identifiers_per_ip_per_day: Option<u32>,
    /// Open registration: new identifiers per UTC day that all self-registered devices may add
    /// together. [default: 1000000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_OPEN_IDENTIFIERS_GLOBAL_PER_DAY",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_identifiers_global_per_day: Option<u32>,
    /// Hours a self-registered device that never uploaded is kept. [default: 24]
    #[arg(
        long,
        value_name = "HOURS",
        env = "CONTACTSYNC_SERVER_UNSYNCED_CLIENT_TTL_HOURS",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsynced_client_ttl_hours: Option<u32>,
    /// Client addresses the registration limits track at once (bounds their memory).
    /// [default: 100000]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_MAX_TRACKED_ADDRESSES",
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tracked_addresses: Option<u32>,
    /// A reverse proxy (an address or an ADDR/LEN block) whose `X-Forwarded-For` names the
    /// client's address for the registration limits; repeatable (the variable: comma-separated).
    /// Default: none (the TCP peer is the client).
    #[arg(
        long,
        value_name = "ADDR_OR_CIDR",
        env = "CONTACTSYNC_SERVER_TRUSTED_PROXY",
        value_delimiter = ',',
        help_heading = "Registration"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxy: Option<Vec<String>>,

    /// Seconds a connection may take to send a request head (also the keep-alive idle
    /// timeout). [default: 10]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_HEADER_READ_TIMEOUT",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a request body may go without a byte before `408`. [default: 15]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_BODY_PROGRESS_TIMEOUT",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_progress_timeout: Option<u64>,
    /// Connections open at once. Default: from the open-files limit, at most 10000.
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_MAX_CONNECTIONS",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Request bodies in progress at once (bounds their memory). [default: 64]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_MAX_BODIES_IN_FLIGHT",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bodies_in_flight: Option<u32>,
    /// Seconds a shutdown lets requests in progress finish. [default: 10]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_SHUTDOWN_GRACE",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<u64>,
    /// Serve `GET /metrics` (Prometheus text format) on this address, apart from `--listen`
    /// (keep it private: loopback or an internal interface); port 0 picks a free one. Default:
    /// no metrics.
    #[arg(
        long,
        value_name = "ADDR",
        env = "CONTACTSYNC_SERVER_METRICS_LISTEN",
        help_heading = "Operations"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Which log lines to write, in `RUST_LOG` syntax (`info`, `warn,contactsync_server=debug`);
    /// `$RUST_LOG` counts as this setting's variable too. [default: info]
    #[arg(
        long,
        value_name = "FILTER",
        env = "CONTACTSYNC_SERVER_LOG",
        help_heading = "Operations"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Log lines as `text` or `json` (one object a line). [default: text]
    #[arg(
        long,
        value_name = "FORMAT",
        env = "CONTACTSYNC_SERVER_LOG_FORMAT",
        help_heading = "Operations"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,

    /// Private discovery: the element counts clients pad evaluations and lookups to, ascending
    /// (the variable: comma-separated). [default: 16,64,256,1024]
    #[arg(
        long,
        value_name = "N,...",
        env = "CONTACTSYNC_SERVER_PRIVATE_BUCKETS",
        value_delimiter = ',',
        help_heading = "Private discovery"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_buckets: Option<Vec<u32>>,
    /// Private discovery: at most how often, in seconds, the users' filter is rebuilt while
    /// users change. [default: 60]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_PRIVATE_FILTER_REBUILD_S",
        help_heading = "Private discovery"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_filter_rebuild_s: Option<u64>,
    /// Private discovery: split the users' filter in 2^N shards by the top bits of its tags,
    /// so a client downloads only the shards its contacts fall in (0: one filter; at most 16;
    /// docs/privacy.md says what a shard request reveals). [default: 0]
    #[arg(
        long,
        value_name = "N",
        env = "CONTACTSYNC_SERVER_PRIVATE_SHARD_BITS",
        help_heading = "Private discovery"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_shard_bits: Option<u8>,

    /// The app's name on the invite page (`GET /i/CODE`). Default: "the app".
    #[arg(
        long,
        value_name = "NAME",
        env = "CONTACTSYNC_SERVER_INVITE_APP_NAME",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_app_name: Option<String>,
    /// The app's own URL scheme (`myapp`): the invite page's "Open" button goes to
    /// `myapp://i/CODE`. Default: no button (App Links and Universal Links open the app before
    /// the page loads).
    #[arg(
        long,
        value_name = "SCHEME",
        env = "CONTACTSYNC_SERVER_INVITE_APP_SCHEME",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_app_scheme: Option<String>,
    /// Instead of the invite page, redirect to this URL, `{code}` replaced by the code.
    /// Default: the page.
    #[arg(
        long,
        value_name = "URL",
        env = "CONTACTSYNC_SERVER_INVITE_REDIRECT",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_redirect: Option<String>,
    /// The app's Google Play page, linked from the invite page.
    #[arg(
        long,
        value_name = "URL",
        env = "CONTACTSYNC_SERVER_INVITE_PLAY_STORE_URL",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_play_store_url: Option<String>,
    /// The app's App Store page, linked from the invite page.
    #[arg(
        long,
        value_name = "URL",
        env = "CONTACTSYNC_SERVER_INVITE_APP_STORE_URL",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_app_store_url: Option<String>,
    /// Android App Links: the app's package name, served in `/.well-known/assetlinks.json`
    /// (with app-links-fingerprints). Default: none (`404`).
    #[arg(
        long,
        value_name = "PACKAGE",
        env = "CONTACTSYNC_SERVER_APP_LINKS_PACKAGE",
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_links_package: Option<String>,
    /// Android App Links: the SHA-256 fingerprints of the app's signing certificates
    /// (`AB:CD:...`; the variable: comma-separated).
    #[arg(
        long,
        value_name = "SHA256,...",
        env = "CONTACTSYNC_SERVER_APP_LINKS_FINGERPRINTS",
        value_delimiter = ',',
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_links_fingerprints: Option<Vec<String>>,
    /// iOS Universal Links: the app IDs (`TEAMID.org.example.chat`) served in
    /// `/.well-known/apple-app-site-association` for the paths `/i/*` (the variable:
    /// comma-separated). Default: none (`404`).
    #[arg(
        long,
        value_name = "APP_ID,...",
        env = "CONTACTSYNC_SERVER_UNIVERSAL_LINKS_APP_IDS",
        value_delimiter = ',',
        help_heading = "Invite links"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub universal_links_app_ids: Option<Vec<String>>,

    /// Seconds between sweeps of expired invites and old batch answers. [default: 600]
    #[arg(
        long,
        value_name = "S",
        env = "CONTACTSYNC_SERVER_SWEEP_EVERY",
        help_heading = "Connections"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_every: Option<u64>,
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Environment,
    File,
    Default,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Environment => "environment",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// The settings in effect, and where each came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub settings: Settings,
    sources: BTreeMap<String, Source>,
}

type Table = toml::map::Map<String, toml::Value>;

fn table_of(settings: &Settings) -> Result<Table, UsageError> {
    toml::Table::try_from(settings).map_err(|e| UsageError(format!("settings: {e}")))
}

/// The defaults, from the server crate's own (`db` has none here: the caller knows the data
/// directory; `max-connections` none: the server derives it).
fn defaults() -> Settings {
    let limits = LimitsConfig::default();
    let connections = ConnectionLimits::default();
    let registration = RegistrationLimits::default();
    let defaults = contactsync_server::ServerConfig::new(
        contactsync_server::Database::Sqlite(PathBuf::new()),
        SocketAddr::from(([127, 0, 0, 1], 8787)),
        String::new(),
    );
    Settings {
        listen: Some(defaults.listen),
        open_registration: Some(defaults.open_registration),
        daily_quota: Some(limits.daily_new_identifiers),
        max_batch: Some(limits.max_batch),
        check_interval: Some(limits.check_interval_s),
        rate_limit: Some(limits.requests_per_minute),
        max_body: Some(limits.max_body_bytes),
        header_read_timeout: Some(connections.header_read_timeout.as_secs()),
        body_progress_timeout: Some(connections.body_progress_timeout.as_secs()),
        max_bodies_in_flight: Some(connections.max_bodies_in_flight),
        shutdown_grace: Some(connections.shutdown_grace.as_secs()),
        sweep_every: Some(defaults.sweep_every.as_secs()),
        log: Some(crate::logging::DEFAULT_FILTER.to_owned()),
        max_set_size: Some(limits.max_set_size),
        registrations_per_ip_burst: Some(registration.per_ip_burst),
        registrations_per_ip_per_hour: Some(registration.per_ip_per_hour),
        registrations_global_per_minute: Some(registration.global_per_minute),
        open_identifiers_per_ip_per_day: Some(registration.identifiers_per_ip_per_day),
        open_identifiers_global_per_day: Some(registration.identifiers_global_per_day),
        unsynced_client_ttl_hours: Some(
            u32::try_from(registration.unsynced_client_ttl.as_secs() / 3600).unwrap_or(u32::MAX),
        ),
        max_tracked_addresses: Some(registration.max_tracked_addresses),
        log_format: Some(LogFormat::default()),
        mode: Some(ServerMode::of(defaults.private.enabled)),
        private_buckets: Some(defaults.private.buckets.clone()),
        private_filter_rebuild_s: Some(defaults.private.filter_rebuild.as_secs()),
        private_shard_bits: Some(defaults.private.shard_bits),
        ..Settings::default()
    }
}

/// Refuses a `CONTACTSYNC_SERVER_*` variable that names no setting (a typo would otherwise be
/// a limit silently not applied), as an unknown file key is refused.
pub fn check_environment(vars: impl Iterator<Item = (String, String)>) -> Result<(), UsageError> {
    let known = table_of(&Settings::every_key())?;
    let known: Vec<String> = known
        .keys()
        .map(|k| format!("{ENV_PREFIX}{}", k.to_uppercase().replace('-', "_")))
        .chain([format!("{ENV_PREFIX}CONFIG")])
        .collect();
    for (name, _) in vars {
        if name.starts_with(ENV_PREFIX) && !known.contains(&name) {
            return Err(UsageError(format!(
                "{name} is not a setting of serve (see `contactsync serve --help`)"
            )));
        }
    }
    Ok(())
}

/// Reads a `--config` file: TOML with the flags' names as keys; an unknown key is an error.
pub fn read_file(path: &Path) -> Result<Settings, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("reading the config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| UsageError(format!("config file {}: {e}", path.display())))
}

/// Flag and environment (what clap read, `given`) over the file over the defaults. `argv` tells
/// a flag from a variable (clap folds both into one value).
pub fn effective(
    given: &Settings,
    file: Option<&Settings>,
    argv: &[String],
) -> Result<Effective, UsageError> {
    let mut merged = Table::new();
    let mut sources = BTreeMap::new();
    // `RUST_LOG` is the log filter's variable too (below `CONTACTSYNC_SERVER_LOG`).
    let mut given = given.clone();
    if given.log.is_none() {
        given.log = std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty());
    }
    let layers = [
        (Some(table_of(&given)?), None),
        (file.map(table_of).transpose()?, Some(Source::File)),
        (Some(table_of(&defaults())?), Some(Source::Default)),
    ];
    for (table, source) in layers {
        for (key, value) in table.into_iter().flatten() {
            if merged.contains_key(&key) {
                continue;
            }
            let source = source.unwrap_or_else(|| {
                let flag = format!("--{key}");
                let on_command_line = argv
                    .iter()
                    .any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
                if on_command_line {
                    Source::Flag
                } else {
                    Source::Environment
                }
            });
            sources.insert(key.clone(), source);
            merged.insert(key, value);
        }
    }
    let settings = toml::Value::Table(merged)
        .try_into()
        .map_err(|e| UsageError(format!("settings: {e}")))?;
    Ok(Effective { settings, sources })
}

impl Effective {
    /// Where `key`'s value came from (`None`: not set anywhere, and no default).
    pub fn source(&self, key: &str) -> Option<Source> {
        self.sources.get(key).copied()
    }

    /// The effective settings as a TOML file a `--config` accepts, each line with its source;
    /// secrets redacted (the admin token, a database password), unset keys as comments.
    pub fn render(&self, db_shown: &str) -> Result<String, UsageError> {
        let mut shown = self.settings.clone();
        shown.db = Some(db_shown.to_owned());
        if shown.admin_token.is_some() {
            shown.admin_token = Some("(redacted)".to_owned());
        }
        let table = table_of(&shown)?;
        let all = table_of(&Settings::every_key())?;
        let mut out = String::from(
            "# contactsync serve: the settings in effect (flag > CONTACTSYNC_SERVER_* > \
             --config file > default)\n",
        );
        for key in all.keys() {
            match table.get(key) {
                Some(value) => {
                    let mut one = Table::new();
                    one.insert(key.clone(), value.clone());
                    let line =
                        toml::to_string(&one).map_err(|e| UsageError(format!("settings: {e}")))?;
                    let source = if key == "db" && self.source("db").is_none() {
                        Source::Default
                    } else {
                        self.source(key).unwrap_or(Source::Default)
                    };
                    let _ = writeln!(out, "{}  # {}", line.trim_end(), source.as_str());
                }
                None => {
                    let _ = writeln!(out, "# {key} (not set)");
                }
            }
        }
        Ok(out)
    }
}

impl Settings {
    /// A value for every key (only its keys are used: the order and names of `--print-config`).
    fn every_key() -> Settings {
        Settings {
            db: Some(String::new()),
            public_url: Some(String::new()),
            admin_token_file: Some(PathBuf::new()),
            admin_token: Some(String::new()),
            max_connections: Some(0),
            batch_buckets: Some(Vec::new()),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            trusted_proxy: Some(Vec::new()),
            invite_app_name: Some(String::new()),
            invite_app_scheme: Some(String::new()),
            invite_redirect: Some(String::new()),
            invite_play_store_url: Some(String::new()),
            invite_app_store_url: Some(String::new()),
            app_links_package: Some(String::new()),
            app_links_fingerprints: Some(Vec::new()),
            universal_links_app_ids: Some(Vec::new()),
            ..defaults()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn given(listen: Option<&str>, rate: Option<u32>) -> Settings {
        Settings {
            listen: listen.map(|l| l.parse().unwrap()),
            rate_limit: rate,
            ..Settings::default()
        }
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let file: Settings = toml::from_str("rate-limit = 7\nmax-batch = 10\n").unwrap();
        let argv = vec!["serve".to_owned(), "--rate-limit=9".to_owned()];
        let e = effective(&given(None, Some(9)), Some(&file), &argv).unwrap();
        assert_eq!(e.settings.rate_limit, Some(9));
        assert_eq!(e.source("rate-limit"), Some(Source::Flag));
        assert_eq!(e.settings.max_batch, Some(10));
        assert_eq!(e.source("max-batch"), Some(Source::File));
        assert_eq!(e.settings.daily_quota, Some(100_000));
        assert_eq!(e.source("daily-quota"), Some(Source::Default));
        // Given but not on the command line: it came from the environment.
        let e = effective(&given(Some("127.0.0.1:1"), None), None, &argv).unwrap();
        assert_eq!(e.source("listen"), Some(Source::Environment));
    }

    #[test]
    fn batch_buckets_default_to_the_servers_and_are_set_by_their_key() {
        let e = effective(&Settings::default(), None, &[]).unwrap();
        assert_eq!(
            e.settings.batch_buckets, None,
            "the server fits them to the limits"
        );
        assert!(
            e.render("x.db")
                .unwrap()
                .contains("# batch-buckets (not set)")
        );
        let file: Settings = toml::from_str("batch-buckets = [8, 32]\n").unwrap();
        let e = effective(&Settings::default(), Some(&file), &[]).unwrap();
        assert_eq!(e.settings.batch_buckets, Some(vec![8, 32]));
        assert_eq!(e.source("batch-buckets"), Some(Source::File));
        let argv = vec!["serve".to_owned(), "--batch-buckets=4,40".to_owned()];
        let flag = Settings {
            batch_buckets: Some(vec![4, 40]),
            ..Settings::default()
        };
        let e = effective(&flag, Some(&file), &argv).unwrap();
        assert_eq!(e.settings.batch_buckets, Some(vec![4, 40]));
        assert_eq!(e.source("batch-buckets"), Some(Source::Flag));
    }

    #[test]
    fn the_mode_is_hashed_by_default_and_private_discovery_set_by_its_keys() {
        let e = effective(&Settings::default(), None, &[]).unwrap();
        assert_eq!(e.settings.mode, Some(ServerMode::Hashed));
        assert_eq!(e.settings.private_buckets, Some(vec![16, 64, 256, 1024]));
        assert_eq!(e.settings.private_filter_rebuild_s, Some(60));
        assert_eq!(e.settings.private_shard_bits, Some(0));
        let file: Settings = toml::from_str(
            "mode = \"private\"\nprivate-buckets = [8, 32]\nprivate-filter-rebuild-s = 5\n\
             private-shard-bits = 8\n",
        )
        .unwrap();
        let e = effective(&Settings::default(), Some(&file), &[]).unwrap();
        assert_eq!(e.settings.mode, Some(ServerMode::Private));
        assert_eq!(e.source("mode"), Some(Source::File));
        assert_eq!(e.settings.private_buckets, Some(vec![8, 32]));
        assert_eq!(e.settings.private_shard_bits, Some(8));
        assert_eq!(e.source("private-buckets"), Some(Source::File));
        let text = e.render("x.db").unwrap();
        assert!(text.contains("private-buckets = [8, 32]  # file"), "{text}");
        assert!(text.contains("mode = \"private\"  # file"), "{text}");
        // The old switch names nothing now: an error, not a silently hashed server.
        assert!(toml::from_str::<Settings>("private-discovery = true\n").is_err());
        assert!(toml::from_str::<Settings>("mode = \"secret\"\n").is_err());
    }

    #[test]
    fn unknown_and_mistyped_keys_are_errors() {
        let e = toml::from_str::<Settings>("rate-limt = 7\n").unwrap_err();
        assert!(e.to_string().contains("rate-limt"), "{e}");
        assert!(toml::from_str::<Settings>("rate-limit = \"x\"\n").is_err());
    }

    #[test]
    fn unknown_variables_are_errors() {
        let var = |n: &str| (n.to_owned(), "1".to_owned());
        let known = [
            var("CONTACTSYNC_SERVER_RATE_LIMIT"),
            var("CONTACTSYNC_SERVER_CONFIG"),
            var("CONTACTSYNC_DB"),
        ];
        assert!(check_environment(known.into_iter()).is_ok());
        let e = check_environment([var("CONTACTSYNC_SERVER_RATE_LIMT")].into_iter()).unwrap_err();
        assert!(e.0.contains("CONTACTSYNC_SERVER_RATE_LIMT"), "{}", e.0);
    }

    #[test]
    fn rendering_redacts_the_token_and_parses_back() {
        let file: Settings = toml::from_str("admin-token = \"s3cret-admin-token\"\n").unwrap();
        let e = effective(&Settings::default(), Some(&file), &[]).unwrap();
        let text = e.render("/var/lib/x.db").unwrap();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("# public-url (not set)"), "{text}");
        let back: Settings = toml::from_str(&text).unwrap();
        assert_eq!(back.rate_limit, Some(120));
        assert_eq!(back.db.as_deref(), Some("/var/lib/x.db"));
    }
}
