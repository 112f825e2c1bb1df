//! The records and enums apps see. Most are the core's own types, which derive their UniFFI
//! conversions behind the core's `uniffi` feature (this crate turns it on), so their fields and
//! docs have one source: the core. The few defined here have a shape of their own for apps, and
//! each says why.

use std::time::Duration;

use contactsync_core as core;
use contactsync_core::protocol::wire;

use crate::error::{ContactsyncError, Result};

pub use contactsync_core::protocol::wire::{InviteAnswer as Invite, Registered as Registration};
pub use contactsync_core::{
    Changes, ContactView, Discovery, IdentifierKind, IdentifierView, ImportReport, Labelled, Match,
    PendingUpload, Progress, RawContact, RejectedValue, Stage, Status, SyncReport, UploadState,
};

/// A normalised identifier.
///
/// Hand-written: the core's `Identifier` keeps its fields private (only the normaliser makes
/// one), while apps get a plain record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Identifier {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its canonical form (what is hashed).
    pub canonical: String,
}

/// How an engine is opened.
///
/// Hand-written: apps give the region as text and the store's busy timeout in milliseconds,
/// flat, where the core takes a checked `Region`, a `Duration` and nested `StoreOptions`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Config {
    /// The user's region (ISO 3166 alpha-2, e.g. `DE`): national phone numbers are read in it.
    pub region: String,
    /// Normalising threads during an import; 0 means one per core.
    #[uniffi(default = 1)]
    pub workers: u32,
    /// Contacts per transaction when importing a list.
    #[uniffi(default = 8192)]
    pub chunk_size: u32,
    /// How long a write waits for another process's lock, in milliseconds.
    #[uniffi(default = 5000)]
    pub busy_timeout_ms: u32,
    /// SQLite page cache per connection, in KiB.
    #[uniffi(default = 4096)]
    pub cache_kib: u32,
}

impl TryFrom<Config> for core::Config {
    type Error = ContactsyncError;

    fn try_from(c: Config) -> Result<Self> {
        Ok(core::Config {
            region: region(&c.region)?,
            workers: c.workers as usize,
            chunk_size: (c.chunk_size as usize).max(1),
            store: core::StoreOptions {
                busy_timeout: Duration::from_millis(u64::from(c.busy_timeout_ms)),
                cache_kib: c.cache_kib,
            },
        })
    }
}

/// Reads a region code, as an argument error when it is unknown.
pub(crate) fn region(code: &str) -> Result<core::Region> {
    core::Region::new(code).map_err(|_| ContactsyncError::InvalidArgument {
        detail: "unknown region (expected an ISO 3166 alpha-2 code with phone metadata)".into(),
    })
}

/// How one sync may behave.
///
/// Hand-written: apps give the longest wait in milliseconds (the core takes a `Duration`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncOptions {
    /// Attempts per request before giving up (at least 1).
    #[uniffi(default = 4)]
    pub max_attempts: u32,
    /// The longest wait between attempts, in milliseconds; a longer one ends the sync with
    /// `RetryLater`.
    #[uniffi(default = 30000)]
    pub max_wait_ms: u64,
    /// Ignore a persisted backoff and the server's check interval (the user's "sync now").
    #[uniffi(default = false)]
    pub force: bool,
    /// At most this many hashes per batch, below the server's limit.
    #[uniffi(default = None)]
    pub max_batch: Option<u32>,
    /// Send batches and ask for answers in CBOR when the server offers it (a third of JSON's
    /// bytes); `false` keeps every body JSON, readable while debugging.
    #[uniffi(default = true)]
    pub cbor: bool,
}

impl From<SyncOptions> for core::SyncOptions {
    fn from(o: SyncOptions) -> Self {
        core::SyncOptions {
            max_attempts: o.max_attempts.max(1),
            max_wait: Duration::from_millis(o.max_wait_ms),
            force: o.force,
            max_batch: o.max_batch,
            cbor: o.cbor,
            // The Matrix mode is not in the bindings yet (issue 19: Kotlin and Swift next).
            matrix: None,
        }
    }
}

/// The server's receipt for a consent withdrawal (`forget`).
///
/// Hand-written: flat for apps, where the protocol's receipt nests the counts in `deleted`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeleteReceipt {
    /// The receipt's id.
    pub receipt_id: String,
    /// The client deleted.
    pub client_id: String,
    /// When, in Unix seconds.
    pub deleted_at: i64,
    /// Hashes deleted.
    pub hashes: u64,
    /// Stored batch answers deleted.
    pub batches: u64,
    /// Invites deleted.
    pub invites: u64,
}

impl From<wire::DeleteReceipt> for DeleteReceipt {
    fn from(r: wire::DeleteReceipt) -> Self {
        DeleteReceipt {
            receipt_id: r.receipt_id,
            client_id: r.client_id,
            deleted_at: r.deleted_at,
            hashes: r.deleted.hashes,
            batches: r.deleted.batches,
            invites: r.deleted.invites,
        }
    }
}
