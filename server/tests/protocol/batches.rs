//! `POST /v1/batches`: full and delta sets, matches, validation, replays and conflicts, the
//! daily quota.

use contactsync_core::IdentifierKind::{Email, Phone};
use contactsync_server::LimitsConfig;
use serde_json::json;

use crate::common::{TestServer, delta, fake, fakes, full, hash, pairs};

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
