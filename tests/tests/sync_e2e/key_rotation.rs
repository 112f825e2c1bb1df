//! Key rotation: the device re-hashes and re-syncs in full, without losing its day's quota.

use contactsync_core::NoProgress;
use contactsync_core::upload::Method;
use contactsync_server::LimitsConfig;
use contactsync_tests::net::Faulty;
use contactsync_tests::world::World;

use super::{book, imported, matched, sync};

/// Both steps of a key rotation, with the backend registering its users again in between.
fn rotate_key(world: &World) {
    let next: contactsync_core::protocol::wire::KeyInfo = contactsync_core::upload::call(
        &world.admin(),
        Method::Post,
        "/v1/admin/keys",
        Some(&serde_json::json!({})),
    )
    .unwrap();
    world.register_users();
    let _: contactsync_core::protocol::wire::KeyInfo = contactsync_core::upload::call(
        &world.admin(),
        Method::Post,
        &format!("/v1/admin/keys/{}/activate", next.key_id),
        Some(&serde_json::json!({})),
    )
    .unwrap();
}

#[test]
fn a_key_rotation_does_not_cost_a_device_its_day() {
    let mut world = World::new(LimitsConfig {
        daily_new_identifiers: 10,
        ..LimitsConfig::default()
    });
    // A bucket of the book's 8 hashes: no dummy, so the arithmetic is the book's.
    world.set_batch_buckets(Some(vec![8]));
    world.register_users();
    let (t, _) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(sync(&e, &t).added, 8, "two of the day's ten left");
    rotate_key(&world);
    let report = sync(&e, &t);
    assert!(report.key_rotated);
    assert_eq!((report.added, report.deferred), (8, 0), "{report:?}");
    assert_eq!(matched(&e).len(), 4);
}

#[test]
fn key_rotation_re_hashes_and_re_syncs_in_full() {
    let (world, t, _, e) = imported();
    sync(&e, &t);
    let old_key = e.key_id().unwrap();
    rotate_key(&world);
    let recording = Faulty::recording(t);
    let report = sync(&e, &recording);
    assert!(report.key_rotated, "{report:?}");
    assert_ne!(e.key_id().unwrap(), old_key);
    let first_batch = recording
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&first_batch.body).unwrap();
    assert_eq!(body["mode"], "full");
    assert_eq!(matched(&e).len(), 4);
    assert!(!e.status().unwrap().full_resync);
}
