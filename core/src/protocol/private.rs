//! The private discovery mode's messages (docs/protocol.md, "Private discovery"), and the
//! padding both modes use so a request's size says little about the book behind it.
//!
//! Like [`super::wire`], each type is one definition for both sides and both encodings: byte
//! values ([`Bytes`], [`TagList`]) are unpadded base64url text in JSON and byte strings in CBOR.
//! The users' filter itself travels as its own binary form, in parts ([`FilterPart`]):
//! megabytes of fingerprints gain nothing from either encoding, and parts keep each answer under
//! what a transport reads.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::oprf::filter::{FilterError, FilterHeader, UserFilter, fingerprints_of};
use crate::oprf::{ELEMENT_LEN, Element, LOOKUP_LEN, Lookup, PROOF_LEN, Tag};

/// How a device discovers its contacts among the app's users.
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Discovery {
    /// Keyed hashes of the book, which the server keeps per device and matches (the default;
    /// the server can test guesses against them: docs/privacy.md).
    #[default]
    Hashed,
    /// Blinded evaluations of an oblivious PRF and a filter of users checked on the device: the
    /// server never learns an identifier that is not a user's.
    Private,
}

impl Discovery {
    /// The name the store keeps.
    pub const fn as_str(self) -> &'static str {
        match self {
            Discovery::Hashed => "hashed",
            Discovery::Private => "private",
        }
    }

    /// The mode of a stored name; anything unknown is the default.
    pub fn from_name(name: &str) -> Discovery {
        if name == "private" {
            Discovery::Private
        } else {
            Discovery::Hashed
        }
    }
}

/// `GET /v1/config`'s `private` object: what a client needs to discover privately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateConfig {
    /// The RFC 9497 suite: `ristretto255-SHA512`.
    pub suite: String,
    /// The key's epoch: PRF values of another epoch are worthless.
    pub epoch: u32,
    /// The epoch's public key, which every evaluation's proof is checked against.
    pub public_key: Bytes<ELEMENT_LEN>,
    /// The element counts an evaluation or lookup request may have, ascending: a client pads
    /// each request with dummies up to one of them.
    pub buckets: Vec<u32>,
    /// The filter's current version (it grows with every change to the users).
    pub filter_version: u64,
}

/// `POST /v1/private/evaluate` request: blinded elements, real and dummy, to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The epoch whose key the client expects (a rotated key is `409 epoch_rotated`).
    pub epoch: u32,
    /// As many as one of the buckets.
    pub elements: Vec<Bytes<ELEMENT_LEN>>,
}

/// `POST /v1/private/evaluate` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluateAnswer {
    /// The epoch of the key used.
    pub epoch: u32,
    /// The evaluated elements, in the request's order.
    pub evaluated: Vec<Bytes<ELEMENT_LEN>>,
    /// One batch proof (RFC 9497's DLEQ proof) for all of them.
    pub proof: Bytes<PROOF_LEN>,
    /// Evaluations this client may still ask for today.
    pub remaining_today: u32,
}

/// `POST /v1/private/lookup` request: the lookups of filter hits, padded like an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The epoch the lookups were computed in.
    pub epoch: u32,
    /// As many as one of the buckets.
    pub lookups: Vec<Bytes<LOOKUP_LEN>>,
}

/// `POST /v1/private/lookup` answer: the lookups that are discoverable users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupAnswer {
    /// The epoch.
    pub epoch: u32,
    /// One entry per lookup that is a user's; the others (false positives, dummies) are absent.
    pub matches: Vec<LookupMatch>,
}

/// One found user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupMatch {
    /// The lookup as asked.
    pub lookup: Bytes<LOOKUP_LEN>,
    /// The app's reference of the user.
    pub user_ref: String,
}

/// `GET /v1/private/filter/changes?epoch=E&since=V` answer: the tags that joined and left the
/// filter between two versions. A client too far behind gets `410 filter_stale` and downloads
/// the whole filter again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterChanges {
    /// The epoch.
    pub epoch: u32,
    /// The version these changes start from (the request's `since`).
    pub since: u64,
    /// The version they bring the client to.
    pub version: u64,
    /// Tags of identifiers that became discoverable users' since `since`.
    pub added: TagList,
    /// Tags that stopped being a discoverable user's.
    pub removed: TagList,
}

/// Fixed-length bytes: base64url text in JSON, a byte string in CBOR. Errors never quote the
/// value (it could be a PRF value).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes<const N: usize>(pub [u8; N]);

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes<{N}>(..)")
    }
}

impl From<Element> for Bytes<ELEMENT_LEN> {
    fn from(e: Element) -> Self {
        Bytes(e.0)
    }
}

impl From<Bytes<ELEMENT_LEN>> for Element {
    fn from(b: Bytes<ELEMENT_LEN>) -> Self {
        Element(b.0)
    }
}

impl From<Lookup> for Bytes<LOOKUP_LEN> {
    fn from(l: Lookup) -> Self {
        Bytes(l.0)
    }
}

impl From<Bytes<LOOKUP_LEN>> for Lookup {
    fn from(b: Bytes<LOOKUP_LEN>) -> Self {
        Lookup(b.0)
    }
}

impl<const N: usize> Serialize for Bytes<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de, const N: usize> Deserialize<'de> for Bytes<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(BytesVisitor::<N>)
        } else {
            deserializer.deserialize_bytes(BytesVisitor::<N>)
        }
    }
}

struct BytesVisitor<const N: usize>;

impl<const N: usize> Visitor<'_> for BytesVisitor<N> {
    type Value = Bytes<N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{N} bytes (base64url text in JSON, a byte string in CBOR)"
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Bytes<N>, E> {
        if text.len() != (4 * N).div_ceil(3) {
            return Err(E::custom(format!("expected {N} bytes")));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| E::custom("not unpadded base64url"))?;
        self.visit_bytes(&bytes)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Bytes<N>, E> {
        bytes
            .try_into()
            .map(Bytes)
            .map_err(|_| E::custom(format!("expected {N} bytes")))
    }
}

/// A list of filter tags: 8 little-endian bytes each, concatenated (base64url text in JSON, a
/// byte string in CBOR) — a tenth of the size of a JSON array of numbers.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TagList(pub Vec<Tag>);

impl fmt::Debug for TagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagList({} tags)", self.0.len())
    }
}

impl TagList {
    fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|t| t.0.to_le_bytes()).collect()
    }
}

impl Serialize for TagList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        if serializer.is_human_readable() {
            serializer.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
        } else {
            serializer.serialize_bytes(&bytes)
        }
    }
}

impl<'de> Deserialize<'de> for TagList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(TagListVisitor)
        } else {
            deserializer.deserialize_bytes(TagListVisitor)
        }
    }
}

struct TagListVisitor;

impl Visitor<'_> for TagListVisitor {
    type Value = TagList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tags: 8 bytes each (base64url text in JSON, a byte string in CBOR)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<TagList, E> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| E::custom("tags are not unpadded base64url"))?;
        self.visit_bytes(&bytes)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<TagList, E> {
        if !bytes.len().is_multiple_of(8) {
            return Err(E::custom("tags are 8 bytes each"));
        }
        Ok(TagList(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0; 8];
                    b.copy_from_slice(c);
                    Tag(u64::from_le_bytes(b))
                })
                .collect(),
        ))
    }
}

/// Fingerprints per part of a filter download: 2 MiB, so every answer stays well under the
/// 4 MiB a transport reads (the upload stage's `MAX_ANSWER_BYTES`) whatever the number of users.
pub const PART_FINGERPRINTS: usize = 1 << 20;

/// The media type of a [`FilterPart`].
pub const FILTER_MEDIA_TYPE: &str = "application/octet-stream";
const PART_MAGIC: &[u8; 4] = b"csfp";
const PART_HEADER: usize = 4 + 4 + 8 + 4 + 4 + FilterHeader::LEN;

/// How many parts a filter of `count` fingerprints travels in (an empty filter is one part).
pub fn parts_of(count: u32) -> u32 {
    u32::try_from((count as usize).div_ceil(PART_FINGERPRINTS).max(1)).unwrap_or(u32::MAX)
}

/// `GET /v1/private/filter?part=K&version=V` answer (`application/octet-stream`): one part of
/// the users' filter at one version. `"csfp"`, then little endian the epoch (u32), version
/// (u64), part and parts (u32 each) and the filter's header, then this part's fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPart {
    /// The epoch whose PRF values the filter holds.
    pub epoch: u32,
    /// The version it is at.
    pub version: u64,
    /// This part's index, from 0.
    pub part: u32,
    /// How many parts the filter has ([`parts_of`] its count).
    pub parts: u32,
    /// The whole filter's descriptor and count.
    pub header: FilterHeader,
    /// This part's fingerprints: [`PART_FINGERPRINTS`], fewer in the last part.
    pub fingerprints: Vec<u16>,
}

impl FilterPart {
    /// Part `part` of a filter, `None` past its last.
    pub fn of(epoch: u32, version: u64, filter: &UserFilter, part: u32) -> Option<FilterPart> {
        let header = filter.header();
        let parts = parts_of(header.count);
        if part >= parts {
            return None;
        }
        let all = filter.fingerprints();
        let start = (part as usize)
            .saturating_mul(PART_FINGERPRINTS)
            .min(all.len());
        let end = start.saturating_add(PART_FINGERPRINTS).min(all.len());
        Some(FilterPart {
            epoch,
            version,
            part,
            parts,
            header,
            fingerprints: all[start..end].to_vec(),
        })
    }

    /// The body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PART_HEADER + 2 * self.fingerprints.len());
        out.extend_from_slice(PART_MAGIC);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.part.to_le_bytes());
        out.extend_from_slice(&self.parts.to_le_bytes());
        self.header.write(&mut out);
        for fingerprint in &self.fingerprints {
            out.extend_from_slice(&fingerprint.to_le_bytes());
        }
        out
    }

    /// Reads a body: its sizes must agree with each other; anything else is an error, never a
    /// panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<FilterPart, FilterError> {
        let head = bytes
            .get(..PART_HEADER - FilterHeader::LEN)
            .ok_or(FilterError::Format("truncated part header"))?;
        if &head[..4] != PART_MAGIC {
            return Err(FilterError::Format("wrong part magic"));
        }
        let u32_at = |at: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(&head[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let mut version = [0; 8];
        version.copy_from_slice(&head[8..16]);
        let header = FilterHeader::read(&bytes[PART_HEADER - FilterHeader::LEN..])?;
        let (part, parts) = (u32_at(16), u32_at(20));
        if parts != parts_of(header.count) || part >= parts {
            return Err(FilterError::Format("part numbers do not fit the filter"));
        }
        let start = (part as usize) * PART_FINGERPRINTS;
        let expected = (header.count as usize - start).min(PART_FINGERPRINTS);
        let body = &bytes[PART_HEADER..];
        if body.len() != 2 * expected {
            return Err(FilterError::Format("a part of the wrong length"));
        }
        Ok(FilterPart {
            epoch: u32_at(4),
            version: u64::from_le_bytes(version),
            part,
            parts,
            header,
            fingerprints: fingerprints_of(body),
        })
    }
}

/// A filter download in progress: parts arrive in order and must all describe one filter.
#[derive(Debug)]
pub struct FilterDownload {
    first: FilterPart,
    fingerprints: Vec<u16>,
    next: u32,
}

impl FilterDownload {
    /// Starts with part 0.
    pub fn start(first: FilterPart) -> Result<FilterDownload, FilterError> {
        if first.part != 0 {
            return Err(FilterError::Format("a download starts with part 0"));
        }
        let mut fingerprints = Vec::with_capacity(first.header.count as usize);
        fingerprints.extend_from_slice(&first.fingerprints);
        Ok(FilterDownload {
            first,
            fingerprints,
            next: 1,
        })
    }

    /// The epoch and version being downloaded.
    pub fn epoch_version(&self) -> (u32, u64) {
        (self.first.epoch, self.first.version)
    }

    /// The next part to ask for, `None` once complete.
    pub fn next_part(&self) -> Option<u32> {
        (self.next < self.first.parts).then_some(self.next)
    }

    /// Adds the next part; it must be of the same filter.
    pub fn push(&mut self, part: FilterPart) -> Result<(), FilterError> {
        let first = &self.first;
        if (part.epoch, part.version, part.header, part.parts)
            != (first.epoch, first.version, first.header, first.parts)
            || part.part != self.next
        {
            return Err(FilterError::Format(
                "a part of another filter or out of order",
            ));
        }
        self.fingerprints.extend(part.fingerprints);
        self.next += 1;
        Ok(())
    }

    /// The whole filter, once every part arrived.
    pub fn finish(self) -> Result<UserFilter, FilterError> {
        if self.next_part().is_some() {
            return Err(FilterError::Format("parts are missing"));
        }
        UserFilter::from_parts(self.first.header, self.fingerprints)
    }
}

/// The smallest bucket that holds `n` elements, or `None` when `n` is above the largest (the
/// caller then sends full batches of the largest). `buckets` ascending.
pub fn bucket_for(n: usize, buckets: &[u32]) -> Option<usize> {
    buckets.iter().map(|b| *b as usize).find(|b| *b >= n.max(1))
}

/// Checks a server's buckets: 1 to 8 sizes, strictly ascending, each from 1 to `max`.
pub fn valid_buckets(buckets: &[u32], max: usize) -> bool {
    !buckets.is_empty()
        && buckets.len() <= 8
        && buckets.windows(2).all(|w| w[0] < w[1])
        && buckets.iter().all(|b| *b >= 1 && (*b as usize) <= max)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::protocol::encoding::Encoding;

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        for encoding in [Encoding::Json, Encoding::Cbor] {
            let bytes = encoding.encode(value).unwrap();
            let back: T = encoding.decode(&bytes).unwrap();
            assert_eq!(&back, value, "{encoding:?}");
        }
        Encoding::Json
            .decode(&Encoding::Json.encode(value).unwrap())
            .unwrap()
    }

    #[test]
    fn messages_round_trip_in_both_encodings_and_bytes_stay_bytes_in_cbor() {
        let request = EvaluateRequest {
            epoch: 3,
            elements: vec![Bytes([7; ELEMENT_LEN]); 4],
        };
        round_trip(&request);
        let json = String::from_utf8(Encoding::Json.encode(&request).unwrap()).unwrap();
        assert!(
            json.contains(&URL_SAFE_NO_PAD.encode([7u8; ELEMENT_LEN])),
            "{json}"
        );
        let cbor = Encoding::Cbor.encode(&request).unwrap();
        // 4 elements of 32 bytes, each with a 2-byte header, and a few bytes of structure.
        assert!(cbor.len() < 4 * 34 + 32, "{} bytes", cbor.len());
        round_trip(&FilterChanges {
            epoch: 3,
            since: 10,
            version: 12,
            added: TagList(vec![Tag(1), Tag(u64::MAX)]),
            removed: TagList(vec![]),
        });
        round_trip(&LookupAnswer {
            epoch: 1,
            matches: vec![LookupMatch {
                lookup: Bytes([9; LOOKUP_LEN]),
                user_ref: "u_1".into(),
            }],
        });
    }

    #[test]
    fn wrong_lengths_and_garbage_are_decode_errors_quoting_nothing() {
        let short = format!(
            r#"{{"epoch":1,"elements":["{}"]}}"#,
            URL_SAFE_NO_PAD.encode([5u8; 31])
        );
        let e = Encoding::Json
            .decode::<EvaluateRequest>(short.as_bytes())
            .unwrap_err();
        assert!(!e.0.contains(&URL_SAFE_NO_PAD.encode([5u8; 31])), "{e}");
        assert!(
            Encoding::Json
                .decode::<EvaluateRequest>(br#"{"epoch":1,"elements":["!!"]}"#)
                .is_err()
        );
        assert!(
            Encoding::Json
                .decode::<FilterChanges>(
                    br#"{"epoch":1,"since":1,"version":2,"added":"AAAA","removed":""}"#
                )
                .is_err()
        );
        assert!(
            Encoding::Json
                .decode::<EvaluateRequest>(br#"{"epoch":1,"elements":[],"extra":1}"#)
                .is_err()
        );
    }

    #[test]
    fn a_filter_travels_in_parts_and_hostile_parts_are_errors() {
        // Enough tags for three parts.
        let tags: Vec<Tag> = (0..2_100_000u64)
            .map(|i| Tag(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let filter = UserFilter::build(&tags).unwrap();
        let parts = parts_of(filter.header().count);
        assert_eq!(parts, 3);
        assert!(FilterPart::of(4, 99, &filter, parts).is_none());
        let bodies: Vec<Vec<u8>> = (0..parts)
            .map(|k| FilterPart::of(4, 99, &filter, k).unwrap().to_bytes())
            .collect();
        assert!(
            bodies
                .iter()
                .all(|b| b.len() <= crate::upload::MAX_ANSWER_BYTES)
        );
        let mut download =
            FilterDownload::start(FilterPart::from_bytes(&bodies[0]).unwrap()).unwrap();
        assert_eq!(download.epoch_version(), (4, 99));
        // A part out of order, or of another version, is refused and changes nothing.
        assert!(
            download
                .push(FilterPart::from_bytes(&bodies[2]).unwrap())
                .is_err()
        );
        let mut other = FilterPart::from_bytes(&bodies[1]).unwrap();
        other.version = 100;
        assert!(download.push(other).is_err());
        while let Some(k) = download.next_part() {
            let k = usize::try_from(k).unwrap();
            download
                .push(FilterPart::from_bytes(&bodies[k]).unwrap())
                .unwrap();
        }
        let back = download.finish().unwrap();
        assert!(tags.iter().step_by(997).all(|t| back.contains(*t)));
        assert_eq!(back.to_bytes(), filter.to_bytes());

        // Hostile bodies: every truncation of a small part, a wrong part count, wrong lengths.
        let small = FilterPart::of(1, 1, &UserFilter::build(&tags[..50]).unwrap(), 0).unwrap();
        let bytes = small.to_bytes();
        for cut in 0..bytes.len() {
            assert!(FilterPart::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut parts_wrong = bytes.clone();
        parts_wrong[20..24].copy_from_slice(&2u32.to_le_bytes());
        assert!(FilterPart::from_bytes(&parts_wrong).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[1, 2]);
        assert!(FilterPart::from_bytes(&longer).is_err());
        assert!(FilterPart::from_bytes(b"nope").is_err());
        // An empty filter is one part of no fingerprints.
        let empty = FilterPart::of(1, 1, &UserFilter::build(&[]).unwrap(), 0).unwrap();
        let download = FilterDownload::start(FilterPart::from_bytes(&empty.to_bytes()).unwrap());
        assert!(!download.unwrap().finish().unwrap().contains(Tag(1)));
    }

    #[test]
    fn buckets_pad_up_and_bad_bucket_lists_are_refused() {
        let buckets = [16, 64, 256];
        assert_eq!(bucket_for(0, &buckets), Some(16));
        assert_eq!(bucket_for(1, &buckets), Some(16));
        assert_eq!(bucket_for(16, &buckets), Some(16));
        assert_eq!(bucket_for(17, &buckets), Some(64));
        assert_eq!(bucket_for(256, &buckets), Some(256));
        assert_eq!(bucket_for(257, &buckets), None);
        assert!(valid_buckets(&buckets, 1000));
        assert!(!valid_buckets(&buckets, 100));
        assert!(!valid_buckets(&[], 100));
        assert!(!valid_buckets(&[4, 4], 100));
        assert!(!valid_buckets(&[0, 4], 100));
        assert!(!valid_buckets(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 100));
    }
}
