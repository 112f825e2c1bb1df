//! The private mode's store functions on a real database file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::oprf::filter::UserFilter;
use crate::protocol::private::TagList;
use crate::store::{Store, StoreOptions};

fn value(seed: u8) -> PrfOutput {
    let mut bytes = [0; 64];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = seed.wrapping_mul(31).wrapping_add(u8::try_from(i).unwrap());
    }
    PrfOutput(bytes)
}

/// A store with identifiers `+49151000000n` for n in 0..count, held by one contact each.
fn store_with(dir: &std::path::Path, count: u8) -> Store {
    let store = Store::open(&dir.join("p.db"), StoreOptions::default()).unwrap();
    store
        .write(|tx| {
            for n in 0..count {
                tx.execute(
                    concat!(
                        "INSERT INTO identifiers (kind, canonical, holders, included, state)
                         VALUES (?1, ?2, 1, 1, ",
                        state!(PendingAdd),
                        ")"
                    ),
                    params![kind_code(IdentifierKind::Phone), format!("+49151000000{n}")],
                )?;
            }
            Ok(())
        })
        .unwrap();
    store
}

fn phone(n: u8) -> (IdentifierKind, String) {
    (IdentifierKind::Phone, format!("+49151000000{n}"))
}

fn matches(store: &Store) -> Vec<(String, String)> {
    store
        .read(|c| {
            let mut s = c.prepare("SELECT canonical, user_ref FROM matches ORDER BY canonical")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .unwrap()
}

fn check_all(store: &Store, users: &HashMap<Lookup, String>) -> (u64, u64) {
    let filter = store.read(known_filter).unwrap();
    let pending = store.read(|c| unchecked(c, 100)).unwrap();
    let hits: HashMap<Lookup, String> = pending
        .iter()
        .filter(|u| filter.contains(u.tag) == Some(true))
        .filter_map(|u| users.get(&u.lookup).map(|r| (u.lookup, r.clone())))
        .collect();
    store
        .write(|tx| record_checked(tx, &pending, &hits, 1))
        .unwrap()
}

#[test]
fn values_are_evaluated_once_checked_against_the_filter_and_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 3);
    assert_eq!(store.read(unevaluated_count).unwrap(), 3);
    let first = store.read(|c| unevaluated(c, 2)).unwrap();
    assert_eq!(first, vec![phone(0), phone(1)]);
    store
        .write(|tx| save_values(tx, 7, &[(phone(0), value(0)), (phone(1), value(1))]))
        .unwrap();
    assert_eq!(store.read(|c| unevaluated(c, 10)).unwrap(), vec![phone(2)]);
    store
        .write(|tx| save_values(tx, 7, &[(phone(2), value(2))]))
        .unwrap();
    assert_eq!(store.read(unevaluated_count).unwrap(), 0);

    // Users: the identifiers behind values 0 and 2.
    let users: HashMap<Lookup, String> = [
        (value(0).lookup(), "u0".to_owned()),
        (value(2).lookup(), "u2".to_owned()),
    ]
    .into();
    let filter = UserFilter::build(&[value(0).tag(), value(2).tag()]).unwrap();
    store
        .write(|tx| save_shard(tx, 7, (0, 0), 10, &filter))
        .unwrap();
    assert_eq!(check_all(&store, &users), (2, 0));
    assert_eq!(
        matches(&store),
        vec![
            ("+491510000000".into(), "u0".into()),
            ("+491510000002".into(), "u2".into())
        ]
    );
    // Nothing left to check: a second pass changes nothing.
    assert!(store.read(|c| unchecked(c, 100)).unwrap().is_empty());

    // The user behind 2 left, the one behind 1 joined.
    let mut users = users;
    users.remove(&value(2).lookup());
    users.insert(value(1).lookup(), "u1".into());
    store
        .write(|tx| {
            apply_shard_changes(
                tx,
                0,
                &FilterChanges {
                    epoch: 7,
                    since: 10,
                    version: 12,
                    added: TagList(vec![value(1).tag()]),
                    removed: TagList(vec![value(2).tag()]),
                },
            )
        })
        .unwrap();
    assert_eq!(store.read(held_shards).unwrap(), [(0, 12)].into());
    let known = store.read(known_filter).unwrap();
    assert_eq!(known.contains(value(1).tag()), Some(true));
    assert_eq!(known.contains(value(2).tag()), Some(false));
    // Only the two changed values are checked again.
    assert_eq!(store.read(|c| unchecked(c, 100)).unwrap().len(), 2);
    assert_eq!(check_all(&store, &users), (1, 1));
    assert_eq!(
        matches(&store),
        vec![
            ("+491510000000".into(), "u0".into()),
            ("+491510000001".into(), "u1".into())
        ]
    );
}

#[test]
fn a_new_epoch_reevaluates_everything_and_drops_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 2);
    store
        .write(|tx| save_values(tx, 1, &[(phone(0), value(0)), (phone(1), value(1))]))
        .unwrap();
    store
        .write(|tx| {
            save_shard(
                tx,
                1,
                (0, 0),
                1,
                &UserFilter::build(&[value(0).tag()]).unwrap(),
            )
        })
        .unwrap();
    store.write(|tx| start_epoch(tx, 1, 0)).unwrap();
    assert_eq!(
        store.read(unevaluated_count).unwrap(),
        0,
        "same epoch: nothing"
    );
    store.write(|tx| start_epoch(tx, 2, 0)).unwrap();
    assert_eq!(store.read(unevaluated_count).unwrap(), 2);
    assert!(store.read(held_shards).unwrap().is_empty());
    assert!(store.read(|c| unchecked(c, 10)).unwrap().is_empty());
}

#[test]
fn identifiers_no_contact_wants_are_forgotten_with_their_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 2);
    store
        .write(|tx| save_values(tx, 1, &[(phone(0), value(0)), (phone(1), value(1))]))
        .unwrap();
    store
        .write(|tx| {
            put_match(tx, IdentifierKind::Phone, "+491510000000", "u0", 1)?;
            put_match(tx, IdentifierKind::Phone, "+491510000001", "u1", 1)?;
            // The contact holding the first number was deleted; the second is excluded.
            tx.execute(
                "UPDATE identifiers SET holders = 0, included = 0 WHERE canonical = '+491510000000'",
                [],
            )?;
            tx.execute(
                "UPDATE identifiers SET excluded = 1 WHERE canonical = '+491510000001'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    assert_eq!(store.write(forget_unwanted).unwrap(), 2);
    assert!(matches(&store).is_empty());
    let (identifiers, values): (i64, i64) = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM identifiers), (SELECT count(*) FROM prf_values)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(
        (identifiers, values),
        (1, 0),
        "the excluded row stays, valueless"
    );
}

#[test]
fn a_stored_filter_that_no_longer_parses_counts_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 0);
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO filter_shards (shard, bits, epoch, version, bytes)
                 VALUES (0, 0, 1, 1, x'00')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    assert!(!store.read(known_filter).unwrap().holds(0));
}

/// Tags whose top byte is `top`: values in a chosen shard of 8 bits.
fn value_in(top: u8, seed: u8) -> PrfOutput {
    let mut v = value(seed);
    // The tag is the first 8 bytes little endian: its top byte is byte 7.
    v.0[7] = top;
    v
}

#[test]
fn shards_are_the_ones_values_fall_in_and_each_is_replaced_and_changed_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 3);
    let (a, b, c) = (value_in(0x10, 0), value_in(0x10, 1), value_in(0xf0, 2));
    assert_eq!(shard_of(a.tag(), 8), 0x10);
    assert_eq!(
        shard_of(c.tag(), 8),
        0xf0,
        "a negative tag as SQLite keeps it"
    );
    store
        .write(|tx| {
            save_values(
                tx,
                3,
                &[(phone(0), a.clone()), (phone(1), b), (phone(2), c)],
            )
        })
        .unwrap();
    store.write(|tx| start_epoch(tx, 3, 8)).unwrap();
    assert_eq!(
        store.read(|c| needed_shards(c, 8)).unwrap(),
        [0x10, 0xf0].into()
    );
    let users: HashMap<Lookup, String> = [(a.lookup(), "ua".to_owned())].into();
    store
        .write(|tx| save_shard(tx, 3, (8, 0x10), 5, &UserFilter::build(&[a.tag()]).unwrap()))
        .unwrap();
    store
        .write(|tx| save_shard(tx, 3, (8, 0xf0), 5, &UserFilter::build(&[]).unwrap()))
        .unwrap();
    assert_eq!(check_all(&store, &users), (1, 0));
    // The value of phone 2 joins, in its shard: only it is checked again.
    let joined = value_in(0xf0, 2);
    store
        .write(|tx| {
            apply_shard_changes(
                tx,
                0xf0,
                &FilterChanges {
                    epoch: 3,
                    since: 5,
                    version: 6,
                    added: TagList(vec![joined.tag()]),
                    removed: TagList(vec![]),
                },
            )
        })
        .unwrap();
    assert_eq!(store.read(|c| unchecked(c, 10)).unwrap().len(), 1);
    assert_eq!(
        store.read(held_shards).unwrap(),
        [(0x10, 5), (0xf0, 6)].into()
    );
    let mut users = users;
    users.insert(joined.lookup(), "uc".into());
    assert_eq!(check_all(&store, &users), (1, 0));
    // Downloading shard 0x10 again rechecks its values only, and keeps the other's changes.
    store
        .write(|tx| save_shard(tx, 3, (8, 0x10), 7, &UserFilter::build(&[a.tag()]).unwrap()))
        .unwrap();
    assert_eq!(store.read(|c| unchecked(c, 10)).unwrap().len(), 2);
    assert_eq!(
        store.read(known_filter).unwrap().contains(joined.tag()),
        Some(true)
    );
    // A shard no value needs is dropped with its changes; a tag of an absent shard is unknown.
    store.write(|tx| drop_shards(tx, 8, &[0xf0])).unwrap();
    let known = store.read(known_filter).unwrap();
    assert_eq!(known.contains(joined.tag()), None);
    let changes: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM user_filter_changes", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(changes, 0);
    // Another shard count drops every shard; the values stay.
    store.write(|tx| start_epoch(tx, 3, 4)).unwrap();
    assert!(store.read(held_shards).unwrap().is_empty());
    assert_eq!(store.read(unevaluated_count).unwrap(), 0);
}
