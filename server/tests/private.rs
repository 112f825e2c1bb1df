//! Private discovery (docs/protocol.md, "Private discovery") against a real server on both
//! backends, with a real client-side [`Blinded`] batch: evaluations verify against the published
//! key and find registered users, the quota counts the padded count, the filter reassembles from
//! its parts and its changes follow the users, and hostile requests are refused with a 4xx.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::time::Duration;

use common::private::{
    ExpectOk, download, element_body, evaluate, lookup, private_config, private_on, put, server,
    swept,
};
use common::{ADMIN, Api, TestServer};
use contactsync_core::IdentifierKind;
use contactsync_core::oprf::{Blinded, Element, Tag};
use contactsync_core::protocol::private::FilterChanges;
use contactsync_server::LimitsConfig;
use serde_json::{Value, json};

const ANA: (IdentifierKind, &str) = (IdentifierKind::Phone, "+4915123456789");
const BO: (IdentifierKind, &str) = (IdentifierKind::Email, "bo@example.com");
const CY: (IdentifierKind, &str) = (IdentifierKind::Phone, "+4915170000001");
const NOBODY: (IdentifierKind, &str) = (IdentifierKind::Phone, "+4915199999999");

on_each_backend! {
    /// Off (the default): no `private` object, every route `404 private_disabled`.
    fn private_routes_are_off_by_default(backend) {
        let t = TestServer::on(backend);
        let (_, token) = t.api.register();
        let v = t.api.get("/v1/config", Some(&token)).expect(200);
        assert!(v.get("private").is_none_or(Value::is_null), "{v}");
        for path in ["/v1/private/evaluate", "/v1/private/lookup"] {
            t.api
                .post(path, Some(&token), &json!({"epoch": 1, "elements": []}))
                .expect_error(404, "private_disabled");
        }
        for path in [
            "/v1/private/filter?epoch=1&part=0",
            "/v1/private/filter/changes?epoch=1&since=0",
        ] {
            t.api.get(path, Some(&token)).expect_error(404, "private_disabled");
        }
    }
}

on_each_backend! {
    /// A client's evaluations verify against the published key and are the users' values the
    /// server registered: a lookup finds the discoverable user, not the hidden one nor a
    /// non-user. The day's budget is charged the padded count.
    fn evaluations_verify_and_lookups_find_only_discoverable_users(backend) {
        let t = server(backend);
        put(&t.api, "u_ana", &[ANA], true);
        put(&t.api, "u_bo", &[BO], false);
        let (_, token) = t.api.register();
        let (config, v) = private_config(&t.api, &token);
        assert_eq!(config.suite, "ristretto255-SHA512");
        assert_eq!(config.buckets, [16, 64, 256, 1024]);
        let before = v["limits"]["remaining_today"].as_u64().unwrap();

        let (outputs, answer) = evaluate(&t.api, &token, &config, &[ANA, BO, NOBODY], 16);
        assert_eq!(answer.epoch, config.epoch);
        assert_eq!(u64::from(answer.remaining_today), before - 16, "the padded count");
        let (_, v) = private_config(&t.api, &token);
        assert_eq!(v["limits"]["remaining_today"].as_u64().unwrap(), before - 16);

        assert_eq!(lookup(&t.api, &token, config.epoch, &outputs, 16), ["u_ana"]);
        // Made discoverable, Bo is found too.
        put(&t.api, "u_bo", &[BO], true);
        assert_eq!(
            lookup(&t.api, &token, config.epoch, &outputs, 16),
            ["u_ana", "u_bo"]
        );
        // The filter holds the users' tags.
        let (_, filter) = download(&t.api, &token, config.epoch);
        assert!(filter.contains(outputs[0].tag()));
        assert!(filter.contains(outputs[1].tag()));

        // A count that is not a bucket, a stale epoch, a bad element: refused, nothing charged.
        let blinded = Blinded::new(&[ANA], 15).unwrap();
        t.api
            .post("/v1/private/evaluate", Some(&token), &element_body(config.epoch, blinded.elements()))
            .expect_error(400, "malformed");
        let blinded = Blinded::new(&[ANA], 16).unwrap();
        t.api
            .post(
                "/v1/private/evaluate",
                Some(&token),
                &element_body(config.epoch - 1, blinded.elements()),
            )
            .expect_error(409, "epoch_rotated");
        let mut bad = blinded.elements().to_vec();
        bad[3] = Element([0xff; 32]);
        t.api
            .post("/v1/private/evaluate", Some(&token), &element_body(config.epoch, &bad))
            .expect_error(400, "malformed");
        let lookups = vec![contactsync_core::oprf::Lookup([1; 16]).to_base64url(); 15];
        t.api
            .post(
                "/v1/private/lookup",
                Some(&token),
                &json!({"epoch": config.epoch, "lookups": lookups}),
            )
            .expect_error(400, "malformed");
        let lookups = vec![contactsync_core::oprf::Lookup([1; 16]).to_base64url(); 16];
        t.api
            .post(
                "/v1/private/lookup",
                Some(&token),
                &json!({"epoch": config.epoch + 1, "lookups": lookups}),
            )
            .expect_error(409, "epoch_rotated");
        let (_, v) = private_config(&t.api, &token);
        assert_eq!(v["limits"]["remaining_today"].as_u64().unwrap(), before - 16);
    }
}

on_each_backend! {
    /// The day's budget pays for padded batches until it cannot: then `429 daily_quota` with a
    /// Retry-After, and nothing is evaluated.
    fn the_quota_counts_the_padding(backend) {
        let t = TestServer::with_on(backend, |c| {
            private_on(c);
            c.limits = LimitsConfig {
                daily_new_identifiers: 40,
                ..LimitsConfig::default()
            };
        });
        let (_, token) = t.api.register();
        let (config, _) = private_config(&t.api, &token);
        let (_, a) = evaluate(&t.api, &token, &config, &[ANA], 16);
        assert_eq!(a.remaining_today, 24);
        let (_, a) = evaluate(&t.api, &token, &config, &[BO], 16);
        assert_eq!(a.remaining_today, 8);
        let blinded = Blinded::new(&[CY], 16).unwrap();
        let reply = t.api.post(
            "/v1/private/evaluate",
            Some(&token),
            &element_body(config.epoch, blinded.elements()),
        );
        let error = reply.expect_error(429, "too_many_requests");
        assert_eq!(error["reason"], "daily_quota");
        assert!(reply.retry_after.is_some());
    }
}

on_each_backend! {
    /// The filter's parts reassemble into a filter of the discoverable users' tags, and its
    /// changes report a user deleted, one made undiscoverable and one added — each as the net
    /// change since the client's version.
    fn the_filter_and_its_changes_follow_the_users(backend) {
        let t = server(backend);
        put(&t.api, "u_ana", &[ANA], true);
        put(&t.api, "u_bo", &[BO], true);
        let (_, token) = t.api.register();
        let (config, _) = private_config(&t.api, &token);
        let (outputs, _) = evaluate(&t.api, &token, &config, &[ANA, BO, CY, NOBODY], 16);
        let tag = |i: usize| outputs[i].tag();
        let (version, filter) = download(&t.api, &token, config.epoch);
        assert_eq!(version, config.filter_version);
        assert!(version > 0);
        assert!(filter.contains(tag(0)) && filter.contains(tag(1)));
        assert!(!filter.contains(tag(2)), "not a user yet");

        t.api.delete("/v1/admin/users/u_ana", Some(ADMIN)).expect(200);
        put(&t.api, "u_bo", &[BO], false);
        put(&t.api, "u_cy", &[CY], true);
        // A user who comes and goes within the window is no net change.
        put(&t.api, "u_nobody", &[NOBODY], true);
        t.api.delete("/v1/admin/users/u_nobody", Some(ADMIN)).expect(200);
        let (now, _) = private_config(&t.api, &token);
        assert!(now.filter_version > version);
        let changes: FilterChanges = t
            .api
            .get(
                &format!("/v1/private/filter/changes?epoch={}&since={version}", config.epoch),
                Some(&token),
            )
            .expect_ok();
        assert_eq!((changes.since, changes.version), (version, now.filter_version));
        assert_eq!(changes.added.0, [tag(2)]);
        let mut removed = vec![tag(0), tag(1)];
        removed.sort_by_key(|t: &Tag| t.0);
        assert_eq!(changes.removed.0, removed);
        // Up to date: nothing.
        let none: FilterChanges = t
            .api
            .get(
                &format!(
                    "/v1/private/filter/changes?epoch={}&since={}",
                    config.epoch, now.filter_version
                ),
                Some(&token),
            )
            .expect_ok();
        assert!(none.added.0.is_empty() && none.removed.0.is_empty());
        // The new filter, downloaded whole, agrees; lookups too.
        let (_, filter) = download(&t.api, &token, config.epoch);
        assert!(filter.contains(tag(2)));
        assert_eq!(lookup(&t.api, &token, config.epoch, &outputs, 16), ["u_cy"]);

        // A version no longer kept, a part past the last, another epoch.
        let e = config.epoch;
        t.api
            .get(&format!("/v1/private/filter?epoch={e}&part=0&version=1"), Some(&token))
            .expect_error(410, "filter_stale");
        t.api
            .get(&format!("/v1/private/filter?epoch={e}&part=1"), Some(&token))
            .expect_error(404, "not_found");
        t.api
            .get(&format!("/v1/private/filter?epoch={}&part=0", e + 1), Some(&token))
            .expect_error(409, "epoch_rotated");
        t.api
            .get(&format!("/v1/private/filter/changes?epoch={}&since=0", e + 1), Some(&token))
            .expect_error(409, "epoch_rotated");
    }
}

on_each_backend! {
    /// A second instance on the same database serves the same epoch and key (the key is made
    /// once, by whichever instance starts first).
    fn a_second_instance_serves_the_same_epoch_and_key(backend) {
        let t = server(backend);
        let mut config = common::config(&t.db);
        private_on(&mut config);
        let second = contactsync_server::start(config).unwrap();
        let other = Api::new(&second.url());
        let (_, token) = t.api.register();
        let (a, _) = private_config(&t.api, &token);
        let (b, _) = private_config(&other, &token);
        assert_eq!((a.epoch, a.public_key), (b.epoch, b.public_key));
        put(&t.api, "u_ana", &[ANA], true);
        let (outputs, _) = evaluate(&other, &token, &b, &[ANA], 16);
        assert_eq!(lookup(&t.api, &token, a.epoch, &outputs, 16), ["u_ana"]);
    }
}

on_each_backend! {
    /// A key rotation is a new epoch: the old epoch's requests answer `409 epoch_rotated`, the
    /// users registered again are found under the new one, and a client's first evaluations in
    /// it are free up to what it evaluated in its last.
    fn a_rotation_is_a_new_epoch_with_an_allowance(backend) {
        let t = TestServer::with_on(backend, |c| {
            private_on(c);
            c.limits = LimitsConfig {
                daily_new_identifiers: 40,
                ..LimitsConfig::default()
            };
        });
        put(&t.api, "u_ana", &[ANA], true);
        let (_, token) = t.api.register();
        let (old, _) = private_config(&t.api, &token);
        let (_, a) = evaluate(&t.api, &token, &old, &[ANA], 16);
        assert_eq!(a.remaining_today, 24);
        let next = t.api.post("/v1/admin/keys", Some(ADMIN), &json!({})).expect(201);
        put(&t.api, "u_ana", &[ANA], true);
        let key_id = next["key_id"].as_str().unwrap();
        t.api
            .post(&format!("/v1/admin/keys/{key_id}/activate"), Some(ADMIN), &json!({}))
            .expect(200);
        let (new, v) = private_config(&t.api, &token);
        assert!(new.epoch > old.epoch);
        assert_ne!(new.public_key, old.public_key);
        assert_eq!(v["limits"]["remaining_today"], 24 + 16, "the allowance is advertised");
        let blinded = Blinded::new(&[ANA], 16).unwrap();
        t.api
            .post("/v1/private/evaluate", Some(&token), &element_body(old.epoch, blinded.elements()))
            .expect_error(409, "epoch_rotated");
        let (outputs, a) = evaluate(&t.api, &token, &new, &[ANA], 16);
        assert_eq!(a.remaining_today, 24, "free: the allowance paid");
        assert_eq!(lookup(&t.api, &token, new.epoch, &outputs, 16), ["u_ana"]);
        let (version, filter) = download(&t.api, &token, new.epoch);
        assert!(version > 0);
        assert!(filter.contains(outputs[0].tag()));
        // Consent withdrawal deletes the counters with the client.
        t.api.delete("/v1/client", Some(&token)).expect(200);
        let db = t.db.open();
        assert_eq!(db.count("SELECT count(*) FROM private_usage"), 0);
    }
}

on_each_backend! {
    /// Garbage bodies, huge counts and bad query strings: a 4xx, never a 5xx.
    fn hostile_requests_are_refused_with_a_4xx(backend) {
        let t = server(backend);
        let (_, token) = t.api.register();
        let (config, _) = private_config(&t.api, &token);
        let e = config.epoch;
        // A count far past every bucket, in a body the server still reads.
        let huge = vec![Element([0; 32]).to_base64url(); 5_000];
        for body in [
            json!(null),
            json!({}),
            json!({"epoch": e}),
            json!({"epoch": -1, "elements": []}),
            json!({"epoch": e, "elements": "x"}),
            json!({"epoch": e, "elements": ["!!"]}),
            json!({"epoch": e, "elements": [], "extra": 1}),
            json!({"epoch": e, "elements": huge}),
            json!({"epoch": e, "lookups": ["AAAA"]}),
        ] {
            for path in ["/v1/private/evaluate", "/v1/private/lookup"] {
                let reply = t.api.post(path, Some(&token), &body);
                assert!((400..500).contains(&reply.status), "{path} {body}: {}", reply.status);
            }
        }
        let garbage = t.api.send("POST", "/v1/private/evaluate", Some(&token), Some(b"\xff\x00garbage"));
        assert!((400..500).contains(&garbage.status), "{}", garbage.status);
        for query in [
            String::new(),
            "epoch=x&part=0".into(),
            format!("epoch={e}"),
            format!("epoch={e}&part=-1"),
            format!("epoch={e}&part=0&part=1"),
            format!("epoch={e}&part=99999999999999999999"),
            format!("epoch={e}&part=4294967296"),
            format!("epoch={e}&part=0&version=x"),
            format!("epoch={e}&part=0&other=1"),
            "epoch=99999999999999999999&part=0".into(),
            "epoch=%ff&part=0".into(),
        ] {
            let reply = t.api.get(&format!("/v1/private/filter?{query}"), Some(&token));
            assert!((400..500).contains(&reply.status), "{query}: {}", reply.status);
        }
        for query in [
            String::new(),
            format!("epoch={e}"),
            format!("epoch={e}&since=-1"),
            format!("epoch={e}&since=1&since=2"),
            "epoch=99999999999999999999&since=0".into(),
        ] {
            let reply = t.api.get(&format!("/v1/private/filter/changes?{query}"), Some(&token));
            assert!((400..500).contains(&reply.status), "{query}: {}", reply.status);
        }
        t.api
            .get(&format!("/v1/private/filter?epoch={e}&part=0"), None)
            .expect_error(401, "unauthorized");
    }
}

on_each_backend! {
    /// The sweep prunes the filter's log after its 30 days: changes since a version before what
    /// was pruned answer `410 filter_stale` (the client downloads the whole filter), and the
    /// version does not go back.
    fn a_pruned_log_answers_filter_stale(backend) {
        let (now, t) = swept(backend, 1_800_000_000);
        put(&t.api, "u_ana", &[ANA], true);
        // Vouched: the sweep keeps it (an open client that never synced would go).
        let (_, token) = t.api.vouch("u_me");
        let (config, _) = private_config(&t.api, &token);
        let e = config.epoch;
        let version = config.filter_version;
        let path = |since: u64| format!("/v1/private/filter/changes?epoch={e}&since={since}");
        let _: FilterChanges = t.api.get(&path(0), Some(&token)).expect_ok();
        now.fetch_add(31 * 86_400, std::sync::atomic::Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reply = t.api.get(&path(0), Some(&token));
            if reply.status == 410 {
                assert_eq!(reply.code(), "filter_stale");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never pruned");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (after, _) = private_config(&t.api, &token);
        assert_eq!(after.filter_version, version, "the version does not go back");
        let none: FilterChanges = t.api.get(&path(version), Some(&token)).expect_ok();
        assert!(none.added.0.is_empty() && none.removed.0.is_empty());
    }
}
