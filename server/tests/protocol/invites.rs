//! Invites: created, redeemed, revoked, and redeemed during a rotation.

use contactsync_core::IdentifierKind::Invite;
use contactsync_core::identifier::invite;
use serde_json::json;

use crate::common;
use crate::common::{ADMIN, TestServer, delta, hash, pairs};

on_each_backend! {
    #[allow(clippy::too_many_lines, reason = "one scenario, read in order")]
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
            .expect_error(403, "user_required");
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

        // Redeeming: a device without a user may not (`user_required`, and the code stays open);
        // one's own code (any device of the same user) is forbidden; Bo redeems it as typed from
        // the display form.
        let cursor = api.cursor(&ana);
        api.post(
            "/v1/invites/redeem",
            Some(&anonymous),
            &json!({"code": code}),
        )
        .expect_error(403, "user_required");
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
