//! The change feed (`GET /v1/changes`) as both sessions read it: the first cursor, and one page
//! checked — a cursor this client can store, no more entries than asked for, each hash a digest
//! this client makes, each user reference one it accepts, no hash both gained and lost. The
//! keyed-hash session applies the pages to its set; the private session reads them for the
//! redemptions of its invites (the only changes addressed to a device with no set).

use std::collections::{HashMap, HashSet};

use super::requests::{Requester, checked_user};
use super::transport::Method;
use crate::error::{Error, Result};
use crate::hash::DIGEST_LEN;
use crate::protocol::wire::{ChangesAnswer, WireHash};

/// Changes asked for per page of `GET /v1/changes`.
const CHANGES_PAGE: u32 = 1000;
/// Pages of changes one sync follows before it decides the server is misbehaving.
pub(crate) const MAX_CHANGES_PAGES: u32 = 10_000;
/// Longest cursor accepted from a server.
const MAX_CURSOR: usize = 256;

/// One checked page.
pub(crate) struct Page {
    /// Hashes that became a user's, with the user.
    pub gained: HashMap<[u8; DIGEST_LEN], String>,
    /// Hashes that stopped being anyone's.
    pub lost: HashSet<[u8; DIGEST_LEN]>,
    /// Where the next page starts.
    pub cursor: String,
    /// Ask again from `cursor`.
    pub more: bool,
}

/// `GET /v1/changes` without `since`: where this client's feed begins (its registration).
pub(crate) fn first_cursor(requests: &mut Requester<'_>) -> Result<String> {
    let head: ChangesAnswer = requests.json(Method::Get, "/v1/changes", None)?;
    Ok(checked_cursor(&head.cursor)?.to_owned())
}

/// The page after `since`, checked; an error when `more` comes without a new cursor.
pub(crate) fn page(requests: &mut Requester<'_>, since: &str) -> Result<Page> {
    let path = format!(
        "/v1/changes?since={}&limit={CHANGES_PAGE}",
        url::form_urlencoded::byte_serialize(since.as_bytes()).collect::<String>()
    );
    let page: ChangesAnswer = requests.json(Method::Get, &path, None)?;
    let cursor = checked_cursor(&page.cursor)?.to_owned();
    if page.gained.len() + page.lost.len() > CHANGES_PAGE as usize {
        return Err(Error::Protocol(
            "a changes page larger than asked for".into(),
        ));
    }
    let mut gained = HashMap::new();
    for entry in &page.gained {
        gained.insert(
            digest(&entry.hash)?,
            checked_user(&entry.user_ref)?.to_owned(),
        );
    }
    let mut lost = HashSet::new();
    for hash in &page.lost {
        let d = digest(hash)?;
        if gained.contains_key(&d) {
            return Err(Error::Protocol("a hash both gained and lost".into()));
        }
        lost.insert(d);
    }
    if page.more && cursor == since {
        return Err(Error::Protocol("`more` without a new cursor".into()));
    }
    Ok(Page {
        gained,
        lost,
        cursor,
        more: page.more,
    })
}

/// The digest of a hash the server sent: exactly [`DIGEST_LEN`] bytes, as this client sends them.
fn digest(hash: &WireHash) -> Result<[u8; DIGEST_LEN]> {
    hash.digest()
        .map(|d| d.0)
        .ok_or_else(|| Error::Protocol(format!("a hash that is not {DIGEST_LEN} bytes")))
}

fn checked_cursor(cursor: &str) -> Result<&str> {
    if cursor.is_empty() || cursor.len() > MAX_CURSOR || cursor.chars().any(char::is_control) {
        return Err(Error::Protocol("an unusable cursor".into()));
    }
    Ok(cursor)
}
