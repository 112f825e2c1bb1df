//! The Matrix identity service v2's lookup messages (the Matrix spec's identity service API,
//! "Association lookup"): `GET /_matrix/identity/v2/hash_details` and
//! `POST /_matrix/identity/v2/lookup`, and its error body. docs/matrix.md has the mode.
//!
//! Another project's protocol, so every field an answer may lack is optional here: an error body
//! without `lookup_pepper` (Element Android once broke on exactly that) or a `retry_after_ms`
//! that is missing must still parse, and the session decides what a missing field means.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The path of the hashing details.
pub const HASH_DETAILS_PATH: &str = "/_matrix/identity/v2/hash_details";
/// The path of lookups.
pub const LOOKUP_PATH: &str = "/_matrix/identity/v2/lookup";
/// `SHA-256("<address> <medium> <pepper>")`, unpadded URL-safe base64.
pub const SHA256: &str = "sha256";
/// Plaintext `"<address> <medium>"`: the server learns every address looked up.
pub const NONE: &str = "none";

/// The spec's error codes this client acts on.
pub mod errcodes {
    /// The pepper sent is not the server's (it changed since `hash_details`).
    pub const INVALID_PEPPER: &str = "M_INVALID_PEPPER";
    /// Rate limited; `retry_after_ms` may say how long to wait.
    pub const LIMIT_EXCEEDED: &str = "M_LIMIT_EXCEEDED";
    /// More addresses than the server takes in one lookup (Sydent's is configurable, 10,000 by
    /// default, and not advertised).
    pub const TOO_LARGE: &str = "M_TOO_LARGE";
}

/// `GET /_matrix/identity/v2/hash_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashDetails {
    /// The algorithms the server accepts (`sha256` is required by the spec, `none` optional).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// The pepper to append before hashing.
    #[serde(default)]
    pub lookup_pepper: String,
}

/// `POST /_matrix/identity/v2/lookup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupRequest {
    /// Hashes (`sha256`) or `"<address> <medium>"` strings (`none`).
    pub addresses: Vec<String>,
    /// The algorithm used.
    pub algorithm: String,
    /// The pepper used (sent with `none` too: the spec requires it).
    pub pepper: String,
}

/// The lookup's answer: what was sent → the Matrix user id bound to it; unbound ones are absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LookupAnswer {
    /// The mappings found.
    #[serde(default)]
    pub mappings: HashMap<String, String>,
}

/// A Matrix error body: `{"errcode": "M_...", "error": "..."}` plus fields some codes add.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MatrixError {
    /// The spec's error code.
    #[serde(default)]
    pub errcode: Option<String>,
    /// For logs.
    #[serde(default)]
    pub error: Option<String>,
    /// `M_LIMIT_EXCEEDED`: milliseconds to wait.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// `M_INVALID_PEPPER`: the server's pepper now (optional: the client fetches
    /// `hash_details` again rather than rely on it).
    #[serde(default)]
    pub lookup_pepper: Option<String>,
}
