//! The two-step key rotation (`/v1/admin/keys`).

use contactsync_core::IdentifierKind::Phone;
use contactsync_server::LimitsConfig;
use serde_json::json;

use crate::common::{ADMIN, TestServer, delta, fake, fakes, full, hash, pairs};

on_each_backend! {
    #[allow(clippy::too_many_lines, reason = "one scenario, read in order")]
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
