//! contactsync-core: the engine behind "which of my contacts already use this app?".
//!
//! The data flows one way and each stage is a module:
//!
//! ```text
//! RawContact ──► identifiers ──► keyed hashes ──► diff vs last import ──► store ──► upload
//! (contact,      (identifier)    (hash)           (diff)                   (store)   (upload)
//!  source)
//! ```
//!
//! A stage may use the stages below it, never one above. From the bottom: `error`, `progress`
//! (what long operations report), `identifier`, `hash` and `oprf` (the private mode's PRF and
//! users' filter), `contact`, `source`, `protocol` (the
//! messages, which the store persists and the upload stage sends), `store`, `diff`, `key` (the
//! hashing key in memory, which the engine and a sync share), `upload`, and [`Engine`] at the top:
//! the one façade apps (through the bindings) and the CLI drive. `tests/one_way.rs` fails when an
//! import runs the other way; each module's first doc lines say what it owns and may import.
//!
//! Contacts arrive from the app's platform adapter or from files ([`source`], behind the
//! `files` feature). This crate knows nothing of FFI: it exposes ordinary Rust types and
//! `Result<_, Error>`; the `contactsync-ffi` crate maps them for Kotlin and Swift.

pub mod contact;
mod diff;
pub mod engine;
pub mod error;
pub mod hash;
pub mod identifier;
mod key;
pub mod oprf;
pub mod progress;
pub mod protocol;
#[cfg(feature = "files")]
pub mod source;
pub mod store;
pub mod upload;

// The bindings crate (contactsync-ffi) turns this on: the records and enums below derive their
// UniFFI conversions here, in the core's own namespace, instead of being copied field by field.
#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub use contact::{
    Fingerprint, Labelled, LinkedAccount, NormalizedContact, RawContact, RejectReason,
    RejectedValue, Rejection,
};
pub use engine::{ChangeObserver, Changes, Config, Engine, ImportReport, Snapshot, Subscription};
pub use error::{Error, Result, StorageError, StorageErrorKind};
pub use hash::{Digest, HashError, HashKey, MatrixHasher};
pub use identifier::{Identifier, IdentifierKind, NormalizeError, Normalizer, Region};
pub use progress::{NoProgress, Progress, ProgressListener, Stage};
pub use store::{
    ContactView, IdentifierView, InviteView, Match, PendingUpload, Status, StoreOptions,
    UploadState,
};

/// This crate's version, for diagnostics and for the bindings to report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use protocol::private::Discovery;
pub use upload::{MatrixOptions, Reregister, SyncOptions, SyncReport, SyncSchedule, Transport};
