//! The device's rough edges as a new user meets them: `sync` without `--server` once registered,
//! a server that moved (`forget --local`, and what `sync --server NEW` says), the device's own
//! backoff told apart from the server's, the exit codes (75 retry later, 1 refused, 2 usage) and
//! `forget`'s confirmation.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{ADMIN, Server, ok, ok_json, run, s, text};

/// Exit codes documented in `--help` and the README.
const REFUSED: i32 = 1;
const USAGE: i32 = 2;
const LATER: i32 = 75;

fn import(db: &Path) {
    common::import_samples(db, &["sample.csv"]);
}

/// Asserts the exit code and that stderr holds `expected`; answers stderr.
fn fails(out: &Output, code: i32, expected: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(expected), "{expected:?} not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn sync_defaults_to_the_registered_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let db = dir.path().join("b.db");
    import(&db);
    // Not registered: the first sync needs to be told where.
    fails(
        &run(&["sync", "--db", s(&db)]),
        USAGE,
        "the first sync needs --server",
    );
    ok(&["sync", "--server", &server.url, "--db", s(&db)]);
    let report = &ok_json(&["sync", "--json", "--force", "--db", s(&db)])[0];
    assert_eq!(report["server"], server.url.as_str(), "{report}");
}

#[test]
fn a_device_whose_server_moved_leaves_it_locally_and_keeps_its_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let old_dir = dir.path().join("old");
    std::fs::create_dir(&old_dir).unwrap();
    let old = Server::start(&old_dir);
    let new = Server::start(dir.path());
    let db = dir.path().join("b.db");
    import(&db);
    let first = &ok_json(&["sync", "--json", "--server", &old.url, "--db", s(&db)])[0];
    let sent = first["added"].as_u64().unwrap();
    assert!(sent > 0, "{first}");
    let old_url = old.url.clone();
    drop(old);

    // Syncing with another server explains both ways out.
    let err = fails(
        &run(&["sync", "--server", &new.url, "--db", s(&db)]),
        USAGE,
        "forget --local",
    );
    assert!(
        err.contains(&old_url) && err.contains("still answers"),
        "{err}"
    );
    // `forget` needs the old server, which is gone: retry later, nothing lost.
    fails(&run(&["forget", "--yes", "--db", s(&db)]), LATER, "network");
    assert!(dir.path().join("b.db.client.json").exists());

    // --local asks nobody, drops the registration, keeps the contacts.
    let left = &ok_json(&["forget", "--local", "--yes", "--json", "--db", s(&db)])[0];
    assert_eq!(left["server"], old_url.as_str(), "{left}");
    assert_eq!(left["contacts"], 4, "{left}");
    assert!(!dir.path().join("b.db.client.json").exists());
    let status = &ok_json(&["status", "--json", "--db", s(&db)])[0];
    assert_eq!(status["contacts"], 4, "{status}");
    assert_eq!(status["matches"], 0, "{status}");
    assert_eq!(status["key_id"], serde_json::Value::Null, "{status}");

    // The new server gets everything, in full, under a new registration.
    let report = &ok_json(&["sync", "--json", "--server", &new.url, "--db", s(&db)])[0];
    assert_eq!(report["added"].as_u64().unwrap(), sent, "{report}");
    assert_eq!(report["server"], new.url.as_str(), "{report}");
}

#[test]
fn forget_asks_and_only_yes_goes_ahead_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let db = dir.path().join("b.db");
    import(&db);
    ok(&["sync", "--server", &server.url, "--db", s(&db)]);
    // The tests' stdin is not a terminal: refused as a usage error, nothing deleted.
    for args in [
        &["forget", "--db", s(&db)][..],
        &["forget", "--local", "--db", s(&db)][..],
    ] {
        fails(&run(args), USAGE, "--yes");
        assert!(dir.path().join("b.db.client.json").exists(), "{args:?}");
    }
    let status = &ok_json(&["status", "--json", "--db", s(&db)])[0];
    assert_eq!(status["contacts"], 4, "{status}");
    let out = ok(&["forget", "--yes", "--db", s(&db)]);
    assert!(out.contains("receipt"), "{out}");
    assert!(!dir.path().join("b.db.client.json").exists());
}

#[test]
fn the_devices_own_backoff_is_not_blamed_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let db = dir.path().join("b.db");
    import(&db);
    ok(&["sync", "--server", &url, "--db", s(&db)]);
    drop(server);
    // Connection refused: retry later.
    fails(
        &run(&["sync", "--force", "--db", s(&db)]),
        LATER,
        "Connection refused",
    );
    // The next sync waits out the device's own backoff, and says it is its own.
    let err = fails(
        &run(&["sync", "--db", s(&db)]),
        LATER,
        "this device is backing off after 4 failed attempts",
    );
    assert!(!err.contains("server asked"), "{err}");
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn a_rate_limited_request_is_retry_later_and_a_refusal_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::on(s(&dir.path().join("server.db")), &["--rate-limit", "1"]);
    let db = dir.path().join("b.db");
    ok(&["register", "--server", &server.url, "--db", s(&db)]);
    // A device the app's backend did not vouch for may not invite: refused, exit 1. Every
    // request counts in the device's one-minute window: the second in a window meets 429,
    // retry later (a window that ends between two requests only starts the count again).
    let mut codes = Vec::new();
    for _ in 0..5 {
        let out = run(&["invite", "create", "--db", s(&db)]);
        let code = out.status.code();
        if code == Some(REFUSED) {
            fails(&out, REFUSED, "user_required");
        } else {
            fails(&out, LATER, "429");
        }
        codes.push(code);
    }
    assert!(codes.contains(&Some(REFUSED)), "{codes:?}");
    assert!(codes.contains(&Some(LATER)), "{codes:?}");

    // An unknown admin token is refused; the right one is not.
    for (token, code) in [("wrong-token-wrong-token", Some(REFUSED)), (ADMIN, Some(0))] {
        let out = run(&[
            "admin",
            "key",
            "list",
            "--server",
            &server.url,
            "--admin-token",
            token,
        ]);
        assert_eq!(out.status.code(), code, "{}", text(&out.stderr));
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let out = ok(&["--help"]);
    for line in [
        "0   success",
        "1   refused",
        "2   unusable",
        "75  retry later",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
}

#[cfg(unix)]
#[test]
fn the_device_database_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    import(&db);
    let mode = std::fs::metadata(&db).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[test]
fn status_tells_the_server_the_next_check_the_backoff_and_what_the_quota_deferred() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::on(s(&dir.path().join("server.db")), &["--daily-quota", "4"]);
    let url = server.url.clone();
    let db = dir.path().join("b.db");
    import(&db);
    let before = ok(&["status", "--db", s(&db)]);
    assert!(before.contains("not registered"), "{before}");
    // 10 identifiers, 4 a day: 6 wait for the quota.
    let report = &ok_json(&["sync", "--json", "--server", &url, "--db", s(&db)])[0];
    assert_eq!(report["deferred"], 6, "{report}");
    let status = &ok_json(&["status", "--json", "--db", s(&db)])[0];
    // The engine's keys as before, and the schedule's.
    for key in [
        "contacts",
        "pending_add",
        "acknowledged",
        "key_id",
        "full_resync",
        "db",
    ] {
        assert!(status.get(key).is_some(), "{key}: {status}");
    }
    assert_eq!(status["server"], url.as_str(), "{status}");
    assert_eq!(status["deferred"], 6, "{status}");
    assert_eq!(status["deferred_reason"], "daily_quota", "{status}");
    assert!(status["deferred_until"].as_i64().unwrap() > 0, "{status}");
    assert!(status["next_check_at"].as_i64().unwrap() > 0, "{status}");
    assert_eq!(status["backoff_until"], serde_json::Value::Null, "{status}");
    let text = ok(&["status", "--db", s(&db)]);
    for words in [
        url.as_str(),
        "next check      ",
        "backoff         none",
        "6 identifiers wait for the server's daily quota",
    ] {
        assert!(text.contains(words), "{words:?} not in:\n{text}");
    }

    // The server goes away; a sync fails: the backoff is the device's own, with its attempts.
    drop(server);
    run(&["sync", "--force", "--db", s(&db)]);
    let status = &ok_json(&["status", "--json", "--db", s(&db)])[0];
    assert_eq!(status["backoff_attempts"], 4, "{status}");
    let text = ok(&["status", "--db", s(&db)]);
    assert!(
        text.contains("this device's own, after 4 failed attempts in a row"),
        "{text}"
    );
}
