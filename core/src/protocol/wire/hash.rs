//! [`WireHash`]: a hash as it travels, one type for both encodings.
//!
//! Its own file because it is the one wire type with a hand-written serde form (text in JSON,
//! bytes in CBOR, by `is_human_readable`); the messages beside it in [`super`] derive theirs.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::{DIGEST_LEN, Digest, LEGACY_DIGEST_LEN};

/// A hash as it travels: unpadded URL-safe base64 text in JSON, a byte string in CBOR.
///
/// It keeps the bytes as the peer sent them, whatever their length (at most
/// [`WireHash::MAX_LEN`]): the receiver judges them ([`WireHash::digest`], or the server's
/// acceptance of an older client's 32-byte hash), and a server answers a match with the hash
/// exactly as it was asked, so an older client finds its own hash in the answer. Text is read in
/// its one canonical spelling only (no padding, no stray bits), so text read and written again
/// is the same string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WireHash(Vec<u8>);

impl WireHash {
    /// The most bytes a hash may have on the wire; anything longer is refused while parsing.
    pub const MAX_LEN: usize = LEGACY_DIGEST_LEN;

    /// The bytes as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The digest, when this is exactly [`DIGEST_LEN`] bytes (what this client sends and a
    /// server of this version answers).
    pub fn digest(&self) -> Option<Digest> {
        <[u8; DIGEST_LEN]>::try_from(self.0.as_slice())
            .ok()
            .map(Digest)
    }

    /// Raw bytes as a hash (tests, and a server echoing what it was sent); `None` past
    /// [`WireHash::MAX_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Option<WireHash> {
        (bytes.len() <= Self::MAX_LEN).then(|| WireHash(bytes.to_vec()))
    }
}

impl From<Digest> for WireHash {
    fn from(digest: Digest) -> Self {
        WireHash(digest.0.to_vec())
    }
}

impl From<&Digest> for WireHash {
    fn from(digest: &Digest) -> Self {
        WireHash(digest.0.to_vec())
    }
}

impl fmt::Display for WireHash {
    /// The JSON form: unpadded URL-safe base64.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl fmt::Debug for WireHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WireHash({self})")
    }
}

impl Serialize for WireHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&URL_SAFE_NO_PAD.encode(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for WireHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(HashVisitor)
        } else {
            deserializer.deserialize_bytes(HashVisitor)
        }
    }
}

/// Reads a hash from text (JSON) or bytes (CBOR). Its errors never quote the value: a hash is
/// what must not reach a log.
struct HashVisitor;

impl Visitor<'_> for HashVisitor {
    type Value = WireHash;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a hash (base64url text in JSON, a byte string in CBOR; at most {} bytes)",
            WireHash::MAX_LEN
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<WireHash, E> {
        // 4 characters per 3 bytes, rounded up: longer text cannot be a hash, and is not decoded.
        if text.len() > WireHash::MAX_LEN.div_ceil(3) * 4 {
            return Err(E::custom("a hash is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| E::custom("a hash is not unpadded base64url"))?;
        WireHash::from_bytes(&bytes).ok_or_else(|| E::custom("a hash is too long"))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<WireHash, E> {
        WireHash::from_bytes(bytes).ok_or_else(|| E::custom("a hash is too long"))
    }
}
