//! A backup taken while the server serves, restored and served again, once per backend: SQLite
//! through `contactsync server-backup` (the online backup API), PostgreSQL through `pg_dump -Fc`
//! and `pg_restore` — the commands docs/deployment.md gives.
//!
//! The server has users, a device and its matches; while a stream of registrations and user
//! changes runs, the backup is taken. A server on the restored copy, at the same address, then
//! has everything acknowledged before the backup began: the device's credential still works and
//! it syncs, a new device finds the same matches, the hashing keys are the same, every user put
//! before the backup is there, and an admin call succeeds.
//!
//! The PostgreSQL half needs the tests' server (server/tests/common/postgres.rs) and `pg_dump`:
//! skipped visibly without them, never on CI.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;
#[path = "../../server/tests/common/postgres.rs"]
mod pg;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    ADMIN, SAMPLE_MATCHES, SAMPLE_USERS, Server, cmd, import_samples_with, ok, put_users_with, run,
    s,
};
use serde_json::{Value, json};

/// Most rounds of background traffic: it stops once the backup is done, at the latest here.
const MAX_ROUNDS: usize = 2_000;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One admin request; its status and JSON answer.
fn admin(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let auth = format!("Bearer {ADMIN}");
    let mut reply = match body {
        Some(body) => agent
            .put(url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::to_vec(body).unwrap()),
        None if method == "GET" => agent.get(url).header("Authorization", &auth).call(),
        None => panic!("{method} without a body"),
    }
    .unwrap();
    let status = reply.status().as_u16();
    let bytes = reply.body_mut().read_to_vec().unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Writes while the backup runs: each round registers a device and puts a user `u_load_N`;
/// `done` counts the rounds the server acknowledged.
fn traffic(url: &str, stop: &AtomicBool, done: &AtomicUsize) {
    let agent = agent();
    for n in 0..MAX_ROUNDS {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let reply = agent
            .post(format!("{url}/v1/clients"))
            .header("Content-Type", "application/json")
            .send(b"{}".as_slice())
            .unwrap();
        assert_eq!(reply.status(), 201, "registration during the backup");
        let user = json!({"discoverable": true,
            "identifiers": [{"kind": "email", "value": format!("load{n}@example.org")}]});
        let (status, answer) = admin(
            &agent,
            "PUT",
            &format!("{url}/v1/admin/users/u_load_{n}"),
            Some(&user),
        );
        assert_eq!(status, 200, "{answer}");
        done.store(n + 1, Ordering::SeqCst);
    }
}

/// The hashing keys' ids and states (`GET /v1/admin/keys`).
fn keys(agent: &ureq::Agent, url: &str) -> Vec<(Value, Value)> {
    let (status, answer) = admin(agent, "GET", &format!("{url}/v1/admin/keys"), None);
    assert_eq!(status, 200, "{answer}");
    answer["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key_id"].clone(), k["state"].clone()))
        .collect()
}

/// A sync that must succeed; its JSON report.
fn sync(url: &str, db: &Path) -> Value {
    let out = ok(&["sync", "--json", "--force", "--server", url, "--db", s(db)]);
    serde_json::from_str(&out).unwrap()
}

/// The scenario, on the database `db`: `backup` copies it while the server serves, `restore`
/// makes a fresh database from the copy and returns its `--db`.
fn backup_while_serving_then_restore(
    db: &str,
    backup: impl FnOnce(),
    restore: impl FnOnce() -> String,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::on(db, &[]);
    let url = server.url.clone();
    let port = url.rsplit(':').next().unwrap().to_owned();
    put_users_with(cmd, &url, SAMPLE_USERS);
    let device = dir.path().join("device.db");
    import_samples_with(&mut cmd(), &device);
    assert_eq!(sync(&url, &device)["new_matches"], 3);
    let agent = agent();
    let before = keys(&agent, &url);
    assert_eq!(before.len(), 1, "{before:?}");

    // The backup, while devices register and users change.
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let acknowledged = std::thread::scope(|scope| {
        let load = scope.spawn(|| traffic(&url, &stop, &done));
        let started = Instant::now();
        while done.load(Ordering::SeqCst) < 5 && !load.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(60), "no traffic");
            std::thread::sleep(Duration::from_millis(10));
        }
        let acknowledged = done.load(Ordering::SeqCst);
        backup();
        stop.store(true, Ordering::SeqCst);
        load.join().unwrap();
        acknowledged
    });
    assert!(acknowledged >= 5, "the traffic stopped early");
    drop(server);

    // The restored database, served at the same address (the device's credential names it).
    let restored = restore();
    let server = Server::listening(&restored, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(server.url, url);
    let ready = agent.get(format!("{url}/readyz")).call().unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(keys(&agent, &url), before, "the hashing keys");
    for n in 0..acknowledged {
        let (status, user) = admin(
            &agent,
            "GET",
            &format!("{url}/v1/admin/users/u_load_{n}"),
            None,
        );
        assert_eq!(
            status, 200,
            "u_load_{n}, put before the backup began: {user}"
        );
    }
    // The device is still registered: it syncs and keeps its matches.
    let report = sync(&url, &device);
    assert_eq!(report["lost_matches"], 0, "{report}");
    let matches = ok(&["matches", "--db", s(&device)]);
    for name in SAMPLE_MATCHES {
        assert!(matches.contains(name), "{name}:\n{matches}");
    }
    // A new device finds the same matches.
    let newcomer = dir.path().join("newcomer.db");
    import_samples_with(&mut cmd(), &newcomer);
    assert_eq!(sync(&url, &newcomer)["new_matches"], 3);
    // The admin API works on the restored database.
    put_users_with(cmd, &url, &[("u_after", &["email:after@example.org"])]);
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn sqlite_backup_while_serving_restores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let copy = dir.path().join("backups").join("server-copy.db");
    std::fs::create_dir(copy.parent().unwrap()).unwrap();
    let restored = dir.path().join("restored").join("server.db");
    std::fs::create_dir(restored.parent().unwrap()).unwrap();
    backup_while_serving_then_restore(
        s(&db),
        || {
            let out = ok(&["server-backup", "--db", s(&db), "--to", s(&copy)]);
            assert!(out.contains("integrity ok"), "{out}");
            // One self-contained file: nothing of it is left in a -wal beside it.
            let wal = dir.path().join("backups").join("server-copy.db-wal");
            assert!(!wal.exists());
            #[cfg(unix)]
            assert_eq!(mode(&copy), 0o600, "the copy holds the hashing keys");
            // An existing file is kept unless --force is given.
            let again = run(&["server-backup", "--db", s(&db), "--to", s(&copy)]);
            assert_eq!(again.status.code(), Some(2));
            assert!(common::text(&again.stderr).contains("--force"));
        },
        || {
            // Restoring is the same command, from the copy to the stopped server's path.
            ok(&["server-backup", "--db", s(&copy), "--to", s(&restored)]);
            #[cfg(unix)]
            assert_eq!(mode(&restored), 0o600);
            s(&restored).to_owned()
        },
    );
}

/// Whether `pg_dump` and `pg_restore` are installed (if not, the test is skipped, not on CI).
fn pg_tools() -> bool {
    let found = ["pg_dump", "pg_restore"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").output().is_ok());
    if !found {
        common::skip_without("pg_dump or pg_restore", "Debian: postgresql-client");
    }
    found
}

/// Runs a PostgreSQL tool to success; it gives up on a connection after 10 s, a lock after 30 s
/// and a statement after 2 minutes, so the test cannot hang on it.
fn pg_tool(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .env(
            "PGOPTIONS",
            "-c lock_timeout=30000 -c statement_timeout=120000",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        common::text(&out.stderr)
    );
}

#[test]
fn postgres_dump_while_serving_restores() {
    if !pg::available() || !pg_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("contactsync.dump");
    let live = pg::TempDatabase::new("backup_live");
    let fresh = pg::TempDatabase::new("backup_restored");
    backup_while_serving_then_restore(
        &live.url,
        || pg_tool("pg_dump", &["-Fc", "-f", s(&dump), "--dbname", &live.url]),
        || {
            pg_tool(
                "pg_restore",
                &[
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    "--dbname",
                    &fresh.url,
                    s(&dump),
                ],
            );
            fresh.url.clone()
        },
    );
}

#[test]
fn server_backup_refuses_what_it_cannot_copy_safely() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let device = p("device.db");
    import_samples_with(&mut cmd(), &device);
    std::fs::write(p("junk.db"), "not a database").unwrap();
    let server = Server::start(dir.path());
    let db = p("server.db");
    ok(&["server-backup", "--db", s(&db), "--to", s(&p("copy.db"))]);
    std::fs::write(p("busy.db"), "").unwrap();
    std::fs::write(p("busy.db-wal"), "").unwrap();
    // (--db, --to, --force, what the refusal says)
    for (db, to, force, expected) in [
        ("postgres://u@127.0.0.1/db", "x.db", false, "pg_dump"),
        (s(&p("missing.db")), "x.db", false, "no such database file"),
        (s(&p("junk.db")), "x.db", false, "not a database"),
        (
            s(&device),
            "x.db",
            false,
            "not a contactsync server database",
        ),
        (s(&db), s(&db), true, "is the database itself"),
        (s(&db), s(&p("busy.db")), true, "busy.db-wal exists"),
        (s(&db), s(&p("copy.db")), false, "--force replaces it"),
    ] {
        let to = dir.path().join(to);
        let mut args = vec!["server-backup", "--db", db, "--to", s(&to)];
        if force {
            args.push("--force");
        }
        let out = run(&args);
        let err = common::text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{db} -> {}: {err}",
            to.display()
        );
        assert!(err.contains(expected), "{db}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    drop(server);
    // Nothing but what the test made: no temporary copy left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".contactsync-backup-"))
        .collect();
    names.sort();
    assert!(names.is_empty(), "{names:?}");
}
