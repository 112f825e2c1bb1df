//! What may leave a device in the private mode, checked on every recorded exchange: shared by the
//! private mode's end-to-end tests (`tests/private_e2e.rs`, `tests/private_invites_e2e.rs`).

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::private::{EvaluateRequest, LookupRequest};

use crate::net::Exchange;

/// Asserts that a private device's `exchanges` call only `GET /v1/config`, the private routes
/// and the routes starting with one of `also`; that no path or body carries any of `texts` (raw
/// values, canonical forms, names, keyed hashes in base64url) and no body any of `digests` as
/// raw bytes; and that every evaluation and lookup is padded to one of `buckets`. Returns how
/// many evaluations there were.
///
/// # Panics
/// When one does (a test failure).
#[allow(clippy::unwrap_used, reason = "test helper")]
pub fn assert_private_exchanges(
    exchanges: &[Exchange],
    texts: &BTreeSet<String>,
    digests: &[[u8; 16]],
    buckets: &[u32],
    also: &[&str],
) -> usize {
    let mut evaluations = 0;
    for x in exchanges {
        assert!(
            x.path.starts_with("/v1/config")
                || x.path.starts_with("/v1/private/")
                || also.iter().any(|a| x.path.starts_with(a)),
            "a private device calls {}",
            x.path
        );
        let body = String::from_utf8_lossy(&x.body);
        let fields = random_fields(&x.path, &x.body);
        let outside = String::from_utf8_lossy(&masked(&x.body, fields.as_deref())).into_owned();
        for text in texts {
            assert!(!x.path.contains(text.as_str()), "{text} in {}", x.path);
            // A short text ("Ana") turns up by chance in kilobytes of pseudorandom elements
            // (about once in 4,000 runs for one 3-byte name in a 4 KiB body), so short texts are
            // looked for outside those fields; a text of 8 bytes or more, and every digest, is
            // looked for everywhere.
            let haystack: &str = if text.len() >= 8 { &body } else { &outside };
            assert!(
                !haystack.contains(text.as_str()),
                "{text} in a body to {}",
                x.path
            );
        }
        for digest in digests {
            assert!(
                !x.body.windows(16).any(|w| w == digest),
                "a keyed hash in a body to {}",
                x.path
            );
        }
        // Every evaluation and lookup is padded to one of the server's buckets.
        if let Some(fields) = &fields {
            let n = u32::try_from(fields.len()).unwrap();
            assert!(
                buckets.contains(&n),
                "{n} elements or lookups to {}",
                x.path
            );
            evaluations += usize::from(x.path == "/v1/private/evaluate");
        }
    }
    evaluations
}

/// The pseudorandom fields of an evaluation or a lookup (blinded elements, PRF lookups:
/// uniformly distributed by design), decoded; `None` for any other route.
#[allow(clippy::unwrap_used, reason = "test helper")]
fn random_fields(path: &str, body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let encoding = if body.first() == Some(&b'{') {
        Encoding::Json
    } else {
        Encoding::Cbor
    };
    match path {
        "/v1/private/evaluate" => {
            let request: EvaluateRequest = encoding.decode(body).unwrap();
            Some(request.elements.iter().map(|e| e.0.to_vec()).collect())
        }
        "/v1/private/lookup" => {
            let request: LookupRequest = encoding.decode(body).unwrap();
            Some(request.lookups.iter().map(|l| l.0.to_vec()).collect())
        }
        _ => None,
    }
}

/// `body` with each of `fields` overwritten with zeros where it is encoded: as a byte string in
/// CBOR, as base64url text in JSON.
fn masked(body: &[u8], fields: Option<&[Vec<u8>]>) -> Vec<u8> {
    let json = body.first() == Some(&b'{');
    let mut masked = body.to_vec();
    for field in fields.unwrap_or_default() {
        let encoded = if json {
            URL_SAFE_NO_PAD.encode(field).into_bytes()
        } else {
            field.clone()
        };
        let mut at = 0;
        while let Some(i) = masked[at..]
            .windows(encoded.len())
            .position(|w| w == encoded.as_slice())
        {
            masked[at + i..at + i + encoded.len()].fill(0);
            at += i + encoded.len();
        }
    }
    masked
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test")]
mod tests {
    use contactsync_core::oprf::LOOKUP_LEN;
    use contactsync_core::protocol::private::Bytes;

    use super::*;

    /// A lookup whose pseudorandom bytes spell a short name is masked in both encodings; the
    /// rest of the body (the field names, the epoch) is kept.
    #[test]
    fn the_random_fields_are_masked_and_nothing_else() {
        let mut lookup = [7u8; LOOKUP_LEN];
        lookup[3..6].copy_from_slice(b"Ana");
        let request = LookupRequest {
            epoch: 41,
            lookups: vec![Bytes(lookup), Bytes([9; LOOKUP_LEN])],
        };
        for encoding in [Encoding::Json, Encoding::Cbor] {
            let body = encoding.encode(&request).unwrap();
            let hidden = masked(&body, random_fields("/v1/private/lookup", &body).as_deref());
            assert_eq!(hidden.len(), body.len());
            assert!(body.windows(3).any(|w| w == b"Ana") || encoding == Encoding::Json);
            assert!(!hidden.windows(3).any(|w| w == b"Ana"));
            assert!(!hidden.windows(LOOKUP_LEN).any(|w| w == [9; LOOKUP_LEN]));
            assert!(hidden.windows(7).any(|w| w == b"lookups"));
            // Another route has no random fields: its body is searched whole.
            assert_eq!(random_fields("/v1/private/filter", &body), None);
        }
    }
}
