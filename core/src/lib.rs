//! contactsync-core: the engine behind "which of my contacts already use this app?".
//!
//! The data flows one way and each stage is a module:
//!
//! ```text
//! RawContact ──► identifiers ──► keyed hashes ──► (store, diff, upload: later stages)
//! (contact)      (identifier)    (hash)
//! ```
//!
//! Contacts arrive from the app's platform adapter or from files ([`source`], behind the
//! `files` feature). This crate knows nothing of FFI: it exposes ordinary Rust types and
//! `Result<_, Error>`; the `contactsync-ffi` crate maps them for Kotlin and Swift.

pub mod contact;
pub mod hash;
pub mod identifier;
#[cfg(feature = "files")]
pub mod source;

pub use contact::{
    Fingerprint, Labelled, LinkedAccount, NormalizedContact, RawContact, RejectReason, Rejection,
};
pub use hash::{Digest, HashError, HashKey, MatrixHasher};
pub use identifier::{Identifier, IdentifierKind, NormalizeError, Normalizer, Region};

/// This crate's version, for diagnostics and for the bindings to report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
