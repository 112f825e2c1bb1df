//! Registration: open (`POST /v1/clients`) and vouched (`POST /v1/admin/clients`), and the
//! config a registered device reads.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::common;
use crate::common::{ADMIN, TestServer};

on_each_backend! {
    fn registration_and_config(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        assert!(api.url_is_loopback());

        let v = api.post("/v1/clients", None, &json!({})).expect(201);
        let (client_id, token) = (
            v["client_id"].as_str().unwrap(),
            v["token"].as_str().unwrap(),
        );
        assert!(
            client_id.starts_with("c_") && token.starts_with("t_"),
            "{v}"
        );
        assert!(v.get("user_ref").is_none(), "{v}");
        // No body at all is `{}` too; an unknown field is refused.
        assert_eq!(api.send("POST", "/v1/clients", None, None).status, 201);
        api.post("/v1/clients", None, &json!({"user_ref": "u_1"}))
            .expect_error(400, "malformed");

        let reply = api.get("/v1/config", Some(token));
        // The config carries the hash key: no HTTP cache on the device or on the way may keep it.
        assert_eq!(reply.cache_control.as_deref(), Some("no-store"));
        let config = reply.expect(200);
        assert!(config["key_id"].as_str().unwrap().starts_with("k_"));
        let key = URL_SAFE_NO_PAD
            .decode(config["key"].as_str().unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(config["hash"], "hmac-sha256");
        assert_eq!(config["context"], "contactsync-v1");
        assert_eq!(
            config["limits"],
            json!({"max_batch": 2000, "max_body_bytes": 262_144, "daily_new_identifiers": 100_000,
                   "remaining_today": 100_000, "check_interval_s": 86_400, "requests_per_minute": 120})
        );
        // The admin token reads the config too (business match hashes with it); same key.
        let admin = api.get("/v1/config", Some(ADMIN)).expect(200);
        assert_eq!(admin["key"], config["key"]);

        let refused = api.get("/v1/config", None);
        assert_eq!(refused.cache_control.as_deref(), Some("no-store"));
        refused.expect_error(401, "unauthorized");
        api.get("/v1/config", Some("t_not-a-token"))
            .expect_error(401, "unauthorized");
    }
}

on_each_backend! {
    fn vouching_and_closed_registration(backend) {
        let t = TestServer::with_on(backend, |c| c.open_registration = false);
        let api = &t.api;
        api.post("/v1/clients", None, &json!({}))
            .expect_error(403, "forbidden");

        let (_, token) = api.vouch("u_1042");
        // A client token may not use the admin API; no token or a wrong one is unauthorized.
        api.post(
            "/v1/admin/clients",
            Some(&token),
            &json!({"user_ref": "u_1"}),
        )
        .expect_error(403, "forbidden");
        api.post("/v1/admin/clients", None, &json!({"user_ref": "u_1"}))
            .expect_error(401, "unauthorized");
        api.post(
            "/v1/admin/clients",
            Some("nope"),
            &json!({"user_ref": "u_1"}),
        )
        .expect_error(401, "unauthorized");
        for bad in [
            json!({"user_ref": ""}),
            json!({"user_ref": "u".repeat(129)}),
            json!({"user_ref": "u\u{e9}"}),
            json!({}),
            json!({"user_ref": "u", "x": 1}),
        ] {
            api.post("/v1/admin/clients", Some(ADMIN), &bad)
                .expect_error(400, "malformed");
        }
        // The admin token is not a client.
        api.post("/v1/batches", Some(ADMIN), &json!({}))
            .expect_error(403, "forbidden");
    }
}

trait Loopback {
    fn url_is_loopback(&self) -> bool;
}

impl Loopback for common::Api {
    fn url_is_loopback(&self) -> bool {
        self.base.starts_with("http://127.0.0.1:")
    }
}
