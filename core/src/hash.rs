//! Keyed, domain-separated hashes of identifiers: what leaves the device.
//!
//! Stage: owns [`HashKey`], [`Digest`] and [`MatrixHasher`]. May import `identifier`; never the
//! contact model, the protocol, the store or anything above (crate docs: the one-way flow).
//!
//! **Default mode.** `HMAC-SHA-256(key, "contactsync-v1" ‖ 0x00 ‖ kind ‖ 0x00 ‖ canonical)`, with
//! a key and key id issued by the server. The kind's wire name is part of the input, so a handle
//! `alice@example.com` and the e-mail `alice@example.com` hash differently; the leading context
//! string keeps these digests apart from any other use of the same key. Canonical forms never
//! contain NUL, so the encoding is unambiguous. The digest is that HMAC truncated to its first
//! 128 bits ([`DIGEST_LEN`] bytes: RFC 2104 §5 allows truncation to half the output or more, and
//! RFC 4868 names this HMAC-SHA-256-128); docs/privacy.md has the collision arithmetic. In JSON a
//! digest is unpadded URL-safe base64 (22 characters), in CBOR a 16-byte string.
//!
//! A server-issued key stops a third party with a leaked upload from testing guesses offline,
//! and lets the server rotate it. It does **not** make a phone number anonymous towards the
//! server: the E.164 space is small enough to enumerate (docs/privacy.md says so plainly).
//!
//! **Matrix identity-service v2 mode** ([`MatrixHasher`]): `SHA-256("<address> <medium> <pepper>")`,
//! unpadded URL-safe base64, with the spec's `email` (lower-cased address) and `msisdn` (E.164
//! without `+`) mediums, for talking to an existing identity server.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::identifier::{Identifier, IdentifierKind};

/// The context string that starts every hashed message.
pub const CONTEXT: &str = "contactsync-v1";
/// Shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 64;
/// Longest key id accepted, in bytes.
pub const MAX_KEY_ID_LEN: usize = 64;
/// Bytes of a digest: HMAC-SHA-256 truncated to 128 bits. Half the bytes of the full output on
/// the wire and in both databases, while a collision among 10^10 hashes under one key stays a
/// chance of about 1.5 · 10^-19 (docs/privacy.md).
pub const DIGEST_LEN: usize = 16;

/// Errors of the hashing stage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashError {
    /// The key is not valid base64.
    #[error("hash key is not valid base64")]
    KeyEncoding,
    /// The key is shorter than [`MIN_KEY_LEN`] or longer than [`MAX_KEY_LEN`] bytes.
    #[error("hash key must be {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes")]
    KeyLength,
    /// The key id is empty, too long, or not printable ASCII.
    #[error("key id must be 1 to {MAX_KEY_ID_LEN} printable ASCII characters")]
    KeyId,
    /// A digest that is not 16 bytes of unpadded URL-safe base64.
    #[error("not a digest (expected 22 characters of unpadded URL-safe base64)")]
    DigestEncoding,
    /// The Matrix identity service hashes only e-mail addresses and phone numbers.
    #[error("the Matrix identity service has no medium for this identifier kind")]
    UnsupportedMedium,
}

/// A server-issued hashing key and its id.
///
/// The HMAC state is keyed once here and cloned per hash, so hashing many identifiers does not
/// re-derive the key each time.
#[derive(Clone)]
pub struct HashKey {
    id: String,
    mac: Hmac<Sha256>,
}

impl HashKey {
    /// A key from raw bytes.
    pub fn new(id: impl Into<String>, secret: &[u8]) -> Result<Self, HashError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_KEY_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HashError::KeyId);
        }
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&secret.len()) {
            return Err(HashError::KeyLength);
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| HashError::KeyLength)?;
        Ok(HashKey { id, mac })
    }

    /// A key from base64 text (standard or URL-safe alphabet, padded or not), as the server
    /// and the CLI hand it over.
    pub fn from_base64(id: impl Into<String>, secret_b64: &str) -> Result<Self, HashError> {
        let secret = decode_base64_any(secret_b64.trim()).ok_or(HashError::KeyEncoding)?;
        HashKey::new(id, &secret)
    }

    /// The key id the server gave with the key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The keyed digest of an identifier.
    pub fn hash(&self, identifier: &Identifier) -> Digest {
        self.hash_parts(identifier.kind(), identifier.canonical())
    }

    /// The keyed digest of a canonical text of a kind. Callers must pass canonical text (from
    /// [`Identifier`]); this exists for stored identifiers read back from the database.
    pub fn hash_parts(&self, kind: IdentifierKind, canonical: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT.as_bytes());
        mac.update(&[0]);
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(canonical.as_bytes());
        Digest::truncate(&mac.finalize().into_bytes())
    }
}

impl fmt::Debug for HashKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A digest: the first [`DIGEST_LEN`] bytes of the HMAC; its text form is unpadded URL-safe
/// base64 (22 characters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; DIGEST_LEN]);

impl Digest {
    /// The digest of a longer MAC: its first [`DIGEST_LEN`] bytes. A full 32-byte HMAC-SHA-256
    /// (what clients sent, and stores held, before digests were truncated) becomes exactly the
    /// digest made today of the same identifier under the same key.
    ///
    /// # Panics
    /// Never for a caller of this crate: it is given only a full HMAC output or a checked
    /// 32-byte value. (A shorter slice would be a bug here, not bad input.)
    pub(crate) fn truncate(full: &[u8]) -> Digest {
        let mut bytes = [0u8; DIGEST_LEN];
        bytes.copy_from_slice(&full[..DIGEST_LEN]);
        Digest(bytes)
    }

    /// A digest from bytes as a peer sent them: exactly [`DIGEST_LEN`] bytes, or a full 32-byte
    /// HMAC-SHA-256 from a peer older than truncation (its prefix is the digest); `None` for
    /// any other length.
    pub fn from_wire(bytes: &[u8]) -> Option<Digest> {
        match bytes.len() {
            DIGEST_LEN | LEGACY_DIGEST_LEN => Some(Digest::truncate(bytes)),
            _ => None,
        }
    }

    /// Unpadded URL-safe base64 (22 characters), the form digests travel in as JSON.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

/// Bytes of a digest before truncation: the whole HMAC-SHA-256, as older clients send it.
pub const LEGACY_DIGEST_LEN: usize = 32;

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_base64url())
    }
}

impl FromStr for Digest {
    type Err = HashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| HashError::DigestEncoding)?;
        Ok(Digest(
            bytes.try_into().map_err(|_| HashError::DigestEncoding)?,
        ))
    }
}

/// Hashing as the Matrix identity service v2 lookup expects (`sha256` algorithm).
#[derive(Clone, PartialEq, Eq)]
pub struct MatrixHasher {
    pepper: String,
}

impl MatrixHasher {
    /// A hasher with the server's current `lookup_pepper`.
    pub fn new(pepper: impl Into<String>) -> Self {
        MatrixHasher {
            pepper: pepper.into(),
        }
    }

    /// The Matrix medium and address of an identifier: `email` with the (already lower-cased)
    /// address, or `msisdn` with the E.164 digits without `+`.
    pub fn medium_and_address(identifier: &Identifier) -> Result<(&'static str, &str), HashError> {
        Self::medium_and_address_of(identifier.kind(), identifier.canonical())
    }

    /// The same for a kind and canonical form the normaliser made (as the store keeps them).
    pub fn medium_and_address_of(
        kind: IdentifierKind,
        canonical: &str,
    ) -> Result<(&'static str, &str), HashError> {
        match kind {
            IdentifierKind::Email => Ok(("email", canonical)),
            IdentifierKind::Phone => Ok(("msisdn", canonical.trim_start_matches('+'))),
            _ => Err(HashError::UnsupportedMedium),
        }
    }

    /// `base64url(sha256("<address> <medium> <pepper>"))`, unpadded.
    pub fn hash(&self, identifier: &Identifier) -> Result<String, HashError> {
        let (medium, address) = Self::medium_and_address(identifier)?;
        Ok(self.hash_raw(address, medium))
    }

    /// The same hash over an address and medium given as text.
    pub fn hash_raw(&self, address: &str, medium: &str) -> String {
        let mut sha = Sha256::new();
        sha.update(address.as_bytes());
        sha.update(b" ");
        sha.update(medium.as_bytes());
        sha.update(b" ");
        sha.update(self.pepper.as_bytes());
        URL_SAFE_NO_PAD.encode(sha.finalize())
    }
}

impl fmt::Debug for MatrixHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixHasher").finish_non_exhaustive()
    }
}

pub(crate) fn decode_base64_any(s: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .into_iter()
        .find_map(|engine| engine.decode(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::Region;

    fn test_key() -> HashKey {
        let secret: Vec<u8> = (0u8..32).collect();
        HashKey::new("test-key-1", &secret).unwrap()
    }

    #[test]
    fn matrix_spec_example() {
        let id = Identifier::parse(
            IdentifierKind::Email,
            "alice@example.com",
            Region::default(),
        )
        .unwrap();
        assert_eq!(
            MatrixHasher::new("matrixrocks").hash(&id).unwrap(),
            "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
        );
    }

    #[test]
    fn matrix_msisdn_has_no_plus() {
        let id =
            Identifier::parse(IdentifierKind::Phone, "+1 202 555 0173", Region::default()).unwrap();
        let h = MatrixHasher::new("p");
        assert_eq!(h.hash(&id).unwrap(), h.hash_raw("12025550173", "msisdn"));
        let handle = Identifier::parse(IdentifierKind::Handle, "alice", Region::default()).unwrap();
        assert_eq!(h.hash(&handle), Err(HashError::UnsupportedMedium));
    }

    #[test]
    fn kind_separates_domains() {
        let key = test_key();
        let a = key.hash_parts(IdentifierKind::Email, "alice@example.com");
        let b = key.hash_parts(IdentifierKind::Handle, "alice@example.com");
        assert_ne!(a, b);
        assert_eq!(a.to_base64url().len(), 22);
        assert_eq!(a.to_base64url().parse::<Digest>(), Ok(a));
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert_eq!(HashKey::new("", &[0; 32]).unwrap_err(), HashError::KeyId);
        assert_eq!(HashKey::new("k 1", &[0; 32]).unwrap_err(), HashError::KeyId);
        assert_eq!(
            HashKey::new("k", &[0; 8]).unwrap_err(),
            HashError::KeyLength
        );
        assert_eq!(
            HashKey::from_base64("k", "not base64!").unwrap_err(),
            HashError::KeyEncoding
        );
        let b64 = STANDARD.encode((0u8..32).collect::<Vec<_>>());
        let key = HashKey::from_base64("test-key-1", &b64).unwrap();
        assert_eq!(
            key.hash_parts(IdentifierKind::Phone, "+491723127130"),
            test_key().hash_parts(IdentifierKind::Phone, "+491723127130")
        );
        assert!(!format!("{key:?}").contains(&b64));
    }
}
