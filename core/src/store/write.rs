//! State changes. Each function runs inside the caller's transaction ([`super::Store::write`]).
//!
//! The invariant they keep: an identifier is *wanted* on the server when it is not excluded and
//! at least one non-excluded contact holds it (`included > 0`). [`adjust`] moves its upload state
//! towards that (see [`UploadState::towards`]) and deletes an identifier that is idle, held by no
//! contact and not excluded — so a hash is removed only when no other contact holds it.
//!
//! Statements are plain `INSERT OR IGNORE` / `UPDATE` with `changes()`: `RETURNING` makes SQLite
//! materialise its rows in a temporary table, which tripled the cost of a first import.

use std::borrow::Cow;

use rusqlite::{OptionalExtension, Statement, Transaction, params};

use super::rows::{Row, Rows};
use super::{UploadState, codec, kind_code, kind_from_code, state};
use crate::contact::Fingerprint;
use crate::error::Result;
use crate::hash::{Digest, HashKey};
use crate::identifier::{Identifier, IdentifierKind};

/// What one upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upserted {
    Added,
    Changed,
    Unchanged,
    /// The source id was already written by this same import (a duplicate in the input): the
    /// later entry replaced the earlier one.
    Duplicate,
}

/// Counts of identifier transitions, for the import report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Transitions {
    /// Identifiers that became pending upload.
    pub queued_add: u64,
    /// Identifiers that became pending removal from the server, or were dropped before upload.
    pub queued_remove: u64,
}

impl Transitions {
    fn record(&mut self, from: UploadState, to: UploadState) {
        match (from, to) {
            (UploadState::Idle, UploadState::PendingAdd) => self.queued_add += 1,
            (UploadState::PendingAdd, UploadState::Idle)
            | (UploadState::Acknowledged, UploadState::PendingRemove) => self.queued_remove += 1,
            _ => {}
        }
    }
}

/// The write context of one import: its generation and the key its digests were made with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Writing<'a> {
    pub generation: i64,
    pub key_id: Option<&'a str>,
}

/// A change to one identifier's holder counts, collected while contacts are written and
/// applied afterwards in key order ([`apply_deltas`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delta<'a> {
    pub kind: IdentifierKind,
    /// Borrowed from the contact being written where it can be: a first import makes one delta
    /// per identifier, and an allocation each was measurable.
    pub canonical: Cow<'a, str>,
    /// The digest under the current key, for an identifier that may be new.
    pub digest: Option<Digest>,
    pub holders: i64,
    pub included: i64,
}

/// Inserts or updates the contacts of `rows` (the change feed passes one) and the identifiers
/// they hold; returns what the last one did. For a window of many, [`upsert_contacts`] and one
/// [`apply_deltas`].
pub(crate) fn upsert(
    tx: &Transaction<'_>,
    rows: &Rows,
    w: Writing<'_>,
    t: &mut Transitions,
) -> Result<Upserted> {
    let mut deltas = Vec::new();
    let mut outcome = Upserted::Unchanged;
    upsert_contacts(tx, rows, w, &mut deltas, &mut |_, o| {
        outcome = o;
        Ok(())
    })?;
    apply_deltas(tx, &deltas, w.key_id, t)?;
    Ok(outcome)
}

/// Inserts or updates contact rows, calling `each` after every one with what it did; pushes the
/// changes to their identifiers onto `deltas`. The insert is prepared once for all of them.
/// (`each` is a trait object: one copy of this loop serves the import's windows and the change
/// feed, where generics made two, in a library kept under 5 MiB.)
pub(crate) fn upsert_contacts<'p>(
    tx: &Transaction<'_>,
    rows: &'p Rows,
    w: Writing<'_>,
    deltas: &mut Vec<Delta<'p>>,
    each: &mut dyn FnMut(&Row<'p>, Upserted) -> Result<()>,
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO contacts (source_id, display_name, version, fingerprint,
            generation, identifiers, rejections, rejected)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for i in 0..rows.len() {
        let row = rows.get(i)?;
        let outcome = upsert_contact(tx, &mut insert, &row, w, deltas)?;
        each(&row, outcome)?;
    }
    Ok(())
}

/// Inserts or updates one contact row with `insert` (see [`upsert_contacts`]).
fn upsert_contact<'p>(
    tx: &Transaction<'_>,
    insert: &mut Statement<'_>,
    c: &Row<'p>,
    w: Writing<'_>,
    deltas: &mut Vec<Delta<'p>>,
) -> Result<Upserted> {
    // The same values in the same order for the insert and, when the contact exists, the update.
    let row = params![
        c.source_id,
        c.display_name,
        c.version,
        c.fingerprint,
        w.generation,
        c.identifiers,
        c.rejections,
        c.rejected
    ];
    let inserted = insert.execute(row)?;
    let ids = c.identifier_keys();
    let added =
        |deltas: &mut Vec<Delta<'p>>, included: bool, already_held: &[(IdentifierKind, &str)]| {
            for (i, &(kind, canonical)) in ids.iter().enumerate() {
                if !already_held.contains(&(kind, canonical)) {
                    deltas.push(Delta {
                        kind,
                        canonical: Cow::Borrowed(canonical),
                        digest: c.digest(i),
                        holders: 1,
                        included: i64::from(included),
                    });
                }
            }
        };
    if inserted == 1 {
        added(deltas, true, &[]);
        return Ok(Upserted::Added);
    }

    let (fingerprint, old_generation, excluded, old_ids): (Vec<u8>, i64, bool, Vec<u8>) = tx
        .prepare_cached(
            "SELECT fingerprint, generation, excluded, identifiers FROM contacts WHERE source_id = ?1",
        )?
        .query_row([c.source_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let outcome = if old_generation == w.generation {
        Upserted::Duplicate
    } else if fingerprint == c.fingerprint {
        Upserted::Unchanged
    } else {
        Upserted::Changed
    };
    if outcome == Upserted::Unchanged {
        // Seen by this import: a snapshot's sweep spares rows of its generation.
        touch(tx, c.source_id, w.generation)?;
        return Ok(outcome);
    }
    tx.prepare_cached(
        "UPDATE contacts SET display_name = ?2, version = ?3, fingerprint = ?4, generation = ?5,
            identifiers = ?6, rejections = ?7, rejected = ?8
         WHERE source_id = ?1",
    )?
    .execute(row)?;
    let old = codec::decode_identifiers(&old_ids);
    let included = !excluded;
    for &(kind, canonical) in &old {
        if !ids.contains(&(kind, canonical)) {
            deltas.push(Delta {
                kind,
                canonical: Cow::Owned(canonical.to_owned()),
                digest: None,
                holders: -1,
                included: -i64::from(included),
            });
        }
    }
    added(deltas, included, &old);
    Ok(outcome)
}

/// Applies identifier deltas in key order (neighbouring keys share B-tree pages, so sorted
/// writes touch each page once per transaction), summing deltas of the same identifier.
///
/// The sort is on the writer, the import's critical path: it orders small `(key prefix, index)`
/// pairs, comparing texts only when their first 15 bytes agree, instead of moving the deltas and
/// comparing their texts each time (callgrind: 3% of the writer's instructions in a first import).
pub(crate) fn apply_deltas(
    tx: &Transaction<'_>,
    deltas: &[Delta<'_>],
    key_id: Option<&str>,
    t: &mut Transitions,
) -> Result<()> {
    let mut order: Vec<(u128, usize)> = deltas
        .iter()
        .enumerate()
        .map(|(i, d)| (key_prefix(d.kind, &d.canonical), i))
        .collect();
    let text = |i: usize| deltas.get(i).map_or(&[][..], |d| d.canonical.as_bytes());
    codec::sort_by_key(&mut order, &text);
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO identifiers (kind, canonical, holders, included, key_id, digest, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut iter = order.iter().filter_map(|&(_, i)| deltas.get(i)).peekable();
    while let Some(first) = iter.next() {
        let mut d = Delta {
            canonical: Cow::Borrowed(first.canonical.as_ref()),
            ..*first
        };
        while let Some(next) = iter.next_if(|n| n.kind == d.kind && n.canonical == d.canonical) {
            d.holders += next.holders;
            d.included += next.included;
            d.digest = d.digest.or(next.digest);
        }
        if d.holders > 0 && insert_identifier(&mut insert, &d, key_id, t)? {
            continue;
        }
        if d.holders != 0 || d.included != 0 {
            adjust(tx, d.kind, &d.canonical, d.holders, d.included, t)?;
        }
    }
    Ok(())
}

/// [`codec::order_prefix`] of an identifier's key (kind code, then canonical text).
fn key_prefix(kind: IdentifierKind, canonical: &str) -> u128 {
    codec::order_prefix(&kind_code(kind).to_le_bytes()[..1], canonical.as_bytes())
}

/// Inserts a new identifier with the delta's counts with `insert` (see [`apply_deltas`]);
/// false when it already exists.
fn insert_identifier(
    insert: &mut Statement<'_>,
    d: &Delta<'_>,
    key_id: Option<&str>,
    t: &mut Transitions,
) -> Result<bool> {
    let included = d.included.clamp(0, d.holders);
    let state = if included > 0 {
        UploadState::PendingAdd
    } else {
        UploadState::Idle
    };
    let inserted = insert.execute(params![
        kind_code(d.kind),
        d.canonical,
        d.holders,
        included,
        d.digest.and(key_id),
        d.digest.as_ref().map(|d| &d.0[..]),
        state.code()
    ])?;
    if inserted == 1 && included > 0 {
        t.queued_add += 1;
    }
    Ok(inserted == 1)
}

/// Removes a contact unless an import of `before_generation` or later wrote it; its identifiers
/// lose a holder. Returns whether the contact was removed.
pub(crate) fn remove_contact(
    tx: &Transaction<'_>,
    source_id: &str,
    before_generation: i64,
    t: &mut Transitions,
) -> Result<bool> {
    let row: Option<(i64, bool, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT generation, excluded, identifiers FROM contacts WHERE source_id = ?1",
        )?
        .query_row([source_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((generation, excluded, ids)) = row else {
        return Ok(false);
    };
    if generation >= before_generation {
        return Ok(false);
    }
    tx.prepare_cached("DELETE FROM contacts WHERE source_id = ?1")?
        .execute([source_id])?;
    for (kind, canonical) in codec::decode_identifiers(&ids) {
        adjust(tx, kind, canonical, -1, -i64::from(!excluded), t)?;
    }
    Ok(true)
}

/// Sets a contact's exclusion; returns false when there is no such contact.
pub(crate) fn set_contact_excluded(
    tx: &Transaction<'_>,
    source_id: &str,
    excluded: bool,
    t: &mut Transitions,
) -> Result<bool> {
    let row: Option<(bool, Vec<u8>)> = tx
        .prepare_cached("SELECT excluded, identifiers FROM contacts WHERE source_id = ?1")?
        .query_row([source_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((was, ids)) = row else {
        return Ok(false);
    };
    if was == excluded {
        return Ok(true);
    }
    tx.prepare_cached("UPDATE contacts SET excluded = ?2 WHERE source_id = ?1")?
        .execute(params![source_id, excluded])?;
    let delta = if excluded { -1 } else { 1 };
    for (kind, canonical) in codec::decode_identifiers(&ids) {
        adjust(tx, kind, canonical, 0, delta, t)?;
    }
    Ok(true)
}

/// Sets an identifier's exclusion. An identifier no contact holds is recorded anyway, so the
/// choice holds when a contact with it arrives later.
pub(crate) fn set_identifier_excluded(
    tx: &Transaction<'_>,
    identifier: &Identifier,
    excluded: bool,
    key: Option<&HashKey>,
    t: &mut Transitions,
) -> Result<()> {
    let kind = kind_code(identifier.kind());
    let digest = key.map(|k| k.hash(identifier));
    tx.prepare_cached(
        "INSERT OR IGNORE INTO identifiers (kind, canonical, holders, included, key_id, digest, state)
         VALUES (?1, ?2, 0, 0, ?3, ?4, 0)",
    )?
    .execute(params![
        kind,
        identifier.canonical(),
        key.map(HashKey::id),
        digest.as_ref().map(|d| &d.0[..])
    ])?;
    tx.prepare_cached("UPDATE identifiers SET excluded = ?3 WHERE kind = ?1 AND canonical = ?2")?
        .execute(params![kind, identifier.canonical(), excluded])?;
    adjust(tx, identifier.kind(), identifier.canonical(), 0, 0, t)
}

/// Changes an identifier's holder counts and moves its upload state towards what they now want;
/// deletes it when it is idle, held by no contact and not excluded.
pub(crate) fn adjust(
    tx: &Transaction<'_>,
    kind: IdentifierKind,
    canonical: &str,
    d_holders: i64,
    d_included: i64,
    t: &mut Transitions,
) -> Result<()> {
    let code = kind_code(kind);
    let row: Option<(i64, bool, i64, i64, bool)> = tx
        .prepare_cached(
            "SELECT state, excluded, holders, included, pinned FROM identifiers
             WHERE kind = ?1 AND canonical = ?2",
        )?
        .query_row(params![code, canonical], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((state, excluded, holders, included, pinned)) = row else {
        return Ok(());
    };
    let holders = (holders + d_holders).max(0);
    let included = (included + d_included).clamp(0, holders);
    let state = UploadState::from_code(state).unwrap_or(UploadState::PendingAdd);
    let next = state.towards(included > 0 && !excluded);
    t.record(state, next);
    if next == UploadState::Idle && holders == 0 && !excluded && !pinned {
        tx.prepare_cached("DELETE FROM identifiers WHERE kind = ?1 AND canonical = ?2")?
            .execute(params![code, canonical])?;
    } else {
        tx.prepare_cached(
            "UPDATE identifiers SET holders = ?3, included = ?4, state = ?5
             WHERE kind = ?1 AND canonical = ?2",
        )?
        .execute(params![code, canonical, holders, included, next.code()])?;
    }
    Ok(())
}

/// Identifiers re-hashed per statement page.
const REHASH_PAGE: i64 = 1024;

/// Replaces every hash with one under `key` and marks a full re-sync: the server forgets hashes
/// under an old key, so everything wanted is pending again and nothing is pending removal.
/// `each` is called after every identifier (for progress and cancellation).
pub(crate) fn rehash(
    tx: &Transaction<'_>,
    key: &HashKey,
    secret: &[u8],
    mut each: impl FnMut(u64) -> Result<()>,
) -> Result<u64> {
    // Batches in flight carry hashes under the old key: they are never sent again.
    tx.execute(
        "UPDATE sync_state SET key_id = ?1, key_secret = ?2, full_resync = 1",
        params![key.id(), secret],
    )?;
    tx.execute("DELETE FROM batches", [])?;
    let mut update = tx.prepare(
        "UPDATE identifiers SET key_id = ?3, digest = ?4, state = ?5, batch_id = NULL
         WHERE kind = ?1 AND canonical = ?2",
    )?;
    let mut page = tx.prepare(
        "SELECT kind, canonical, state, included, excluded FROM identifiers
         WHERE (kind, canonical) > (?1, ?2) ORDER BY kind, canonical LIMIT ?3",
    )?;
    let mut done = 0u64;
    let mut after = (0i64, String::new());
    loop {
        let rows = page
            .query_map(params![after.0, after.1, REHASH_PAGE], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<Vec<(i64, String, i64, i64, bool)>, _>>()?;
        let Some(last) = rows.last() else { break };
        after = (last.0, last.1.clone());
        for (code, canonical, _state, included, excluded) in rows {
            let Some(kind) = kind_from_code(code) else {
                continue;
            };
            let digest = key.hash_parts(kind, &canonical);
            let state = if included > 0 && !excluded {
                UploadState::PendingAdd
            } else {
                UploadState::Idle
            };
            update.execute(params![
                code,
                canonical,
                key.id(),
                &digest.0[..],
                state.code()
            ])?;
            done += 1;
            each(done)?;
        }
    }
    // Identifiers that were only waiting for their removal are gone with the old key.
    tx.execute(
        concat!(
            "DELETE FROM identifiers WHERE state = ",
            state!(Idle),
            " AND holders = 0 AND excluded = 0 AND pinned = 0"
        ),
        [],
    )?;
    Ok(done)
}

/// Starts an import: the next generation number.
pub(crate) fn next_generation(tx: &Transaction<'_>) -> Result<i64> {
    tx.execute("UPDATE sync_state SET generation = generation + 1", [])?;
    Ok(tx.query_row("SELECT generation FROM sync_state", [], |r| r.get(0))?)
}

/// Deletes every row; the schema and the generation counter stay.
pub(super) fn wipe(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM matches;
         DELETE FROM invites;
         DELETE FROM contacts;
         DELETE FROM prf_values;
         DELETE FROM filter_shards;
         DELETE FROM user_filter_changes;
         DELETE FROM identifiers;
         DELETE FROM batches;
         UPDATE sync_state SET key_id = NULL, key_secret = NULL, full_resync = 1, cursor = NULL,
             backoff_until = NULL, backoff_attempt = 0, next_check = NULL, deferred_until = NULL,
             matrix_pepper = NULL, matrix_full_at = NULL;",
    )?;
    Ok(())
}

/// The device leaves its server without telling it (a server that moved or is gone): what that
/// server gave — its key, the cursor, the backoff, matches, invites, batches in flight — goes,
/// and every wanted identifier is pending again for the next server. Contacts and the user's
/// exclusions stay.
pub(crate) fn leave_server(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(concat!(
        "DELETE FROM matches;
         DELETE FROM batches;
         DELETE FROM invites;
         DELETE FROM prf_values;
         DELETE FROM filter_shards;
         DELETE FROM user_filter_changes;
         DELETE FROM identifiers WHERE holders = 0 AND excluded = 0;
         UPDATE identifiers SET pinned = 0, key_id = NULL, digest = NULL, batch_id = NULL,
             state = CASE WHEN included > 0 AND excluded = 0 THEN ",
        state!(PendingAdd),
        " ELSE ",
        state!(Idle),
        " END;
         UPDATE sync_state SET key_id = NULL, key_secret = NULL, full_resync = 1, cursor = NULL,
             backoff_until = NULL, backoff_attempt = 0, next_check = NULL, deferred_until = NULL,
             matrix_pepper = NULL, matrix_full_at = NULL;"
    ))?;
    Ok(())
}

/// A stored contact's content fingerprint.
pub(crate) fn stored_fingerprint(
    tx: &Transaction<'_>,
    source_id: &str,
) -> Result<Option<Fingerprint>> {
    let bytes: Option<Vec<u8>> = tx
        .prepare_cached("SELECT fingerprint FROM contacts WHERE source_id = ?1")?
        .query_row([source_id], |r| r.get(0))
        .optional()?;
    Ok(bytes.as_deref().and_then(codec::fingerprint_from))
}

/// Marks a stored contact as seen by the import of `generation`.
pub(crate) fn touch(tx: &Transaction<'_>, source_id: &str, generation: i64) -> Result<()> {
    tx.prepare_cached("UPDATE contacts SET generation = ?2 WHERE source_id = ?1")?
        .execute(params![source_id, generation])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn kind(i: u8) -> IdentifierKind {
        [
            IdentifierKind::Phone,
            IdentifierKind::Email,
            IdentifierKind::Handle,
            IdentifierKind::Account,
            IdentifierKind::Invite,
        ][usize::from(i % 5)]
    }

    proptest! {
        /// The sort in `apply_deltas` orders as the table's key does: kind code, then the text's
        /// bytes (SQLite's BINARY collation), whatever prefix the texts share.
        #[test]
        fn prefix_then_text_orders_as_the_key(
            a in (0u8..5, "(\\+49151|a@|)[0-9a-z\u{e9}]{0,20}"),
            b in (0u8..5, "(\\+49151|a@|)[0-9a-z\u{e9}]{0,20}"),
        ) {
            let key = |(k, text): &(u8, String)| (key_prefix(kind(*k), text), text.clone());
            let sql = |(k, text): &(u8, String)| (kind_code(kind(*k)), text.as_bytes().to_vec());
            prop_assert_eq!(key(&a).cmp(&key(&b)), sql(&a).cmp(&sql(&b)));
        }
    }

    #[test]
    fn texts_longer_than_the_prefix_are_told_apart_by_the_text() {
        let (a, b) = ("+4915112345678901", "+4915112345678902");
        assert_eq!(
            key_prefix(IdentifierKind::Phone, a),
            key_prefix(IdentifierKind::Phone, b)
        );
        assert!(key_prefix(IdentifierKind::Phone, "+49") < key_prefix(IdentifierKind::Email, "+1"));
        assert!(
            key_prefix(IdentifierKind::Phone, "ab") < key_prefix(IdentifierKind::Phone, "ab\u{1}")
        );
    }
}
