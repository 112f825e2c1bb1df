//! Every endpoint of docs/protocol.md against a real server on loopback: the happy paths and
//! each error code, as a device and as the app's backend see them.

// Test code: a failed expectation is a failed test; a scenario reads best as one function.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::cloned_ref_to_slice_refs,
    clippy::similar_names,
    reason = "tests"
)]

#[macro_use]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN, TestServer, delta, fake, fakes, full, hash, pairs};
use contactsync_core::IdentifierKind::{Email, Invite, Phone};
use contactsync_core::identifier::invite;
use contactsync_server::LimitsConfig;
use serde_json::json;

#[test]
fn defaults_are_the_protocols() {
    let l = LimitsConfig::default();
    assert_eq!(
        (
            l.max_batch,
            l.max_body_bytes,
            l.daily_new_identifiers,
            l.check_interval_s,
            l.requests_per_minute,
            l.max_set_size
        ),
        (2000, 262_144, 100_000, 86_400, 120, 100_000)
    );
    let c = contactsync_server::ServerConfig::new(
        std::path::Path::new("x.db"),
        ([127, 0, 0, 1], 0).into(),
        ADMIN,
    );
    // Registration is vouched by the app's backend unless opened on purpose.
    assert!(!c.open_registration);
    assert!(c.trusted_proxies.is_empty());
    let r = c.registration;
    assert_eq!(
        (
            r.per_ip_burst,
            r.per_ip_per_hour,
            r.global_per_minute,
            r.identifiers_per_ip_per_day,
            r.identifiers_global_per_day,
            r.unsynced_client_ttl.as_secs()
        ),
        (5, 1, 60, 50_000, 1_000_000, 86_400)
    );
    assert_eq!(c.public_url, None);
    assert!(
        !format!("{c:?}").contains(ADMIN),
        "Debug prints the admin token"
    );
}

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

on_each_backend! {
    fn batches_add_remove_full_and_match(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        api.put_user(
            "u_1042",
            &[("phone", "+4915123456789"), ("email", "ana@example.org")],
            true,
        );
        let phone = hash(&key, Phone, "+4915123456789");
        let email = hash(&key, Email, "ana@example.org");
        let other = fake(1, 1);

        let v = api
            .batch(
                &token,
                &delta("b_1", &key, &[phone.clone(), other.clone()], &[]),
            )
            .expect(200);
        assert_eq!(v["batch_id"], "b_1");
        assert_eq!(v["key_id"], key.id());
        assert_eq!(
            (v["added"].as_u64(), v["removed"].as_u64()),
            (Some(2), Some(0))
        );
        assert_eq!(
            pairs(&v["matches"]),
            vec![(phone.clone(), "u_1042".to_owned())]
        );
        assert_eq!(v["remaining_today"], 99_998);

        // Adding what the set holds adds nothing and costs nothing; removing what it lacks removes
        // nothing.
        let v = api
            .batch(
                &token,
                &delta("b_2", &key, &[phone.clone()], &[other.clone(), fake(1, 9)]),
            )
            .expect(200);
        assert_eq!(
            (v["added"].as_u64(), v["removed"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(
            pairs(&v["matches"]).len(),
            1,
            "matches are authoritative for every add"
        );
        assert_eq!(v["remaining_today"], 99_998);

        // Full: the set becomes `add`; what it held and `add` lacks is removed.
        let v = api
            .batch(&token, &full("b_3", &key, &[email.clone(), fake(1, 2)]))
            .expect(200);
        assert_eq!(
            (v["added"].as_u64(), v["removed"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(pairs(&v["matches"]), vec![(email, "u_1042".to_owned())]);
        assert_eq!(v["remaining_today"], 99_996);

        let with_remove = json!({"batch_id": "b_4", "key_id": key.id(), "mode": "full",
                                 "add": [], "remove": [fake(1, 2)]});
        api.batch(&token, &with_remove)
            .expect_error(400, "malformed");
        // add and remove may be left out.
        let bare = json!({"batch_id": "b_5", "key_id": key.id(), "mode": "delta"});
        api.batch(&token, &bare).expect(200);
    }
}

on_each_backend! {
    fn batch_validation(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            max_batch: 10,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let h = fake(2, 1);
        let mut non_canonical = h.clone();
        non_canonical.pop();
        non_canonical.push('B'); // the last character's spare bits set: another spelling
        let bad_hashes = [
            h[..21].to_owned(),
            format!("{h}="),
            non_canonical,
            format!("{}+", &h[..21]),
            String::new(),
        ];
        for bad in &bad_hashes {
            let e = api
                .batch(&token, &delta("b_x", &key, &[bad.clone()], &[]))
                .expect_error(400, "malformed");
            assert!(!e["message"].as_str().unwrap().contains(bad.as_str()) || bad.is_empty());
        }
        api.batch(&token, &delta("b_x", &key, &[h.clone(), h.clone()], &[]))
            .expect_error(400, "malformed");
        api.batch(&token, &delta("b_x", &key, &[h.clone()], &[h.clone()]))
            .expect_error(400, "malformed");
        for id in ["", "b.1", "b 1", &"b".repeat(65), "b\u{e9}"] {
            api.batch(&token, &delta(id, &key, &[], &[]))
                .expect_error(400, "malformed");
        }
        api.batch(&token, &delta(&"b".repeat(64), &key, &[], &[]))
            .expect(200);
        let mut unknown = delta("b_y", &key, &[], &[]);
        unknown["priority"] = json!(1);
        api.batch(&token, &unknown).expect_error(400, "malformed");
        api.batch(
            &token,
            &json!({"batch_id": "b_y", "key_id": key.id(), "mode": "sometimes"}),
        )
        .expect_error(400, "malformed");
        api.send(
            "POST",
            "/v1/batches",
            Some(&token),
            Some(b"{\"batch_id\": "),
        )
        .expect_error(400, "malformed");
        api.send("POST", "/v1/batches", Some(&token), Some(b"[]"))
            .expect_error(400, "malformed");

        // More than max_batch hashes (add + remove): 413 with the limits.
        let e = api
            .batch(
                &token,
                &delta("b_z", &key, &fakes(3, 0..6), &fakes(4, 0..5)),
            )
            .expect_error(413, "too_large");
        assert_eq!(
            (e["max_batch"].as_u64(), e["max_body_bytes"].as_u64()),
            (Some(10), Some(262_144))
        );
        api.batch(
            &token,
            &delta("b_z", &key, &fakes(3, 0..5), &fakes(4, 0..5)),
        )
        .expect(200);

        // Another key id: key_rotated names the current one.
        let mut stale = delta("b_k", &key, &[h], &[]);
        stale["key_id"] = json!("k_old");
        let e = api.batch(&token, &stale).expect_error(409, "key_rotated");
        assert_eq!(e["key_id"], key.id());

        api.batch("t_unknown", &delta("b_u", &key, &[], &[]))
            .expect_error(401, "unauthorized");
    }
}

on_each_backend! {
    fn replay_and_conflict(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let body = serde_json::to_vec(&delta("b_1", &key, &fakes(5, 0..3), &[])).unwrap();
        let first = api.send("POST", "/v1/batches", Some(&token), Some(&body));
        assert_eq!(first.status, 200);
        let again = api.send("POST", "/v1/batches", Some(&token), Some(&body));
        assert_eq!(again.status, 200);
        assert_eq!(again.body, first.body, "a replay answers byte for byte");
        assert_eq!(again.json()["added"], 3);

        // The same id with another body: conflict, even one that differs only in spacing.
        api.batch(&token, &delta("b_1", &key, &fakes(5, 0..2), &[]))
            .expect_error(409, "batch_conflict");
        let mut spaced = body.clone();
        spaced.push(b' ');
        api.send("POST", "/v1/batches", Some(&token), Some(&spaced))
            .expect_error(409, "batch_conflict");
        // Batch ids are per client.
        let (_, other) = api.register();
        api.send("POST", "/v1/batches", Some(&other), Some(&body))
            .expect(200);
    }
}

on_each_backend! {
    fn quota_charges_only_new_hashes(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            daily_new_identifiers: 5,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let h = fakes(6, 0..10);

        let v = api
            .batch(&token, &delta("b_1", &key, &h[0..3], &[]))
            .expect(200);
        assert_eq!(v["remaining_today"], 2);
        // Two held, two new: 2 charged.
        let v = api
            .batch(
                &token,
                &delta(
                    "b_2",
                    &key,
                    &[h[0].clone(), h[1].clone(), h[3].clone(), h[4].clone()],
                    &[],
                ),
            )
            .expect(200);
        assert_eq!(
            (v["added"].as_u64(), v["remaining_today"].as_u64()),
            (Some(2), Some(0))
        );
        // Only held hashes: free even with nothing left.
        api.batch(&token, &delta("b_3", &key, &h[0..2], &[]))
            .expect(200);

        // Over budget: refused whole, Retry-After until the next UTC day.
        let refused = api.batch(
            &token,
            &delta("b_4", &key, &[h[0].clone(), h[5].clone()], &[h[1].clone()]),
        );
        let e = refused.expect_error(429, "too_many_requests");
        assert_eq!(e["reason"], "daily_quota");
        let wait = e["retry_after_s"].as_u64().unwrap();
        assert!((1..=86_400).contains(&wait));
        assert_eq!(
            refused.retry_after.as_deref(),
            Some(wait.to_string().as_str())
        );
        // ... and nothing of it happened: h[1] is still held (re-adding it is free), h[5] is not.
        let v = api
            .batch(&token, &delta("b_5", &key, &h[1..2], &[]))
            .expect(200);
        assert_eq!(v["added"], 0);
        // The refused batch id was not stored: the same id can carry another batch.
        api.batch(&token, &delta("b_4", &key, &[], &[h[1].clone()]))
            .expect(200);
        // A removed hash added again is new again.
        api.batch(&token, &delta("b_6", &key, &h[1..2], &[]))
            .expect_error(429, "too_many_requests");
        let config = api.get("/v1/config", Some(&token)).expect(200);
        assert_eq!(config["limits"]["remaining_today"], 0);
        // Another client has its own budget.
        let (_, other) = api.register();
        api.batch(&other, &delta("b_1", &key, &h[5..10], &[]))
            .expect(200);
    }
}

on_each_backend! {
    fn rate_limit(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            requests_per_minute: 3,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        // Fixed one-minute windows: 8 requests span at most two windows (6 allowed), whatever the
        // clock says, so at least two are refused.
        let replies: Vec<_> = (0..8)
            .map(|_| api.get("/v1/config", Some(&token)))
            .collect();
        let ok = replies.iter().filter(|r| r.status == 200).count();
        assert!((3..=6).contains(&ok), "{ok} allowed");
        let refused = replies.iter().find(|r| r.status == 429).unwrap();
        let e = refused.expect_error(429, "too_many_requests");
        assert_eq!(e["reason"], "rate");
        let wait = e["retry_after_s"].as_u64().unwrap();
        assert!((1..=60).contains(&wait));
        assert_eq!(
            refused.retry_after.as_deref(),
            Some(wait.to_string().as_str())
        );
        // Per client.
        let (_, other) = api.register();
        api.get("/v1/config", Some(&other)).expect(200);
    }
}

on_each_backend! {
    fn changes_feed(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let (_, bystander) = api.register();
        let key = api.key(&token);
        let cursor = api.cursor(&token);
        assert_eq!(cursor, "0", "a fresh server has no change");

        let phone = hash(&key, Phone, "+4915123456789");
        let email = hash(&key, Email, "bo@example.org");
        api.batch(
            &token,
            &delta("b_1", &key, &[phone.clone(), email.clone()], &[]),
        )
        .expect(200);
        api.batch(&bystander, &delta("b_1", &key, &[fake(7, 1)], &[]))
            .expect(200);

        // Ana joins with the phone; then Bo with the e-mail, then Bo hides.
        api.put_user("u_ana", &[("phone", "+4915123456789")], true);
        api.put_user("u_bo", &[("email", "bo@example.org")], true);
        let v = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&token))
            .expect(200);
        assert_eq!(
            pairs(&v["gained"]),
            [
                (email.clone(), "u_bo".to_owned()),
                (phone.clone(), "u_ana".to_owned())
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert_eq!(v["lost"], json!([]));
        assert_eq!(v["more"], false);
        let after_join = v["cursor"].as_str().unwrap().to_owned();

        api.put_user("u_bo", &[("email", "bo@example.org")], false);
        // From the first cursor: each hash once, in its latest state.
        let v = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&token))
            .expect(200);
        assert_eq!(
            pairs(&v["gained"]),
            vec![(phone.clone(), "u_ana".to_owned())]
        );
        assert_eq!(v["lost"], json!([email.clone()]));
        let v = api
            .get(&format!("/v1/changes?since={after_join}"), Some(&token))
            .expect(200);
        assert_eq!(v["gained"], json!([]));
        assert_eq!(v["lost"], json!([email]));
        let head = v["cursor"].as_str().unwrap().to_owned();
        let v = api
            .get(&format!("/v1/changes?since={head}"), Some(&token))
            .expect(200);
        assert_eq!(
            (v["gained"].clone(), v["lost"].clone(), v["cursor"].as_str()),
            (json!([]), json!([]), Some(head.as_str()))
        );

        // The bystander holds none of these hashes.
        let v = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&bystander))
            .expect(200);
        assert_eq!(
            (v["gained"].clone(), v["lost"].clone()),
            (json!([]), json!([]))
        );

        // Paging: five users, pages of two.
        let base = api.cursor(&token);
        let mut held = Vec::new();
        for i in 0..5 {
            let value = format!("user{i}@example.org");
            held.push(hash(&key, Email, &value));
        }
        api.batch(&token, &delta("b_2", &key, &held, &[]))
            .expect(200);
        for i in 0..5 {
            api.put_user(
                &format!("u_{i}"),
                &[("email", &format!("user{i}@example.org"))],
                true,
            );
        }
        let mut since = base;
        let mut seen = Vec::new();
        loop {
            let v = api
                .get(&format!("/v1/changes?since={since}&limit=2"), Some(&token))
                .expect(200);
            assert!(v["gained"].as_array().unwrap().len() <= 2);
            seen.extend(pairs(&v["gained"]));
            v["cursor"].as_str().unwrap().clone_into(&mut since);
            if v["more"] == false {
                break;
            }
        }
        assert_eq!(seen.len(), 5);

        for bad in [
            "since=x",
            "since=-1",
            "since=",
            "limit=0",
            "limit=x",
            "cursor=1",
            "since=1&since=2",
        ] {
            api.get(&format!("/v1/changes?{bad}"), Some(&token))
                .expect_error(400, "malformed");
        }
        api.get("/v1/changes", None)
            .expect_error(401, "unauthorized");
    }
}

on_each_backend! {
    fn admin_users(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let path = "/v1/admin/users/u_1042";
        let put = |body: serde_json::Value| api.put(path, Some(ADMIN), &body);

        let v = put(
            json!({"identifiers": [{"kind": "phone", "value": "+4915123456789"},
                                            {"kind": "account", "value": "google:1078543"},
                                            {"kind": "phone", "value": "+4915123456789"}]}),
        )
        .expect(200);
        assert_eq!(
            v,
            json!({"user_ref": "u_1042", "identifiers": 2}),
            "duplicates count once"
        );

        // Not canonical, not valid, unknown kind, unknown field, bad user_ref: malformed, and the
        // message never repeats the value.
        for (kind, value) in [
            ("phone", "+49 151 23456789"),
            ("email", "Ana@Example.org"),
            ("phone", "12"),
            ("fax", "+4915123456789"),
            ("Phone", "+4915123456789"),
        ] {
            let e = put(json!({"identifiers": [{"kind": kind, "value": value}]}))
                .expect_error(400, "malformed");
            assert!(!e["message"].as_str().unwrap().contains(value), "{e}");
        }
        put(json!({"identifiers": [], "extra": true})).expect_error(400, "malformed");
        put(json!({"discoverable": true})).expect_error(400, "malformed");
        let long = format!("/v1/admin/users/{}", "u".repeat(129));
        api.put(&long, Some(ADMIN), &json!({"identifiers": []}))
            .expect_error(400, "malformed");
        api.put(path, Some(&token), &json!({"identifiers": []}))
            .expect_error(403, "forbidden");
        api.put(path, None, &json!({"identifiers": []}))
            .expect_error(401, "unauthorized");

        // A device finds the user by either identifier.
        let phone = hash(&key, Phone, "+4915123456789");
        let account = hash(
            &key,
            contactsync_core::IdentifierKind::Account,
            "google:1078543",
        );
        let v = api
            .batch(
                &token,
                &delta("b_1", &key, &[phone.clone(), account.clone()], &[]),
            )
            .expect(200);
        assert_eq!(v["matches"].as_array().unwrap().len(), 2);

        // Replacing drops the phone: lost; the account stays.
        let cursor = api.cursor(&token);
        put(json!({"identifiers": [{"kind": "account", "value": "google:1078543"}]})).expect(200);
        let changes = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&token))
            .expect(200);
        assert_eq!(changes["lost"], json!([phone.clone()]));
        assert_eq!(changes["gained"], json!([]));

        // A number that moves to another user (a recycled number) moves with its matches.
        api.put_user("u_new", &[("phone", "+4915123456789")], true);
        let v = api
            .batch(&token, &delta("b_2", &key, &[phone.clone()], &[]))
            .expect(200);
        assert_eq!(
            pairs(&v["matches"]),
            vec![(phone.clone(), "u_new".to_owned())]
        );

        // A user who leaves is lost to every device holding its hashes.
        let cursor = api.cursor(&token);
        let v = api.delete(path, Some(ADMIN)).expect(200);
        assert_eq!(v, json!({"user_ref": "u_1042", "identifiers": 1}));
        let changes = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&token))
            .expect(200);
        assert_eq!(changes["lost"], json!([account]));
        // Deleting again is not an error (a backend's retry).
        assert_eq!(api.delete(path, Some(ADMIN)).expect(200)["identifiers"], 0);
        api.delete(path, Some(&token))
            .expect_error(403, "forbidden");
    }
}

on_each_backend! {
    fn admin_match(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            max_batch: 4,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let key = api.key(ADMIN);
        api.put_user("u_1", &[("email", "one@example.org")], true);
        api.put_user("u_2", &[("email", "two@example.org")], false);
        let one = hash(&key, Email, "one@example.org");
        let two = hash(&key, Email, "two@example.org");
        let request =
            json!({"key_id": key.id(), "hashes": [one.clone(), two, fake(8, 1), one.clone()]});
        let v = api
            .post("/v1/admin/match", Some(ADMIN), &request)
            .expect(200);
        assert_eq!(v["key_id"], key.id());
        assert_eq!(
            v["matches"],
            json!([{"hash": one, "user_ref": "u_1"}]),
            "not discoverable: hidden"
        );

        api.post(
            "/v1/admin/match",
            Some(ADMIN),
            &json!({"key_id": key.id(), "hashes": fakes(8, 0..5)}),
        )
        .expect_error(413, "too_large");
        let e = api
            .post(
                "/v1/admin/match",
                Some(ADMIN),
                &json!({"key_id": "k_old", "hashes": []}),
            )
            .expect_error(409, "key_rotated");
        assert_eq!(e["key_id"], key.id());
        api.post(
            "/v1/admin/match",
            Some(ADMIN),
            &json!({"key_id": key.id(), "hashes": ["x"]}),
        )
        .expect_error(400, "malformed");
        let (_, token) = api.register();
        api.post("/v1/admin/match", Some(&token), &request)
            .expect_error(403, "forbidden");
    }
}

on_each_backend! {
    fn key_rotation_two_steps(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            daily_new_identifiers: 6,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        let old = api.key(&token);
        let keys = api.get("/v1/admin/keys", Some(ADMIN)).expect(200);
        assert_eq!(
            keys,
            json!({"keys": [{"key_id": old.id(), "state": "current", "users": 0, "identifiers": 0}]})
        );

        // The device holds four hashes under the old key (two of today's six left).
        let v = api
            .batch(&token, &delta("b_1", &old, &fakes(9, 0..4), &[]))
            .expect(200);
        assert_eq!(v["remaining_today"], 2);

        // Step 1: the next key; registrations are hashed under both.
        let created = api.post("/v1/admin/keys", Some(ADMIN), &json!({}));
        let next_id = created.expect(201)["key_id"].as_str().unwrap().to_owned();
        assert_eq!(created.json()["state"], "next");
        let again = api.post("/v1/admin/keys", Some(ADMIN), &json!({}));
        assert_eq!(
            again.expect(200),
            json!({"key_id": next_id, "state": "next"}),
            "a retry gets the same key"
        );
        // Listed without secrets.
        let keys = api.get("/v1/admin/keys", Some(ADMIN)).expect(200);
        assert_eq!(
            keys,
            json!({"keys": [
                {"key_id": old.id(), "state": "current", "users": 0, "identifiers": 0},
                {"key_id": next_id, "state": "next", "users": 0, "identifiers": 0}
            ]})
        );
        api.put_user("u_ana", &[("phone", "+4915123456789")], true);
        // Clients still hash with the current key meanwhile.
        assert_eq!(api.key(&token).id(), old.id());
        let v = api
            .batch(
                &token,
                &delta("b_2", &old, &[hash(&old, Phone, "+4915123456789")], &[]),
            )
            .expect(200);
        assert_eq!(v["matches"][0]["user_ref"], "u_ana");

        // Step 2: activate.
        api.post("/v1/admin/keys/k_nope/activate", Some(ADMIN), &json!({}))
            .expect_error(404, "not_found");
        let v = api
            .post(
                &format!("/v1/admin/keys/{next_id}/activate"),
                Some(ADMIN),
                &json!({}),
            )
            .expect(200);
        assert_eq!(
            v,
            json!({"key_id": next_id, "state": "current", "retired": old.id(), "forced": false,
                   "coverage": {"users_current": 1, "users_next": 1, "identifiers_current": 1,
                                "identifiers_next": 1, "users_short": 0}})
        );
        api.post(
            &format!("/v1/admin/keys/{next_id}/activate"),
            Some(ADMIN),
            &json!({}),
        )
        .expect(200);
        api.post(
            &format!("/v1/admin/keys/{}/activate", old.id()),
            Some(ADMIN),
            &json!({}),
        )
        .expect_error(404, "not_found");
        assert_eq!(
            api.get("/v1/admin/keys", Some(ADMIN)).expect(200),
            json!({"keys": [{"key_id": next_id, "state": "current", "users": 1, "identifiers": 1}]})
        );

        // The old key is refused; the device re-hashes and re-syncs in full mode.
        let e = api
            .batch(&token, &delta("b_3", &old, &[fake(9, 20)], &[]))
            .expect_error(409, "key_rotated");
        assert_eq!(e["key_id"], next_id);
        let new = api.key(&token);
        assert_eq!(new.id(), next_id);
        let phone = hash(&new, Phone, "+4915123456789");
        // The old set held 5: the first 5 new hashes of the re-sync are free.
        let mut resync = fakes(10, 0..3);
        resync.push(phone.clone());
        let v = api.batch(&token, &full("b_4", &new, &resync)).expect(200);
        assert_eq!(
            pairs(&v["matches"]),
            vec![(phone, "u_ana".to_owned())],
            "registered under the next key"
        );
        assert_eq!(
            (v["added"].as_u64(), v["removed"].as_u64()),
            (Some(4), Some(5))
        );
        // One free add left, plus the day's budget (1 left).
        assert_eq!(v["remaining_today"], 2);
        let v = api
            .batch(&token, &delta("b_5", &new, &fakes(10, 3..5), &[]))
            .expect(200);
        assert_eq!(v["remaining_today"], 0);
        api.batch(&token, &delta("b_6", &new, &fakes(10, 5..6), &[]))
            .expect_error(429, "too_many_requests");
        // A full batch under the same key grants nothing.
        api.batch(&token, &full("b_7", &new, &fakes(11, 0..1)))
            .expect_error(429, "too_many_requests");
    }
}

on_each_backend! {
    fn invites(backend) {
        let t = TestServer::with_on(backend, |c| c.public_url = Some("https://example.org/".to_owned()));
        let api = &t.api;
        let (_, ana) = api.vouch("u_ana");
        let (_, bo) = api.vouch("u_bo");
        let (_, ana_tablet) = api.vouch("u_ana");
        let (_, anonymous) = api.register();
        let key = api.key(&ana);

        let v = api.post("/v1/invites", Some(&ana), &json!({})).expect(201);
        let code = v["code"].as_str().unwrap().to_owned();
        assert_eq!(
            invite::normalize(&code).as_deref(),
            Ok(code.as_str()),
            "canonical"
        );
        assert_eq!(code.len(), 17);
        assert_eq!(v["link"], format!("https://example.org/i/{code}"));
        assert!(v["expires_at"].as_i64().unwrap() > 0);
        // No body is the default request too.
        assert_eq!(
            api.send("POST", "/v1/invites", Some(&ana), None).status,
            201
        );
        for bad in [
            json!({"ttl_s": 0}),
            json!({"ttl_s": 2_592_001}),
            json!({"ttl": 5}),
        ] {
            api.post("/v1/invites", Some(&ana), &bad)
                .expect_error(400, "malformed");
        }
        api.post("/v1/invites", Some(&ana), &json!({"ttl_s": 2_592_000}))
            .expect(201);
        api.post("/v1/invites", Some(&anonymous), &json!({}))
            .expect_error(403, "forbidden");
        api.post("/v1/invites", Some(ADMIN), &json!({}))
            .expect_error(403, "forbidden");

        // While open, an address book holding the link finds Ana through an ordinary sync.
        let invite_hash = hash(&key, Invite, &code);
        let v = api
            .batch(&anonymous, &delta("b_1", &key, &[invite_hash.clone()], &[]))
            .expect(200);
        assert_eq!(
            pairs(&v["matches"]),
            vec![(invite_hash.clone(), "u_ana".to_owned())]
        );

        // Redeeming: a device without a user may not; one's own code (any device of the same
        // user) is forbidden; Bo redeems it as typed from the display form.
        let cursor = api.cursor(&ana);
        api.post(
            "/v1/invites/redeem",
            Some(&anonymous),
            &json!({"code": code}),
        )
        .expect_error(403, "forbidden");
        api.post("/v1/invites/redeem", Some(&ana), &json!({"code": code}))
            .expect_error(403, "forbidden");
        api.post(
            "/v1/invites/redeem",
            Some(&ana_tablet),
            &json!({"code": code}),
        )
        .expect_error(403, "forbidden");
        let typed = invite::display(&code).to_lowercase();
        let v = api
            .post("/v1/invites/redeem", Some(&bo), &json!({"code": typed}))
            .expect(200);
        assert_eq!(v, json!({"user_ref": "u_ana"}));
        // Single use.
        api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code}))
            .expect_error(404, "not_found");
        // Ana's feed has Bo under the invite's hash.
        let changes = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&ana))
            .expect(200);
        assert_eq!(
            pairs(&changes["gained"]),
            vec![(invite_hash, "u_bo".to_owned())]
        );
        // ... and only Ana's: Ana's tablet did not create it.
        let changes = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&ana_tablet))
            .expect(200);
        assert_eq!(changes["gained"], json!([]));

        // Unknown, mistyped and malformed codes: not found.
        let unknown = invite::from_entropy(&[1; 10]);
        let mut mistyped = code.clone();
        mistyped.replace_range(0..1, if code.starts_with('A') { "B" } else { "A" });
        for c in [unknown.as_str(), mistyped.as_str(), "x", ""] {
            api.post("/v1/invites/redeem", Some(&bo), &json!({"code": c}))
                .expect_error(404, "not_found");
        }
        api.post("/v1/invites/redeem", Some(&bo), &json!({"kode": "x"}))
            .expect_error(400, "malformed");

        // Revoking: only its creator; then it is gone.
        let code2 = api.post("/v1/invites", Some(&ana), &json!({})).expect(201)["code"]
            .as_str()
            .unwrap()
            .to_owned();
        api.delete(&format!("/v1/invites/{code2}"), Some(&bo))
            .expect_error(404, "not_found");
        api.delete(&format!("/v1/invites/{code2}"), Some(&ana_tablet))
            .expect_error(404, "not_found");
        let v = api
            .delete(
                &format!("/v1/invites/{}", invite::display(&code2)),
                Some(&ana),
            )
            .expect(200);
        assert_eq!(v, json!({"revoked": true}));
        api.delete(&format!("/v1/invites/{code2}"), Some(&ana))
            .expect_error(404, "not_found");
        api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code2}))
            .expect_error(404, "not_found");
        api.delete(&format!("/v1/invites/{code}"), Some(&ana))
            .expect_error(404, "not_found");
        api.delete("/v1/invites/not-a-code", Some(&ana))
            .expect_error(404, "not_found");

        // Expired: as unknown, for redeeming, revoking and syncing.
        let code3 = api.post("/v1/invites", Some(&ana), &json!({})).expect(201)["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let db = common::open_db(&t.db);
        db.execute("UPDATE invites SET expires_at = 1");
        api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code3}))
            .expect_error(404, "not_found");
        api.delete(&format!("/v1/invites/{code3}"), Some(&ana))
            .expect_error(404, "not_found");
        let v = api
            .batch(
                &anonymous,
                &delta("b_2", &key, &[hash(&key, Invite, &code3)], &[]),
            )
            .expect(200);
        assert_eq!(v["matches"], json!([]));
    }
}

on_each_backend! {
    fn invite_redeemed_during_a_rotation_reaches_its_creator(backend) {
        // Redeemed between the two steps of a rotation, read by the creator only after the second:
        // the creator's device hashes the invite under the new key by then, and the change must
        // still be in its feed (activation drops everything under the old key).
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, ana) = api.vouch("u_ana");
        let (_, bo) = api.vouch("u_bo");
        let code = api.post("/v1/invites", Some(&ana), &json!({})).expect(201)["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let cursor = api.cursor(&ana);
        let next = api
            .post("/v1/admin/keys", Some(ADMIN), &json!({}))
            .expect(201)["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code}))
            .expect(200);
        api.post(
            &format!("/v1/admin/keys/{next}/activate"),
            Some(ADMIN),
            &json!({}),
        )
        .expect(200);
        let key = api.key(&ana);
        assert_eq!(key.id(), next);
        let changes = api
            .get(&format!("/v1/changes?since={cursor}"), Some(&ana))
            .expect(200);
        assert_eq!(
            pairs(&changes["gained"]),
            vec![(hash(&key, Invite, &code), "u_bo".to_owned())]
        );
    }
}

on_each_backend! {
    fn envelopes_for_unknown_paths_and_bodies(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            max_body_bytes: 2048,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        api.get("/v1/nothing", Some(&token))
            .expect_error(404, "not_found");
        api.get("/", None).expect_error(404, "not_found");
        api.get("/v2/config", Some(&token))
            .expect_error(404, "not_found");
        // A known path with another method.
        api.get("/v1/batches", Some(&token))
            .expect_error(404, "not_found");
        api.send("PUT", "/v1/config", Some(&token), Some(b"{}"))
            .expect_error(404, "not_found");

        // Over max_body_bytes: 413 with our envelope, whatever the endpoint.
        let key = api.key(&token);
        let big = serde_json::to_vec(&delta("b_1", &key, &fakes(12, 0..90), &[])).unwrap();
        assert!(big.len() > 2048);
        let e = api
            .send("POST", "/v1/batches", Some(&token), Some(&big))
            .expect_error(413, "too_large");
        assert_eq!(
            (e["max_batch"].as_u64(), e["max_body_bytes"].as_u64()),
            (Some(2000), Some(2048))
        );
        api.send("PUT", "/v1/admin/users/u_1", Some(ADMIN), Some(&big))
            .expect_error(413, "too_large");
        api.send("POST", "/v1/clients", None, Some(&vec![b' '; 4096]))
            .expect_error(413, "too_large");

        // Not JSON, or not the request: 400 with our envelope.
        for body in [
            &b"not json"[..],
            b"{",
            b"{\"batch_id\": 1}",
            b"null",
            &[0xff, 0xfe],
        ] {
            api.send("POST", "/v1/batches", Some(&token), Some(body))
                .expect_error(400, "malformed");
        }
        api.send(
            "POST",
            "/v1/admin/match",
            Some(ADMIN),
            Some(b"{\"key_id\": \"k\", \"hashes\": [], \"more\": 1}"),
        )
        .expect_error(400, "malformed");
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

/// A request whose handler needs no body (`POST /v1/admin/keys`, the `DELETE`s) may still carry
/// one, and it may arrive after the head. The server must read it, or hyper closes the
/// connection after the answer and a client reusing the connection sees it reset.
#[test]
fn a_body_the_handler_ignores_is_read_and_the_connection_kept() {
    use std::io::Write;
    let t = TestServer::new();
    let addr = t.api.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/admin/keys HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    );
    let mut answers = String::new();
    for _ in 0..2 {
        conn.write_all(head.as_bytes()).unwrap();
        conn.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        conn.write_all(b"{}").unwrap();
        // One whole answer: head, then Content-Length bytes.
        answers.push_str(&common::read_answer(&mut conn));
    }
    assert_eq!(answers.matches("HTTP/1.1 20").count(), 2, "{answers}");
    assert!(
        !answers.to_ascii_lowercase().contains("connection: close"),
        "{answers}"
    );
}
