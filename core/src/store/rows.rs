//! Contacts encoded as the store writes them, many in one buffer ([`Rows`]).
//!
//! Why: a first import writes fastest in key order, and the only way to sort without the whole
//! book in memory is a window of many contacts per transaction (docs/performance.md, "First
//! import"). Prepared contacts cost about 450 bytes each in a dozen allocations; encoded here,
//! with their identifier list and rejections already in the blob form their row stores, they
//! cost about a third of that in two buffers, so a window of 32,768 contacts fits the import's
//! memory budget.
//!
//! Part of the store stage: imports the contact model and the store's codec, nothing above.

use super::codec;
use crate::contact::Prepared;
use crate::error::{Error, Result};
use crate::hash::{DIGEST_LEN, Digest};
use crate::identifier::IdentifierKind;

/// Contacts to write, each with the slot of the stored contact it was matched to (if any), in
/// the order they were pushed until [`Rows::sort_by_source_id`].
#[derive(Debug, Default)]
pub(crate) struct Rows {
    bytes: Vec<u8>,
    /// Each contact's offset into `bytes` and its slot.
    entries: Vec<(usize, Option<u32>)>,
}

/// One contact of [`Rows`], borrowed: the columns of its row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub slot: Option<u32>,
    pub source_id: &'a str,
    pub display_name: &'a str,
    pub version: Option<&'a str>,
    pub fingerprint: &'a [u8],
    /// The identifier list as stored ([`codec::encode_identifiers`]).
    pub identifiers: &'a [u8],
    /// The rejected values as stored; `None` when there are none.
    pub rejections: Option<&'a [u8]>,
    pub rejected: i64,
    /// One digest per identifier, in order, or none at all when no key was known.
    digests: &'a [u8],
}

impl<'a> Row<'a> {
    /// The digest of the `i`-th identifier, when a key was known.
    pub(crate) fn digest(&self, i: usize) -> Option<Digest> {
        let bytes = self.digests.get(i * DIGEST_LEN..(i + 1) * DIGEST_LEN)?;
        bytes.try_into().ok().map(Digest)
    }

    /// Its identifiers, (kind, canonical text) each, in the stored order.
    pub(crate) fn identifier_keys(&self) -> Vec<(IdentifierKind, &'a str)> {
        codec::decode_identifiers(self.identifiers)
    }

    /// The reason code of each rejected value (none to decode in the common case).
    pub(crate) fn rejection_reasons(&self) -> Vec<String> {
        self.rejections
            .map(|blob| {
                codec::decode_rejections(blob)
                    .into_iter()
                    .map(|r| r.reason)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// A u32 length, then the bytes (as the store's codec: nothing here nears 4 GiB).
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b[..len as usize]);
}

/// A cursor over one encoded contact; `None` past the end (never for what [`Rows::push`]
/// wrote).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        self.take(len as usize)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    fn flag(&mut self) -> Option<bool> {
        Some(self.take(1)?[0] != 0)
    }
}

impl Rows {
    /// Empty, with room for about `contacts` contacts.
    pub(crate) fn with_capacity(contacts: usize) -> Self {
        Rows {
            bytes: Vec::with_capacity(contacts * 150),
            entries: Vec::with_capacity(contacts),
        }
    }

    /// One contact (the change feed writes contacts one at a time).
    pub(crate) fn one(p: &Prepared) -> Self {
        let mut rows = Rows::with_capacity(1);
        rows.push(None, p);
        rows
    }

    /// Appends a prepared contact, encoded.
    pub(crate) fn push(&mut self, slot: Option<u32>, p: &Prepared) {
        let c = &p.contact;
        let out = &mut self.bytes;
        self.entries.push((out.len(), slot));
        put_str(out, &c.source_id);
        put_str(out, &c.display_name);
        out.push(u8::from(c.version.is_some()));
        put_str(out, c.version.as_deref().unwrap_or(""));
        out.extend_from_slice(&c.content_fingerprint.0);
        put_bytes(out, &codec::encode_identifiers(&c.identifiers));
        let rejections = codec::encode_rejections(&c.rejections);
        out.push(u8::from(rejections.is_some()));
        put_bytes(out, rejections.as_deref().unwrap_or_default());
        let rejected = u32::try_from(c.rejections.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&rejected.to_le_bytes());
        // All or none: the digests are made under one key, or not at all before the first.
        let complete = !p.digests.is_empty()
            && p.digests.len() == c.identifiers.len()
            && p.digests.iter().all(Option::is_some);
        let count = if complete { p.digests.len() } else { 0 };
        out.extend_from_slice(&u32::try_from(count).unwrap_or(0).to_le_bytes());
        if complete {
            for d in p.digests.iter().flatten() {
                out.extend_from_slice(&d.0);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The `i`-th contact.
    pub(crate) fn get(&self, i: usize) -> Result<Row<'_>> {
        let (at, slot) = *self
            .entries
            .get(i)
            .ok_or_else(|| Error::InvalidState("no such staged row".into()))?;
        self.decode(at, slot)
            .ok_or_else(|| Error::InvalidState("a staged row is damaged".into()))
    }

    fn decode(&self, at: usize, slot: Option<u32>) -> Option<Row<'_>> {
        let mut r = Reader(self.bytes.get(at..)?);
        let source_id = r.str()?;
        let display_name = r.str()?;
        let has_version = r.flag()?;
        let version = r.str()?;
        let fingerprint = r.take(16)?;
        let identifiers = r.bytes()?;
        let has_rejections = r.flag()?;
        let rejections = r.bytes()?;
        let rejected = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let digests = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
        let digests = r.take(digests * DIGEST_LEN)?;
        Some(Row {
            slot,
            source_id,
            display_name,
            version: has_version.then_some(version),
            fingerprint,
            identifiers,
            rejections: has_rejections.then_some(rejections),
            rejected: i64::from(rejected),
            digests,
        })
    }

    /// The source id of the contact at `at` (what the sort compares).
    fn source_id_at(&self, at: usize) -> &[u8] {
        let mut r = Reader(self.bytes.get(at..).unwrap_or_default());
        r.bytes().unwrap_or_default()
    }

    /// Orders the contacts by source id, the contacts table's key. Stable: a source id pushed
    /// twice keeps its order, so the later entry is written last and wins. Compares the ids'
    /// [prefixes](codec::order_prefix) first: the texts only where those agree.
    pub(crate) fn sort_by_source_id(&mut self) {
        let mut order: Vec<(u128, usize)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (codec::order_prefix(&[], self.source_id_at(e.0)), i))
            .collect();
        let id = |i: usize| {
            self.entries
                .get(i)
                .map_or(&[][..], |e| self.source_id_at(e.0))
        };
        codec::sort_by_key(&mut order, &id);
        self.entries = order
            .iter()
            .filter_map(|&(_, i)| self.entries.get(i).copied())
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::RawContact;
    use crate::hash::HashKey;
    use crate::identifier::{Normalizer, Region};

    fn prepared(id: &str, values: &[(IdentifierKind, &str)], key: Option<&HashKey>) -> Prepared {
        let n = Normalizer::new(Region::new("DE").unwrap());
        let mut raw = RawContact::new(id, format!("Name {id}"));
        for &(kind, value) in values {
            raw = raw.with(kind, None, value);
        }
        Prepared::new(n.normalize_contact(&raw), key)
    }

    #[test]
    fn round_trips_every_column_and_sorts_stably() {
        let key = HashKey::new("k", &[7; 32]).unwrap();
        let a = prepared(
            "b",
            &[
                (IdentifierKind::Phone, "+49 151 23456789"),
                (IdentifierKind::Email, "x@example.org"),
                (IdentifierKind::Phone, "12"),
            ],
            Some(&key),
        );
        let b = prepared("a", &[(IdentifierKind::Email, "y@example.org")], None);
        let c = prepared("b", &[], Some(&key));
        let mut rows = Rows::with_capacity(2);
        rows.push(Some(3), &a);
        rows.push(None, &b);
        rows.push(Some(9), &c);
        let first = rows.get(0).unwrap();
        assert_eq!(first.slot, Some(3));
        assert_eq!(first.source_id, "b");
        assert_eq!(first.display_name, "Name b");
        assert_eq!(first.version, None);
        assert_eq!(first.fingerprint, a.contact.content_fingerprint.0);
        assert_eq!(
            first.identifiers,
            codec::encode_identifiers(&a.contact.identifiers)
        );
        assert_eq!(first.rejected, 1);
        assert_eq!(first.rejection_reasons().len(), 1);
        assert_eq!(first.digest(0), a.digests[0]);
        assert_eq!(first.digest(1), a.digests[1]);
        assert_eq!(first.digest(2), None);
        assert_eq!(first.identifier_keys().len(), 2);
        let second = rows.get(1).unwrap();
        assert_eq!((second.digest(0), second.rejections), (None, None));
        rows.sort_by_source_id();
        let order: Vec<_> = (0..rows.len()).map(|i| rows.get(i).unwrap().slot).collect();
        assert_eq!(order, [None, Some(3), Some(9)]);
        assert!(rows.get(3).is_err());
    }
}
