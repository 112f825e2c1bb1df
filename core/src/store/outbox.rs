//! The outbox: the store's side of a sync — planning batches from the pending state, applying
//! answers and changes, and the persisted sync state (cursor, backoff, check interval).
//!
//! Each function runs inside the caller's transaction, so a batch is planned (rows marked in
//! flight, the exact body stored) in one commit and answered in another: a process killed at any
//! instant finds either the batch with its rows in flight, and resends it, or neither.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::codec::{decode_identifiers, encode_keys};
use super::{UploadState, kind_code, kind_from_code, state};
use crate::error::{Error, Result};
use crate::hash::{DIGEST_LEN, Digest, HashKey};
use crate::identifier::IdentifierKind;
use crate::protocol::encoding::Encoding;
use crate::protocol::wire::{BatchRequest, Mode, WireHash};

/// The persisted part of the sync state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SyncState {
    /// The server holds no usable set for this device: the next batch is `full`.
    pub full_resync: bool,
    /// Where `GET /v1/changes` continues.
    pub cursor: Option<String>,
    /// No request before this (Unix seconds).
    pub backoff_until: Option<i64>,
    /// Failed attempts in a row.
    pub backoff_attempt: u32,
    /// With nothing to send, no check before this (Unix seconds).
    pub next_check: Option<i64>,
    /// The daily quota deferred additions until this (Unix seconds).
    pub deferred_until: Option<i64>,
}

pub(crate) fn sync_state(conn: &Connection) -> Result<SyncState> {
    Ok(conn.query_row(
        "SELECT full_resync, cursor, backoff_until, backoff_attempt, next_check, deferred_until
         FROM sync_state",
        [],
        |r| {
            Ok(SyncState {
                full_resync: r.get(0)?,
                cursor: r.get(1)?,
                backoff_until: r.get(2)?,
                backoff_attempt: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                next_check: r.get(4)?,
                deferred_until: r.get(5)?,
            })
        },
    )?)
}

/// Whether anything waits for the server: a pending identifier or a batch in flight.
pub(crate) fn has_work(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        concat!(
            "SELECT EXISTS (SELECT 1 FROM batches)
             OR EXISTS (SELECT 1 FROM identifiers WHERE state IN (",
            state!(PendingAdd),
            ", ",
            state!(PendingRemove),
            "))"
        ),
        [],
        |r| r.get(0),
    )?)
}

/// Identifiers pending addition (for the report of what a quota deferred).
pub(crate) fn pending_adds(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        concat!(
            "SELECT count(*) FROM identifiers WHERE state = ",
            state!(PendingAdd)
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A batch as stored: sent (or about to be) and not yet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredBatch {
    pub batch_id: String,
    pub mode: Mode,
    pub key_id: String,
    /// The exact request body; a resend sends these bytes.
    pub body: Vec<u8>,
    /// The body's encoding (a resend says the same `Content-Type`).
    pub encoding: Encoding,
    /// The added identifiers, in the order of the body's `add` list, with their hashes.
    pub adds: Vec<(IdentifierKind, String, WireHash)>,
    /// The removed identifiers, in the order of the body's `remove` list.
    pub removes: Vec<(IdentifierKind, String, WireHash)>,
}

/// The batches in flight, oldest first. A batch whose stored rows do not agree with its body
/// (a damaged file) is returned with empty member lists, so it is reverted, never half-applied.
pub(crate) fn batches(conn: &Connection) -> Result<Vec<StoredBatch>> {
    let mut stmt = conn.prepare(
        "SELECT batch_id, mode, key_id, body, adds, removes FROM batches
         ORDER BY created_at, batch_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let batch_id: String = r.get(0)?;
        let mode = if r.get_ref(1)?.as_str()? == "full" {
            Mode::Full
        } else {
            Mode::Delta
        };
        let key_id: String = r.get(2)?;
        let body: Vec<u8> = r.get(3)?;
        let adds = decode_identifiers(r.get_ref(4)?.as_blob()?);
        let removes = decode_identifiers(r.get_ref(5)?.as_blob()?);
        // The body was stored as planned, in JSON or CBOR; its first byte tells which.
        let encoding = Encoding::of_body(None, &body);
        let request: Option<BatchRequest> = encoding.decode(&body).ok();
        let (adds, removes) = match request {
            Some(req) if req.add.len() == adds.len() && req.remove.len() == removes.len() => {
                (zip(&adds, req.add), zip(&removes, req.remove))
            }
            _ => (Vec::new(), Vec::new()),
        };
        out.push(StoredBatch {
            batch_id,
            mode,
            key_id,
            body,
            encoding,
            adds,
            removes,
        });
    }
    Ok(out)
}

fn zip(
    keys: &[(IdentifierKind, &str)],
    hashes: Vec<WireHash>,
) -> Vec<(IdentifierKind, String, WireHash)> {
    keys.iter()
        .zip(hashes)
        .map(|((k, c), h)| (*k, (*c).to_owned(), h))
        .collect()
}

/// How the next batch is planned.
#[derive(Debug)]
pub(crate) struct PlanInput<'a> {
    pub batch_id: &'a str,
    /// The server's current key: every hash sent is under it.
    pub key: &'a HashKey,
    /// The first batch of a full re-sync: sent even when empty, with no removals.
    pub full: bool,
    /// Hashes per batch.
    pub max_total: usize,
    /// The body's encoding (CBOR when the server reads it).
    pub encoding: Encoding,
    pub now: i64,
}

/// Where planning stands within one sync: identifiers already planned or skipped lie before
/// `after`, so each is looked at once however many batches a sync sends.
#[derive(Debug, Default)]
pub(crate) struct PlanCursor {
    pub after: (i64, String),
    /// Additions the day's quota still allows.
    pub adds_budget: u64,
    /// Additions skipped because the quota ran out.
    pub deferred: u64,
}

/// Rows read per planning statement.
const PLAN_PAGE: i64 = 512;

/// Plans the next batch: picks pending identifiers in key order after `cursor.after`, stores the
/// batch with its exact body and marks its identifiers in flight. `None` when nothing is left.
pub(crate) fn plan(
    tx: &Transaction<'_>,
    input: &PlanInput<'_>,
    cursor: &mut PlanCursor,
) -> Result<Option<StoredBatch>> {
    let (adds, removes, rekeyed) = pick(tx, input, cursor)?;
    if adds.is_empty() && removes.is_empty() && !input.full {
        return Ok(None);
    }
    let request = BatchRequest {
        batch_id: input.batch_id.to_owned(),
        key_id: input.key.id().to_owned(),
        mode: if input.full { Mode::Full } else { Mode::Delta },
        add: adds.iter().map(|(_, _, h)| h.clone()).collect(),
        remove: removes.iter().map(|(_, _, h)| h.clone()).collect(),
    };
    let body = input
        .encoding
        .encode(&request)
        .map_err(|e| Error::InvalidState(format!("batch not serialisable: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO batches (batch_id, mode, key_id, body, adds, removes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        input.batch_id,
        if input.full { "full" } else { "delta" },
        input.key.id(),
        body,
        encode_keys(adds.iter().map(|(k, c, _)| (*k, c.as_str()))),
        encode_keys(removes.iter().map(|(k, c, _)| (*k, c.as_str()))),
        input.now,
    ])?;
    let mut mark = tx.prepare_cached(
        "UPDATE identifiers SET state = ?3, batch_id = ?4 WHERE kind = ?1 AND canonical = ?2",
    )?;
    for (kind, canonical, _) in &adds {
        mark.execute(params![
            kind_code(*kind),
            canonical,
            UploadState::AddInFlight.code(),
            input.batch_id
        ])?;
    }
    for (kind, canonical, _) in &removes {
        mark.execute(params![
            kind_code(*kind),
            canonical,
            UploadState::RemoveInFlight.code(),
            input.batch_id
        ])?;
    }
    let mut rekey = tx.prepare_cached(
        "UPDATE identifiers SET key_id = ?3, digest = ?4 WHERE kind = ?1 AND canonical = ?2",
    )?;
    for (kind, canonical, digest) in &rekeyed {
        rekey.execute(params![
            kind_code(*kind),
            canonical,
            input.key.id(),
            &digest.0[..]
        ])?;
    }
    Ok(Some(StoredBatch {
        batch_id: input.batch_id.to_owned(),
        mode: request.mode,
        key_id: input.key.id().to_owned(),
        body,
        encoding: input.encoding,
        adds,
        removes,
    }))
}

/// Identifiers of one batch (added, removed, and those whose stored hash had to be made again
/// under the current key), picked in key order after the cursor.
type Picked = (
    Vec<(IdentifierKind, String, WireHash)>,
    Vec<(IdentifierKind, String, WireHash)>,
    Vec<(IdentifierKind, String, Digest)>,
);

fn pick(tx: &Transaction<'_>, input: &PlanInput<'_>, cursor: &mut PlanCursor) -> Result<Picked> {
    let mut adds: Vec<(IdentifierKind, String, WireHash)> = Vec::new();
    let mut removes: Vec<(IdentifierKind, String, WireHash)> = Vec::new();
    let mut rekeyed: Vec<(IdentifierKind, String, Digest)> = Vec::new();
    {
        let mut page = tx.prepare_cached(concat!(
            "SELECT kind, canonical, state, digest, key_id FROM identifiers
             WHERE (kind, canonical) > (?1, ?2) AND state IN (",
            state!(PendingAdd),
            ", ",
            state!(PendingRemove),
            ") ORDER BY kind, canonical LIMIT ?3"
        ))?;
        'pages: loop {
            let rows = page
                .query_map(params![cursor.after.0, cursor.after.1, PLAN_PAGE], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                break;
            }
            for (code, canonical, state, digest, key_id) in rows {
                if adds.len() + removes.len() >= input.max_total {
                    break 'pages;
                }
                cursor.after = (code, canonical.clone());
                let Some(kind) = kind_from_code(code) else {
                    continue;
                };
                // An identifier an import wrote while a key rotation re-hashed the store carries
                // the old key's hash (or none): it is hashed again here, under the current key.
                let stored = digest
                    .and_then(|d| <[u8; DIGEST_LEN]>::try_from(d).ok())
                    .filter(|_| key_id.as_deref() == Some(input.key.id()));
                let digest = if let Some(d) = stored {
                    Digest(d)
                } else {
                    let d = input.key.hash_parts(kind, &canonical);
                    rekeyed.push((kind, canonical.clone(), d));
                    d
                };
                let hash = WireHash::from(digest);
                if state == UploadState::PendingAdd.code() {
                    if cursor.adds_budget == 0 {
                        cursor.deferred += 1;
                        continue;
                    }
                    cursor.adds_budget -= 1;
                    adds.push((kind, canonical, hash));
                } else if !input.full {
                    removes.push((kind, canonical, hash));
                }
            }
        }
    }
    Ok((adds, removes, rekeyed))
}

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
fn put_match(
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
fn drop_match(tx: &Transaction<'_>, kind: IdentifierKind, canonical: &str) -> Result<bool> {
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

pub(crate) fn set_cursor(tx: &Transaction<'_>, cursor: Option<&str>) -> Result<()> {
    tx.execute("UPDATE sync_state SET cursor = ?1", [cursor])?;
    Ok(())
}

/// Persists a backoff: no request before `until`, after `attempt` failures in a row.
pub(crate) fn set_backoff(tx: &Transaction<'_>, until: i64, attempt: u32) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET backoff_until = ?1, backoff_attempt = ?2",
        params![until, attempt],
    )?;
    Ok(())
}

/// A sync completed: the backoff is cleared and the next check is due at `next_check`; additions
/// the daily quota left pending wait until `deferred_until` (`None`: nothing was deferred).
pub(crate) fn finish(
    tx: &Transaction<'_>,
    next_check: i64,
    deferred_until: Option<i64>,
) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET backoff_until = NULL, backoff_attempt = 0, next_check = ?1,
             deferred_until = ?2",
        params![next_check, deferred_until],
    )?;
    Ok(())
}

/// Keeps an identifier no contact holds (an invite code), with its hash, and optionally its
/// match. Returns whether the match is new.
pub(crate) fn pin(
    tx: &Transaction<'_>,
    kind: IdentifierKind,
    canonical: &str,
    digest: Option<(&str, Digest)>,
    user_ref: Option<&str>,
    now: i64,
) -> Result<bool> {
    let (key_id, digest) = match digest {
        Some((id, d)) => (Some(id), Some(d.0.to_vec())),
        None => (None, None),
    };
    tx.prepare_cached(
        "INSERT INTO identifiers
             (kind, canonical, holders, included, excluded, key_id, digest, state, pinned)
         VALUES (?1, ?2, 0, 0, 0, ?3, ?4, 0, 1)
         ON CONFLICT (kind, canonical) DO UPDATE SET pinned = 1,
             key_id = coalesce(identifiers.key_id, excluded.key_id),
             digest = coalesce(identifiers.digest, excluded.digest)",
    )?
    .execute(params![kind_code(kind), canonical, key_id, digest])?;
    match user_ref {
        Some(user_ref) => put_match(tx, kind, canonical, user_ref, now),
        None => Ok(false),
    }
}

/// Records an invite this device created (its code is pinned besides, by [`pin`]).
pub(crate) fn record_invite(
    tx: &Transaction<'_>,
    code: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO invites (code, created_at, expires_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![code, created_at, expires_at])?;
    Ok(())
}

/// Forgets an invite this device created and revoked: its row, and its pinned code unless a
/// match or a contact keeps it.
pub(crate) fn drop_invite(tx: &Transaction<'_>, code: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM invites WHERE code = ?1")?
        .execute([code])?;
    tx.prepare_cached(
        "DELETE FROM identifiers WHERE kind = ?1 AND canonical = ?2 AND holders = 0
             AND excluded = 0
             AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.kind = ?1 AND m.canonical = ?2)",
    )?
    .execute(params![kind_code(IdentifierKind::Invite), code])?;
    Ok(())
}
