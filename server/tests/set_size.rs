//! A device's set of hashes is bounded (`max_set_size`): re-adding what it holds stays free, but
//! a batch that would grow the set past the bound is refused whole (`409 set_full`), so what one
//! device watches for joins is bounded too. On both backends.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use common::{TestServer, count, delta, fake, fakes, full, open_db};
use contactsync_server::LimitsConfig;

on_each_backend! {
    fn a_set_grows_to_its_bound_and_no_further(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            max_set_size: 10,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.vouch("u_1");
        let key = api.key(&token);
        let set = || count(&open_db(&t.db), "SELECT count(*) FROM client_hashes");
        api.batch(&token, &full("f1", &key, &fakes(1, 0..8))).expect(200);
        let refused = api.batch(&token, &delta("d1", &key, &fakes(1, 8..11), &[]));
        let body = refused.expect_error(409, "set_full");
        assert!(body["message"].as_str().unwrap().contains("10"), "{body}");
        assert_eq!(set(), 8, "refused whole");
        let left = api.get("/v1/config", Some(&token)).expect(200)["limits"]["remaining_today"].clone();
        assert_eq!(left, 100_000 - 8, "a refused batch costs no quota");
        api.batch(&token, &delta("d2", &key, &fakes(1, 8..10), &[])).expect(200);
        assert_eq!(set(), 10);
        // At the bound: re-adding what it holds, and replacing some, still work.
        api.batch(&token, &delta("d3", &key, &fakes(1, 0..5), &[])).expect(200);
        api.batch(&token, &delta("d4", &key, &fakes(1, 10..13), &fakes(1, 0..3))).expect(200);
        assert_eq!(set(), 10);
        api.batch(&token, &delta("d5", &key, &[fake(1, 20)], &[])).expect_error(409, "set_full");
        // A full re-sync replaces the set; within the bound it goes through.
        api.batch(&token, &full("f2", &key, &fakes(2, 0..10))).expect(200);
        assert_eq!(set(), 10);
    }
}
