//! contactsync-server: the reference discovery server, the other side of docs/protocol.md.
//!
//! The server is stateless apart from its [`Storage`]: keys, clients and their sets of hashes,
//! stored batch answers, invites, the change feed and the quota and rate counters all live there,
//! so several instances can serve one database: [`PostgresStorage`] (every state change of a
//! request one `SERIALIZABLE` transaction, the rate counters in an unlogged table every instance
//! shares), or [`SqliteStorage`] for one machine (one file in WAL mode, every state change one
//! `IMMEDIATE` transaction, the rate counters in each process's memory).
//!
//! The layers, each a module:
//!
//! ```text
//! connections (hyper: accept, caps, timeouts) ─► http (axum: the router, its layers, the 404s)
//!   ─► service (one module per resource: its routes, its handlers, its rules, blocking)
//!   ─► storage (Storage/Transaction: SQLite, PostgreSQL)
//! ```
//!
//! A handler's signature says who may call it: `service::auth`'s extractors (`Device`, `Admin`,
//! `Caller`) authenticate the bearer token before the handler runs.
//!
//! [`start`] runs a server on its own thread (tests, the CLI demo); [`run`] serves on the
//! caller's tokio runtime until a shutdown future completes (`contactsync serve`).
//!
//! **What it never does**: store a raw identifier (the admin API hashes on receipt), store a
//! token (only its SHA-256), or log an identifier, a hash or a token at any level (request logs
//! carry a request id, the method, the route template, the status, the error code and the
//! duration), or label a metric with one.

mod bodies;
mod client_ip;
mod clock;
mod connections;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
pub mod metrics;
mod observe;
mod registration;
mod server;
mod service;
pub mod storage;
mod util;

use std::net::SocketAddr;
use std::time::Duration;

pub use client_ip::IpNet;
pub use clock::Clock;
pub use error::ServerError;
pub use registration::RegistrationLimits;
pub use server::{RunningServer, run, run_with_storage, start};
pub use service::admin_credential::{
    has_stored as has_stored_admin_token, rotate_stored as rotate_admin_token,
};
pub use service::links::LinksConfig;
pub use storage::{
    Database, PoolStatus, PostgresStorage, Scope, SqliteStorage, Storage, Transaction,
};

/// The protocol version this server speaks, as it appears in paths (`/v1/...`).
pub const PROTOCOL_VERSION: &str = "v1";

/// What the server enforces, and advertises in `GET /v1/config` (docs/protocol.md, "Limits the
/// server enforces").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Hashes per batch (add + remove), per match request, and identifiers per user.
    pub max_batch: u32,
    /// Largest request body, in bytes.
    pub max_body_bytes: u32,
    /// New hashes a client may add per UTC day.
    pub daily_new_identifiers: u32,
    /// Advice to clients: with nothing to send, check at most this often (seconds).
    pub check_interval_s: u32,
    /// Requests per client per minute (a fixed window, counted where every instance sharing the
    /// storage sees it: see [`Storage::count_request`]).
    pub requests_per_minute: u32,
    /// Hashes one client's set may hold. Re-adding a held hash is free (a full re-sync must not
    /// cost a device its day), and a held hash is watched for joins through the change feed:
    /// this bounds what one device watches, far above any real address book.
    pub max_set_size: u32,
}

impl Default for LimitsConfig {
    /// The defaults of docs/protocol.md.
    fn default() -> Self {
        LimitsConfig {
            max_batch: 2000,
            max_body_bytes: 256 * 1024,
            daily_new_identifiers: 100_000,
            check_interval_s: 86_400,
            requests_per_minute: 120,
            max_set_size: 100_000,
        }
    }
}

/// How the server treats connections: the timeouts and caps that keep slow, idle and abusive
/// clients from holding what other clients need (docs/reliability.md, "Slow and abusive
/// clients"; the defaults are in docs/protocol.md, "Connection limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a connection may take to deliver a complete request head, counted from when it
    /// is accepted and, on a kept-alive connection, from the previous answer: so this is also
    /// the keep-alive idle timeout (hyper's HTTP/1 server runs one clock for both). Past it the
    /// connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// How long a request body may go without delivering a byte. Past it the request answers
    /// `408 request_timeout` and the connection is closed.
    pub body_progress_timeout: Duration,
    /// Connections open at once; at the cap the server stops accepting (new connections wait in
    /// the listen backlog) until one closes. `None`: the soft `RLIMIT_NOFILE` less a reserve for
    /// the database, logs and runtime (a tenth of it, at least 64), at most 10,000. A value
    /// above the soft limit less 64 is refused.
    pub max_connections: Option<u32>,
    /// Requests with a body in progress at once, from the start of reading the body to the
    /// answer (bodies are read before the token is checked, and open registration makes tokens
    /// free, so every body counts). Bounds the memory bodies hold to about this many times
    /// `max_body_bytes`. A request past the cap waits up to a second for a place, then answers
    /// `503 unavailable` with `Retry-After: 1`.
    pub max_bodies_in_flight: u32,
    /// How long a shutdown lets requests in progress finish before dropping their connections.
    /// Idle connections are closed at once.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    /// The defaults of docs/protocol.md, "Connection limits".
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            body_progress_timeout: Duration::from_secs(15),
            max_connections: None,
            max_bodies_in_flight: 64,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Private discovery (docs/protocol.md, "Private discovery"): off by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateDiscoveryConfig {
    /// Whether the `/v1/private/...` routes answer and keys get an OPRF half.
    pub enabled: bool,
    /// The element counts an evaluation or lookup may have (clients pad to one of them);
    /// ascending, 1 to 8 of them, none above `max_batch` nor what `max_body_bytes` carries.
    pub buckets: Vec<u32>,
    /// At most how often the users' filter is rebuilt while users change.
    pub filter_rebuild: Duration,
    /// The filter is split in `2^shard_bits` shards by its tags' top bits (0: one filter; at
    /// most 16): docs/privacy.md, "Sharding the filter", says what a shard request reveals.
    pub shard_bits: u8,
}

impl Default for PrivateDiscoveryConfig {
    fn default() -> Self {
        PrivateDiscoveryConfig {
            enabled: false,
            buckets: vec![16, 64, 256, 1024],
            filter_rebuild: Duration::from_secs(60),
            shard_bits: 0,
        }
    }
}

impl PrivateDiscoveryConfig {
    fn validate(&self, limits: &LimitsConfig) -> Result<(), ServerError> {
        if !self.enabled {
            return Ok(());
        }
        let max = contactsync_core::protocol::private::max_bucket(
            limits.max_batch,
            limits.max_body_bytes,
        );
        if !contactsync_core::protocol::private::valid_buckets(&self.buckets, max) {
            return Err(ServerError::Config(format!(
                "private_buckets must be 1 to 8 sizes, strictly ascending, each from 1 to {max} \
                 (max_batch, and what max_body_bytes carries at 46 bytes an element)"
            )));
        }
        above_quota("private_buckets", &self.buckets, limits)?;
        if self.filter_rebuild.is_zero() {
            return Err(ServerError::Config(
                "private_filter_rebuild_s must be at least 1".into(),
            ));
        }
        let max_bits = contactsync_core::protocol::private::MAX_SHARD_BITS;
        if self.shard_bits > max_bits {
            return Err(ServerError::Config(format!(
                "private_shard_bits must be from 0 to {max_bits}"
            )));
        }
        Ok(())
    }
}

/// Refuses buckets whose smallest is above the daily quota of new identifiers: a padded request
/// is charged its bucket, so a device could never afford one and would wait forever.
fn above_quota(name: &str, buckets: &[u32], limits: &LimitsConfig) -> Result<(), ServerError> {
    match buckets.first() {
        Some(smallest) if *smallest > limits.daily_new_identifiers => {
            Err(ServerError::Config(format!(
                "the smallest of {name} ({smallest}) is above daily_new_identifiers ({}): a \
                 device is charged the padded size and could never send one",
                limits.daily_new_identifiers
            )))
        }
        _ => Ok(()),
    }
}

/// How to run a server.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The database: an `SQLite` file or a PostgreSQL URL (created or migrated if needed).
    pub db: Database,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where to serve `GET /metrics` (Prometheus text format), apart from `listen` so that it is
    /// never public; port 0 picks a free port. `None` (the default): no metrics listener, and
    /// no recorder installed. The recorder is process-wide: see [`metrics`].
    pub metrics_listen: Option<SocketAddr>,
    /// The app backend's credential for `/v1/admin/...` (kept in memory as its SHA-256 only).
    /// `None`: the one stored in the database (`contactsync admin token rotate`), the same for
    /// every instance; until one is stored the admin API refuses every call.
    pub admin_token: Option<String>,
    /// Whether `POST /v1/clients` lets any device register itself. Off by default: a device
    /// the app's backend vouches for (`POST /v1/admin/clients`) is one the backend knows; a
    /// device that registers itself costs nothing, and each brings a daily quota of new
    /// identifiers (docs/privacy.md).
    pub open_registration: bool,
    /// The limits of open registration (per client address and for the whole server).
    pub registration: RegistrationLimits,
    /// Proxies whose `X-Forwarded-For` names the client's address (`client_ip`): the TCP peer
    /// is the client's address unless it is in one of these blocks. Empty by default: a header
    /// a client can write must not choose its own limit's key.
    pub trusted_proxies: Vec<IpNet>,
    /// Base of invite links (`<public_url>/i/<code>`); default `http://<listening address>`.
    pub public_url: Option<String>,
    /// What invite links do when a phone opens them: the page, a redirect, App Links and
    /// Universal Links (docs/invites.md).
    pub links: LinksConfig,
    /// The limits.
    pub limits: LimitsConfig,
    /// Timeouts and caps of connections.
    pub connections: ConnectionLimits,
    /// Where the time comes from (the system clock; tests set their own).
    pub clock: Clock,
    /// How often the server deletes what outlived its use (batch answers past their 30 days,
    /// expired invites, openly registered devices that never uploaded); also once at start. Every instance sweeps: sweeps that meet are safe.
    pub sweep_every: Duration,
    /// Private discovery.
    pub private: PrivateDiscoveryConfig,
    /// The entry counts keyed-hash batches are padded to, which `GET /v1/config` advertises
    /// (docs/protocol.md, "Padded batches"): 1 to 8, ascending, none above `max_batch` nor what
    /// `max_body_bytes` carries at 25 bytes a hash. `None`: 16, 64, 256 and 1024, those the
    /// limits allow ([`ServerConfig::batch_buckets`]). `Some(vec![])` advertises none, as an
    /// older server does: clients then send batches unpadded.
    pub batch_buckets: Option<Vec<u32>>,
}

impl ServerConfig {
    /// A configuration with this admin token, registration vouched by the app's backend only
    /// and the default limits.
    pub fn new(
        db: impl Into<Database>,
        listen: SocketAddr,
        admin_token: impl Into<String>,
    ) -> Self {
        ServerConfig {
            db: db.into(),
            listen,
            metrics_listen: None,
            admin_token: Some(admin_token.into()),
            open_registration: false,
            registration: RegistrationLimits::default(),
            trusted_proxies: Vec::new(),
            public_url: None,
            links: LinksConfig::default(),
            limits: LimitsConfig::default(),
            connections: ConnectionLimits::default(),
            clock: Clock::system(),
            sweep_every: Duration::from_secs(600),
            private: PrivateDiscoveryConfig::default(),
            batch_buckets: None,
        }
    }

    /// The batch buckets this configuration advertises: the ones set, or the defaults that fit
    /// the limits — the daily quota among them, since a device pays for its dummies and could
    /// never send a batch whose smallest bucket costs more than its day.
    pub fn batch_buckets(&self) -> Vec<u32> {
        self.batch_buckets.clone().unwrap_or_else(|| {
            use contactsync_core::protocol::private::{default_batch_buckets, max_batch_bucket};
            let l = &self.limits;
            default_batch_buckets(
                max_batch_bucket(l.max_batch, l.max_body_bytes)
                    .min(l.daily_new_identifiers as usize),
            )
        })
    }

    /// Refuses settings the server cannot honour, before anything is opened or bound.
    fn validate(&self) -> Result<(), ServerError> {
        if let Some(token) = &self.admin_token {
            if token.is_empty() {
                return Err(ServerError::Config("the admin token is empty".into()));
            }
            // A short token is guessable, but demos and tests use short ones: warn, do not
            // refuse.
            if token.len() < 16 {
                tracing::warn!("the admin token is shorter than 16 characters");
            }
        }
        let l = &self.limits;
        if self.sweep_every.is_zero() {
            return Err(ServerError::Config(
                "sweep_every must be longer than zero".into(),
            ));
        }
        if l.max_batch == 0
            || l.requests_per_minute == 0
            || l.check_interval_s == 0
            || l.max_set_size == 0
        {
            return Err(ServerError::Config(
                "max_batch, requests_per_minute, check_interval_s and max_set_size must be at \
                 least 1"
                    .into(),
            ));
        }
        // Below 1 KiB not even a one-hash batch with its ids fits.
        if l.max_body_bytes < 1024 {
            return Err(ServerError::Config(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        self.registration.validate()?;
        self.private.validate(l)?;
        let buckets = self.batch_buckets();
        let max =
            contactsync_core::protocol::private::max_batch_bucket(l.max_batch, l.max_body_bytes);
        if !buckets.is_empty() && !contactsync_core::protocol::private::valid_buckets(&buckets, max)
        {
            return Err(ServerError::Config(format!(
                "batch_buckets must be 1 to 8 sizes, strictly ascending, each from 1 to {max} \
                 (max_batch, and what max_body_bytes carries at 25 bytes a hash)"
            )));
        }
        above_quota("batch_buckets", &buckets, l)?;
        let c = &self.connections;
        if c.header_read_timeout.is_zero() || c.body_progress_timeout.is_zero() {
            return Err(ServerError::Config(
                "header_read_timeout and body_progress_timeout must be longer than zero".into(),
            ));
        }
        if c.max_bodies_in_flight == 0 {
            return Err(ServerError::Config(
                "max_bodies_in_flight must be at least 1".into(),
            ));
        }
        connections::connection_cap(c.max_connections)?;
        self.links.validate()?;
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url)
                .map_err(|_| ServerError::Config("public_url is not a URL".into()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ServerError::Config(
                    "public_url must be an http or https URL".into(),
                ));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for ServerConfig {
    /// Never prints the admin token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("db", &self.db)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("open_registration", &self.open_registration)
            .field("registration", &self.registration)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url)
            .field("links", &self.links)
            .field("limits", &self.limits)
            .field("connections", &self.connections)
            .field("sweep_every", &self.sweep_every)
            .field("private", &self.private)
            .field("batch_buckets", &self.batch_buckets)
            .finish_non_exhaustive()
    }
}
