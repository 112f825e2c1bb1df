//! The server's metrics: what it counts, where, and `GET /metrics` (Prometheus text format) on a
//! listener of its own (`ServerConfig::metrics_listen`), never on the public one.
//!
//! Recorded with the `metrics` facade into `metrics-exporter-prometheus`'s recorder, rendered by
//! a two-route axum router that the server's own accept loop serves (`connections`): one HTTP
//! stack, with the same header timeout and graceful shutdown as the public listener. The
//! exporter's own listener would have brought a second hyper server (without those timeouts),
//! started on its own, and not stopped with the server.
//!
//! **The recorder is process-wide.** The `metrics` facade has one global recorder: it is installed
//! by the first server started with a metrics address, and every server in the process records
//! into it from then on (their counters add up). Installing it again is harmless (the first
//! recorder stays). Without a metrics address nothing is installed and every recording call is a
//! no-op. The gauges sampled at scrape time (connections, bodies, the storage's pool) are those of
//! the server whose metrics address was scraped.
//!
//! **Labels** are bounded sets only: route templates (never a path), methods, statuses, fixed
//! reasons and kinds. Never a hash, a token, an identifier, a user reference or a client id.
//!
//! docs/deployment.md ("Metrics") lists every metric and what to alert on.

use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::bodies::BodyGate;
use crate::connections::Slots;
use crate::error::ServerError;
use crate::storage::Storage;

/// `contactsync_http_requests_total{route, method, status}`.
pub(crate) const HTTP_REQUESTS: &str = "contactsync_http_requests_total";
/// `contactsync_http_request_duration_seconds{route, method, status}`.
pub(crate) const HTTP_DURATION: &str = "contactsync_http_request_duration_seconds";
const BATCHES: &str = "contactsync_batches_total";
const BATCH_HASHES: &str = "contactsync_batch_hashes_total";
const MATCHES: &str = "contactsync_matches_total";
const RATE_LIMITED: &str = "contactsync_rate_limited_total";
const QUOTA_DEFERRED: &str = "contactsync_quota_deferred_hashes_total";
const REGISTRATIONS: &str = "contactsync_registrations_total";
const INVITES_CREATED: &str = "contactsync_invites_created_total";
const INVITES_REDEEMED: &str = "contactsync_invites_redeemed_total";
const STORAGE_ERRORS: &str = "contactsync_storage_errors_total";
const CONFLICT_RETRIES: &str = "contactsync_storage_conflict_retries_total";
const POOL_MAX: &str = "contactsync_storage_pool_max";
const POOL_SIZE: &str = "contactsync_storage_pool_size";
const POOL_AVAILABLE: &str = "contactsync_storage_pool_available";
const POOL_WAITING: &str = "contactsync_storage_pool_waiting";
const WRITERS_WAITING: &str = "contactsync_storage_writers_waiting";
const CONNECTIONS_OPEN: &str = "contactsync_connections_open";
const CONNECTIONS_MAX: &str = "contactsync_connections_max";
const BODIES_IN_FLIGHT: &str = "contactsync_request_bodies_in_flight";
const BODIES_MAX: &str = "contactsync_request_bodies_max";
const LOG_LINES_DROPPED: &str = "contactsync_log_lines_dropped_total";
const BUILD_INFO: &str = "contactsync_build_info";

/// Request latency buckets, in seconds: 1 ms to 10 s.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often the recorder's histograms are drained (`run_upkeep`), so that observations never
/// pile up between scrapes (or without any).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, once installed (or why it could not be).
static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide recorder, once: later calls get the same handle. Fails only when
/// another `metrics` recorder was installed in the process first (by the embedding program).
pub(crate) fn install() -> Result<PrometheusHandle, ServerError> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &DURATION_BUCKETS)
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| format!("installing the metrics recorder: {e}"))?;
            describe();
            gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("contactsync-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| format!("starting the metrics upkeep thread: {e}"))?;
            Ok(handle)
        })
        .clone()
        .map_err(ServerError::Config)
}

/// A metric's type, for its description.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric: type, name, unit and HELP text (docs/deployment.md, "Metrics", lists them too).
const METRICS: &[(Kind, &str, Unit, &str)] = &[
    (
        Kind::Counter,
        HTTP_REQUESTS,
        Unit::Count,
        "Requests answered on the public listener, by route template, method and status",
    ),
    (
        Kind::Histogram,
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's head to its answer, by route template, method and status",
    ),
    (
        Kind::Counter,
        BATCHES,
        Unit::Count,
        "Batches applied (replays of a stored batch not included)",
    ),
    (
        Kind::Counter,
        BATCH_HASHES,
        Unit::Count,
        "Hashes applied by batches: change=added (new in the set) or removed",
    ),
    (
        Kind::Counter,
        MATCHES,
        Unit::Count,
        "Matches answered: source=batch (in batch answers) or admin (POST /v1/admin/match)",
    ),
    (
        Kind::Counter,
        RATE_LIMITED,
        Unit::Count,
        "Requests refused with 429, by the protocol's reason: limit=rate (requests per minute) \
         or daily_quota (new hashes per day)",
    ),
    (
        Kind::Counter,
        QUOTA_DEFERRED,
        Unit::Count,
        "New hashes in batches the daily quota refused (the device sends them again later)",
    ),
    (
        Kind::Counter,
        REGISTRATIONS,
        Unit::Count,
        "Devices registered: via=open (POST /v1/clients) or vouched (POST /v1/admin/clients)",
    ),
    (
        Kind::Counter,
        INVITES_CREATED,
        Unit::Count,
        "Invites created",
    ),
    (
        Kind::Counter,
        INVITES_REDEEMED,
        Unit::Count,
        "Invites redeemed",
    ),
    (
        Kind::Counter,
        STORAGE_ERRORS,
        Unit::Count,
        "Storage failures that reached a request: kind=busy (lock or pool wait timed out, 503), \
         conflict (lost races after every retry, 503) or other (500)",
    ),
    (
        Kind::Counter,
        CONFLICT_RETRIES,
        Unit::Count,
        "Transactions run again after losing a race with a concurrent one (PostgreSQL)",
    ),
    (
        Kind::Gauge,
        POOL_MAX,
        Unit::Count,
        "Database connections the storage keeps at most (PostgreSQL: the pool's size; SQLite: \
         idle connections kept)",
    ),
    (
        Kind::Gauge,
        POOL_SIZE,
        Unit::Count,
        "Database connections open in the pool (PostgreSQL)",
    ),
    (
        Kind::Gauge,
        POOL_AVAILABLE,
        Unit::Count,
        "Database connections idle in the pool",
    ),
    (
        Kind::Gauge,
        POOL_WAITING,
        Unit::Count,
        "Requests waiting for a database connection (PostgreSQL)",
    ),
    (
        Kind::Gauge,
        WRITERS_WAITING,
        Unit::Count,
        "Write transactions waiting for their turn (SQLite: one writer at a time)",
    ),
    (
        Kind::Gauge,
        CONNECTIONS_OPEN,
        Unit::Count,
        "Connections open on the public listener",
    ),
    (
        Kind::Gauge,
        CONNECTIONS_MAX,
        Unit::Count,
        "The cap on connections open on the public listener",
    ),
    (
        Kind::Gauge,
        BODIES_IN_FLIGHT,
        Unit::Count,
        "Requests with a body being read or answered",
    ),
    (
        Kind::Gauge,
        BODIES_MAX,
        Unit::Count,
        "The cap on requests with a body in flight",
    ),
    (
        Kind::Counter,
        LOG_LINES_DROPPED,
        Unit::Count,
        "Log lines dropped because the log stream was not read fast enough",
    ),
    (
        Kind::Gauge,
        BUILD_INFO,
        Unit::Count,
        "Always 1; the version label says which server answers",
    ),
];

/// HELP texts and units.
fn describe() {
    for &(kind, name, unit, help) in METRICS {
        match kind {
            Kind::Counter => describe_counter!(name, unit, help),
            Kind::Gauge => describe_gauge!(name, unit, help),
            Kind::Histogram => describe_histogram!(name, unit, help),
        }
    }
}

// --- what the server counts (each a no-op while no recorder is installed) ---

/// A batch applied.
pub(crate) fn batch_applied(added: u32, removed: u32, matches: usize) {
    counter!(BATCHES).increment(1);
    counter!(BATCH_HASHES, "change" => "added").increment(u64::from(added));
    counter!(BATCH_HASHES, "change" => "removed").increment(u64::from(removed));
    counter!(MATCHES, "source" => "batch").increment(matches as u64);
}

/// Matches answered to `POST /v1/admin/match`.
pub(crate) fn admin_matched(matches: usize) {
    counter!(MATCHES, "source" => "admin").increment(matches as u64);
}

/// A request refused with `429`, for the protocol's `reason`.
pub(crate) fn rate_limited(reason: &'static str) {
    counter!(RATE_LIMITED, "limit" => reason).increment(1);
}

/// A batch refused by the daily quota, with the new hashes it held.
pub(crate) fn quota_deferred(hashes: u64) {
    counter!(QUOTA_DEFERRED).increment(hashes);
}

/// A device registered, openly or vouched for.
pub(crate) fn registered(vouched: bool) {
    let via = if vouched { "vouched" } else { "open" };
    counter!(REGISTRATIONS, "via" => via).increment(1);
}

pub(crate) fn invite_created() {
    counter!(INVITES_CREATED).increment(1);
}

pub(crate) fn invite_redeemed() {
    counter!(INVITES_REDEEMED).increment(1);
}

/// A storage failure that reached a request: `busy`, `conflict` or `other`.
pub(crate) fn storage_error(kind: &'static str) {
    counter!(STORAGE_ERRORS, "kind" => kind).increment(1);
}

/// A transaction that lost a race, run again.
pub(crate) fn conflict_retry() {
    counter!(CONFLICT_RETRIES).increment(1);
}

// --- the log stream's dropped lines, from the program that owns the stream ---

type DroppedSource = Box<dyn Fn() -> u64 + Send + Sync>;

static LOG_DROPPED: RwLock<Option<DroppedSource>> = RwLock::new(None);

/// Where `contactsync_log_lines_dropped_total` is read from at each scrape: the total of log
/// lines dropped so far by the program's log stream (`contactsync serve`: its non-blocking
/// writer's counter). Process-wide, like the recorder; a later call replaces the source.
pub fn count_dropped_log_lines(total: impl Fn() -> u64 + Send + Sync + 'static) {
    *LOG_DROPPED.write().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(total));
}

// --- GET /metrics ---

/// What a scrape samples, besides the recorder's counters.
#[derive(Debug, Clone)]
pub(crate) struct Scrape {
    pub(crate) handle: PrometheusHandle,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) connections: Slots,
    pub(crate) bodies: Arc<BodyGate>,
}

impl Scrape {
    /// Sets the gauges sampled at scrape time.
    fn sample(&self) {
        let pool = self.storage.pool_status();
        for (name, value) in [
            (POOL_MAX, pool.max_size),
            (POOL_SIZE, pool.size),
            (POOL_AVAILABLE, pool.available),
            (POOL_WAITING, pool.waiting),
            (WRITERS_WAITING, pool.writers_waiting),
        ] {
            if let Some(value) = value {
                gauge!(name).set(count(value));
            }
        }
        gauge!(CONNECTIONS_OPEN).set(count(self.connections.in_use()));
        gauge!(CONNECTIONS_MAX).set(count(self.connections.cap()));
        gauge!(BODIES_IN_FLIGHT).set(count(self.bodies.in_flight()));
        gauge!(BODIES_MAX).set(count(self.bodies.cap()));
        let dropped = LOG_DROPPED
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |total| total());
        counter!(LOG_LINES_DROPPED).absolute(dropped);
    }
}

/// A count as a gauge's value.
fn count(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

/// The metrics listener's routes: `GET /metrics`, and `404` for anything else.
pub(crate) fn router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(Arc::new(scrape))
}

/// The exposition format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn render(State(scrape): State<Arc<Scrape>>) -> Response {
    scrape.sample();
    let mut response = scrape.handle.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    response
}

// --- bounded label values ---

/// A status code's label without an allocation per request: one string per code, made once.
pub(crate) fn status_label(status: StatusCode) -> &'static str {
    static LABELS: LazyLock<Vec<String>> =
        LazyLock::new(|| (100..1000).map(|code: u16| code.to_string()).collect());
    LABELS
        .get(usize::from(status.as_u16()).saturating_sub(100))
        .map_or("other", String::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn status_labels_are_the_codes() {
        assert_eq!(status_label(StatusCode::OK), "200");
        assert_eq!(status_label(StatusCode::TOO_MANY_REQUESTS), "429");
        assert_eq!(status_label(StatusCode::from_u16(999).unwrap()), "999");
    }

    #[test]
    fn names_follow_the_conventions() {
        for &(kind, name, unit, _) in METRICS {
            assert!(name.starts_with("contactsync_"), "{name}");
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds") && unit == Unit::Seconds),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
    }

    #[test]
    fn installing_twice_is_harmless() {
        let first = install().unwrap();
        let second = install().unwrap();
        counter!(INVITES_CREATED).increment(1);
        assert!(first.render().contains(INVITES_CREATED));
        assert!(second.render().contains(INVITES_CREATED));
    }
}
