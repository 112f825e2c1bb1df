//! The periodic sweep with several instances on one database: every instance sweeps (here every
//! 20 ms, while both serve traffic), each expired row goes once, nothing still in use goes, and no
//! sweep fails. On `SQLite` the instances share one file; on PostgreSQL, one schema.
//!
//! A test binary of its own: it installs the process-wide `tracing` subscriber.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::logs::Recorder;
use common::{Api, TestDb, count, delta, fakes, open_db};
use contactsync_server::Clock;
use serde_json::json;

const START: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn recorder() -> &'static Recorder {
    static RECORDER: std::sync::OnceLock<Recorder> = std::sync::OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = Recorder::default();
        tracing::subscriber::set_global_default(recorder.clone()).unwrap();
        recorder
    })
}

on_each_backend! {
    fn instances_sweep_together_safely(backend) {
        let recorder = recorder();
        let db = TestDb::new(backend);
        let now = Arc::new(AtomicI64::new(START));
        let servers: Vec<_> = (0..3)
            .map(|_| {
                let mut config = common::config(&db);
                let read = Arc::clone(&now);
                config.clock = Clock::from_fn(move || read.load(Ordering::SeqCst));
                config.limits.requests_per_minute = 1_000_000;
                config.sweep_every = Duration::from_millis(20);
                contactsync_server::start(config).unwrap()
            })
            .collect();
        let apis: Vec<Api> = servers.iter().map(|s| Api::new(&s.url())).collect();
        let (_, token) = apis[0].vouch("u_ana");
        let key = apis[1].key(&token);

        // Old rows: batches and invites that will outlive their use.
        for i in 0..20u64 {
            let api = &apis[usize::try_from(i).unwrap() % apis.len()];
            api.batch(&token, &delta(&format!("old_{i}"), &key, &fakes(1, i..i + 1), &[]))
                .expect(200);
            api.post("/v1/invites", Some(&token), &json!({"ttl_s": 3600}))
                .expect(201);
        }
        // 31 days later: the old ones are past their use; new ones are made while every
        // instance sweeps.
        now.store(START + 31 * DAY, Ordering::SeqCst);
        for i in 0..30u64 {
            let api = &apis[usize::try_from(i).unwrap() % apis.len()];
            api.batch(&token, &delta(&format!("new_{i}"), &key, &fakes(2, i..i + 1), &[]))
                .expect(200);
            api.post("/v1/invites", Some(&token), &json!({"ttl_s": 3600}))
                .expect(201);
        }
        let conn = open_db(&db);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let old_batches = count(&conn, "SELECT count(*) FROM batches WHERE batch_id LIKE 'old%'");
            let invites = count(&conn, "SELECT count(*) FROM invites");
            if old_batches == 0 && invites == 30 {
                break;
            }
            assert!(Instant::now() < deadline, "not swept: {old_batches} batches, {invites} invites");
            std::thread::sleep(Duration::from_millis(20));
        }
        // What is still in use stays: the new batches answer replays, the new invites are open.
        assert_eq!(count(&conn, "SELECT count(*) FROM batches"), 30);
        assert_eq!(count(&conn, "SELECT count(*) FROM invite_hashes"), 30);
        apis[2]
            .batch(&token, &delta("new_0", &key, &fakes(2, 0..1), &[]))
            .expect(200);
        drop(servers);
        let failed: Vec<String> = recorder
            .lines()
            .into_iter()
            .filter(|l| l.contains("sweep"))
            .filter(|l| l.contains("failed"))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
    }
}
