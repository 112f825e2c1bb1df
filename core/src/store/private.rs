//! The private discovery mode's side of the store: identifiers' PRF values, the shards of the
//! users' filter this device follows as downloaded plus the changes since, and which values
//! still need checking against them.
//!
//! Each function runs inside the caller's transaction. The order a sync keeps makes every
//! crash harmless: values are saved unchecked, a new filter or change marks the values it
//! touches unchecked, and a value is marked checked in the same transaction that records what
//! its lookup found. A process killed anywhere leaves at worst values to check (and look up)
//! again; never a match that is stale, never a value lost.
//!
//! Uses the upload states of the hashed mode with the meaning they have here: `PendingAdd` is
//! "to evaluate", `Acknowledged` "has its value", `PendingRemove` "to forget" (no server holds
//! anything to remove).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::answers::{drop_match, put_match};
use super::{UploadState, identifier_rows, kind_code, kind_from_code, state};
use crate::error::{Error, Result};
use crate::identifier::IdentifierKind;
use crate::oprf::filter::UserFilter;
use crate::oprf::{LOOKUP_LEN, Lookup, PrfOutput, Tag};
use crate::protocol::private::{Discovery, FilterChanges, shard_of, shard_range};

/// SQLite keeps a tag's 64 bits as a signed integer.
fn tag_sql(tag: Tag) -> i64 {
    i64::from_le_bytes(tag.0.to_le_bytes())
}

fn tag_of(value: i64) -> Tag {
    Tag(u64::from_le_bytes(value.to_le_bytes()))
}

/// Up to `limit` identifiers that discovery wants and that have no value yet, in key order.
pub(crate) fn unevaluated(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(IdentifierKind, String)>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT i.kind, i.canonical FROM identifiers i
         WHERE i.included > 0 AND i.excluded = 0 AND i.state = ",
        state!(PendingAdd),
        " ORDER BY i.kind, i.canonical LIMIT ?1"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    identifier_rows(&mut stmt, [limit])
}

/// How many identifiers still wait for a value.
pub(crate) fn unevaluated_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        concat!(
            "SELECT count(*) FROM identifiers WHERE included > 0 AND excluded = 0 AND state = ",
            state!(PendingAdd)
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Saves the values of one evaluated batch, unchecked; their identifiers have their value.
pub(crate) fn save_values(
    tx: &Transaction<'_>,
    epoch: u32,
    values: &[((IdentifierKind, String), PrfOutput)],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO prf_values (kind, canonical, epoch, tag, lookup, checked)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)
         ON CONFLICT (kind, canonical) DO UPDATE SET epoch = excluded.epoch,
             tag = excluded.tag, lookup = excluded.lookup, checked = 0",
    )?;
    let mut done = tx.prepare_cached(
        "UPDATE identifiers SET state = ?3, batch_id = NULL WHERE kind = ?1 AND canonical = ?2",
    )?;
    for ((kind, canonical), value) in values {
        let code = kind_code(*kind);
        insert.execute(params![
            code,
            canonical,
            epoch,
            tag_sql(value.tag()),
            value.lookup().0.as_slice()
        ])?;
        done.execute(params![code, canonical, UploadState::Acknowledged.code()])?;
    }
    Ok(())
}

/// Forgets what discovery no longer wants: identifiers no contact holds any more (deleted unless
/// kept for another reason) and excluded ones, with their values and matches. Returns the
/// matches dropped.
pub(crate) fn forget_unwanted(tx: &Transaction<'_>) -> Result<u64> {
    let dropped = tx.execute(
        "DELETE FROM matches WHERE (kind, canonical) IN (
             SELECT kind, canonical FROM identifiers
             WHERE (included = 0 OR excluded = 1) AND pinned = 0)",
        [],
    )?;
    tx.execute(
        "DELETE FROM prf_values WHERE (kind, canonical) IN (
             SELECT kind, canonical FROM identifiers WHERE included = 0 OR excluded = 1)",
        [],
    )?;
    tx.execute(
        "DELETE FROM identifiers WHERE holders = 0 AND excluded = 0 AND pinned = 0",
        [],
    )?;
    tx.execute(
        concat!(
            "UPDATE identifiers SET state = ",
            state!(Idle),
            ", batch_id = NULL WHERE (included = 0 OR excluded = 1) AND state <> ",
            state!(Idle)
        ),
        [],
    )?;
    Ok(u64::try_from(dropped).unwrap_or(0))
}

/// A new epoch: every value of another epoch is worthless, and so is the filter. Identifiers
/// with such a value wait for evaluation again. Matches stay until the new values are checked.
/// A new shard count (`bits`) drops the stored shards too: the values stay, and each is checked
/// again when its shard of the new count arrives.
pub(crate) fn start_epoch(tx: &Transaction<'_>, epoch: u32, bits: u8) -> Result<()> {
    tx.execute(
        concat!(
            "UPDATE identifiers SET state = ",
            state!(PendingAdd),
            " WHERE (kind, canonical) IN (SELECT kind, canonical FROM prf_values WHERE epoch <> ?1)"
        ),
        [epoch],
    )?;
    tx.execute("DELETE FROM prf_values WHERE epoch <> ?1", [epoch])?;
    tx.execute(
        "DELETE FROM filter_shards WHERE epoch <> ?1 OR bits <> ?2",
        params![epoch, bits],
    )?;
    if tx
        .query_row("SELECT 1 FROM filter_shards LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_none()
    {
        tx.execute("DELETE FROM user_filter_changes", [])?;
    }
    Ok(())
}

/// The shards (of `bits` shard bits) that hold a tag of a stored value: the ones this device
/// downloads and follows.
pub(crate) fn needed_shards(conn: &Connection, bits: u8) -> Result<BTreeSet<u32>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT tag FROM prf_values")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    let mut shards = BTreeSet::new();
    for row in rows {
        shards.insert(shard_of(tag_of(row?), bits));
    }
    Ok(shards)
}

/// The stored shards and the version each is at (after [`start_epoch`], all of the current
/// epoch and shard count).
pub(crate) fn held_shards(conn: &Connection) -> Result<BTreeMap<u32, u64>> {
    let mut stmt = conn.prepare_cached("SELECT shard, version FROM filter_shards")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))?;
    let mut held = BTreeMap::new();
    for row in rows {
        let (shard, version) = row?;
        held.insert(shard, u64::try_from(version).unwrap_or(0));
    }
    Ok(held)
}

/// The filter as this device knows it: the shards it follows, each as last downloaded whole,
/// and the changes since.
pub(crate) struct KnownFilter {
    bits: u8,
    shards: HashMap<u32, UserFilter>,
    changes: HashMap<u64, bool>,
}

impl KnownFilter {
    /// Whether the shard is stored (and parses).
    pub(crate) fn holds(&self, shard: u32) -> bool {
        self.shards.contains_key(&shard)
    }

    /// Whether a tag may be a user's now; `None` when its shard is not stored.
    pub(crate) fn contains(&self, tag: Tag) -> Option<bool> {
        let filter = self.shards.get(&shard_of(tag, self.bits))?;
        Some(match self.changes.get(&tag.0) {
            Some(present) => *present,
            None => filter.contains(tag),
        })
    }
}

/// The stored shards of the filter. A stored shard that no longer parses is treated as absent
/// (the sync drops it and downloads it again).
pub(crate) fn known_filter(conn: &Connection) -> Result<KnownFilter> {
    let mut stmt = conn.prepare_cached("SELECT shard, bits, bytes FROM filter_shards")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, u32>(0)?,
            r.get::<_, u8>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut bits = 0;
    let mut shards = HashMap::new();
    for row in rows {
        let (shard, shard_bits, bytes) = row?;
        bits = shard_bits;
        if let Ok(filter) = UserFilter::from_bytes(&bytes) {
            shards.insert(shard, filter);
        }
    }
    let mut changes = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT tag, present FROM user_filter_changes")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)))?;
    for row in rows {
        let (tag, present) = row?;
        changes.insert(tag_of(tag).0, present);
    }
    Ok(KnownFilter {
        bits,
        shards,
        changes,
    })
}

/// The tags of `shard` as SQLite keeps them, first and last: a contiguous range of signed
/// integers too, since a shard's tags share their top bit (or, unsharded, span everything).
fn shard_sql_range(shard: u32, bits: u8) -> (i64, i64) {
    if bits == 0 {
        return (i64::MIN, i64::MAX);
    }
    let (first, last) = shard_range(shard, bits);
    (tag_sql(first), tag_sql(last))
}

/// A whole shard downloaded: it replaces the stored one and its changes, and every value in
/// it is checked against it again.
pub(crate) fn save_shard(
    tx: &Transaction<'_>,
    epoch: u32,
    (bits, shard): (u8, u32),
    version: u64,
    filter: &UserFilter,
) -> Result<()> {
    let version =
        i64::try_from(version).map_err(|_| Error::Protocol("a filter version past 2^63".into()))?;
    tx.execute(
        "INSERT INTO filter_shards (shard, bits, epoch, version, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (shard) DO UPDATE SET bits = excluded.bits, epoch = excluded.epoch,
             version = excluded.version, bytes = excluded.bytes",
        params![shard, bits, epoch, version, filter.to_bytes()],
    )?;
    let (first, last) = shard_sql_range(shard, bits);
    tx.execute(
        "DELETE FROM user_filter_changes WHERE tag BETWEEN ?1 AND ?2",
        [first, last],
    )?;
    tx.execute(
        "UPDATE prf_values SET checked = 0 WHERE checked <> 0 AND tag BETWEEN ?1 AND ?2",
        [first, last],
    )?;
    Ok(())
}

/// Drops stored shards no value falls in any more (their contacts went), with their changes.
pub(crate) fn drop_shards(tx: &Transaction<'_>, bits: u8, shards: &[u32]) -> Result<()> {
    for shard in shards {
        tx.execute("DELETE FROM filter_shards WHERE shard = ?1", [shard])?;
        let (first, last) = shard_sql_range(*shard, bits);
        tx.execute(
            "DELETE FROM user_filter_changes WHERE tag BETWEEN ?1 AND ?2",
            [first, last],
        )?;
    }
    Ok(())
}

/// Applies one shard's changes to it: each changed tag is recorded, and the values with that
/// tag are checked again (a user who joined is looked up; one who left loses the match). The
/// caller checked that every tag is of the shard.
pub(crate) fn apply_shard_changes(
    tx: &Transaction<'_>,
    shard: u32,
    changes: &FilterChanges,
) -> Result<()> {
    let version = i64::try_from(changes.version)
        .map_err(|_| Error::Protocol("a filter version past 2^63".into()))?;
    let mut record = tx.prepare_cached(
        "INSERT INTO user_filter_changes (tag, present) VALUES (?1, ?2)
         ON CONFLICT (tag) DO UPDATE SET present = excluded.present",
    )?;
    let mut recheck = tx.prepare_cached("UPDATE prf_values SET checked = 0 WHERE tag = ?1")?;
    for (tags, present) in [(&changes.removed, false), (&changes.added, true)] {
        for tag in &tags.0 {
            record.execute(params![tag_sql(*tag), present])?;
            recheck.execute([tag_sql(*tag)])?;
        }
    }
    tx.execute(
        "UPDATE filter_shards SET version = ?1 WHERE shard = ?2",
        params![version, shard],
    )?;
    Ok(())
}

/// A value to check against the filter.
#[derive(Debug, Clone)]
pub(crate) struct Unchecked {
    /// Its identifier.
    pub identifier: (IdentifierKind, String),
    /// Its filter tag.
    pub tag: Tag,
    /// What to send if the tag is in the filter.
    pub lookup: Lookup,
}

/// Up to `limit` values not checked against the filter as it is now.
pub(crate) fn unchecked(conn: &Connection, limit: usize) -> Result<Vec<Unchecked>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, canonical, tag, lookup FROM prf_values WHERE checked = 0
         ORDER BY kind, canonical LIMIT ?1",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (code, canonical, tag, lookup) = row?;
        let (Some(kind), Ok(lookup)) = (kind_from_code(code), <[u8; LOOKUP_LEN]>::try_from(lookup))
        else {
            continue;
        };
        out.push(Unchecked {
            identifier: (kind, canonical),
            tag: tag_of(tag),
            lookup: Lookup(lookup),
        });
    }
    Ok(out)
}

/// Records what checking found: `users` maps the checked values that are users to their user;
/// every other checked value is no user's now. Returns the matches gained and lost.
pub(crate) fn record_checked(
    tx: &Transaction<'_>,
    checked: &[Unchecked],
    users: &HashMap<Lookup, String>,
    now: i64,
) -> Result<(u64, u64)> {
    let mut done = tx.prepare_cached(
        "UPDATE prf_values SET checked = 1 WHERE kind = ?1 AND canonical = ?2 AND tag = ?3",
    )?;
    let (mut gained, mut lost) = (0, 0);
    for value in checked {
        let (kind, canonical) = &value.identifier;
        match users.get(&value.lookup) {
            Some(user_ref) => gained += u64::from(put_match(tx, *kind, canonical, user_ref, now)?),
            None => lost += u64::from(drop_match(tx, *kind, canonical)?),
        }
        done.execute(params![kind_code(*kind), canonical, tag_sql(value.tag)])?;
    }
    Ok((gained, lost))
}

/// A reset ([`crate::Engine::reset_sync`] in the private mode): what the private mode learnt
/// from the server — values, the filter and its changes — goes, and every wanted identifier
/// waits for evaluation again. Matches stay until the new values are checked.
pub(crate) fn reset(tx: &Transaction<'_>) -> Result<()> {
    tx.execute("DELETE FROM prf_values", [])?;
    tx.execute("DELETE FROM filter_shards", [])?;
    tx.execute("DELETE FROM user_filter_changes", [])?;
    tx.execute(
        concat!(
            "UPDATE identifiers SET state = ",
            state!(PendingAdd),
            ", batch_id = NULL WHERE included > 0 AND excluded = 0"
        ),
        [],
    )?;
    Ok(())
}

/// How this device discovers.
pub(crate) fn discovery(conn: &Connection) -> Result<Discovery> {
    let name: String = conn.query_row("SELECT discovery FROM sync_state", [], |r| r.get(0))?;
    Ok(Discovery::from_name(&name))
}

/// The server discovers in `mode` and this device did in the other: what the other mode built
/// with the server goes, and every wanted identifier waits to be sent in the new one. Matches
/// stay until the new mode checks them (a full re-sync's answers, or the filter).
/// - To private: batches in flight and the cursor go (the server keeps no set in that mode).
/// - To hashed: the private mode's values and filter go, and the stored key with them, so the
///   next config installs the server's key and re-hashes everything for a full re-sync.
/// - Into or out of the Matrix mode: the matches go too (Matrix user ids and the discovery
///   server's user references name different people), and the Matrix mode's pepper and time of
///   its last full lookup, so its next sync looks every identifier up.
pub(crate) fn switch_discovery(tx: &Transaction<'_>, mode: Discovery) -> Result<()> {
    let from = discovery(tx)?;
    if from == mode {
        return Ok(());
    }
    reset(tx)?;
    if from == Discovery::Matrix || mode == Discovery::Matrix {
        tx.execute("DELETE FROM matches", [])?;
        super::matrix::forget(tx)?;
    }
    tx.execute("DELETE FROM batches", [])?;
    tx.execute(
        "UPDATE sync_state SET discovery = ?1, cursor = NULL, full_resync = 1, key_id = NULL,
             key_secret = NULL",
        [mode.as_str()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
