//! Small helpers: randomness, ids and tokens, SHA-256, the clock, and the protocol's text checks.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::error::ServerError;

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], ServerError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(bytes)
}

/// `<prefix><N random bytes as unpadded base64url>`: client ids (`c_`, 16 bytes), tokens (`t_`,
/// 32 bytes), key ids (`k_`, 9 bytes), receipt ids (`r_`, 16 bytes). The prefix tells a reader
/// of a log or a support ticket what kind of value it is looking at.
pub(crate) fn random_id<const N: usize>(prefix: &str) -> Result<String, ServerError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<N>()?)
    ))
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equality of two digests in time independent of where they differ. The values compared are
/// SHA-256s of tokens, so a timing leak would say little anyway; this costs nothing.
pub(crate) fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A batch id: 1–64 of `[A-Za-z0-9_-]`.
pub(crate) fn valid_batch_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A user reference: 1–128 printable ASCII characters (space included).
pub(crate) fn valid_user_ref(user_ref: &str) -> bool {
    (1..=128).contains(&user_ref.len()) && user_ref.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_refs() {
        assert!(valid_batch_id("b_kM0s-9"));
        assert!(!valid_batch_id(""));
        assert!(!valid_batch_id(&"a".repeat(65)));
        assert!(!valid_batch_id("b.1"));
        assert!(valid_user_ref("u 1042"));
        assert!(!valid_user_ref("u\n"));
        assert!(!valid_user_ref("ü"));
        assert!(!valid_user_ref(&"u".repeat(129)));
        let token = random_id::<32>("t_").unwrap();
        assert_eq!(token.len(), 45);
        assert_ne!(token, random_id::<32>("t_").unwrap());
        assert!(same_digest(&sha256(b"a"), &sha256(b"a")));
        assert!(!same_digest(&sha256(b"a"), &sha256(b"b")));
    }
}
