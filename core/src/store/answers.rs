//! Applying the server's answers inside the caller's transaction: a batch acknowledged (its rows
//! leave the in-flight state, matches kept or dropped), a batch reverted for a resend, a page of
//! `GET /v1/changes` (users who joined or left).
//!
//! Below the outbox's planning (it reads [`StoredBatch`] and moves the cursor), above nothing
//! else of the store: the match rows are written only here.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, Transaction, params};

use super::outbox::{StoredBatch, set_cursor};
use super::{UploadState, kind_code, kind_from_code, state};
use crate::error::Result;
use crate::hash::DIGEST_LEN;
use crate::identifier::IdentifierKind;
use crate::protocol::wire::{Mode, WireHash};

/// What applying one answer changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub added: u64,
    pub removed: u64,
    pub new_matches: u64,
    pub lost_matches: u64,
}

/// An identifier row as the answer handling needs it.
struct Row {
    state: i64,
    holders: i64,
    included: i64,
    excluded: bool,
    pinned: bool,
    batch_id: Option<String>,
}

impl Row {
    fn wanted(&self) -> bool {
        self.included > 0 && !self.excluded
    }

    fn disposable(&self) -> bool {
        self.holders == 0 && !self.excluded && !self.pinned
    }
}

fn row(tx: &Transaction<'_>, kind: IdentifierKind, canonical: &str) -> Result<Option<Row>> {
    Ok(tx
        .prepare_cached(
            "SELECT state, holders, included, excluded, pinned, batch_id FROM identifiers
             WHERE kind = ?1 AND canonical = ?2",
        )?
        .query_row(params![kind_code(kind), canonical], |r| {
            Ok(Row {
                state: r.get(0)?,
                holders: r.get(1)?,
                included: r.get(2)?,
                excluded: r.get(3)?,
                pinned: r.get(4)?,
                batch_id: r.get(5)?,
            })
        })
        .optional()?)
}

fn set_state(
    tx: &Transaction<'_>,
    kind: IdentifierKind,
    canonical: &str,
    state: UploadState,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE identifiers SET state = ?3, batch_id = NULL WHERE kind = ?1 AND canonical = ?2",
    )?
    .execute(params![kind_code(kind), canonical, state.code()])?;
    Ok(())
}

fn delete_identifier(tx: &Transaction<'_>, kind: IdentifierKind, canonical: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM identifiers WHERE kind = ?1 AND canonical = ?2")?
        .execute(params![kind_code(kind), canonical])?;
    Ok(())
}

/// Records a match; true when it is new (or now names another user).
pub(super) fn put_match(
    tx: &Transaction<'_>,
    kind: IdentifierKind,
    canonical: &str,
    user_ref: &str,
    now: i64,
) -> Result<bool> {
    let before: Option<String> = tx
        .prepare_cached("SELECT user_ref FROM matches WHERE kind = ?1 AND canonical = ?2")?
        .query_row(params![kind_code(kind), canonical], |r| r.get(0))
        .optional()?;
    if before.as_deref() == Some(user_ref) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO matches (kind, canonical, user_ref, matched_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, canonical) DO UPDATE SET user_ref = excluded.user_ref,
             matched_at = excluded.matched_at",
    )?
    .execute(params![kind_code(kind), canonical, user_ref, now])?;
    Ok(true)
}

/// Deletes a match; true when there was one.
pub(super) fn drop_match(
    tx: &Transaction<'_>,
    kind: IdentifierKind,
    canonical: &str,
) -> Result<bool> {
    Ok(tx
        .prepare_cached("DELETE FROM matches WHERE kind = ?1 AND canonical = ?2")?
        .execute(params![kind_code(kind), canonical])?
        > 0)
}

/// Applies the server's answer to a batch: its identifiers leave the in-flight states (towards
/// what their contacts want *now*: a contact may have changed while the batch was out), its
/// matches are recorded, and the batch is gone. `matches` maps hashes of the batch's additions
/// to user references; the answer is authoritative for those hashes.
pub(crate) fn acknowledge(
    tx: &Transaction<'_>,
    batch: &StoredBatch,
    matches: &HashMap<&WireHash, &str>,
    now: i64,
) -> Result<Applied> {
    let mut applied = Applied::default();
    // Matches are few (users among contacts): knowing which identifiers have one spares a
    // delete per added identifier, the common case of a first sync.
    let had_match: HashSet<(i64, String)> = tx
        .prepare_cached("SELECT kind, canonical FROM matches")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    // One statement per identifier: out of flight, towards what its contacts want now, only
    // if it is still this batch's.
    let mut settle = tx.prepare_cached(
        "UPDATE identifiers SET batch_id = NULL,
             state = CASE WHEN included > 0 AND excluded = 0 THEN ?4 ELSE ?5 END
         WHERE kind = ?1 AND canonical = ?2 AND batch_id = ?3 AND state = ?6",
    )?;
    for (kind, canonical, hash) in &batch.adds {
        let settled = settle.execute(params![
            kind_code(*kind),
            canonical,
            batch.batch_id,
            UploadState::Acknowledged.code(),
            UploadState::PendingRemove.code(),
            UploadState::AddInFlight.code(),
        ])?;
        if settled == 0 {
            continue;
        }
        applied.added += 1;
        match matches.get(hash) {
            Some(user_ref) => {
                if put_match(tx, *kind, canonical, user_ref, now)? {
                    applied.new_matches += 1;
                }
            }
            None => {
                if had_match.contains(&(kind_code(*kind), canonical.clone()))
                    && drop_match(tx, *kind, canonical)?
                {
                    applied.lost_matches += 1;
                }
            }
        }
    }
    for (kind, canonical, _) in &batch.removes {
        let Some(r) = row(tx, *kind, canonical)? else {
            continue;
        };
        if r.batch_id.as_deref() != Some(&batch.batch_id)
            || r.state != UploadState::RemoveInFlight.code()
        {
            continue;
        }
        applied.removed += 1;
        drop_match(tx, *kind, canonical)?;
        if r.wanted() {
            set_state(tx, *kind, canonical, UploadState::PendingAdd)?;
        } else if r.disposable() {
            delete_identifier(tx, *kind, canonical)?;
        } else {
            set_state(tx, *kind, canonical, UploadState::Idle)?;
        }
    }
    if batch.mode == Mode::Full {
        tx.execute("UPDATE sync_state SET full_resync = 0", [])?;
    }
    delete_batch(tx, &batch.batch_id)?;
    Ok(applied)
}

/// Takes a batch back unsent (the server refused it, or it must be split): its identifiers
/// return to what they want now, pending again, and the batch is gone.
pub(crate) fn revert(tx: &Transaction<'_>, batch: &StoredBatch) -> Result<()> {
    let mut stmt = tx.prepare_cached(concat!(
        "SELECT kind, canonical FROM identifiers WHERE batch_id = ?1 AND state IN (",
        state!(AddInFlight),
        ", ",
        state!(RemoveInFlight),
        ")"
    ))?;
    // The batch's rows are found by their batch id, not the stored member lists, so a damaged
    // batch row still releases every identifier it held.
    let members = if batch.adds.is_empty() && batch.removes.is_empty() {
        stmt.query_map([&batch.batch_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(k, c)| Some((kind_from_code(k)?, c)))
        .collect()
    } else {
        batch
            .adds
            .iter()
            .chain(&batch.removes)
            .map(|(k, c, _)| (*k, c.clone()))
            .collect::<Vec<_>>()
    };
    for (kind, canonical) in members {
        let Some(r) = row(tx, kind, &canonical)? else {
            continue;
        };
        if r.batch_id.as_deref() != Some(&batch.batch_id) {
            continue;
        }
        let was_on_server = r.state == UploadState::RemoveInFlight.code();
        let next = match (was_on_server, r.wanted()) {
            (false, true) => UploadState::PendingAdd,
            (false, false) if r.disposable() => {
                delete_identifier(tx, kind, &canonical)?;
                continue;
            }
            (false, false) => UploadState::Idle,
            (true, true) => UploadState::Acknowledged,
            (true, false) => UploadState::PendingRemove,
        };
        set_state(tx, kind, &canonical, next)?;
    }
    delete_batch(tx, &batch.batch_id)
}

fn delete_batch(tx: &Transaction<'_>, batch_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM batches WHERE batch_id = ?1")?
        .execute([batch_id])?;
    Ok(())
}

/// Applies one page of `GET /v1/changes` and stores its cursor, in one scan of the identifiers.
/// Hashes this device does not hold are ignored.
pub(crate) fn apply_changes(
    tx: &Transaction<'_>,
    gained: &HashMap<[u8; DIGEST_LEN], &str>,
    lost: &HashSet<[u8; DIGEST_LEN]>,
    cursor: &str,
    now: i64,
) -> Result<(u64, u64)> {
    let mut hits: Vec<(IdentifierKind, String, Option<&str>)> = Vec::new();
    if !gained.is_empty() || !lost.is_empty() {
        let mut scan =
            tx.prepare("SELECT kind, canonical, digest FROM identifiers WHERE digest IS NOT NULL")?;
        let mut rows = scan.query([])?;
        while let Some(r) = rows.next()? {
            let Ok(digest) = <[u8; DIGEST_LEN]>::try_from(r.get_ref(2)?.as_blob()?) else {
                continue;
            };
            let change = if let Some(user) = gained.get(&digest) {
                Some(*user)
            } else if lost.contains(&digest) {
                None
            } else {
                continue;
            };
            if let Some(kind) = kind_from_code(r.get(0)?) {
                hits.push((kind, r.get(1)?, change));
            }
        }
    }
    let (mut new, mut gone) = (0, 0);
    for (kind, canonical, change) in hits {
        match change {
            Some(user_ref) => new += u64::from(put_match(tx, kind, &canonical, user_ref, now)?),
            None => gone += u64::from(drop_match(tx, kind, &canonical)?),
        }
    }
    set_cursor(tx, Some(cursor))?;
    Ok((new, gone))
}
