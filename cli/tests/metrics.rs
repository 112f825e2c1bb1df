//! `contactsync serve --metrics-listen`: `GET /metrics` on its own address answers the
//! Prometheus text format (read strictly, `observed/exposition.rs`), and every counter moves by
//! exactly what a flow of requests did (a storage failure included); the public listener answers
//! `404` for `/metrics`. On `SQLite` and, when the tests' server is there, on PostgreSQL.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]
#![allow(
    clippy::float_cmp,
    reason = "the counters are whole numbers, exact in an f64"
)]

mod common;
mod observed;
#[path = "../../server/tests/common/postgres.rs"]
mod pg;

use observed::exposition::{self, Exposition};
use observed::{DAILY_QUOTA, Http, Observed, RATE_LIMIT, flow};

/// `GET /metrics`, read strictly (`exposition`).
fn scrape(http: &Http, url: &str) -> (Exposition, String) {
    let answer = http.expect(200, "GET", &format!("{url}/metrics"), None, None);
    (exposition::parse(&answer.text), answer.text)
}

/// Which backend a test runs on: what breaks its database, and the pool gauge only it has.
struct Backend {
    /// Drops the table of receipts (a device's deletion then fails: a storage error).
    drop_receipts: Box<dyn FnOnce()>,
    /// A gauge only this backend reports.
    own_gauge: &'static str,
}

/// Runs the flow against a server on `db`, then a request that fails in the storage, and checks
/// what its metrics say.
#[allow(clippy::too_many_lines, reason = "one scenario, read in order")]
fn check(db: &str, backend: Backend) {
    let server = Observed::start(
        db,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--rate-limit",
            RATE_LIMIT,
            "--daily-quota",
            DAILY_QUOTA,
        ],
    );
    let metrics_url = server.metrics_url.clone().unwrap();
    let http = Http::new();
    let (before, _) = scrape(&http, &metrics_url);
    let used = flow(&http, &server.url);
    (backend.drop_receipts)();
    let url = format!("{}/v1/client", server.url);
    http.expect(500, "DELETE", &url, Some(&used.device_token), None);
    // Never on the public listener (this request counts: a 404 without a route).
    http.expect(404, "GET", &format!("{}/metrics", server.url), None, None);
    // Nothing else on the metrics listener.
    http.expect(404, "GET", &format!("{metrics_url}/v1/config"), None, None);
    let (after, text) = scrape(&http, &metrics_url);

    let delta = |key: &str| after.get(key) - before.get(key);
    let requests = |route: &str, method: &str, status: &str| {
        delta(&format!(
            "contactsync_http_requests_total{{method={method},route={route},status={status}}}"
        ))
    };
    let expected = [
        ("/v1/admin/clients", "POST", "201", 2.0),
        ("/v1/clients", "POST", "201", 1.0),
        ("/v1/admin/users/{user_ref}", "PUT", "200", 1.0),
        ("/v1/config", "GET", "200", 1.0 + 5.0),
        ("/v1/config", "GET", "429", 1.0),
        ("/v1/batches", "POST", "200", 2.0),
        ("/v1/batches", "POST", "429", 1.0),
        ("/v1/invites", "POST", "201", 1.0),
        ("/v1/invites/redeem", "POST", "200", 1.0),
        ("/i/{code}", "GET", "200", 1.0),
        ("/v1/admin/match", "POST", "200", 1.0),
        ("/v1/changes", "GET", "200", 1.0),
        ("(no route)", "GET", "404", 2.0),
        ("/v1/client", "DELETE", "500", 1.0),
    ];
    for (route, method, status, n) in expected {
        assert_eq!(
            requests(route, method, status),
            n,
            "{method} {route} {status}"
        );
    }
    let all: f64 = after
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("contactsync_http_requests_total{"))
        .map(|(k, v)| v - before.get(k))
        .sum();
    #[allow(clippy::cast_precision_loss, reason = "a few requests")]
    let made = (used.requests + 2) as f64;
    assert_eq!(all, made, "every request counted once");
    let batches = "method=POST,route=/v1/batches,status=200";
    assert_eq!(
        delta(&format!(
            "contactsync_http_request_duration_seconds_count{{{batches}}}"
        )),
        2.0
    );
    assert_eq!(
        delta(&format!(
            "contactsync_http_request_duration_seconds{{{batches}}}"
        )),
        2.0,
        "the +Inf bucket"
    );

    for (key, n) in [
        ("contactsync_registrations_total{via=vouched}", 2.0),
        ("contactsync_registrations_total{via=open}", 1.0),
        ("contactsync_batches_total{}", 2.0),
        ("contactsync_batch_hashes_total{change=added}", 3.0),
        ("contactsync_batch_hashes_total{change=removed}", 1.0),
        ("contactsync_matches_total{source=batch}", 1.0),
        ("contactsync_matches_total{source=admin}", 1.0),
        ("contactsync_rate_limited_total{limit=rate}", 1.0),
        ("contactsync_rate_limited_total{limit=daily_quota}", 1.0),
        ("contactsync_quota_deferred_hashes_total{}", 2.0),
        ("contactsync_invites_created_total{}", 1.0),
        ("contactsync_invites_redeemed_total{}", 1.0),
        ("contactsync_storage_errors_total{kind=busy}", 0.0),
        ("contactsync_storage_errors_total{kind=other}", 1.0),
        ("contactsync_storage_errors_total{kind=conflict}", 0.0),
    ] {
        assert_eq!(delta(key), n, "{key}");
    }
    assert_eq!(after.get("contactsync_build_info{version=0.1.0}"), 1.0);
    assert_eq!(after.get("contactsync_log_lines_dropped_total{}"), 0.0);
    assert!(
        after
            .samples
            .contains_key("contactsync_log_lines_dropped_total{}")
    );
    assert!(after.get("contactsync_connections_max{}") >= 1.0);
    assert_eq!(after.get("contactsync_request_bodies_max{}"), 64.0);
    assert!(after.get("contactsync_storage_pool_max{}") >= 1.0);
    assert!(
        after
            .samples
            .contains_key("contactsync_storage_pool_available{}")
    );
    assert!(after.samples.contains_key(backend.own_gauge), "{text}");
    // Every family has its HELP text, and is ours.
    for family in after.types.keys() {
        assert!(after.help.contains_key(family), "no HELP for {family}");
        assert!(family.starts_with("contactsync_"), "{family}");
    }
    // No label holds anything the flow sent.
    for secret in &used.secrets {
        assert!(!text.contains(secret.as_str()), "/metrics holds {secret}");
    }
    server.stop();
}

#[test]
fn metrics_count_what_happened_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let path = db.clone();
    let drop_receipts = Box::new(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("DROP TABLE receipts").unwrap();
    });
    let own_gauge = "contactsync_storage_writers_waiting{}";
    check(
        db.to_str().unwrap(),
        Backend {
            drop_receipts,
            own_gauge,
        },
    );
}

#[test]
fn metrics_count_what_happened_on_postgres() {
    if !pg::available() {
        return;
    }
    let db = pg::TempDatabase::new("metrics");
    let url = db.url.clone();
    let drop_receipts = Box::new(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.batch_execute("DROP TABLE receipts").unwrap();
    });
    let own_gauge = "contactsync_storage_pool_waiting{}";
    check(
        &db.url,
        Backend {
            drop_receipts,
            own_gauge,
        },
    );
}
