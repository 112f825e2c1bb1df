//! Queries. They run on reader connections, concurrently with an import.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{UploadState, codec, kind_code, kind_from_code, state};
use crate::contact::{Fingerprint, RejectedValue};
use crate::error::Result;
use crate::hash::{DIGEST_LEN, Digest};
use crate::identifier::IdentifierKind;

/// Counts over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
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
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
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

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
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
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
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
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Match {
    /// The contact's source id; `None` for a match made through an invite this device created
    /// or redeemed, which no contact holds.
    pub source_id: Option<String>,
    /// Its display name (empty for an invite match).
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

/// An invite this device created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct InviteView {
    /// The code, canonical: the created invite's `code` (`invite::display` groups it in fours for
    /// people, `7K3M-9QX2-D`).
    pub code: String,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// When it stops redeeming, Unix seconds.
    pub expires_at: i64,
    /// Who redeemed it, once a sync (or the redemption) told.
    pub redeemed_by: Option<String>,
}

/// The invites this device created, newest first.
pub(crate) fn invites(conn: &Connection) -> Result<Vec<InviteView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.code, v.created_at, v.expires_at, m.user_ref FROM invites v
         LEFT JOIN matches m ON m.kind = ?1 AND m.canonical = v.code
         ORDER BY v.created_at DESC, v.code",
    )?;
    let rows = stmt.query_map([kind_code(IdentifierKind::Invite)], |r| {
        Ok(InviteView {
            code: r.get(0)?,
            created_at: r.get(1)?,
            expires_at: r.get(2)?,
            redeemed_by: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
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
            (SELECT count(*) FROM matches),
            (SELECT key_id FROM sync_state),
            (SELECT full_resync FROM sync_state)",
        [],
        |r| {
            Ok(Status {
                contacts: count(r.get(0)?),
                excluded_contacts: count(r.get(1)?),
                rejected: count(r.get(2)?),
                matches: count(r.get(3)?),
                key_id: r.get(4)?,
                full_resync: r.get(5)?,
                ..Status::default()
            })
        },
    )?;
    // One scan of the identifiers (no index on state: it would cost a write per identifier).
    let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM identifiers GROUP BY state")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let n = count(row.get(1)?);
        s.identifiers += n;
        match state(row.get(0)?) {
            UploadState::PendingAdd => s.pending_add = n,
            UploadState::PendingRemove => s.pending_remove = n,
            UploadState::AddInFlight | UploadState::RemoveInFlight => s.in_flight += n,
            UploadState::Acknowledged => s.acknowledged = n,
            UploadState::Idle => {}
        }
    }
    Ok(s)
}

type ContactRow = (String, String, bool, Vec<u8>, Option<Vec<u8>>);

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Contacts in source-id order, `limit` from `offset`.
pub(crate) fn contacts(conn: &Connection, offset: u64, limit: u64) -> Result<Vec<ContactView>> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(
            "SELECT source_id, display_name, excluded, identifiers, rejections FROM contacts
             ORDER BY source_id LIMIT ?1 OFFSET ?2",
        )?
        .query_map([limit, offset], contact_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|row| view(conn, row)).collect()
}

/// Up to `limit` contacts whose source id sorts after `after` (all from the start when `None`):
/// paging that costs the same on the last page as on the first.
pub(crate) fn contacts_after(
    conn: &Connection,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<ContactView>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(
            "SELECT source_id, display_name, excluded, identifiers, rejections FROM contacts
             WHERE ?1 IS NULL OR source_id > ?1 ORDER BY source_id LIMIT ?2",
        )?
        .query_map(params![after, limit], contact_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|row| view(conn, row)).collect()
}

/// One contact by source id.
pub(crate) fn contact(conn: &Connection, source_id: &str) -> Result<Option<ContactView>> {
    let row = conn
        .prepare_cached(
            "SELECT source_id, display_name, excluded, identifiers, rejections FROM contacts
             WHERE source_id = ?1",
        )?
        .query_row([source_id], contact_row)
        .optional()?;
    row.map(|row| view(conn, row)).transpose()
}

/// A contact row with its identifiers' states (one primary-key lookup each).
fn view(conn: &Connection, row: ContactRow) -> Result<ContactView> {
    let (source_id, display_name, excluded, ids, rejections) = row;
    let mut stmt = conn.prepare_cached(
        "SELECT i.state, i.excluded, m.user_ref FROM identifiers i
         LEFT JOIN matches m ON m.kind = i.kind AND m.canonical = i.canonical
         WHERE i.kind = ?1 AND i.canonical = ?2",
    )?;
    let mut identifiers = Vec::new();
    for (kind, canonical) in codec::decode_identifiers(&ids) {
        let (state_code, id_excluded, user_ref) = stmt
            .query_row(params![kind_code(kind), canonical], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .unwrap_or((0, false, None));
        identifiers.push(IdentifierView {
            kind,
            canonical: canonical.to_owned(),
            state: state(state_code),
            excluded: id_excluded,
            user_ref,
        });
    }
    Ok(ContactView {
        source_id,
        display_name,
        excluded,
        identifiers,
        rejected: rejections
            .as_deref()
            .map(codec::decode_rejections)
            .unwrap_or_default(),
    })
}

/// Up to `limit` hashes waiting for the server: additions first, then removals.
pub(crate) fn pending(conn: &Connection, limit: u64) -> Result<Vec<PendingUpload>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT state, kind, digest, key_id FROM identifiers WHERE state IN (",
        state!(PendingAdd),
        ", ",
        state!(PendingRemove),
        ") ORDER BY state, kind, canonical LIMIT ?1"
    ))?;
    let rows = stmt
        .query_map([limit], |r| {
            let digest: Option<Vec<u8>> = r.get(2)?;
            Ok(PendingUpload {
                state: state(r.get(0)?),
                kind: kind(r.get(1)?),
                digest: digest
                    .and_then(|d| <[u8; DIGEST_LEN]>::try_from(d).ok())
                    .map(|d| Digest(d).to_base64url()),
                key_id: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Identifiers waiting to be sent (added or removed).
pub(crate) fn pending_count(conn: &Connection) -> Result<u64> {
    Ok(count(conn.query_row(
        concat!(
            "SELECT count(*) FROM identifiers WHERE state IN (",
            state!(PendingAdd),
            ", ",
            state!(PendingRemove),
            ")"
        ),
        [],
        |r| r.get(0),
    )?))
}

/// Matched contacts (not excluded), by display name, then the matches no contact holds (invites).
/// Matches are few: they are loaded first, then one scan of the contacts finds who holds them.
pub(crate) fn matches(conn: &Connection) -> Result<Vec<Match>> {
    // (kind, canonical) -> (user_ref, matched_at, held by a contact)
    let mut matched: HashMap<(IdentifierKind, String), (String, i64, bool)> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            // Held by a contact not excluded, or pinned (an invite): an identifier only an
            // excluded contact holds keeps its match row until the sync takes it off the server,
            // and is no match meanwhile (nor an invite's).
            "SELECT m.kind, m.canonical, m.user_ref, m.matched_at FROM matches m
             JOIN identifiers i ON i.kind = m.kind AND i.canonical = m.canonical
             WHERE i.excluded = 0 AND (i.included > 0 OR i.pinned = 1)",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            matched.insert((kind(r.get(0)?), r.get(1)?), (r.get(2)?, r.get(3)?, false));
        }
    }
    let mut out = Vec::new();
    if matched.is_empty() {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT source_id, display_name, identifiers FROM contacts WHERE excluded = 0",
    )?;
    let mut rows = stmt.query([])?;
    let mut key = (IdentifierKind::Phone, String::new());
    while let Some(r) = rows.next()? {
        let ids = r.get_ref(2)?.as_blob()?;
        for (k, canonical) in codec::decode_identifiers(ids) {
            key.0 = k;
            canonical.clone_into(&mut key.1);
            if let Some((user_ref, matched_at, held)) = matched.get_mut(&key) {
                *held = true;
                out.push(Match {
                    source_id: Some(r.get(0)?),
                    display_name: r.get(1)?,
                    kind: k,
                    canonical: canonical.to_owned(),
                    user_ref: user_ref.clone(),
                    matched_at: *matched_at,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.display_name, &a.source_id, a.kind, &a.canonical).cmp(&(
            &b.display_name,
            &b.source_id,
            b.kind,
            &b.canonical,
        ))
    });
    let mut unheld: Vec<Match> = matched
        .into_iter()
        .filter(|(_, (_, _, held))| !held)
        .map(|((kind, canonical), (user_ref, matched_at, _))| Match {
            source_id: None,
            display_name: String::new(),
            kind,
            canonical,
            user_ref,
            matched_at,
        })
        .collect();
    unheld.sort_by(|a, b| (a.kind, &a.canonical).cmp(&(b.kind, &b.canonical)));
    out.extend(unheld);
    Ok(out)
}

/// The stored key (id, secret), if any.
pub(crate) fn key(conn: &Connection) -> Result<Option<(String, Vec<u8>)>> {
    Ok(
        conn.query_row("SELECT key_id, key_secret FROM sync_state", [], |r| {
            Ok(match (r.get(0)?, r.get(1)?) {
                (Some(id), Some(secret)) => Some((id, secret)),
                _ => None,
            })
        })?,
    )
}

/// Every stored contact's (source id, fingerprint), streamed to `each`; `None` for a damaged
/// fingerprint.
pub(crate) fn each_contact_fingerprint(
    conn: &Connection,
    mut each: impl FnMut(&str, Option<Fingerprint>),
) -> Result<()> {
    let mut stmt = conn.prepare("SELECT source_id, fingerprint FROM contacts")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(
            r.get_ref(0)?.as_str()?,
            codec::fingerprint_from(r.get_ref(1)?.as_blob()?),
        );
    }
    Ok(())
}

/// How many identifiers are stored (a progress total for re-hashing).
pub(crate) fn identifier_count(conn: &Connection) -> Result<u64> {
    Ok(count(conn.query_row(
        "SELECT count(*) FROM identifiers",
        [],
        |r| r.get(0),
    )?))
}
