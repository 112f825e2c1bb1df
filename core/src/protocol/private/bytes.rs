//! Byte values in both encodings: fixed-length bytes ([`Bytes`]: an element, a proof, a lookup)
//! and lists of filter tags ([`TagList`]), base64url text in JSON and byte strings in CBOR,
//! decided by serde's `is_human_readable` as [`crate::protocol::wire::WireHash`] is.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::oprf::{ELEMENT_LEN, Element, LOOKUP_LEN, Lookup, Tag};

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
