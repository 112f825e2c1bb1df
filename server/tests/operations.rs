//! The operator's endpoints, on both backends: `GET /healthz` (the process answers) and
//! `GET /readyz` (the storage answers, at this server's schema version), both without a token.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

#[macro_use]
mod common;

use common::{Backend, TestServer, open_db};

on_each_backend! {
    fn health_and_readiness(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        assert_eq!(api.get("/healthz", None).expect(200)["status"], "ok");
        assert_eq!(api.get("/readyz", None).expect(200)["status"], "ready");

        // Another instance migrated the database further: this one is alive, not ready.
        let conn = open_db(&t.db);
        conn.execute(match backend {
            Backend::Sqlite => "PRAGMA user_version = 999",
            Backend::Postgres => "UPDATE contactsync_schema SET version = 999",
        });
        assert_eq!(api.get("/healthz", None).expect(200)["status"], "ok");
        let not_ready = api.get("/readyz", None);
        assert_eq!(not_ready.status, 503);
        assert_eq!(not_ready.json()["status"], "unavailable");
        assert!(!not_ready.text().contains("999"), "no detail in an unauthenticated answer");
    }
}

/// The server's database holds the hashing keys: a new file and its WAL files are its owner's
/// only (mode 0600), whatever the umask.
#[cfg(unix)]
#[test]
fn a_new_sqlite_database_is_private() {
    use std::os::unix::fs::PermissionsExt;

    let t = TestServer::on(Backend::Sqlite);
    t.api.register();
    let path = t.db.sqlite_path().unwrap().to_owned();
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(meta) = std::fs::metadata(&file) {
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "the database and its WAL");
}
