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
    Changes, ContactView, Discovery, IdentifierKind, IdentifierView, ImportReport, InviteView,
    Labelled, Match, PendingUpload, Progress, RawContact, RejectedValue, Stage, Status, SyncReport,
    SyncSchedule, UploadState,
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

/// One value's outcome in a list call (`Normalizer.normalize_all`,
/// `Engine.set_identifiers_excluded`): its identifier, or why it was refused.
///
/// Hand-written: the single-value calls throw `InvalidValue` for a bad value, but a list call
/// must not fail as a whole for one bad value among a thousand, so each value gets its own
/// outcome, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Normalized {
    /// The value normalised to `identifier`.
    Valid {
        /// Its identifier.
        identifier: Identifier,
    },
    /// The value was refused; `reason` is the stable rejection code (docs/identifiers.md), the
    /// same `InvalidValue.reason` the single-value call throws.
    Invalid {
        /// The rejection code, e.g. `phone.too_short`.
        reason: String,
    },
}

impl From<Result<core::Identifier, core::NormalizeError>> for Normalized {
    fn from(outcome: Result<core::Identifier, core::NormalizeError>) -> Self {
        match outcome {
            Ok(id) => Normalized::Valid {
                identifier: Identifier::from(&id),
            },
            Err(e) => Normalized::Invalid { reason: e.code() },
        }
    }
}

impl From<&core::Identifier> for Identifier {
    fn from(id: &core::Identifier) -> Self {
        Identifier {
            kind: id.kind(),
            canonical: id.canonical().to_owned(),
        }
    }
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
    /// Contacts per transaction when importing a list (each sorted by key before it is written).
    #[uniffi(default = 16384)]
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
/// Hand-written: apps give the longest wait in milliseconds (the core takes a `Duration`), and
/// the Matrix mode's settings as a record of their own ([`MatrixOptions`]).
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
    /// Discover through a Matrix identity server instead of a contactsync server (docs/matrix.md):
    /// the transport's base URL is then the identity server, and the transport sends no token of
    /// its own (the engine sends this record's). `None`: the discovery server's mode.
    #[uniffi(default = None)]
    pub matrix: Option<MatrixOptions>,
}

impl From<SyncOptions> for core::SyncOptions {
    fn from(o: SyncOptions) -> Self {
        core::SyncOptions {
            max_attempts: o.max_attempts.max(1),
            max_wait: Duration::from_millis(o.max_wait_ms),
            force: o.force,
            max_batch: o.max_batch,
            cbor: o.cbor,
            matrix: o.matrix.map(core::MatrixOptions::from),
        }
    }
}

/// The Matrix identity-service mode's settings (docs/matrix.md).
///
/// Hand-written: apps give the re-lookup interval in milliseconds (the core takes a `Duration`).
/// The defaults are the core's `MatrixOptions::new`, so `MatrixOptions(accessToken = token)` is
/// the usual call. Its `Debug` leaves the token out, as the core's does; the generated Kotlin
/// `toString` and Swift `description` do not, so apps do not log the options.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct MatrixOptions {
    /// The identity server's access token, sent as `Authorization: Bearer` by the engine itself.
    /// The app obtains it (`POST /_matrix/identity/v2/account/register` with an `OpenID` token
    /// from its homeserver) and keeps it in secure storage; the library never logs in.
    pub access_token: String,
    /// Every identifier is looked up again this long after the last full lookup (default a day),
    /// to notice users who bound or unbound an address since; new identifiers are looked up at
    /// the next sync whatever this says.
    #[uniffi(default = 86_400_000)]
    pub relookup_interval_ms: u64,
    /// Addresses per lookup request (Sydent's default limit); an `M_TOO_LARGE` answer halves it
    /// for the rest of the sync.
    #[uniffi(default = 10_000)]
    pub max_addresses: u32,
    /// Accept the `none` algorithm when the server offers no `sha256`: every address is then
    /// sent in plaintext. Off unless the app opts in (docs/matrix.md, docs/privacy.md).
    #[uniffi(default = false)]
    pub allow_plaintext: bool,
}

impl From<MatrixOptions> for core::MatrixOptions {
    fn from(m: MatrixOptions) -> Self {
        core::MatrixOptions {
            access_token: m.access_token,
            relookup_interval: Duration::from_millis(m.relookup_interval_ms),
            max_addresses: m.max_addresses.max(1),
            allow_plaintext: m.allow_plaintext,
        }
    }
}

impl std::fmt::Debug for MatrixOptions {
    /// Without the token: options end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixOptions")
            .field("relookup_interval_ms", &self.relookup_interval_ms)
            .field("max_addresses", &self.max_addresses)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish_non_exhaustive()
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// The record with the values its `uniffi(default)`s give apps.
    fn defaults(token: &str) -> MatrixOptions {
        MatrixOptions {
            access_token: token.into(),
            relookup_interval_ms: 86_400_000,
            max_addresses: 10_000,
            allow_plaintext: false,
        }
    }

    #[test]
    fn the_matrix_defaults_are_the_cores() {
        assert_eq!(
            core::MatrixOptions::from(defaults("syd_token")),
            core::MatrixOptions::new("syd_token")
        );
    }

    #[test]
    fn sync_options_carry_the_matrix_mode_to_the_core() {
        let options = SyncOptions {
            max_attempts: 0,
            max_wait_ms: 1500,
            force: true,
            max_batch: None,
            cbor: true,
            matrix: Some(MatrixOptions {
                relookup_interval_ms: 60_000,
                max_addresses: 0,
                allow_plaintext: true,
                ..defaults("syd_token")
            }),
        };
        let core = core::SyncOptions::from(options);
        let matrix = core.matrix.unwrap();
        assert_eq!(matrix.access_token, "syd_token");
        assert_eq!(matrix.relookup_interval, Duration::from_secs(60));
        assert_eq!(matrix.max_addresses, 1, "at least one address per lookup");
        assert!(matrix.allow_plaintext);
        assert_eq!(core.max_attempts, 1);
    }

    #[test]
    fn debug_leaves_the_token_out() {
        let options = SyncOptions {
            max_attempts: 1,
            max_wait_ms: 0,
            force: false,
            max_batch: None,
            cbor: true,
            matrix: Some(defaults("syd_secret_token")),
        };
        let printed = format!("{options:?}");
        assert!(!printed.contains("syd_secret_token"), "{printed}");
        assert!(
            printed.contains("relookup_interval_ms: 86400000"),
            "{printed}"
        );
    }
}
