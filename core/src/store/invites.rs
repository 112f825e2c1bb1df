//! Identifiers the device keeps for an invite rather than for a contact: a code it created
//! (recorded, and dropped when revoked) or redeemed (pinned with its hash and its match); and,
//! for the private mode, which created invites may still have been redeemed unbeknown to the
//! device (its feed is read for them).

use rusqlite::{Connection, Transaction, params};

use super::answers::put_match;
use super::kind_code;
use crate::error::Result;
use crate::hash::Digest;
use crate::identifier::IdentifierKind;

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

/// The allowance for this device's clock against the server's when deciding that an invite had
/// expired (so could no longer be redeemed) before the feed was last read: a day.
const CLOCK_ALLOWANCE_S: i64 = 86_400;

/// The codes of the invites this device created that may have been redeemed without its
/// knowing: not redeemed as far as it knows, and not yet expired (allowing for clocks) when the
/// private mode last read its feed to the end. None: the private mode has no reason to read it.
pub(crate) fn awaiting_redemption(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.code FROM invites v
         WHERE v.expires_at + ?2 > (SELECT invites_read_at FROM sync_state)
           AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.kind = ?1 AND m.canonical = v.code)
         ORDER BY v.code",
    )?;
    let rows = stmt.query_map(
        params![kind_code(IdentifierKind::Invite), CLOCK_ALLOWANCE_S],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records one page of the feed the private mode read: each redeemed invite's match (`found`:
/// code and redeemer) and the cursor; with `read_at` (the page ended the feed), the time the
/// read started. Returns the matches that are new.
pub(crate) fn record_redemptions(
    tx: &Transaction<'_>,
    found: &[(String, String)],
    cursor: &str,
    read_at: Option<i64>,
    now: i64,
) -> Result<u64> {
    let mut new = 0;
    for (code, user_ref) in found {
        new += u64::from(put_match(tx, IdentifierKind::Invite, code, user_ref, now)?);
    }
    super::outbox::set_cursor(tx, Some(cursor))?;
    if let Some(at) = read_at {
        tx.execute("UPDATE sync_state SET invites_read_at = ?1", [at])?;
    }
    Ok(new)
}
