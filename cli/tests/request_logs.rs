//! `contactsync serve --log-format json --log debug`: every line after the address lines is a
//! JSON object; each request has one line with its request id (the one the answer's
//! `X-Request-Id` header carries), route template, method, status, error code and duration; a
//! warning while a request is handled carries the request's id; and a flow of every kind of
//! request — devices, users with phone numbers and e-mail addresses, batches, invites, matches —
//! leaves no token, hash (base64 or hex), identifier, user reference, client id or invite code in
//! any line, even at `debug`. On `SQLite` and, when the tests' server is there, PostgreSQL.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;
mod observed;
#[path = "../../server/tests/common/postgres.rs"]
mod pg;

use observed::{DAILY_QUOTA, Http, Observed, RATE_LIMIT, flow};
use serde_json::Value;

/// Runs the flow against a server on `db`, then breaks its database with `break_schema` (another
/// schema version, so the readiness check fails; the table of receipts gone, so deleting a device
/// fails on the blocking pool), and checks every log line.
fn check(db: &str, break_schema: impl FnOnce()) {
    let server = Observed::start(
        db,
        &[
            "--log-format",
            "json",
            "--log",
            "debug",
            "--rate-limit",
            RATE_LIMIT,
            "--daily-quota",
            DAILY_QUOTA,
        ],
    );
    let http = Http::new();
    let used = flow(&http, &server.url);
    break_schema();
    let not_ready = http.expect(503, "GET", &format!("{}/readyz", server.url), None, None);
    let not_ready_id = not_ready.request_id.unwrap();
    let url = format!("{}/v1/client", server.url);
    let failed = http.expect(500, "DELETE", &url, Some(&used.device_token), None);
    let failed_id = failed.request_id.unwrap();
    let lines = server.stop();

    // The address and start-up lines come first, as text; every line after them is JSON.
    let first_json = lines.iter().position(|l| l.starts_with('{')).unwrap();
    assert!(
        lines[..first_json].iter().all(|l| !l.contains('{')),
        "{lines:#?}"
    );
    let events: Vec<Value> = lines[first_json..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();

    let requests: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "request")
        .collect();
    assert_eq!(
        requests.len() as u64,
        used.requests + 2,
        "one line per request"
    );
    for r in &requests {
        let id = r["request_id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|c| c.is_ascii_hexdigit()),
            "{r}"
        );
        assert!(r["route"].as_str().unwrap().starts_with('/') || r["route"] == "(no route)");
        assert!(r["method"].is_string() && r["duration_ms"].is_f64(), "{r}");
        let status = r["status"].as_u64().unwrap();
        // Every error answer but readiness's (`{"status":"unavailable"}`, not the protocol's
        // error envelope) has its code.
        if r["route"] != "/readyz" {
            assert_eq!(r["code"].is_string(), status >= 400, "{r}");
        }
        assert_eq!(r["level"], "INFO");
    }
    let ids: std::collections::HashSet<&str> = requests
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), requests.len(), "request ids differ");
    // The request the daily quota refused, found by the id its client was given.
    let refused = requests
        .iter()
        .find(|r| r["request_id"] == used.refused_batch_id.as_str())
        .unwrap_or_else(|| panic!("no line for {}", used.refused_batch_id));
    assert_eq!(refused["route"], "/v1/batches");
    assert_eq!(refused["method"], "POST");
    assert_eq!(refused["status"], 429);
    assert_eq!(refused["code"], "too_many_requests");
    assert_eq!(refused["reason"], "daily_quota");
    let unknown = requests.iter().find(|r| r["status"] == 404).unwrap();
    assert_eq!(unknown["route"], "(no route)");
    assert_eq!(unknown["code"], "not_found");
    // Events while a request is handled carry its id and route: a warning in the handler, and
    // an error on the blocking pool, where the storage is called.
    for (message, level, id, route) in [
        ("not ready", "WARN", &not_ready_id, "/readyz"),
        ("request failed", "ERROR", &failed_id, "/v1/client"),
    ] {
        let event = events
            .iter()
            .find(|e| e["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in {events:#?}"));
        assert_eq!(event["level"], level);
        assert_eq!(event["span"]["request_id"], id.as_str());
        assert_eq!(event["span"]["route"], route);
    }

    for line in &lines {
        for secret in &used.secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a log line holds {secret:?}: {line}"
            );
        }
    }
}

#[test]
fn request_logs_are_json_with_ids_and_no_secret_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let path = db.clone();
    check(db.to_str().unwrap(), move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        conn.execute_batch("DROP TABLE receipts").unwrap();
    });
}

#[test]
fn request_logs_are_json_with_ids_and_no_secret_on_postgres() {
    if !pg::available() {
        return;
    }
    let db = pg::TempDatabase::new("request_logs");
    let url = db.url.clone();
    check(&db.url, move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .batch_execute("UPDATE contactsync_schema SET version = 999; DROP TABLE receipts")
            .unwrap();
    });
}
