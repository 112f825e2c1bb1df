//! The Matrix identity-service mode's side of the store: which identifiers a sync looks up, what
//! the lookups found, the pepper they were made under and when the whole set was last looked up.
//!
//! No hash is stored: `SHA-256` of a few thousand short strings costs less than reading them
//! back, and a new pepper would make every stored one worthless. Uses the upload states with
//! the private mode's meaning: `PendingAdd` is "to look up" (new since the last lookup),
//! `Acknowledged` "looked up". Each page of lookups is recorded in one transaction with its
//! matches, so a process killed mid-sync leaves at worst a page to look up again; the pepper and
//! the full lookup's time are written only once every page is in.

use rusqlite::{Connection, Transaction, params};

use super::answers::{drop_match, put_match};
use super::{UploadState, identifier_rows, kind_code, state};
use crate::error::Result;
use crate::identifier::IdentifierKind;

/// The kinds an identity server knows (`email` and `msisdn`), as the store codes them.
const SUPPORTED: &str = "(1, 2)";

/// What the last sync in this mode left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MatrixState {
    /// The pepper its lookups were hashed with.
    pub pepper: Option<String>,
    /// When every identifier was last looked up (Unix seconds).
    pub full_at: Option<i64>,
}

/// The mode's state.
pub(crate) fn matrix_state(conn: &Connection) -> Result<MatrixState> {
    Ok(conn.query_row(
        "SELECT matrix_pepper, matrix_full_at FROM sync_state",
        [],
        |r| {
            Ok(MatrixState {
                pepper: r.get(0)?,
                full_at: r.get(1)?,
            })
        },
    )?)
}

/// Up to `limit` identifiers to look up after `after` in key order: every wanted one of a
/// supported kind when `full`, else only those not looked up yet.
pub(crate) fn to_look_up(
    conn: &Connection,
    full: bool,
    after: Option<&(IdentifierKind, String)>,
    limit: usize,
) -> Result<Vec<(IdentifierKind, String)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT kind, canonical FROM identifiers
         WHERE included > 0 AND excluded = 0 AND kind IN {SUPPORTED}
           AND (?1 OR state = {pending}) AND (kind, canonical) > (?2, ?3)
         ORDER BY kind, canonical LIMIT ?4",
        pending = state!(PendingAdd)
    ))?;
    let (kind, canonical) = after.map_or((0, ""), |(k, c)| (kind_code(*k), c.as_str()));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    identifier_rows(&mut stmt, params![full, kind, canonical, limit])
}

/// How many wanted identifiers of a supported kind wait for their first lookup.
pub(crate) fn new_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM identifiers WHERE included > 0 AND excluded = 0
               AND kind IN {SUPPORTED} AND state = {}",
            state!(PendingAdd)
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// How many wanted identifiers the identity server has no medium for (handles, linked accounts,
/// invite codes): left out of this mode, and counted in its report.
pub(crate) fn unsupported_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM identifiers WHERE included > 0 AND excluded = 0
               AND kind NOT IN {SUPPORTED}"
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Records one page of lookups: each identifier with the Matrix user id bound to it, or `None`
/// when none is. Returns the matches gained (new or changed) and lost.
pub(crate) fn record_lookups(
    tx: &Transaction<'_>,
    looked_up: &[((IdentifierKind, String), Option<String>)],
    now: i64,
) -> Result<(u64, u64)> {
    let mut done = tx.prepare_cached(
        "UPDATE identifiers SET state = ?3, batch_id = NULL WHERE kind = ?1 AND canonical = ?2",
    )?;
    let (mut gained, mut lost) = (0, 0);
    for ((kind, canonical), user) in looked_up {
        match user {
            Some(user) => gained += u64::from(put_match(tx, *kind, canonical, user, now)?),
            None => lost += u64::from(drop_match(tx, *kind, canonical)?),
        }
        done.execute(params![
            kind_code(*kind),
            canonical,
            UploadState::Acknowledged.code()
        ])?;
    }
    Ok((gained, lost))
}

/// Every page is in: the pepper they were hashed with, and (after a full lookup) its time.
pub(crate) fn finish_lookups(
    tx: &Transaction<'_>,
    pepper: &str,
    full_at: Option<i64>,
) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET matrix_pepper = ?1, matrix_full_at = coalesce(?2, matrix_full_at)",
        params![pepper, full_at],
    )?;
    Ok(())
}

/// Forgets the mode's state: the next sync looks every identifier up.
pub(crate) fn forget(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET matrix_pepper = NULL, matrix_full_at = NULL",
        [],
    )?;
    Ok(())
}
