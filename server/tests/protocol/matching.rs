//! `POST /v1/admin/match`.

use contactsync_core::IdentifierKind::Email;
use contactsync_server::LimitsConfig;
use serde_json::json;

use crate::common::{ADMIN, TestServer, fake, fakes, hash};

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
