//! The protocol's default limits, and the per-client request rate.

use contactsync_server::LimitsConfig;

use crate::common::{ADMIN, TestServer};

#[test]
fn defaults_are_the_protocols() {
    let l = LimitsConfig::default();
    assert_eq!(
        (
            l.max_batch,
            l.max_body_bytes,
            l.daily_new_identifiers,
            l.check_interval_s,
            l.requests_per_minute,
            l.max_set_size
        ),
        (2000, 262_144, 100_000, 86_400, 120, 100_000)
    );
    let c = contactsync_server::ServerConfig::new(
        std::path::Path::new("x.db"),
        ([127, 0, 0, 1], 0).into(),
        ADMIN,
    );
    // Registration is vouched by the app's backend unless opened on purpose.
    assert!(!c.open_registration);
    assert!(c.trusted_proxies.is_empty());
    let r = c.registration;
    assert_eq!(
        (
            r.per_ip_burst,
            r.per_ip_per_hour,
            r.global_per_minute,
            r.identifiers_per_ip_per_day,
            r.identifiers_global_per_day,
            r.unsynced_client_ttl.as_secs()
        ),
        (5, 1, 60, 50_000, 1_000_000, 86_400)
    );
    assert_eq!(c.public_url, None);
    assert!(
        !format!("{c:?}").contains(ADMIN),
        "Debug prints the admin token"
    );
}

on_each_backend! {
    fn rate_limit(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            requests_per_minute: 3,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        // Fixed one-minute windows: 8 requests span at most two windows (6 allowed), whatever the
        // clock says, so at least two are refused.
        let replies: Vec<_> = (0..8)
            .map(|_| api.get("/v1/config", Some(&token)))
            .collect();
        let ok = replies.iter().filter(|r| r.status == 200).count();
        assert!((3..=6).contains(&ok), "{ok} allowed");
        let refused = replies.iter().find(|r| r.status == 429).unwrap();
        let e = refused.expect_error(429, "too_many_requests");
        assert_eq!(e["reason"], "rate");
        let wait = e["retry_after_s"].as_u64().unwrap();
        assert!((1..=60).contains(&wait));
        assert_eq!(
            refused.retry_after.as_deref(),
            Some(wait.to_string().as_str())
        );
        // Per client.
        let (_, other) = api.register();
        api.get("/v1/config", Some(&other)).expect(200);
    }
}
