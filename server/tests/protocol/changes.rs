//! `GET /v1/changes`: the feed a device polls.

use contactsync_core::IdentifierKind::{Email, Phone};
use serde_json::json;

use crate::common::{TestServer, delta, fake, hash, pairs};

on_each_backend! {
    #[allow(
        clippy::too_many_lines,
        clippy::similar_names,
        reason = "one scenario, read in order; `held` and `head` are apart"
    )]
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
