//! Queries. They run on reader connections, concurrently with an import.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::{UploadState, kind_from_code};
use crate::error::Result;
use crate::hash::Digest;
use crate::identifier::IdentifierKind;

/// Counts over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Contacts stored.
    pub contacts: u64,
    /// Of those, excluded from discovery by the user.
    pub excluded_contacts: u64,
    /// Distinct identifiers stored (shared ones count once).
    pub identifiers: u64,
    /// Identifiers waiting to be uploaded.
    pub pending_add: u64,
    /// Identifiers waiting to be removed from the server.
    pub pending_remove: u64,
    /// Identifiers in a batch sent and not yet answered.
    pub in_flight: u64,
    /// Identifiers the server has acknowledged.
    pub acknowledged: u64,
    /// Identifiers the server reported as belonging to a user of the app.
    pub matches: u64,
    /// Raw values that could not be normalised, over all contacts.
    pub rejected: u64,
    /// The id of the hashing key, once the server gave one.
    pub key_id: Option<String>,
    /// The next sync uploads the full set (first sync, or after a key rotation).
    pub full_resync: bool,
}

/// One identifier of a contact, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentifierView {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its canonical text.
    pub canonical: String,
    /// Its upload state.
    pub state: UploadState,
    /// The user excluded this identifier from discovery.
    pub excluded: bool,
    /// The app's opaque reference of the user it belongs to, when the server reported one.
    pub user_ref: Option<String>,
}

/// A raw value that was not accepted, with the reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedValue {
    /// The kind it was meant to be.
    pub kind: IdentifierKind,
    /// Its label in the source.
    pub label: Option<String>,
    /// The raw value.
    pub value: String,
    /// Why (`phone.too_short`, ...).
    pub reason: String,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactView {
    /// The source's id.
    pub source_id: String,
    /// The display name.
    pub display_name: String,
    /// The user excluded this contact from discovery.
    pub excluded: bool,
    /// Its identifiers, sorted by kind then text.
    pub identifiers: Vec<IdentifierView>,
    /// Its rejected values, in source order.
    pub rejected: Vec<RejectedValue>,
}

/// One hash waiting to go to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingUpload {
    /// `PendingAdd` or `PendingRemove`.
    pub state: UploadState,
    /// The identifier's kind (local knowledge; only the digest travels).
    pub kind: IdentifierKind,
    /// The digest, unpadded base64url; `None` until a key is known.
    pub digest: Option<String>,
    /// The key the digest was made with.
    pub key_id: Option<String>,
}

/// A contact that is on the app, and through which identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The contact's source id.
    pub source_id: String,
    /// Its display name.
    pub display_name: String,
    /// The identifier that matched.
    pub kind: IdentifierKind,
    /// Its canonical text.
    pub canonical: String,
    /// The app's opaque reference of the user.
    pub user_ref: String,
    /// When the match was recorded, Unix seconds.
    pub matched_at: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn kind(code: i64) -> IdentifierKind {
    kind_from_code(code).unwrap_or(IdentifierKind::Handle)
}

fn state(code: i64) -> UploadState {
    UploadState::from_code(code).unwrap_or(UploadState::Idle)
}

pub(crate) fn status(conn: &Connection) -> Result<Status> {
    let mut s = conn.query_row(
        "SELECT
            (SELECT count(*) FROM contacts),
            (SELECT count(*) FROM contacts WHERE excluded = 1),
            (SELECT coalesce(sum(rejected), 0) FROM contacts),
            (SELECT count(*) FROM identifiers),
            (SELECT count(*) FROM matches),
            (SELECT key_id FROM sync_state),
            (SELECT full_resync FROM sync_state)",
        [],
        |r| {
            Ok(Status {
                contacts: count(r.get(0)?),
                excluded_contacts: count(r.get(1)?),
                rejected: count(r.get(2)?),
                identifiers: count(r.get(3)?),
                matches: count(r.get(4)?),
                key_id: r.get(5)?,
                full_resync: r.get(6)?,
                ..Status::default()
            })
        },
    )?;
    // The pending states are on a partial index; acknowledged is what is left.
    let mut stmt = conn.prepare_cached(
        "SELECT state, count(*) FROM identifiers WHERE state IN (1, 2, 4, 5) GROUP BY state",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let n = count(row.get(1)?);
        match state(row.get(0)?) {
            UploadState::PendingAdd => s.pending_add = n,
            UploadState::PendingRemove => s.pending_remove = n,
            UploadState::AddInFlight | UploadState::RemoveInFlight => s.in_flight += n,
            _ => {}
        }
    }
    s.acknowledged = count(conn.query_row(
        "SELECT count(*) FROM identifiers WHERE state = 3",
        [],
        |r| r.get(0),
    )?);
    Ok(s)
}

/// Contacts in storage order, `limit` from `offset`.
pub(crate) fn contacts(conn: &Connection, offset: u64, limit: u64) -> Result<Vec<ContactView>> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT id, source_id, display_name, excluded, rejected FROM contacts
         ORDER BY id LIMIT ?1 OFFSET ?2",
    )?;
    let rows = stmt
        .query_map([limit, offset], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<Vec<(i64, String, String, bool, i64)>, _>>()?;
    fill(conn, rows)
}

/// One contact by source id.
pub(crate) fn contact(conn: &Connection, source_id: &str) -> Result<Option<ContactView>> {
    let row = conn
        .prepare_cached(
            "SELECT id, source_id, display_name, excluded, rejected FROM contacts WHERE source_id = ?1",
        )?
        .query_row([source_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    Ok(fill(conn, row.into_iter().collect())?.pop())
}

/// Adds identifiers and rejections to a run of contact rows (two range queries, not one per row).
fn fill(conn: &Connection, rows: Vec<(i64, String, String, bool, i64)>) -> Result<Vec<ContactView>> {
    let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0)) else {
        return Ok(Vec::new());
    };
    let mut identifiers: BTreeMap<i64, Vec<IdentifierView>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT ci.contact_id, i.kind, i.canonical, i.state, i.excluded, m.user_ref
         FROM contact_identifiers ci
         JOIN identifiers i ON i.id = ci.identifier_id
         LEFT JOIN matches m ON m.identifier_id = i.id
         WHERE ci.contact_id BETWEEN ?1 AND ?2",
    )?;
    let mut q = stmt.query([first, last])?;
    while let Some(r) = q.next()? {
        identifiers.entry(r.get(0)?).or_default().push(IdentifierView {
            kind: kind(r.get(1)?),
            canonical: r.get(2)?,
            state: state(r.get(3)?),
            excluded: r.get(4)?,
            user_ref: r.get(5)?,
        });
    }
    let mut rejected: BTreeMap<i64, Vec<RejectedValue>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT contact_id, kind, label, value, reason FROM rejections
         WHERE contact_id BETWEEN ?1 AND ?2 ORDER BY contact_id, position",
    )?;
    let mut q = stmt.query([first, last])?;
    while let Some(r) = q.next()? {
        rejected.entry(r.get(0)?).or_default().push(RejectedValue {
            kind: kind(r.get(1)?),
            label: r.get(2)?,
            value: r.get(3)?,
            reason: r.get(4)?,
        });
    }
    Ok(rows
        .into_iter()
        .map(|(id, source_id, display_name, excluded, _)| {
            let mut ids = identifiers.remove(&id).unwrap_or_default();
            ids.sort_by(|a, b| (a.kind, &a.canonical).cmp(&(b.kind, &b.canonical)));
            ContactView {
                source_id,
                display_name,
                excluded,
                identifiers: ids,
                rejected: rejected.remove(&id).unwrap_or_default(),
            }
        })
        .collect())
}

/// Up to `limit` hashes waiting for the server: additions first, then removals.
pub(crate) fn pending(conn: &Connection, limit: u64) -> Result<Vec<PendingUpload>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT state, kind, digest, key_id FROM identifiers WHERE state IN (1, 4)
         ORDER BY state, id LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            let digest: Option<Vec<u8>> = r.get(2)?;
            Ok(PendingUpload {
                state: state(r.get(0)?),
                kind: kind(r.get(1)?),
                digest: digest
                    .and_then(|d| <[u8; 32]>::try_from(d).ok())
                    .map(|d| Digest(d).to_base64url()),
                key_id: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Matched contacts (not excluded), by display name.
pub(crate) fn matches(conn: &Connection) -> Result<Vec<Match>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.source_id, c.display_name, i.kind, i.canonical, m.user_ref, m.matched_at
         FROM matches m
         JOIN identifiers i ON i.id = m.identifier_id
         JOIN contact_identifiers ci ON ci.identifier_id = i.id
         JOIN contacts c ON c.id = ci.contact_id
         WHERE c.excluded = 0 AND i.excluded = 0
         ORDER BY c.display_name, c.source_id, i.kind, i.canonical",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Match {
                source_id: r.get(0)?,
                display_name: r.get(1)?,
                kind: kind(r.get(2)?),
                canonical: r.get(3)?,
                user_ref: r.get(4)?,
                matched_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The stored key (id, secret), if any.
pub(crate) fn key(conn: &Connection) -> Result<Option<(String, Vec<u8>)>> {
    Ok(conn.query_row("SELECT key_id, key_secret FROM sync_state", [], |r| {
        Ok(match (r.get(0)?, r.get(1)?) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        })
    })?)
}

/// The contacts' source-id order index for a snapshot: every (row id, source id, fingerprint,
/// generation), streamed to `each`.
pub(crate) fn each_contact_fingerprint(
    conn: &Connection,
    mut each: impl FnMut(i64, &str, &[u8], i64),
) -> Result<()> {
    let mut stmt = conn.prepare("SELECT id, source_id, fingerprint, generation FROM contacts")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(
            r.get(0)?,
            r.get_ref(1)?.as_str()?,
            r.get_ref(2)?.as_blob()?,
            r.get(3)?,
        );
    }
    Ok(())
}
