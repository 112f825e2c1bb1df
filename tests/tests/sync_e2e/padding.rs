//! Padded batches (docs/protocol.md, "Padded batches") end to end: every batch body of a
//! keyed-hash sync has one of the server's bucket counts, the server keeps no dummy and charges
//! them against the day's quota, and a batch whose answer was lost is sent again byte for byte.

use contactsync_core::NoProgress;
use contactsync_core::protocol::wire::BatchRequest;
use contactsync_core::upload::Method;
use contactsync_tests::net::{Faulty, Outcome};
use contactsync_tests::world::World;

use super::{book, imported, quick, server_set_size, sync};

const BUCKETS: [usize; 4] = [16, 64, 256, 1024];

fn batch_bodies(recording: &Faulty<contactsync_tests::net::Loopback>) -> Vec<Vec<u8>> {
    recording
        .exchanges()
        .into_iter()
        .filter(|x| x.method == Method::Post && x.path == "/v1/batches")
        .map(|x| x.body)
        .collect()
}

#[test]
fn every_batch_is_padded_to_a_bucket_and_the_server_keeps_no_dummy() {
    let (world, t, _, e) = imported();
    // A book of 300 more identifiers: a batch of 256 and one of 64 after the first sync's.
    let recording = Faulty::recording(t);
    let first = sync(&e, &recording);
    let more: Vec<contactsync_core::RawContact> = (0..300)
        .map(|i| {
            super::person(
                &format!("m{i}"),
                "M",
                &[(
                    contactsync_core::IdentifierKind::Phone,
                    &format!("0151 7000{i:04}"),
                )],
            )
        })
        .collect();
    let mut all = book();
    all.extend(more);
    e.import_snapshot(all, &NoProgress).unwrap();
    let second = sync(&e, &recording);

    let bodies = batch_bodies(&recording);
    assert!(bodies.len() >= 2, "{first:?} {second:?}");
    let mut padded = 0u64;
    let mut dummies = 0u64;
    for body in &bodies {
        let request: BatchRequest = serde_json::from_slice(body).unwrap();
        let entries = request.add.len() + request.remove.len();
        assert!(BUCKETS.contains(&entries), "a batch of {entries} entries");
        let padding = request.padding.expect("a padding count");
        assert!(padding as usize <= request.add.len());
        let padding = u64::from(padding);
        padded += request.add.len() as u64;
        dummies += padding;
    }
    assert!(dummies > 0);
    // The server holds exactly the device's real hashes, no dummy.
    let s = e.status().unwrap();
    assert_eq!(
        u64::try_from(server_set_size(&world)).unwrap(),
        s.acknowledged
    );
    assert_eq!(
        u64::try_from(server_set_size(&world)).unwrap(),
        padded - dummies,
        "every real add is new, none is removed"
    );
    // The day's quota was charged every added entry, dummies included.
    let used: i64 = rusqlite::Connection::open(world.server_db())
        .unwrap()
        .query_row("SELECT quota_used FROM usage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(u64::try_from(used).unwrap(), padded);
}

#[test]
fn a_batch_whose_answer_was_lost_is_sent_again_byte_for_byte() {
    let (world, t, registered, e) = imported();
    let lossy = Faulty::new(
        t,
        Box::new(|_, request, answer| {
            if request.path == "/v1/batches" && answer.is_some() {
                Outcome::DropAnswer
            } else {
                Outcome::Pass
            }
        }),
    );
    assert!(e.sync(&lossy, &quick(), &NoProgress).is_err());
    let recording = Faulty::recording(world.transport(&registered.token));
    sync(&e, &recording);
    let lost = batch_bodies(&lossy);
    let resent = batch_bodies(&recording);
    assert_eq!(lost.len(), 1);
    assert_eq!(
        resent.first(),
        lost.first(),
        "the resend is the stored body"
    );
    let s = e.status().unwrap();
    assert_eq!((s.in_flight, s.pending_add), (0, 0));
    assert_eq!(
        u64::try_from(server_set_size(&world)).unwrap(),
        s.acknowledged
    );
}

/// A world whose server advertises no buckets (as an older one): batches go unpadded.
#[test]
fn a_server_without_buckets_gets_unpadded_batches() {
    let mut world = World::default();
    world.set_batch_buckets(Some(Vec::new()));
    world.register_users();
    let (t, _) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let recording = Faulty::recording(t);
    sync(&e, &recording);
    for body in batch_bodies(&recording) {
        let request: BatchRequest = serde_json::from_slice(&body).unwrap();
        assert_eq!(request.padding, None);
        assert_eq!(request.add.len() as u64, e.status().unwrap().acknowledged);
    }
}
