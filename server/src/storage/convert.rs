//! Conversions both backends make between stored columns and records: a stored value that does
//! not fit its record is a storage error, never a panic.

use contactsync_core::Digest;
use contactsync_core::hash::DIGEST_LEN;

use super::KeyState;
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
