//! Activating the next key never loses users silently: it reports what is registered under each
//! key and refuses while a user has fewer identifiers under the next one, unless forced; and the
//! operator has what the re-registration needs — a bulk upsert, a user's kinds per key, counts
//! per key. (Activation once answered "is now current" and every user not re-registered was found
//! by nobody.)

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use common::{ADMIN, TestServer, delta, hash, open_db};
use contactsync_core::IdentifierKind::{Email, Phone};
use serde_json::{Value, json};

/// The app's users: each a phone, two also an e-mail.
const USERS: [(&str, &str, Option<&str>); 4] = [
    ("u_1", "+4915123456781", Some("one@example.org")),
    ("u_2", "+4915123456782", None),
    ("u_3", "+4915123456783", Some("three@example.org")),
    ("u_4", "+4915123456784", None),
];

fn entry(i: usize) -> Value {
    let (user_ref, phone, email) = USERS[i];
    let mut ids = vec![json!({"kind": "phone", "value": phone})];
    if let Some(e) = email {
        ids.push(json!({"kind": "email", "value": e}));
    }
    json!({"user_ref": user_ref, "identifiers": ids})
}

fn bulk(t: &TestServer, users: &[usize]) -> common::Reply {
    let users: Vec<Value> = users.iter().map(|&i| entry(i)).collect();
    t.api
        .post("/v1/admin/users", Some(ADMIN), &json!({ "users": users }))
}

fn activate(t: &TestServer, key_id: &str, body: &Value) -> common::Reply {
    t.api.post(
        &format!("/v1/admin/keys/{key_id}/activate"),
        Some(ADMIN),
        body,
    )
}

/// `POST /v1/admin/keys`: the next key's id.
fn rotate(t: &TestServer) -> String {
    let v = t
        .api
        .post("/v1/admin/keys", Some(ADMIN), &json!({}))
        .expect(201);
    v["key_id"].as_str().unwrap().to_owned()
}

fn keys(t: &TestServer) -> Value {
    t.api.get("/v1/admin/keys", Some(ADMIN)).expect(200)["keys"].clone()
}

on_each_backend! {
    fn activation_refuses_while_users_would_be_lost(backend) {
        let t = TestServer::on(backend);
        assert_eq!(
            bulk(&t, &[0, 1, 2, 3]).expect(200),
            json!({"users": 4, "identifiers": 6})
        );
        let next = rotate(&t);
        // Only two users are registered again before the activation.
        bulk(&t, &[0, 1]).expect(200);
        let listed = keys(&t);
        assert_eq!(
            (&listed[0]["users"], &listed[0]["identifiers"]),
            (&json!(4), &json!(6))
        );
        assert_eq!(
            (
                &listed[1]["key_id"],
                &listed[1]["users"],
                &listed[1]["identifiers"]
            ),
            (&json!(next), &json!(2), &json!(3))
        );

        let refused = activate(&t, &next, &json!({})).expect_error(409, "key_incomplete");
        assert_eq!(
            refused["coverage"],
            json!({"users_current": 4, "users_next": 2, "identifiers_current": 6,
                   "identifiers_next": 3, "users_short": 2})
        );
        // An empty body is no force either, and nothing changed.
        let empty = t.api.send(
            "POST",
            &format!("/v1/admin/keys/{next}/activate"),
            Some(ADMIN),
            Some(b""),
        );
        empty.expect_error(409, "key_incomplete");
        assert_eq!(keys(&t)[1]["state"], "next");

        // A user registered again with fewer identifiers than before is complete (the current key's
        // hashes are replaced too); one not registered again is short.
        t.api.put_user("u_3", &[("phone", "+4915123456783")], true);
        let refused = activate(&t, &next, &json!({"force": false})).expect_error(409, "key_incomplete");
        assert_eq!(refused["coverage"]["users_short"], 1);

        // What the operator sees of a short user: kinds per key, never a value or a hash.
        let info = t.api.get("/v1/admin/users/u_4", Some(ADMIN));
        let v = info.expect(200);
        assert_eq!(v["keys"][0]["identifiers"], 1);
        assert_eq!(v["keys"][0]["kinds"], json!({"phone": 1}));
        assert_eq!(
            (&v["keys"][1]["key_id"], &v["keys"][1]["identifiers"]),
            (&json!(next), &json!(0))
        );
        assert!(!info.text().contains("+49"), "{}", info.text());
        let v = t.api.get("/v1/admin/users/u_1", Some(ADMIN)).expect(200);
        assert_eq!(v["keys"][1]["kinds"], json!({"email": 1, "phone": 1}));
        assert_eq!(v["discoverable"], true);
        t.api
            .get("/v1/admin/users/u_nobody", Some(ADMIN))
            .expect_error(404, "not_found");

        // Everyone registered again: activation goes through and reports the counts.
        bulk(&t, &[3]).expect(200);
        let done = activate(&t, &next, &json!({})).expect(200);
        assert_eq!(done["forced"], false);
        assert_eq!(done["coverage"]["users_short"], 0);
        assert_eq!(done["coverage"]["users_next"], 4);
        assert_eq!(
            keys(&t),
            json!([{"key_id": next, "state": "current", "users": 4, "identifiers": 5}])
        );

        // Every user is still found under the new key.
        let (_, token) = t.api.register();
        let key = t.api.key(&token);
        let hashes: Vec<String> = USERS.iter().map(|(_, p, _)| hash(&key, Phone, p)).collect();
        let v = t
            .api
            .batch(&token, &delta("b_1", &key, &hashes, &[]))
            .expect(200);
        assert_eq!(v["matches"].as_array().unwrap().len(), 4);
    }
}

on_each_backend! {
    fn a_forced_activation_loses_the_users_not_registered_again(backend) {
        let t = TestServer::on(backend);
        bulk(&t, &[0, 1]).expect(200);
        let next = rotate(&t);
        bulk(&t, &[0]).expect(200);
        let done = activate(&t, &next, &json!({"force": true})).expect(200);
        assert_eq!(done["forced"], true);
        assert_eq!(done["coverage"]["users_short"], 1);
        let (_, token) = t.api.register();
        let key = t.api.key(&token);
        let v = t
            .api
            .batch(
                &token,
                &delta(
                    "b_1",
                    &key,
                    &[
                        hash(&key, Phone, USERS[0].1),
                        hash(&key, Phone, USERS[1].1),
                        hash(&key, Email, "one@example.org"),
                    ],
                    &[],
                ),
            )
            .expect(200);
        let found: Vec<&str> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_ref"].as_str().unwrap())
            .collect();
        assert_eq!(found, ["u_1", "u_1"]);
    }
}

on_each_backend! {
    fn a_bulk_upsert_is_all_or_nothing_and_checked(backend) {
        let t = TestServer::with_limits_on(backend, contactsync_server::LimitsConfig {
            max_batch: 4,
            ..contactsync_server::LimitsConfig::default()
        });
        let bad = |users: Value| {
            t.api
                .post("/v1/admin/users", Some(ADMIN), &json!({ "users": users }))
        };
        // One invalid entry: nothing is registered, and the message names the place, not the value.
        let e = bad(json!([entry(0), {"user_ref": "u_x", "identifiers": [{"kind": "phone", "value": "0151 2345678"}]}]))
            .expect_error(400, "malformed");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("users[1].identifiers[0]"), "{message}");
        assert!(!message.contains("0151"), "{message}");
        assert_eq!(
            common::count(&open_db(&t.db), "SELECT count(*) FROM users"),
            0
        );
        bad(json!([entry(1), entry(1)])).expect_error(400, "malformed");
        bad(json!([{"user_ref": "", "identifiers": []}])).expect_error(400, "malformed");
        bad(json!([entry(0), entry(1), entry(2)])).expect_error(413, "too_large");
        bad(json!([entry(0), entry(1), entry(3)])).expect(200);
        // Only the admin token.
        let (_, token) = t.api.register();
        t.api
            .post("/v1/admin/users", Some(&token), &json!({"users": []}))
            .expect_error(403, "forbidden");
        t.api
            .get("/v1/admin/users/u_1", Some(&token))
            .expect_error(403, "forbidden");
        // Kinds are stored with the hashes, never values.
        let conn = open_db(&t.db);
        assert_eq!(
            common::count(
                &conn,
                "SELECT count(*) FROM user_hashes WHERE kind = 'email'"
            ),
            1
        );
    }
}
