//! The private discovery mode's messages (docs/protocol.md, "Private discovery"), and the
//! padding both modes use so a request's size says little about the book behind it.
//!
//! Like [`super::wire`], each type is one definition for both sides and both encodings: byte
//! values ([`Bytes`], [`TagList`]) are unpadded base64url text in JSON and byte strings in CBOR.
//! The users' filter itself travels as its own binary form, in parts ([`FilterPart`]):
//! megabytes of fingerprints gain nothing from either encoding, and parts keep each answer under
//! what a transport reads.

mod bytes;
mod parts;

use serde::{Deserialize, Serialize};

pub use bytes::{Bytes, TagList};
pub use parts::{FILTER_MEDIA_TYPE, FilterDownload, FilterPart, PART_FINGERPRINTS, parts_of};

use crate::oprf::{ELEMENT_LEN, LOOKUP_LEN, PROOF_LEN, Tag};

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
    /// Hashed lookups at a Matrix identity server (`SyncOptions::matrix`, the app's choice):
    /// matches are Matrix user ids (docs/matrix.md).
    Matrix,
}

impl Discovery {
    /// The name the store keeps.
    pub const fn as_str(self) -> &'static str {
        match self {
            Discovery::Hashed => "hashed",
            Discovery::Private => "private",
            Discovery::Matrix => "matrix",
        }
    }

    /// The mode of a stored name; anything unknown is the default.
    pub fn from_name(name: &str) -> Discovery {
        match name {
            "private" => Discovery::Private,
            "matrix" => Discovery::Matrix,
            _ => Discovery::Hashed,
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
    /// The filter is split in `2^shard_bits` shards by the top bits of the tags
    /// ([`shard_of`]); a client downloads and follows only the shards its values fall in.
    /// Absent (and never sent) when 0: one filter, as before sharding.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shard_bits: u8,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// The most shard bits a server may configure: 65,536 shards, each still holding about 15 users
/// per million, and a shard number that fits a `u16`.
pub const MAX_SHARD_BITS: u8 = 16;

/// The shard of the users' filter a tag falls in with `bits` shard bits: its top `bits` bits
/// (0 for every tag when `bits` is 0). `bits` above [`MAX_SHARD_BITS`] counts as that.
pub fn shard_of(tag: Tag, bits: u8) -> u32 {
    let bits = bits.min(MAX_SHARD_BITS);
    if bits == 0 {
        0
    } else {
        u32::try_from(tag.0 >> (64 - u32::from(bits))).unwrap_or(0)
    }
}

/// How many shards `bits` shard bits make.
pub fn shard_count(bits: u8) -> u32 {
    1 << bits.min(MAX_SHARD_BITS)
}

/// The tags of shard `shard` with `bits` shard bits, first and last (inclusive).
pub fn shard_range(shard: u32, bits: u8) -> (Tag, Tag) {
    let bits = bits.min(MAX_SHARD_BITS);
    if bits == 0 {
        return (Tag(0), Tag(u64::MAX));
    }
    let width = 64 - u32::from(bits);
    let first = u64::from(shard) << width;
    (Tag(first), Tag(first | ((1u64 << width) - 1)))
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
    /// RFC 9497's batch (DLEQ) proofs: one per [`PROOF_SLICE`] elements, in order (the last
    /// slice may be shorter), so a client checks them on all its cores.
    ///
    /// [`PROOF_SLICE`]: crate::oprf::PROOF_SLICE
    pub proofs: Vec<Bytes<PROOF_LEN>>,
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

/// The smallest bucket that holds `n` elements, or `None` when `n` is above the largest (the
/// caller then sends full batches of the largest). `buckets` ascending.
pub fn bucket_for(n: usize, buckets: &[u32]) -> Option<usize> {
    buckets.iter().map(|b| *b as usize).find(|b| *b >= n.max(1))
}

/// The largest bucket a server's limits allow: `max_batch`, what `max_body_bytes` carries at 46
/// bytes an element (a JSON element: 43 characters of base64url, its quotes and comma) after 256
/// bytes of the rest of the body, and RFC 9497's batch limit. The server checks its buckets and
/// the client the advertised ones by this one figure, so a server never offers a bucket its
/// clients refuse.
pub fn max_bucket(max_batch: u32, max_body_bytes: u32) -> usize {
    const ELEMENT_BYTES: u32 = 46;
    const BODY_OVERHEAD: u32 = 256;
    let by_body = max_body_bytes.saturating_sub(BODY_OVERHEAD) / ELEMENT_BYTES;
    (max_batch.min(by_body) as usize).min(crate::oprf::MAX_BATCH)
}

/// The most entries a keyed-hash batch may have: `max_batch`, and what `max_body_bytes` carries
/// at 25 bytes a hash (JSON's 22 characters, quotes and comma; CBOR's 17 bytes fit within it)
/// after 256 bytes of the rest of the body. A batch's buckets are checked by it on both sides.
pub fn max_batch_bucket(max_batch: u32, max_body_bytes: u32) -> usize {
    const HASH_BYTES: u32 = 25;
    const BODY_OVERHEAD: u32 = 256;
    max_batch.min(max_body_bytes.saturating_sub(BODY_OVERHEAD) / HASH_BYTES) as usize
}

/// A server's batch buckets when its operator names none: 16, 64, 256 and 1024, those the
/// limits allow (`max`: [`max_batch_bucket`]), and `max` itself when it is below 1024.
pub fn default_batch_buckets(max: usize) -> Vec<u32> {
    let cap = u32::try_from(max.min(1024)).unwrap_or(1024);
    let mut buckets: Vec<u32> = [16, 64, 256].into_iter().filter(|b| *b < cap).collect();
    if cap > 0 {
        buckets.push(cap);
    }
    buckets
}

/// Checks a server's buckets: 1 to 8 sizes, strictly ascending, each from 1 to `max`.
pub fn valid_buckets(buckets: &[u32], max: usize) -> bool {
    !buckets.is_empty()
        && buckets.len() <= 8
        && buckets.windows(2).all(|w| w[0] < w[1])
        && buckets.iter().all(|b| *b >= 1 && (*b as usize) <= max)
}

#[cfg(test)]
mod tests;
