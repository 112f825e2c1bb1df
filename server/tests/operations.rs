//! The operator's endpoints, on both backends: `GET /healthz` (the process answers),
//! `GET /readyz` (the storage answers, at this server's schema version), both without a token;
//! the admin token stored in the database and its rotation (`POST /v1/admin/token`).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

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

on_each_backend! {
    /// The admin token stored in the database: none at first (every admin call refused), one
    /// stored by the operator, then rotated through the API, which revokes the old one. A client
    /// token can never rotate it; a server configured with a token of its own refuses to.
    fn the_stored_admin_token_rotates(backend) {
        let t = TestServer::with_on(backend, |c| {
            c.admin_token = None;
            c.open_registration = true;
        });
        assert!(t.server.needs_admin_token());
        let api = &t.api;
        api.get("/v1/admin/keys", Some(common::ADMIN)).expect_error(401, "unauthorized");
        api.post("/v1/admin/token", None, &serde_json::json!({})).expect_error(401, "unauthorized");

        let storage = t.db.database().open().unwrap();
        let first = contactsync_server::rotate_admin_token(storage.as_ref(), 0).unwrap();
        assert!(contactsync_server::has_stored_admin_token(storage.as_ref()).unwrap());
        api.get("/v1/admin/keys", Some(&first)).expect(200);

        let (_, device) = api.register();
        api.post("/v1/admin/token", Some(&device), &serde_json::json!({}))
            .expect_error(403, "forbidden");
        let second = api.post("/v1/admin/token", Some(&first), &serde_json::json!({})).expect(200);
        let second = second["admin_token"].as_str().unwrap().to_owned();
        assert_ne!(second, first);
        api.get("/v1/admin/keys", Some(&first)).expect_error(401, "unauthorized");
        api.get("/v1/admin/keys", Some(&second)).expect(200);
        // The admin token is no device token.
        api.post("/v1/batches", Some(&second), &serde_json::json!({})).expect_error(403, "forbidden");
        // Only a digest is stored.
        let db = open_db(&t.db);
        assert_eq!(db.count("SELECT count(*) FROM admin_tokens"), 1);
        assert!(!db.dump(&[]).contains(&second));

        let configured = TestServer::on(backend);
        assert!(!configured.server.needs_admin_token());
        configured
            .api
            .post("/v1/admin/token", Some(common::ADMIN), &serde_json::json!({}))
            .expect_error(403, "forbidden");
    }
}
