//! The target's seeds: the setup's flows and the protocol's examples, as request scripts.

use crate::input::Writer;

use super::routes::{ROUTES, Route};

/// Seeds: the setup's flows and the protocol's examples, as request scripts.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let index = |route: Route| {
        u8::try_from(ROUTES.iter().position(|r| *r == route).unwrap_or(0)).unwrap_or(0)
    };
    let raw = |w: &mut Writer, route: Route, auth: u8, body: &str| {
        w.byte(index(route)).byte(0).byte(auth);
        if (1..=3).contains(&auth) {
            w.byte(1);
        }
        w.byte(0).blob(body.as_bytes());
    };
    let mut seeds = Vec::new();
    // Each route with the protocol's example body (auth 1: a client with a user; 4: admin).
    for (name, route, auth, body) in [
        ("register", Route::Register, 0, "{}"),
        ("vouch", Route::Vouch, 4, r#"{"user_ref": "u_1042"}"#),
        (
            "batch",
            Route::Batches,
            1,
            r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","mode":"delta","add":["Xq4"],"remove":["p9V"]}"#,
        ),
        (
            "batch-padded",
            Route::Batches,
            1,
            r#"{"batch_id":"b_kM0t","key_id":"k_2026_11","mode":"delta","add":["Xq4","AAAAAAAAAAAAAAAAAAAAAA"],"remove":["p9V"],"padding":1}"#,
        ),
        ("invite", Route::CreateInvite, 1, r#"{"ttl_s": 604800}"#),
        ("redeem", Route::Redeem, 1, r#"{"code": "7K3M9QX2R4"}"#),
        (
            "user",
            Route::PutUser,
            4,
            r#"{"discoverable": true, "identifiers": [{"kind": "phone", "value": "+4915123456789"}, {"kind": "email", "value": "ana@example.org"}, {"kind": "account", "value": "google:1078543"}]}"#,
        ),
        (
            "match",
            Route::AdminMatch,
            4,
            r#"{"key_id": "k_2026_11", "hashes": ["Xq4"]}"#,
        ),
    ] {
        let mut w = Writer::new();
        if route == Route::PutUser {
            w.byte(index(route))
                .byte(0)
                .byte(auth)
                .byte(0)
                .byte(0)
                .blob(body.as_bytes());
        } else {
            raw(&mut w, route, auth, body);
        }
        seeds.push((format!("example_{name}"), w.finish()));
    }
    // A device's day: config, first cursor, a batch matching u_1, its replay, the changes, an
    // invite made by u_1's device and redeemed by u_2's, then consent withdrawn.
    let mut w = Writer::new();
    w.byte(index(Route::Config)).byte(0).byte(1).byte(0).byte(1);
    w.byte(index(Route::Changes))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(0)
        .byte(1);
    // `id`: 0xc0 a new batch id, 0 the first one again (a replay).
    let batch = |w: &mut Writer, who: u8, id: u8| {
        w.byte(index(Route::Batches))
            .byte(0)
            .byte(1)
            .byte(who)
            .byte(2);
        w.byte(id)
            .byte(0)
            .byte(0)
            .byte(3)
            .byte(0)
            .byte(1)
            .byte(2)
            .byte(0)
            .byte(0);
    };
    batch(&mut w, 0, 0xc0);
    batch(&mut w, 0, 0);
    w.byte(index(Route::Changes))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(1)
        .byte(0)
        .u16(1000)
        .byte(1);
    w.byte(index(Route::CreateInvite))
        .byte(0)
        .byte(1)
        .byte(1)
        .byte(6)
        .byte(1)
        .u32(3600);
    w.byte(index(Route::Redeem))
        .byte(0)
        .byte(1)
        .byte(2)
        .byte(7)
        .byte(0);
    w.byte(index(Route::DeleteClient))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(1);
    seeds.push(("device_day".to_owned(), w.finish()));
    // Key rotation: a next key, u_1 again, activation, a batch under the old key.
    let mut w = Writer::new();
    w.byte(index(Route::CreateKey)).byte(0).byte(4).byte(1);
    w.byte(index(Route::ActivateKey))
        .byte(0)
        .byte(4)
        .byte(1)
        .byte(1);
    batch(&mut w, 1, 0xc0);
    w.byte(index(Route::ListKeys)).byte(0).byte(4).byte(1);
    seeds.push(("key_rotation".to_owned(), w.finish()));
    // Private discovery: an evaluation of two known points, the filter's part 0, its changes
    // since the advertised version, a lookup of two.
    let mut w = Writer::new();
    let private = |w: &mut Writer, route: Route| {
        w.byte(index(route)).byte(0).byte(1).byte(0);
    };
    private(&mut w, Route::PrivateEvaluate);
    // Body 8, then its private arm: an evaluation (flag even), 2 elements, each the point.
    w.byte(8).byte(2).byte(0).byte(2).byte(0).byte(0).byte(0);
    private(&mut w, Route::PrivateFilter);
    w.byte(0).byte(0).byte(1);
    private(&mut w, Route::PrivateFilterChanges);
    w.byte(0).byte(0).byte(0).byte(1);
    private(&mut w, Route::PrivateLookup);
    w.byte(8).byte(2).byte(1).byte(2).byte(0).byte(0).byte(0);
    seeds.push(("private_discovery".to_owned(), w.finish()));
    seeds
}
