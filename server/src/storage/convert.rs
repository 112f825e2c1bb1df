//! Conversions both backends make between stored columns and records: a stored value that does
//! not fit its record is a storage error, never a panic.

use contactsync_core::Digest;
use contactsync_core::hash::DIGEST_LEN;

use super::{KeyState, OprfKey};
use crate::error::ServerError;

pub(super) fn digest_from(bytes: Vec<u8>) -> Result<Digest, ServerError> {
    bytes
        .try_into()
        .map(Digest)
        .map_err(|_| ServerError::Storage(format!("a stored digest is not {DIGEST_LEN} bytes")))
}

pub(super) fn sha_from(bytes: Vec<u8>) -> Result<[u8; 32], ServerError> {
    bytes
        .try_into()
        .map_err(|_| ServerError::Storage("a stored SHA-256 is not 32 bytes".into()))
}

/// A count or size as stored (signed in both databases).
pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn key_state(text: &str) -> Result<KeyState, ServerError> {
    match text {
        "current" => Ok(KeyState::Current),
        "next" => Ok(KeyState::Next),
        _ => Err(ServerError::Storage("unknown key state".into())),
    }
}

/// A key's OPRF columns: both or neither.
pub(super) fn oprf_key(
    epoch: Option<i64>,
    secret: Option<Vec<u8>>,
) -> Result<Option<OprfKey>, ServerError> {
    match (epoch, secret) {
        (None, None) => Ok(None),
        (Some(epoch), Some(secret)) => Ok(Some(OprfKey {
            epoch: epoch_from(epoch)?,
            secret,
        })),
        _ => Err(ServerError::Storage(
            "a key has an OPRF epoch without a secret, or a secret without one".into(),
        )),
    }
}

pub(super) fn epoch_from(n: i64) -> Result<u32, ServerError> {
    u32::try_from(n).map_err(|_| ServerError::Storage("a stored epoch is out of range".into()))
}

/// A tag as stored: the u64's bits as a signed 64-bit integer.
#[allow(clippy::cast_possible_wrap, reason = "the bits, not the value")]
pub(super) const fn tag_to_i64(tag: u64) -> i64 {
    tag as i64
}

#[allow(clippy::cast_sign_loss, reason = "the bits, not the value")]
pub(super) const fn tag_from_i64(n: i64) -> u64 {
    n as u64
}

pub(super) fn lookup_from(bytes: Vec<u8>) -> Result<[u8; 16], ServerError> {
    bytes
        .try_into()
        .map_err(|_| ServerError::Storage("a stored lookup is not 16 bytes".into()))
}
