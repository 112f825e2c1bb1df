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
        let outside =
            String::from_utf8_lossy(&without_random_fields(&x.path, &x.body)).into_owned();
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
        let encoding = if x.body.first() == Some(&b'{') {
            Encoding::Json
        } else {
            Encoding::Cbor
        };
        if x.path == "/v1/private/evaluate" {
            evaluations += 1;
            let request: EvaluateRequest = encoding.decode(&x.body).unwrap();
            let n = u32::try_from(request.elements.len()).unwrap();
            assert!(buckets.contains(&n), "{n} elements");
        }
        if x.path == "/v1/private/lookup" {
            let request: LookupRequest = encoding.decode(&x.body).unwrap();
            let n = u32::try_from(request.lookups.len()).unwrap();
            assert!(buckets.contains(&n), "{n} lookups");
        }
    }
    evaluations
}

/// `body` with the pseudorandom fields of an evaluation or a lookup (blinded elements, PRF
/// lookups: uniformly distributed by design) overwritten with zeros, as they are encoded: byte
/// strings in CBOR, base64url text in JSON. Any other body comes back as it is.
#[allow(clippy::unwrap_used, reason = "test helper")]
fn without_random_fields(path: &str, body: &[u8]) -> Vec<u8> {
    let json = body.first() == Some(&b'{');
    let encoding = if json { Encoding::Json } else { Encoding::Cbor };
    let fields: Vec<Vec<u8>> = match path {
        "/v1/private/evaluate" => {
            let request: EvaluateRequest = encoding.decode(body).unwrap();
            request.elements.iter().map(|e| e.0.to_vec()).collect()
        }
        "/v1/private/lookup" => {
            let request: LookupRequest = encoding.decode(body).unwrap();
            request.lookups.iter().map(|l| l.0.to_vec()).collect()
        }
        _ => return body.to_vec(),
    };
    let mut masked = body.to_vec();
    for field in fields {
        let encoded = if json {
            URL_SAFE_NO_PAD.encode(&field).into_bytes()
        } else {
            field
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
            let masked = without_random_fields("/v1/private/lookup", &body);
            assert_eq!(masked.len(), body.len());
            assert!(body.windows(3).any(|w| w == b"Ana") || encoding == Encoding::Json);
            assert!(!masked.windows(3).any(|w| w == b"Ana"));
            assert!(!masked.windows(LOOKUP_LEN).any(|w| w == [9; LOOKUP_LEN]));
            assert!(masked.windows(7).any(|w| w == b"lookups"));
            // Another route's body is left as it is.
            assert_eq!(without_random_fields("/v1/private/filter", &body), body);
        }
    }
}
