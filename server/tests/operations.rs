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
