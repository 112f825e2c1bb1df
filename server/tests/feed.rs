//! The change feed with several instances: users' hashes move and hide, and the device's invites
//! are redeemed, through two instances at once while the device polls its feed through both; the
//! device's view ends equal to the truth. A cursor taken from a sequence could pass a change that commits later (numbered 10,
//! committed after 11): the poll between the two commits would move past 10 for good, and the
//! view would keep a stale owner.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Api, TestDb, delta, hash};
use contactsync_core::IdentifierKind::{Email, Invite};
use serde_json::{Value, json};

const EMAILS: u64 = 40;
const WRITERS: u64 = 4;

fn email(i: u64) -> String {
    format!("e{i}@example.org")
}

/// A small deterministic generator: the test is the same every run, the interleaving is not.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    *state >> 33
}

fn apply(view: &mut BTreeMap<String, String>, answer: &Value) {
    for m in answer["gained"].as_array().unwrap() {
        view.insert(
            m["hash"].as_str().unwrap().to_owned(),
            m["user_ref"].as_str().unwrap().to_owned(),
        );
    }
    for lost in answer["lost"].as_array().unwrap() {
        view.remove(lost.as_str().unwrap());
    }
}

on_each_backend! {
    fn a_feed_polled_through_two_instances_misses_nothing(backend) {
        let db = TestDb::new(backend);
        let servers: Vec<_> = (0..2)
            .map(|_| {
                let mut config = common::config(&db);
                config.limits.requests_per_minute = 1_000_000;
                contactsync_server::start(config).unwrap()
            })
            .collect();
        let apis: Vec<Api> = servers.iter().map(|s| Api::new(&s.url())).collect();
        let (_, token) = apis[0].vouch("u_poller");
        let key = apis[1].key(&token);
        let codes: Vec<String> = (0..24)
            .map(|_| {
                apis[0].post("/v1/invites", Some(&token), &json!({})).expect(201)["code"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let redeemers: Vec<(String, String)> = (0..3)
            .map(|r| (format!("u_r{r}"), apis[1].vouch(&format!("u_r{r}")).1))
            .collect();
        let hashes: Vec<String> = (0..EMAILS).map(|i| hash(&key, Email, &email(i))).collect();
        apis[0].batch(&token, &delta("all", &key, &hashes, &[])).expect(200);
        let mut cursor = apis[1].first_cursor(&token);

        let stop = AtomicBool::new(false);
        let mut view = BTreeMap::new();
        std::thread::scope(|s| {
            for w in 0..WRITERS {
                let (apis, stop) = (&apis, &stop);
                s.spawn(move || {
                    let mut state = w + 1;
                    let until = Instant::now() + Duration::from_millis(1500);
                    while Instant::now() < until {
                        // A user of this writer takes 1 to 8 of the e-mails, visible or not.
                        let user = format!("u_{w}_{}", next(&mut state) % 3);
                        let n = 1 + next(&mut state) % 8;
                        let identifiers: Vec<Value> = (0..n)
                            .map(|_| json!({"kind": "email", "value": email(next(&mut state) % EMAILS)}))
                            .collect();
                        let visible = !next(&mut state).is_multiple_of(4);
                        let api = &apis[usize::try_from(next(&mut state) % 2).unwrap()];
                        let reply = api.put(
                            &format!("/v1/admin/users/{user}"),
                            Some(common::ADMIN),
                            &json!({"discoverable": visible, "identifiers": identifiers}),
                        );
                        assert_eq!(reply.status, 200, "{}", reply.text());
                    }
                    stop.store(true, Ordering::SeqCst);
                });
            }
            {
                let (apis, codes, redeemers) = (&apis, &codes, &redeemers);
                s.spawn(move || {
                    for (i, code) in codes.iter().enumerate() {
                        let (_, redeemer) = &redeemers[i % redeemers.len()];
                        apis[i % 2]
                            .post("/v1/invites/redeem", Some(redeemer), &json!({"code": code}))
                            .expect(200);
                        std::thread::sleep(Duration::from_millis(40));
                    }
                });
            }
            let mut polls = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let v = apis[polls % 2]
                    .get(&format!("/v1/changes?since={cursor}"), Some(&token))
                    .expect(200);
                apply(&mut view, &v);
                v["cursor"].as_str().unwrap().clone_into(&mut cursor);
                polls += 1;
            }
        });
        // Everything written: catch up, then compare with the truth, which a new device that
        // uploads the same hashes is told.
        loop {
            let v = apis[0]
                .get(&format!("/v1/changes?since={cursor}"), Some(&token))
                .expect(200);
            apply(&mut view, &v);
            v["cursor"].as_str().unwrap().clone_into(&mut cursor);
            if v["more"] != true {
                break;
            }
        }
        let (_, fresh) = apis[1].register();
        let mut truth: BTreeMap<String, String> = common::pairs(
            &apis[1].batch(&fresh, &delta("all", &key, &hashes, &[])).expect(200)["matches"],
        )
        .into_iter()
        .collect();
        assert!(!truth.is_empty());
        // Each invite, its redeemer (addressed to its creator only).
        for (i, code) in codes.iter().enumerate() {
            truth.insert(hash(&key, Invite, code), redeemers[i % redeemers.len()].0.clone());
        }
        assert_eq!(view, truth);
    }
}
