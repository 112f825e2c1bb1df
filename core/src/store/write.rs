//! State changes. Each function runs inside the caller's transaction ([`super::Store::write`]).
//!
//! The invariant they keep: an identifier is *wanted* on the server when it is not excluded and
//! at least one non-excluded contact holds it. [`reconcile`] moves its upload state towards that
//! (see [`UploadState::towards`]) and deletes an identifier that is idle, unheld and not excluded,
//! so a hash is removed only when no other contact still holds the identifier.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{UploadState, kind_code};
use crate::contact::{Fingerprint, NormalizedContact};
use crate::error::Result;
use crate::hash::{Digest, HashKey};
use crate::identifier::Identifier;

/// A contact ready to be written: normalised, and hashed when a key is known.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub contact: NormalizedContact,
    /// One per identifier, in the same order; `None` when no key is known yet.
    pub digests: Vec<Option<Digest>>,
}

impl Prepared {
    pub(crate) fn new(contact: NormalizedContact, key: Option<&HashKey>) -> Self {
        let digests = contact
            .identifiers
            .iter()
            .map(|id| key.map(|k| k.hash(id)))
            .collect();
        Prepared { contact, digests }
    }
}

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
            (UploadState::Idle | UploadState::PendingRemove, UploadState::PendingAdd) => {
                self.queued_add += 1;
            }
            (UploadState::PendingAdd, UploadState::Idle)
            | (UploadState::Acknowledged, UploadState::PendingRemove) => self.queued_remove += 1,
            _ => {}
        }
    }
}

/// Inserts or updates one contact, its identifier links and its rejections.
pub(crate) fn upsert(
    tx: &Transaction<'_>,
    p: &Prepared,
    generation: i64,
    key_id: Option<&str>,
    t: &mut Transitions,
) -> Result<Upserted> {
    let c = &p.contact;
    let rejected = i64::try_from(c.rejections.len()).unwrap_or(i64::MAX);
    let inserted: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO contacts (source_id, display_name, version, fingerprint, generation, rejected)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source_id) DO NOTHING RETURNING id",
        )?
        .query_row(
            params![
                c.source_id,
                c.display_name,
                c.version,
                &c.content_fingerprint.0[..],
                generation,
                rejected
            ],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(contact_id) = inserted {
        for (id, digest) in c.identifiers.iter().zip(&p.digests) {
            let (identifier_id, new) = identifier_id(tx, id, digest.as_ref(), key_id, true)?;
            link(tx, contact_id, identifier_id)?;
            if new {
                t.queued_add += 1;
            } else {
                reconcile(tx, identifier_id, t)?;
            }
        }
        insert_rejections(tx, contact_id, c)?;
        return Ok(Upserted::Added);
    }

    let (contact_id, fingerprint, old_generation, excluded): (i64, Vec<u8>, i64, bool) = tx
        .prepare_cached(
            "SELECT id, fingerprint, generation, excluded FROM contacts WHERE source_id = ?1",
        )?
        .query_row([&c.source_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let outcome = if old_generation == generation {
        Upserted::Duplicate
    } else if fingerprint == c.content_fingerprint.0 {
        Upserted::Unchanged
    } else {
        Upserted::Changed
    };
    if outcome == Upserted::Unchanged {
        // Mark it seen by this import (the snapshot's sweep spares rows of its generation).
        tx.prepare_cached("UPDATE contacts SET generation = ?2 WHERE id = ?1")?
            .execute([contact_id, generation])?;
        return Ok(outcome);
    }
    tx.prepare_cached(
        "UPDATE contacts SET display_name = ?2, version = ?3, fingerprint = ?4, generation = ?5,
         rejected = ?6 WHERE id = ?1",
    )?
    .execute(params![
        contact_id,
        c.display_name,
        c.version,
        &c.content_fingerprint.0[..],
        generation,
        rejected
    ])?;

    let old = linked_identifiers(tx, contact_id)?;
    let mut new = Vec::with_capacity(c.identifiers.len());
    for (id, digest) in c.identifiers.iter().zip(&p.digests) {
        let (identifier_id, created) =
            identifier_id(tx, id, digest.as_ref(), key_id, !excluded)?;
        if created && !excluded {
            t.queued_add += 1;
        }
        new.push((identifier_id, created));
    }
    for &gone in old.iter().filter(|o| !new.iter().any(|(n, _)| n == *o)) {
        tx.prepare_cached(
            "DELETE FROM contact_identifiers WHERE contact_id = ?1 AND identifier_id = ?2",
        )?
        .execute([contact_id, gone])?;
        reconcile(tx, gone, t)?;
    }
    for &(identifier_id, created) in &new {
        if !old.contains(&identifier_id) {
            link(tx, contact_id, identifier_id)?;
            if !created {
                reconcile(tx, identifier_id, t)?;
            }
        }
    }
    tx.prepare_cached("DELETE FROM rejections WHERE contact_id = ?1")?
        .execute([contact_id])?;
    insert_rejections(tx, contact_id, c)?;
    Ok(outcome)
}

/// Removes a contact unless an import newer than `before_generation` wrote it; its identifiers
/// are reconciled (removed from the server only when no other contact holds them). Returns
/// whether the contact was removed.
pub(crate) fn remove_contact(
    tx: &Transaction<'_>,
    contact_id: i64,
    before_generation: i64,
    t: &mut Transitions,
) -> Result<bool> {
    let held = linked_identifiers(tx, contact_id)?;
    let n = tx
        .prepare_cached("DELETE FROM contacts WHERE id = ?1 AND generation < ?2")?
        .execute([contact_id, before_generation])?;
    if n == 0 {
        return Ok(false);
    }
    for id in held {
        reconcile(tx, id, t)?;
    }
    Ok(true)
}

/// The row id of a contact by source id.
pub(crate) fn contact_id(tx: &Transaction<'_>, source_id: &str) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT id FROM contacts WHERE source_id = ?1")?
        .query_row([source_id], |r| r.get(0))
        .optional()?)
}

/// Sets a contact's exclusion; returns false when there is no such contact.
pub(crate) fn set_contact_excluded(
    tx: &Transaction<'_>,
    source_id: &str,
    excluded: bool,
    t: &mut Transitions,
) -> Result<bool> {
    let Some(id) = contact_id(tx, source_id)? else {
        return Ok(false);
    };
    tx.prepare_cached("UPDATE contacts SET excluded = ?2 WHERE id = ?1")?
        .execute(params![id, excluded])?;
    for identifier in linked_identifiers(tx, id)? {
        reconcile(tx, identifier, t)?;
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
    let digest = key.map(|k| k.hash(identifier));
    let (id, _) = identifier_id(tx, identifier, digest.as_ref(), key.map(HashKey::id), false)?;
    tx.prepare_cached("UPDATE identifiers SET excluded = ?2 WHERE id = ?1")?
        .execute(params![id, excluded])?;
    reconcile(tx, id, t)?;
    Ok(())
}

/// Moves an identifier's upload state towards what its holders want; deletes it when it is
/// idle, held by no contact and not excluded.
pub(crate) fn reconcile(tx: &Transaction<'_>, identifier_id: i64, t: &mut Transitions) -> Result<()> {
    let row: Option<(i64, bool, bool, bool)> = tx
        .prepare_cached(
            "SELECT state, excluded,
                EXISTS (SELECT 1 FROM contact_identifiers ci JOIN contacts c ON c.id = ci.contact_id
                        WHERE ci.identifier_id = ?1 AND c.excluded = 0),
                EXISTS (SELECT 1 FROM contact_identifiers WHERE identifier_id = ?1)
             FROM identifiers WHERE id = ?1",
        )?
        .query_row([identifier_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((code, excluded, held_by_included, held)) = row else {
        return Ok(());
    };
    let state = UploadState::from_code(code).unwrap_or(UploadState::PendingAdd);
    let next = state.towards(held_by_included && !excluded);
    t.record(state, next);
    if next == UploadState::Idle && !held && !excluded {
        tx.prepare_cached("DELETE FROM identifiers WHERE id = ?1")?
            .execute([identifier_id])?;
    } else if next != state {
        tx.prepare_cached("UPDATE identifiers SET state = ?2 WHERE id = ?1")?
            .execute([identifier_id, next.code()])?;
    }
    Ok(())
}

/// Replaces every hash with one under `key` and marks a full re-sync: the server forgets hashes
/// under an old key, so everything wanted is pending again and nothing is pending removal.
/// `each` is called after every identifier (for progress and cancellation).
pub(crate) fn rehash(
    tx: &Transaction<'_>,
    key: &HashKey,
    secret: &[u8],
    mut each: impl FnMut(u64) -> Result<()>,
) -> Result<u64> {
    tx.execute(
        "UPDATE sync_state SET key_id = ?1, key_secret = ?2, full_resync = 1, cursor = NULL",
        params![key.id(), secret],
    )?;
    let mut select = tx.prepare("SELECT id, kind, canonical, state FROM identifiers")?;
    let mut update = tx.prepare(
        "UPDATE identifiers SET key_id = ?2, digest = ?3, state = ?4, batch_id = NULL WHERE id = ?1",
    )?;
    let mut rows = select.query([])?;
    let mut done = 0u64;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let Some(kind) = super::kind_from_code(row.get(1)?) else {
            continue;
        };
        let canonical = row.get_ref(2)?.as_str()?;
        let digest = key.hash_parts(kind, canonical);
        let state = match UploadState::from_code(row.get(3)?) {
            Some(UploadState::Idle | UploadState::PendingRemove | UploadState::RemoveInFlight) => {
                UploadState::Idle
            }
            _ => UploadState::PendingAdd,
        };
        update.execute(params![id, key.id(), &digest.0[..], state.code()])?;
        done += 1;
        each(done)?;
    }
    // Identifiers that were only waiting for their removal are gone with the old key.
    tx.execute(
        "DELETE FROM identifiers WHERE state = 0 AND excluded = 0
         AND NOT EXISTS (SELECT 1 FROM contact_identifiers WHERE identifier_id = identifiers.id)",
        [],
    )?;
    Ok(done)
}

/// Starts an import: the next generation number.
pub(crate) fn next_generation(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row(
        "UPDATE sync_state SET generation = generation + 1 RETURNING generation",
        [],
        |r| r.get(0),
    )?)
}

/// Records a server-reported match for the identifier with this digest. Returns false when no
/// identifier has it (an answer for a hash this device never sent is ignored).
pub(crate) fn record_match(
    tx: &Transaction<'_>,
    digest: &Digest,
    user_ref: &str,
    at: i64,
) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO matches (identifier_id, user_ref, matched_at)
             SELECT id, ?2, ?3 FROM identifiers WHERE digest = ?1
             ON CONFLICT (identifier_id) DO UPDATE SET user_ref = excluded.user_ref",
        )?
        .execute(params![&digest.0[..], user_ref, at])?;
    Ok(n > 0)
}

/// Deletes every row; the schema and the generation counter stay.
pub(crate) fn wipe(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM matches;
         DELETE FROM rejections;
         DELETE FROM contact_identifiers;
         DELETE FROM contacts;
         DELETE FROM identifiers;
         UPDATE sync_state SET key_id = NULL, key_secret = NULL, full_resync = 1, cursor = NULL,
             backoff_until = NULL, backoff_attempt = 0, next_check = NULL;",
    )?;
    Ok(())
}

fn linked_identifiers(tx: &Transaction<'_>, contact_id: i64) -> Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT identifier_id FROM contact_identifiers WHERE contact_id = ?1",
    )?;
    let ids = stmt
        .query_map([contact_id], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

fn link(tx: &Transaction<'_>, contact_id: i64, identifier_id: i64) -> Result<()> {
    tx.prepare_cached("INSERT INTO contact_identifiers (contact_id, identifier_id) VALUES (?1, ?2)")?
        .execute([contact_id, identifier_id])?;
    Ok(())
}

/// The identifier's row id, inserting it when new (pending add when `wanted`, else idle).
/// Returns whether it was created.
fn identifier_id(
    tx: &Transaction<'_>,
    id: &Identifier,
    digest: Option<&Digest>,
    key_id: Option<&str>,
    wanted: bool,
) -> Result<(i64, bool)> {
    let kind = kind_code(id.kind());
    let state = if wanted {
        UploadState::PendingAdd
    } else {
        UploadState::Idle
    };
    let inserted: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO identifiers (kind, canonical, key_id, digest, state)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, canonical) DO NOTHING RETURNING id",
        )?
        .query_row(
            params![
                kind,
                id.canonical(),
                digest.and(key_id),
                digest.map(|d| &d.0[..]),
                state.code()
            ],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(row) = inserted {
        return Ok((row, true));
    }
    let row = tx
        .prepare_cached("SELECT id FROM identifiers WHERE kind = ?1 AND canonical = ?2")?
        .query_row(params![kind, id.canonical()], |r| r.get(0))?;
    Ok((row, false))
}

fn insert_rejections(tx: &Transaction<'_>, contact_id: i64, c: &NormalizedContact) -> Result<()> {
    if c.rejections.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO rejections (contact_id, position, kind, label, value, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, r) in c.rejections.iter().enumerate() {
        stmt.execute(params![
            contact_id,
            i64::try_from(i).unwrap_or(i64::MAX),
            kind_code(r.kind),
            r.label,
            r.value,
            r.reason.code()
        ])?;
    }
    Ok(())
}

/// The fingerprint column as stored.
pub(crate) fn fingerprint_from(bytes: &[u8]) -> Option<Fingerprint> {
    <[u8; 16]>::try_from(bytes).ok().map(Fingerprint)
}

/// A stored contact's content fingerprint.
pub(crate) fn stored_fingerprint(tx: &Transaction<'_>, source_id: &str) -> Result<Option<Fingerprint>> {
    let bytes: Option<Vec<u8>> = tx
        .prepare_cached("SELECT fingerprint FROM contacts WHERE source_id = ?1")?
        .query_row([source_id], |r| r.get(0))
        .optional()?;
    Ok(bytes.as_deref().and_then(fingerprint_from))
}

/// Marks a stored contact as seen by the import of `generation`.
pub(crate) fn touch(tx: &Transaction<'_>, source_id: &str, generation: i64) -> Result<()> {
    tx.prepare_cached("UPDATE contacts SET generation = ?2 WHERE source_id = ?1")?
        .execute(params![source_id, generation])?;
    Ok(())
}
