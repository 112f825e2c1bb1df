//! What may leave a device in the private mode, checked on every recorded exchange: shared by the
//! private mode's end-to-end tests (`tests/private_e2e.rs`, `tests/private_invites_e2e.rs`).

use std::collections::BTreeSet;

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
        for text in texts {
            assert!(!x.path.contains(text.as_str()), "{text} in {}", x.path);
            assert!(
                !body.contains(text.as_str()),
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
