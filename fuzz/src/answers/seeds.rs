//! The target's seeds: the protocol's examples and the common paths, as answer scripts.

use crate::input::Writer;

use super::body;

/// Seeds: the protocol's examples and the common paths, scripted.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let hashes_of_first_batch = |w: &mut Writer| {
        // Two matches naming the first hashes sent.
        w.byte(2).byte(0).byte(0).byte(1).byte(6);
    };
    let config = |w: &mut Writer, key: u8| {
        w.byte(0)
            .byte(0)
            .byte(body::CONFIG)
            .byte(0)
            .byte(key)
            .byte(0);
        for v in [2000, 262_144, 100_000, 99_310, 86_400, 120] {
            w.u32(v);
        }
    };
    let head = |w: &mut Writer| {
        w.byte(0)
            .byte(0)
            .byte(body::CHANGES)
            .byte(0)
            .byte(0)
            .byte(1)
            .byte(0);
    };
    let batch_ok = |w: &mut Writer| {
        w.byte(0)
            .byte(0)
            .byte(body::BATCH)
            .byte(0)
            .u32(3)
            .u32(0)
            .u32(99_000);
        hashes_of_first_batch(w);
    };
    // One gained (the last batch's first hash), one lost (a hash nobody sent), a new cursor.
    let changes_done = |w: &mut Writer| {
        w.byte(0).byte(0).byte(body::CHANGES);
        w.byte(1).byte(0).byte(0).byte(1).byte(0xf2).byte(6).byte(0);
    };
    let raw = |w: &mut Writer, status: u8, body: &str| {
        w.byte(status).byte(0).byte(body::RAW).blob(body.as_bytes());
    };
    let mut seeds = Vec::new();
    // A whole first sync: config, first cursor, one batch with matches, the changes.
    let mut w = Writer::new();
    w.byte(0).byte(0xff).byte(0).byte(0);
    config(&mut w, 0);
    head(&mut w);
    batch_ok(&mut w);
    changes_done(&mut w);
    seeds.push(("sync_first".to_owned(), w.finish()));
    // Small batches (max_batch 1), a rotated key, then the same flow.
    let mut w = Writer::new();
    w.byte(4 | 8).byte(0).byte(0x0f).byte(0).byte(0);
    config(&mut w, 0);
    head(&mut w);
    w.byte(7)
        .byte(0)
        .byte(body::ERROR)
        .byte(4)
        .byte(0)
        .byte(1)
        .byte(1);
    config(&mut w, 5);
    batch_ok(&mut w);
    batch_ok(&mut w);
    changes_done(&mut w);
    seeds.push(("sync_rotated_small_batches".to_owned(), w.finish()));
    // The protocol's examples, verbatim, as the answers of a sync.
    let mut w = Writer::new();
    w.byte(0).byte(0x07).byte(0).byte(0);
    raw(
        &mut w,
        0,
        r#"{"key_id":"k_2026_11","key":"3q2-7wAAAAC6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","hash":"hmac-sha256","context":"contactsync-v1","digest_bytes":16,"limits":{"max_batch":2000,"max_body_bytes":262144,"daily_new_identifiers":100000,"remaining_today":99310,"check_interval_s":86400,"requests_per_minute":120}}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"gained":[],"lost":[],"cursor":"8812","more":false}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","added":1999,"removed":1,"matches":[{"hash":"Xq4","user_ref":"u_1042"}],"remaining_today":97311}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"gained":[{"hash":"Xq4","user_ref":"u_1042"}],"lost":["p9V"],"cursor":"8812","more":false}"#,
    );
    seeds.push(("sync_protocol_examples".to_owned(), w.finish()));
    // Every error of the protocol's table, as it documents it.
    for (i, (status, body)) in [
        (3, r#"{"error":{"code":"malformed","message":"m"}}"#),
        (4, r#"{"error":{"code":"unauthorized","message":"m"}}"#),
        (7, r#"{"error":{"code":"key_rotated","message":"the hashing key changed","key_id":"k2"}}"#),
        (7, r#"{"error":{"code":"batch_conflict","message":"m"}}"#),
        (8, r#"{"error":{"code":"too_large","message":"m","max_batch":2000,"max_body_bytes":262144}}"#),
        (9, r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":60,"reason":"rate"}}"#),
        (9, r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":3600,"reason":"daily_quota"}}"#),
        (10, r#"{"error":{"code":"internal","message":"the server failed"}}"#),
        (12, r#"{"error":{"code":"unavailable","message":"m","retry_after_s":1}}"#),
    ]
    .into_iter()
    .enumerate()
    {
        let mut w = Writer::new();
        w.byte(2).byte(0x0f).byte(0).byte(0);
        config(&mut w, 0);
        head(&mut w);
        raw(&mut w, status, body);
        if body.contains("key_rotated") {
            config(&mut w, 5);
        }
        batch_ok(&mut w);
        changes_done(&mut w);
        seeds.push((format!("sync_error_{i}"), w.finish()));
    }
    // The one-shot calls: register, create an invite, redeem one, forget.
    let mut w = Writer::new();
    w.byte(0).byte(0x03).byte(3).byte(1).byte(2).byte(3).byte(4);
    raw(&mut w, 1, r#"{"client_id":"c_5Jx0","token":"t_Yk3"}"#);
    // A valid code (the protocol's example code is made up and fails its check).
    w.byte(1)
        .byte(0)
        .byte(body::ONE_SHOT)
        .byte(1)
        .byte(0)
        .u32(1_796_204_800);
    config(&mut w, 0);
    raw(&mut w, 0, r#"{"user_ref":"u_1042"}"#);
    raw(
        &mut w,
        0,
        r#"{"receipt_id":"r_Uu2","client_id":"c_5Jx0","deleted_at":1795600000,"deleted":{"hashes":1843,"batches":3,"invites":1}}"#,
    );
    seeds.push(("one_shot_calls".to_owned(), w.finish()));
    seeds
}
