//! A server switched from the keyed-hash mode to private discovery keeps nothing per device but
//! its registration and counters (docs/protocol.md, "Private discovery"): the sets and batch
//! answers of the earlier period are deleted when it starts, and `POST /v1/batches` is refused
//! with `404 hashed_disabled` while it runs in this mode — on both backends.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Api, Cell, TestServer, delta, fake, full, hash};
use contactsync_core::IdentifierKind::Phone;
use contactsync_core::oprf::{Blinded, Element};
use contactsync_core::protocol::private::EvaluateAnswer;
use serde_json::json;

/// Tables that may hold rows of a device in private mode: its registration and its counters.
const PER_DEVICE_ALLOWED: [&str; 3] = ["clients", "usage", "private_usage"];

on_each_backend! {
    fn a_switch_to_private_leaves_only_registrations_and_counters(backend) {
        // The keyed-hash period: two devices upload sets (a user among them) in a few batches.
        let t = TestServer::on(backend);
        t.api.put_user("u_ana", &[("phone", "+4915123456789")], true);
        let (open_id, open) = t.api.register();
        let (vouched_id, vouched) = t.api.vouch("u_me");
        let key = t.api.key(&open);
        let ana = hash(&key, Phone, "+4915123456789");
        let mut uploaded = vec![ana.clone()];
        for (token, tag) in [(&open, 1u8), (&vouched, 2u8)] {
            let first: Vec<String> = (0..5).map(|n| fake(tag, n)).collect();
            t.api.batch(token, &full("b_1", &key, &[&first[..], std::slice::from_ref(&ana)].concat()))
                .expect(200);
            let more: Vec<String> = (5..8).map(|n| fake(tag, n)).collect();
            t.api.batch(token, &delta("b_2", &key, &more, &[first[0].clone()])).expect(200);
            uploaded.extend(first);
            uploaded.extend(more);
        }
        let db = t.db.open();
        assert!(db.count("SELECT count(*) FROM client_hashes") > 0);
        assert!(db.count("SELECT count(*) FROM batches") > 0);
        drop(db);

        // The switch: the same database under a private-mode server.
        let TestServer { server, db: test_db, .. } = t;
        server.stop();
        let mut config = common::config(&test_db);
        config.private.enabled = true;
        config.private.filter_rebuild = Duration::from_millis(1);
        let private = contactsync_server::start(config).unwrap();
        let api = Api::new(&private.url());

        // Batches are refused, typed, for both devices; nothing is stored.
        for token in [&open, &vouched] {
            api.batch(token, &delta("b_3", &key, &[fake(3, 1)], &[]))
                .expect_error(404, "hashed_disabled");
        }
        // A private sync's requests: config and an evaluation (counters only).
        let v = api.get("/v1/config", Some(&open)).expect(200);
        let epoch = v["private"]["epoch"].as_u64().unwrap();
        let blinded = Blinded::new(&[(Phone, "+4915123456789")], 16).unwrap();
        let elements: Vec<String> = blinded.elements().iter().map(Element::to_base64url).collect();
        let answer = api
            .post("/v1/private/evaluate", Some(&open), &json!({"epoch": epoch, "elements": elements}))
            .expect(200);
        let answer: EvaluateAnswer = serde_json::from_value(answer).unwrap();
        assert_eq!(answer.evaluated.len(), 16);

        // Every table, every cell: no uploaded hash anywhere — but the user's, which the backend
        // registered (per user, not per device) — and no row of a device outside its
        // registration and counters.
        let db = test_db.open();
        let uploaded: Vec<Vec<u8>> = uploaded
            .iter()
            .map(|h| URL_SAFE_NO_PAD.decode(h).unwrap())
            .collect();
        let devices = [open_id.as_str(), vouched_id.as_str()];
        for (table, column, cell) in db.cells() {
            if let Cell::Blob(bytes) = &cell
                && uploaded.contains(bytes)
            {
                assert!(
                    ["user_hashes", "changes"].contains(&table.as_str()) && bytes == &uploaded[0],
                    "an uploaded hash in {table}.{column}"
                );
            }
            if let Cell::Text(text) = &cell
                && devices.contains(&text.as_str())
            {
                assert!(
                    PER_DEVICE_ALLOWED.contains(&table.as_str()),
                    "a device's row in {table}.{column}"
                );
            }
        }
        for table in ["client_hashes", "batches"] {
            assert_eq!(db.count(&format!("SELECT count(*) FROM {table}")), 0, "{table}");
        }
        // The registrations stay (their tokens work), without the key of a set they no longer
        // have.
        assert_eq!(db.count("SELECT count(*) FROM clients"), 2);
        assert_eq!(
            db.count("SELECT count(*) FROM clients WHERE set_key_id IS NOT NULL OR rekey_allowance <> 0"),
            0
        );
        assert_eq!(db.count("SELECT count(*) FROM private_usage"), 1);
        private.stop();
    }
}
