//! Admin endpoints, on both storage backends: `DELETE /v1/admin/clients/{client_id}` (the app's
//! backend deletes a device as the device's own `DELETE /v1/client` would — its set, batch answers
//! and invites, with a receipt — and its token stops working), and `GET /v1/admin/users` (pages
//! of references and discoverable flags, never an identifier or a hash).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

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

on_each_backend! {
    fn users_are_listed_a_page_at_a_time(backend) {
        let t = TestServer::on(backend);
        let mut expected = Vec::new();
        for i in 0..7 {
            let user_ref = format!("u_{i:02}");
            t.api.put_user(&user_ref, &[("email", &format!("p{i}@example.org"))], i % 3 != 0);
            expected.push((user_ref, i % 3 != 0));
        }
        // No admin token, a client's token, a bad query: refused.
        t.api.get("/v1/admin/users", None).expect_error(401, "unauthorized");
        let (_, token) = t.api.register();
        t.api.get("/v1/admin/users", Some(&token)).expect_error(403, "forbidden");
        for bad in ["limit=0", "limit=x", "after=", "since=1", "limit=2&limit=3"] {
            t.api
                .get(&format!("/v1/admin/users?{bad}"), Some(ADMIN))
                .expect_error(400, "malformed");
        }

        // Pages of 3 walk every user once, in order, and say where the next page starts.
        let mut seen = Vec::new();
        let mut path = "/v1/admin/users?limit=3".to_owned();
        let mut pages = 0;
        loop {
            let page = t.api.get(&path, Some(ADMIN)).expect(200);
            pages += 1;
            for u in page["users"].as_array().unwrap() {
                // References and flags only: never an identifier or a hash.
                assert_eq!(u.as_object().unwrap().len(), 2, "{u}");
                seen.push((
                    u["user_ref"].as_str().unwrap().to_owned(),
                    u["discoverable"].as_bool().unwrap(),
                ));
            }
            match page["next"].as_str() {
                Some(next) => path = format!("/v1/admin/users?limit=3&after={next}"),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected);
        // Without a limit, one page holds them all.
        let all = t.api.get("/v1/admin/users", Some(ADMIN)).expect(200);
        assert_eq!(all["users"].as_array().unwrap().len(), 7);
        assert!(all.get("next").is_none(), "{all}");
    }
}
