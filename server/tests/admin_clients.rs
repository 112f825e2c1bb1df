//! `DELETE /v1/admin/clients/{client_id}`: the app's backend deletes a device as the device's own
//! `DELETE /v1/client` would — its set, batch answers and invites, with a receipt — and its token
//! stops working; on both storage backends.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

#[macro_use]
mod common;

use common::{ADMIN, TestServer, delta, fakes};
use serde_json::json;

on_each_backend! {
    fn the_backend_revokes_a_device(backend) {
        let t = TestServer::on(backend);
        let (client_id, token) = t.api.vouch("u_lost_phone");
        let key = t.api.key(&token);
        let hashes: Vec<String> = fakes(1, 0..5)
            .iter()
            .map(|c| common::hash(&key, contactsync_core::IdentifierKind::Email, c))
            .collect();
        t.api.batch(&token, &delta("b1", &key, &hashes, &[])).expect(200);
        t.api.post("/v1/invites", Some(&token), &json!({})).expect(201);
        let (other_id, other) = t.api.register();
        let path = format!("/v1/admin/clients/{client_id}");

        // Only the admin token may: the device's own token is not one.
        t.api.delete(&path, Some(&token)).expect_error(403, "forbidden");
        t.api.delete(&path, None).expect_error(401, "unauthorized");

        let receipt = t.api.delete(&path, Some(ADMIN)).expect(200);
        assert_eq!(receipt["client_id"], client_id.as_str(), "{receipt}");
        assert!(receipt["receipt_id"].as_str().unwrap().starts_with("r_"), "{receipt}");
        assert_eq!(receipt["deleted"]["hashes"], 5, "{receipt}");
        assert_eq!(receipt["deleted"]["invites"], 1, "{receipt}");

        // Its token is dead; the client is unknown now; another device is untouched.
        t.api.get("/v1/config", Some(&token)).expect_error(401, "unauthorized");
        t.api.delete(&path, Some(ADMIN)).expect_error(404, "not_found");
        t.api
            .delete("/v1/admin/clients/c_nobody", Some(ADMIN))
            .expect_error(404, "not_found");
        t.api.get("/v1/config", Some(&other)).expect(200);
        assert_ne!(other_id, client_id);
    }
}
