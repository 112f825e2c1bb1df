//! The admin API's users (`/v1/admin/users`).

use contactsync_core::IdentifierKind::Phone;
use serde_json::json;

use crate::common::{ADMIN, TestServer, delta, hash, pairs};

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
