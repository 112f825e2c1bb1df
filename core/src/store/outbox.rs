//! The outbox: the store's side of a sync — planning batches from the pending state, and the
//! persisted sync state (cursor, backoff, check interval). Applying the answers is
//! [`super::answers`]'s.
//!
//! Each function runs inside the caller's transaction, so a batch is planned (rows marked in
//! flight, the exact body stored) in one commit and answered in another: a process killed at any
//! instant finds either the batch with its rows in flight, and resends it, or neither.
//!
//! A batch for a server that advertises buckets is padded here, when it is planned: its dummies
//! are drawn once and kept in the stored body, so a resend sends the same bytes (a batch id is
//! idempotent only for the same body).

use rusqlite::{Connection, Transaction, params};

use super::codec::{decode_identifiers, encode_keys};
use super::{UploadState, kind_code, kind_from_code, state};
use crate::error::{Error, Result};
use crate::hash::{DIGEST_LEN, Digest, HashKey};
use crate::identifier::IdentifierKind;
use crate::protocol::encoding::Encoding;
use crate::protocol::private::bucket_for;
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
    /// Dummies after the real adds (charged by the server like new identifiers).
    pub padding: u32,
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
        let (adds, removes, padding) = match request {
            Some(mut req)
                if real_adds(&req) == Some(adds.len()) && req.remove.len() == removes.len() =>
            {
                // The dummies after the real adds are no identifier's.
                req.add.truncate(adds.len());
                let padding = req.padding.unwrap_or(0);
                (zip(&adds, req.add), zip(&removes, req.remove), padding)
            }
            _ => (Vec::new(), Vec::new(), 0),
        };
        out.push(StoredBatch {
            batch_id,
            mode,
            key_id,
            body,
            encoding,
            adds,
            removes,
            padding,
        });
    }
    Ok(out)
}

/// The count of a batch's real adds: `add` less its trailing dummies; `None` when the padding
/// claims more entries than `add` has (a damaged file).
fn real_adds(request: &BatchRequest) -> Option<usize> {
    let padding = request.padding.map_or(0, |p| p as usize);
    request.add.len().checked_sub(padding)
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
    /// The server's batch buckets, ascending (`max_total` is at most the largest); empty: no
    /// padding.
    pub buckets: &'a [u32],
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
    let (mut adds, removes, rekeyed) = pick(tx, input, cursor)?;
    let padding = if input.buckets.is_empty() {
        None
    } else if let Some(padding) = padding_within_budget(&mut adds, removes.len(), input, cursor) {
        Some(padding)
    } else {
        // Not even the removals' dummies fit today's budget: they wait for tomorrow's.
        cursor.deferred += removes.len() as u64;
        return Ok(None);
    };
    if adds.is_empty() && removes.is_empty() && !input.full {
        return Ok(None);
    }
    let mut request = BatchRequest {
        batch_id: input.batch_id.to_owned(),
        key_id: input.key.id().to_owned(),
        mode: if input.full { Mode::Full } else { Mode::Delta },
        add: adds.iter().map(|(_, _, h)| h.clone()).collect(),
        remove: removes.iter().map(|(_, _, h)| h.clone()).collect(),
        padding,
    };
    if let Some(padding) = padding {
        request.add.extend(dummies(padding)?);
        even_out_padding_width(&mut request, input)?;
    }
    let body = input
        .encoding
        .encode(&request)
        .map_err(|e| Error::InvalidState(format!("batch not serialisable: {e}")))?;
    let batch_id = request.batch_id.as_str();
    tx.prepare_cached(
        "INSERT INTO batches (batch_id, mode, key_id, body, adds, removes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        batch_id,
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
            batch_id
        ])?;
    }
    for (kind, canonical, _) in &removes {
        mark.execute(params![
            kind_code(*kind),
            canonical,
            UploadState::RemoveInFlight.code(),
            batch_id
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
        batch_id: request.batch_id,
        mode: request.mode,
        key_id: input.key.id().to_owned(),
        body,
        encoding: input.encoding,
        adds,
        removes,
        padding: padding.unwrap_or(0),
    }))
}

/// The dummies that pad `adds` and `removes` to the smallest bucket holding them, paid from the
/// day's budget (the server charges dummies like new identifiers): while they do not fit, adds
/// are given back, to wait for tomorrow's budget like the ones `pick` deferred. `None` when not
/// even the removals alone can be padded today.
fn padding_within_budget(
    adds: &mut Vec<(IdentifierKind, String, WireHash)>,
    removes: usize,
    input: &PlanInput<'_>,
    cursor: &mut PlanCursor,
) -> Option<u32> {
    loop {
        let n = adds.len() + removes;
        if n == 0 && !input.full {
            // Nothing left to send: no dummies to pay for.
            return Some(0);
        }
        // `max_total` is at most the largest bucket, so one holds the batch.
        let bucket = bucket_for(n, input.buckets)?;
        let padding = (bucket - n) as u64;
        if padding <= cursor.adds_budget {
            cursor.adds_budget -= padding;
            return u32::try_from(padding).ok();
        }
        adds.pop()?;
        cursor.adds_budget += 1;
        cursor.deferred += 1;
    }
}

/// `n` dummy hashes: random bytes of a digest's length, which neither an observer nor the
/// server can tell from real ones (the server drops them by the request's `padding` count).
fn dummies(n: u32) -> Result<Vec<WireHash>> {
    let mut bytes = vec![0u8; n as usize * DIGEST_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::InvalidState(format!("no random source: {e}")))?;
    Ok(bytes
        .chunks_exact(DIGEST_LEN)
        .filter_map(WireHash::from_bytes)
        .collect())
}

/// Lengthens the batch id by as many bytes as the `padding` count's encoding is shorter than the
/// largest bucket's, so every body of a bucket (and mode) has one length whatever the count:
/// the count's digits would otherwise tell an observer of body sizes how full the bucket is.
/// The id stays within its 64 characters, and (at 24 or more) within one CBOR length header.
fn even_out_padding_width(request: &mut BatchRequest, input: &PlanInput<'_>) -> Result<()> {
    let widest = input.buckets.last().copied();
    let width = |padding: Option<u32>| {
        let head = BatchRequest {
            batch_id: String::new(),
            key_id: String::new(),
            mode: Mode::Delta,
            add: Vec::new(),
            remove: Vec::new(),
            padding,
        };
        input
            .encoding
            .encode(&head)
            .map(|b| b.len())
            .map_err(|e| Error::InvalidState(format!("batch not serialisable: {e}")))
    };
    let missing = width(widest)?.saturating_sub(width(request.padding)?);
    request.batch_id.extend(std::iter::repeat_n('_', missing));
    Ok(())
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
