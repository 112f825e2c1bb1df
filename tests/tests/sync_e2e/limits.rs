//! The server's limits as the client meets them: batches too large are split, the daily quota and
//! the per-address budget of open devices defer the rest to the next day.

use contactsync_core::NoProgress;
use contactsync_server::{LimitsConfig, RegistrationLimits};
use contactsync_tests::net::{Faulty, Outcome};
use contactsync_tests::world::World;

use super::{book, json_response, quick, sync};

/// Unpadded, a refused batch is halved; padded, it goes down to the next smaller bucket.
#[test]
fn too_large_batches_are_split() {
    for (buckets, most) in [(vec![], 3), (vec![4, 8], 4)] {
        too_large_batches_are_split_with(buckets, most);
    }
}

fn too_large_batches_are_split_with(buckets: Vec<u32>, most: usize) {
    let mut world = World::default();
    world.set_batch_buckets(Some(buckets));
    world.register_users();
    let (t, _) = world.device(None);
    // A proxy in front of the server refuses bodies with more than `most` entries.
    let proxy = Faulty::new(
        t,
        Box::new(move |_, request, _| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let n = body["add"].as_array().map_or(0, Vec::len)
                + body["remove"].as_array().map_or(0, Vec::len);
            if request.path == "/v1/batches" && n > most {
                Outcome::Replace(json_response(
                    413,
                    br#"{"error":{"code":"too_large","message":"too many"}}"#,
                ))
            } else {
                Outcome::Pass
            }
        }),
    );
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let report = e.sync(&proxy, &quick(), &NoProgress).unwrap();
    assert!(report.batches_split >= 1, "{report:?}");
    assert_eq!(report.new_matches, 4);
    let s = e.status().unwrap();
    assert_eq!((s.pending_add, s.in_flight), (0, 0));
}

/// Without padding (a server advertising no buckets): the quota counts real additions only.
/// (Padded, the dummies count too: `padding.rs`.)
#[test]
fn the_daily_quota_defers_the_rest_to_tomorrow() {
    let mut world = World::new(LimitsConfig {
        daily_new_identifiers: 5,
        ..LimitsConfig::default()
    });
    world.set_batch_buckets(Some(Vec::new()));
    world.register_users();
    let (t, _) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let wanted = e.status().unwrap().pending_add;
    let report = sync(&e, &t);
    assert_eq!(report.added, 5, "{report:?}");
    assert_eq!(report.deferred, wanted - 5);
    assert!(report.next_sync_at > contactsync_tests_now() + 60);
    // A second sync today sends nothing new and fails nothing.
    let again = sync(&e, &t);
    assert_eq!(again.added, 0, "{again:?}");
    assert_eq!(e.status().unwrap().pending_add, wanted - 5);
}

/// The budget of new identifiers that openly registered devices share per address reaches the
/// client as its own daily quota does: `remaining_today` is capped by it, and the client defers
/// what does not fit to the next UTC day, without failing — a second device on the same address
/// (every device here is on 127.0.0.1) gets what the first left.
#[test]
fn open_devices_on_one_address_share_its_daily_budget() {
    let mut world = World::with_registration(
        LimitsConfig::default(),
        RegistrationLimits {
            identifiers_per_ip_per_day: 5,
            ..RegistrationLimits::unlimited()
        },
    );
    // Unpadded, so the budget's arithmetic is the additions'.
    world.set_batch_buckets(Some(Vec::new()));
    world.register_users();
    let (a, _) = world.device(None);
    let first = world.engine("a");
    first.import_snapshot(book(), &NoProgress).unwrap();
    let wanted = first.status().unwrap().pending_add;
    let report = sync(&first, &a);
    assert_eq!(
        (report.added, report.deferred),
        (5, wanted - 5),
        "{report:?}"
    );
    assert!(report.next_sync_at > contactsync_tests_now() + 60);

    let (b, _) = world.device(None);
    let second = world.engine("b");
    second.import_snapshot(book(), &NoProgress).unwrap();
    let report = sync(&second, &b);
    assert_eq!((report.added, report.deferred), (0, wanted), "{report:?}");
}

fn contactsync_tests_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}
