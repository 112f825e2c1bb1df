//! The rate window and the daily quota at their edges, with a clock the test sets: a window only
//! moves forward, and concurrent requests across a minute or a day boundary — including requests
//! whose clock reads the window before (another instance's clock a second behind) — get no more
//! than one window's allowance per window. (A late request once reset the window: one token over
//! 64 connections got 616 successes in a minute against a limit of 120, and one client 326,000
//! new hashes in 2 s against a quota of 100,000.)

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::{TestServer, count, delta, fakes, manual, open_db};
use contactsync_server::Clock;

/// A UTC midnight (also a minute boundary).
const MIDNIGHT: i64 = 1_800_057_600;

/// A clock whose reads alternate between one second before `edge` and `edge`: two instances,
/// one a second behind, serving the same client.
fn skewed(edge: i64) -> Clock {
    let reads = AtomicU64::new(0);
    Clock::from_fn(move || {
        if reads.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            edge - 1
        } else {
            edge
        }
    })
}

on_each_backend! {
    fn the_rate_window_moves_only_forward(backend) {
        let (now, clock) = manual(MIDNIGHT - 1);
        let t = TestServer::with_on(backend, |c| {
            c.clock = clock;
            c.limits.requests_per_minute = 5;
        });
        let (_, token) = t.api.register();
        for _ in 0..5 {
            t.api.get("/v1/config", Some(&token)).expect(200);
        }
        let e = t
            .api
            .get("/v1/config", Some(&token))
            .expect_error(429, "too_many_requests");
        assert_eq!(
            (e["reason"].as_str(), e["retry_after_s"].as_u64()),
            (Some("rate"), Some(1))
        );
        // The next minute: a new window.
        now.store(MIDNIGHT, Ordering::SeqCst);
        for _ in 0..5 {
            t.api.get("/v1/config", Some(&token)).expect(200);
        }
        // A request whose clock reads the minute before counts in the newer window: refused, and told
        // to wait for that window's end.
        now.store(MIDNIGHT - 1, Ordering::SeqCst);
        let e = t
            .api
            .get("/v1/config", Some(&token))
            .expect_error(429, "too_many_requests");
        assert_eq!(e["retry_after_s"].as_u64(), Some(61));
    }
}

on_each_backend! {
    fn concurrent_requests_across_a_minute_get_one_allowance_per_minute(backend) {
        const LIMIT: usize = 10;
        let t = TestServer::with_on(backend, |c| {
            c.clock = skewed(MIDNIGHT);
            c.limits.requests_per_minute = u32::try_from(LIMIT).unwrap();
        });
        let (_, token) = t.api.register();
        let ok = AtomicU64::new(0);
        let refused = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let api = common::Api::new(&t.api.base);
                    for _ in 0..15 {
                        let reply = api.get("/v1/config", Some(&token));
                        match reply.status {
                            200 => ok.fetch_add(1, Ordering::SeqCst),
                            429 => refused.fetch_add(1, Ordering::SeqCst),
                            other => panic!("{other}: {}", reply.text()),
                        };
                    }
                });
            }
        });
        let ok = ok.into_inner();
        // The register call counted nothing; the clock showed two minutes: at most two allowances.
        assert!(
            ok <= 2 * LIMIT as u64,
            "{ok} requests allowed across one minute boundary (limit {LIMIT} per minute)"
        );
        assert!(ok >= LIMIT as u64, "{ok}");
        assert_eq!(ok + refused.into_inner(), 16 * 15);
    }
}

on_each_backend! {
    fn concurrent_batches_across_midnight_get_one_quota_per_day(backend) {
        const QUOTA: u64 = 1000;
        const PER_BATCH: u64 = 100;
        let t = TestServer::with_on(backend, |c| {
            c.clock = skewed(MIDNIGHT);
            c.limits.daily_new_identifiers = u32::try_from(QUOTA).unwrap();
            c.limits.requests_per_minute = 1_000_000;
        });
        let (client_id, token) = t.api.register();
        let key = t.api.key(&token);
        let added = AtomicU64::new(0);
        let refused = AtomicU64::new(0);
        std::thread::scope(|s| {
            for thread in 0..8u8 {
                let (key, token, added, refused) = (&key, &token, &added, &refused);
                let base = t.api.base.clone();
                s.spawn(move || {
                    let api = common::Api::new(&base);
                    for b in 0..10u64 {
                        let hashes = fakes(thread, b * PER_BATCH..(b + 1) * PER_BATCH);
                        let body = delta(&format!("b_{thread}_{b}"), key, &hashes, &[]);
                        let reply = api.batch(token, &body);
                        match reply.status {
                            200 => {
                                let n = reply.json()["added"].as_u64().unwrap();
                                added.fetch_add(n, Ordering::SeqCst);
                            }
                            429 => {
                                assert_eq!(
                                    reply.expect_error(429, "too_many_requests")["reason"],
                                    "daily_quota"
                                );
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            other => panic!("{other}: {}", reply.text()),
                        }
                    }
                });
            }
        });
        let added = added.into_inner();
        assert!(
            added <= 2 * QUOTA,
            "{added} new hashes accepted across one midnight (quota {QUOTA} a day)"
        );
        assert!(added >= QUOTA, "{added}");
        assert_eq!(added / PER_BATCH + refused.into_inner(), 80);
        // What was accepted is what the set holds, and the counter is the newer day's.
        let conn = open_db(&t.db);
        let held: i64 = count(
            &conn,
            &format!("SELECT count(*) FROM client_hashes WHERE client_id = '{client_id}'"),
        );
        assert_eq!(u64::try_from(held).unwrap(), added);
        let day: i64 = count(&conn, "SELECT quota_day FROM usage");
        let used: i64 = count(&conn, "SELECT quota_used FROM usage");
        assert_eq!(day, MIDNIGHT / 86_400);
        assert!(u64::try_from(used).unwrap() <= QUOTA, "{used}");
    }
}
