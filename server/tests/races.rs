//! Races across two instances on one database, on both backends: one batch sent many times at once
//! is applied and charged once, and every sender gets the same bytes; many devices redeeming one
//! invite at once have exactly one winner.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Barrier;

use common::{Api, TestDb, count, delta, fakes, open_db};
use serde_json::json;

const RACERS: usize = 8;

fn two_servers(db: &TestDb) -> Vec<contactsync_server::RunningServer> {
    (0..2)
        .map(|_| {
            let mut config = common::config(db);
            config.limits.requests_per_minute = 1_000_000;
            contactsync_server::start(config).unwrap()
        })
        .collect()
}

on_each_backend! {
    fn one_batch_sent_at_once_is_applied_and_charged_once(backend) {
        let db = TestDb::new(backend);
        let servers = two_servers(&db);
        let urls: Vec<String> = servers.iter().map(contactsync_server::RunningServer::url).collect();
        let (client_id, token) = Api::new(&urls[0]).register();
        let key = Api::new(&urls[1]).key(&token);
        let body = delta("b_once", &key, &fakes(3, 0..300), &[]);
        let barrier = Barrier::new(RACERS);
        let answers: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..RACERS)
                .map(|i| {
                    let (api, body, token, barrier) = (Api::new(&urls[i % 2]), &body, &token, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let reply = api.batch(token, body);
                        assert_eq!(reply.status, 200, "{}", reply.text());
                        reply.body
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(answers.iter().all(|a| a == &answers[0]), "every sender, the same bytes");
        let conn = open_db(&db);
        assert_eq!(count(&conn, "SELECT count(*) FROM batches"), 1);
        assert_eq!(
            count(&conn, &format!("SELECT count(*) FROM client_hashes WHERE client_id = '{client_id}'")),
            300
        );
        assert_eq!(count(&conn, "SELECT CAST(sum(quota_used) AS BIGINT) FROM usage"), 300);
    }
}

on_each_backend! {
    fn one_invite_redeemed_at_once_has_one_winner(backend) {
        let db = TestDb::new(backend);
        let servers = two_servers(&db);
        let urls: Vec<String> = servers.iter().map(contactsync_server::RunningServer::url).collect();
        let (_, creator) = Api::new(&urls[0]).vouch("u_creator");
        let code = Api::new(&urls[0]).post("/v1/invites", Some(&creator), &json!({})).expect(201)
            ["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let redeemers: Vec<String> = (0..RACERS)
            .map(|i| Api::new(&urls[i % 2]).vouch(&format!("u_{i}")).1)
            .collect();
        let barrier = Barrier::new(RACERS);
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = redeemers
                .iter()
                .enumerate()
                .map(|(i, token)| {
                    let (api, code, barrier) = (Api::new(&urls[i % 2]), &code, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        api.post("/v1/invites/redeem", Some(token), &json!({"code": code})).status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = statuses.iter().filter(|s| **s == 200).count();
        let lost = statuses.iter().filter(|s| **s == 404).count();
        assert_eq!((won, lost), (1, RACERS - 1), "{statuses:?}");
        // The creator hears of one redeemer.
        let conn = open_db(&db);
        assert_eq!(count(&conn, "SELECT count(*) FROM changes WHERE target_client IS NOT NULL"), 1);
        assert_eq!(count(&conn, "SELECT count(*) FROM invites"), 0);
    }
}
