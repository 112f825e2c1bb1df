//! Padded batches (docs/protocol.md, "Padded batches"): the buckets `GET /v1/config` advertises,
//! dummies dropped unstored but charged against the day's quota, and hostile padding counts
//! refused with a 400.

use contactsync_core::IdentifierKind::Phone;
use contactsync_server::LimitsConfig;
use serde_json::{Value, json};

use crate::common::{TestServer, fake, fakes, hash};

fn padded(batch_id: &str, key_id: &str, add: &[String], padding: Value) -> Value {
    let mut body = json!({"batch_id": batch_id, "key_id": key_id, "mode": "delta", "add": add,
                          "remove": []});
    body["padding"] = padding;
    body
}

on_each_backend! {
    /// The buckets are advertised (the defaults, fitted to the limits, or the operator's); a
    /// padded batch stores and matches its real adds only, and the day's quota is charged the
    /// padded count.
    fn dummies_are_dropped_unstored_and_charged(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (client_id, token) = api.register();
        let config = api.get("/v1/config", Some(&token)).expect(200);
        assert_eq!(config["batch_buckets"], json!([16, 64, 256, 1024]));
        let before = config["limits"]["remaining_today"].as_u64().unwrap();
        let key = api.key(&token);
        api.put_user("u_1", &[("phone", "+4915123456789")], true);
        let user = hash(&key, Phone, "+4915123456789");
        // A dummy that happens to be the user's hash is still a dummy: never matched, never kept.
        let mut add = vec![user.clone(), fake(1, 1), fake(1, 2)];
        add.extend(fakes(9, 0..12));
        add.push(user.clone());
        assert_eq!(add.len(), 16);
        let v = api.batch(&token, &padded("b_1", key.id(), &add, json!(13))).expect(200);
        assert_eq!(v["added"], 3);
        assert_eq!(v["matches"].as_array().unwrap().len(), 1);
        assert_eq!(v["remaining_today"].as_u64().unwrap(), before - 16, "the padded count");
        let db = t.db.open();
        let held = db.count(&format!(
            "SELECT count(*) FROM client_hashes WHERE client_id = '{client_id}'"
        ));
        assert_eq!(held, 3, "no dummy is stored");
        // The replay of the same body is answered as stored, and charged nothing more.
        let again = api.batch(&token, &padded("b_1", key.id(), &add, json!(13))).expect(200);
        assert_eq!(again, v);
        let config = api.get("/v1/config", Some(&token)).expect(200);
        assert_eq!(config["limits"]["remaining_today"].as_u64().unwrap(), before - 16);
    }
}

on_each_backend! {
    /// The dummies count against the day's quota like new identifiers: a padded batch the
    /// budget cannot pay for is `429 daily_quota`, and nothing of it is stored.
    fn the_quota_counts_the_dummies(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            daily_new_identifiers: 20,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let mut add = fakes(1, 0..2);
        add.extend(fakes(9, 0..14));
        let v = api.batch(&token, &padded("b_1", key.id(), &add, json!(14))).expect(200);
        assert_eq!(v["remaining_today"], 4);
        let mut add = fakes(2, 0..2);
        add.extend(fakes(8, 0..14));
        let reply = api.batch(&token, &padded("b_2", key.id(), &add, json!(14)));
        assert_eq!(reply.expect_error(429, "too_many_requests")["reason"], "daily_quota");
        let db = t.db.open();
        assert_eq!(db.count("SELECT count(*) FROM client_hashes"), 2);
    }
}

on_each_backend! {
    /// A padding count that is not a count of `add`'s entries, or dummies that are not hashes:
    /// `400 malformed`, nothing stored or charged.
    fn hostile_padding_counts_are_a_400(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        let before = api.get("/v1/config", Some(&token)).expect(200)["limits"]["remaining_today"]
            .as_u64()
            .unwrap();
        let add = fakes(1, 0..4);
        for padding in [json!(5), json!(-1), json!(4_294_967_296_u64), json!("2"), json!(1.5),
                        json!(u32::MAX)] {
            let reply = api.batch(&token, &padded("b_x", key.id(), &add, padding.clone()));
            assert_eq!(reply.status, 400, "{padding}: {}", reply.text());
            assert_eq!(reply.code(), "malformed");
        }
        // Padding without any add, a dummy that is not a hash.
        api.batch(&token, &padded("b_y", key.id(), &[], json!(1)))
            .expect_error(400, "malformed");
        let mut add = fakes(1, 0..3);
        add.push("AAAA".into());
        api.batch(&token, &padded("b_z", key.id(), &add, json!(1)))
            .expect_error(400, "malformed");
        // All dummies is a batch that adds nothing.
        let v = api.batch(&token, &padded("b_0", key.id(), &fakes(1, 0..4), json!(4))).expect(200);
        assert_eq!(v["added"], 0);
        assert_eq!(v["remaining_today"].as_u64().unwrap(), before - 4);
        let db = t.db.open();
        assert_eq!(db.count("SELECT count(*) FROM client_hashes"), 0);
    }
}

#[test]
fn the_operator_chooses_the_buckets_and_bad_ones_are_refused_at_start() {
    let t = TestServer::with(|c| c.batch_buckets = Some(vec![8, 32]));
    let (_, token) = t.api.register();
    let v = t.api.get("/v1/config", Some(&token)).expect(200);
    assert_eq!(v["batch_buckets"], json!([8, 32]));
    // None advertised: as an older server, whose clients do not pad.
    let t = TestServer::with(|c| c.batch_buckets = Some(Vec::new()));
    let v = t.api.get("/v1/config", Some(&token_of(&t))).expect(200);
    assert!(v.get("batch_buckets").is_none(), "{v}");
    // Small limits fit the defaults to them.
    let t = TestServer::with_limits(LimitsConfig {
        max_batch: 100,
        ..LimitsConfig::default()
    });
    let v = t.api.get("/v1/config", Some(&token_of(&t))).expect(200);
    assert_eq!(v["batch_buckets"], json!([16, 64, 100]));
    // A small daily quota too: a device pays for its dummies, and must be able to pay for one.
    let t = TestServer::with_limits(LimitsConfig {
        daily_new_identifiers: 40,
        ..LimitsConfig::default()
    });
    let v = t.api.get("/v1/config", Some(&token_of(&t))).expect(200);
    assert_eq!(v["batch_buckets"], json!([16, 40]));
    let db = crate::common::TestDb::new(crate::common::Backend::Sqlite);
    let mut config = crate::common::config(&db);
    config.limits.daily_new_identifiers = 10;
    config.batch_buckets = Some(vec![16, 64]);
    assert!(
        contactsync_server::start(config).is_err(),
        "a smallest bucket above the day"
    );
    for bad in [
        vec![0],
        vec![8, 8],
        vec![32, 8],
        vec![4000],
        (1..=9).collect(),
    ] {
        let db = crate::common::TestDb::new(crate::common::Backend::Sqlite);
        let mut config = crate::common::config(&db);
        config.batch_buckets = Some(bad.clone());
        assert!(contactsync_server::start(config).is_err(), "{bad:?}");
    }
}

fn token_of(t: &TestServer) -> String {
    t.api.register().1
}
