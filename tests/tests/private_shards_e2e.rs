//! End to end, private discovery with the users' filter in shards (`private-shard-bits`): the
//! engine against the real reference server over loopback HTTP, a real SQLite file on each side.
//!
//! Checks that a sharded server finds the same matches as an unsharded one, that a device asks
//! only for the shards its own PRF values fall in (its requests recorded, its store read), that
//! a user joining in a held shard is found by the next sync through that shard's changes, that a
//! new contact in a shard not yet held downloads it, and that a change of the shard count starts
//! the device's filter over cleanly.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;
use std::path::Path;

use contactsync_core::IdentifierKind::Phone;
use contactsync_core::NoProgress;
use contactsync_core::oprf::Tag;
use contactsync_core::protocol::private::shard_of;
use contactsync_tests::net::{Exchange, Faulty};
use contactsync_tests::world::{World, book};
use contactsync_tests::{matched, person, quick};

const BITS: u8 = 8;

/// The shards of the PRF values a device's store holds (read from its SQLite file).
fn value_shards(db: &Path) -> BTreeSet<u32> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT tag FROM prf_values").unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|t| shard_of(Tag(u64::from_le_bytes(t.unwrap().to_le_bytes())), BITS))
        .collect()
}

/// The shards named by the filter requests among `exchanges` (whole downloads if `whole`,
/// else changes); every filter request names one.
fn asked(exchanges: &[Exchange], whole: bool) -> BTreeSet<u32> {
    let prefix = if whole {
        "/v1/private/filter?"
    } else {
        "/v1/private/filter/changes?"
    };
    exchanges
        .iter()
        .filter(|x| x.path.starts_with(prefix))
        .map(|x| {
            let (_, shard) = x
                .path
                .split_once("shard=")
                .unwrap_or_else(|| panic!("a filter request without a shard: {}", x.path));
            shard.parse().unwrap()
        })
        .collect()
}

#[test]
fn a_sharded_server_finds_the_same_users_and_a_device_fetches_only_its_shards() {
    let mut world = World::private();
    world.register_users();
    // Unsharded first: the matches to compare with, and a device that then sees the shard
    // count change.
    let (_, plain_device) = world.device(None);
    let plain = world.engine("plain");
    plain.import_snapshot(book(), &NoProgress).unwrap();
    plain
        .sync(
            &world.transport(&plain_device.token),
            &quick(false),
            &NoProgress,
        )
        .unwrap();
    let expected = matched(&plain);
    assert_eq!(expected.len(), 4);

    world.set_shard_bits(BITS);
    let (transport, device) = world.device(None);
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let first = e.sync(&recording, &quick(false), &NoProgress).unwrap();
    assert_eq!(matched(&e), expected, "the same matches as unsharded");
    assert_eq!(first.new_matches, 4);
    let db = world.dir.path().join("a.db");
    let mine = value_shards(&db);
    assert!(mine.len() <= 9 && mine.len() < 1 << BITS);
    assert_eq!(
        asked(&recording.exchanges(), true),
        mine,
        "exactly the shards of the device's values, downloaded"
    );

    // The unsharded device: the shard count changed, so its filter starts over, in shards,
    // and its matches are unchanged.
    let moved = Faulty::recording(world.transport(&plain_device.token));
    let again = plain.sync(&moved, &quick(false), &NoProgress).unwrap();
    assert_eq!(matched(&plain), expected);
    assert_eq!((again.new_matches, again.lost_matches), (0, 0));
    assert_eq!(
        asked(&moved.exchanges(), true),
        value_shards(&world.dir.path().join("plain.db"))
    );

    // Frank joins: his values are stored, so his shard is held; the next sync finds him
    // through the held shards' changes, downloading nothing whole.
    let version = world.wait_for_filter(&device.token, 0);
    world.put_user("u_frank", &[("email", "frank@nowhere.test")]);
    world.wait_for_filter(&device.token, version);
    let before = recording.exchanges().len();
    let second = e.sync(&recording, &quick(false), &NoProgress).unwrap();
    assert_eq!(second.new_matches, 1);
    assert!(matched(&e).contains(&("Frank".to_owned(), "u_frank".to_owned())));
    let later = recording.exchanges()[before..].to_vec();
    assert!(asked(&later, true).is_empty(), "no shard downloaded again");
    assert_eq!(asked(&later, false), mine, "each held shard's changes");
    assert!(later.iter().all(|x| x.path != "/v1/private/evaluate"));

    // A new contact who is a user: her shard is downloaded if not held yet, followed by its
    // changes otherwise; either way she is found.
    // (The server rebuilds its filter at most once a second: wait until Ida is in it.)
    let version = world.wait_for_filter(&device.token, 0);
    world.put_user("u_ida", &[("phone", "+4917612345678")]);
    world.wait_for_filter(&device.token, version);
    let mut grown = book();
    grown.push(person("9", "Ida", &[(Phone, "0176 12345678")]));
    e.import_snapshot(grown, &NoProgress).unwrap();
    let before = recording.exchanges().len();
    let third = e.sync(&recording, &quick(false), &NoProgress).unwrap();
    assert_eq!(third.new_matches, 1);
    assert!(matched(&e).contains(&("Ida".to_owned(), "u_ida".to_owned())));
    let now = value_shards(&db);
    let new: BTreeSet<u32> = now.difference(&mine).copied().collect();
    let later = recording.exchanges()[before..].to_vec();
    assert_eq!(
        asked(&later, true),
        new,
        "only a shard not held is downloaded"
    );
    assert!(asked(&later, false).is_subset(&mine));
}
