//! The upload stage: the client side of the discovery protocol (docs/protocol.md).
//!
//! Stage: owns the transport trait, the one-shot calls, the checked `GET /v1/config` path and the
//! sync session. May import every stage below (`protocol`, `store`, `key`, `progress`, ...); never
//! `engine`: a sync installs the server's key through the key holder it is handed.
//!
//! [`crate::Engine::sync`] drives it: fetch the key and limits, resend a batch a crash left in
//! flight, plan new batches from the pending state within the server's limits, persist each one
//! *before* sending it, apply each answer in one transaction, then fetch the matches gained and
//! lost since the stored cursor. Retries use exponential backoff with full jitter, honour
//! `Retry-After`, and the backoff is kept in the store so a restart does not hammer the server.
//! The private mode's session is `private.rs`; `matrix.rs` is the Matrix identity-service
//! mode's, which the app chooses with [`SyncOptions::matrix`].

mod call;
pub(crate) mod config;
mod feed;
pub(crate) mod matrix;
pub(crate) mod private;
pub(crate) mod requests;
pub(crate) mod session;
pub mod transport;

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::error::Result;
use crate::protocol::wire::Registered;

pub use call::{call, call_in, get};
pub use transport::{MAX_ANSWER_BYTES, Method, Request, Response, Transport, TransportError};

/// The status of an answer that refused the device's credentials.
pub(crate) const UNAUTHORIZED: u16 = 401;

/// Registers a new device with a server that allows open registration (`POST /v1/clients`).
///
/// The answer's token is the device's bearer token: the app keeps it (in the platform's secure
/// storage) and its transport sends it as `Authorization: Bearer <token>`. An app whose backend
/// vouches for its users registers through the backend instead (docs/protocol.md).
pub fn register(transport: &dyn Transport) -> Result<Registered> {
    call(
        transport,
        Method::Post,
        "/v1/clients",
        Some(&serde_json::Map::new()),
    )
}

/// The app's answer to a `401 unauthorized` from the discovery server: the server no longer
/// knows the device's token (the app's backend revoked the client, the server lost its data, the
/// registration expired).
///
/// The transport holds the device's credentials (it reads the token on every request), so the
/// hook does not return them: it registers the device again ([`register`], or through the app's
/// backend), stores the new token where the transport reads it, and returns. Every engine call
/// that sends the device's credentials takes one (`sync_with`, `forget_with`,
/// `create_invite_with`, `redeem_invite_with`) and calls it at most once, on the first 401; after
/// it returns `Ok`, the engine marks a full re-sync (the new registration holds nothing on the
/// server, as [`crate::Engine::reset_sync`] does; `forget` wipes instead) and sends the call once
/// more. A failing hook, or a second 401, ends the call with the 401's [`crate::Error::Server`],
/// as without a hook (a failing hook's description added to its message).
///
/// It runs inside the call, and inside a sync or `forget` holding the engine's sync lock: it must
/// not call the engine's `sync`, `reset_sync`, `forget` or `leave_server` (they would wait for
/// the lock forever); the engine resets the sync state itself.
pub trait Reregister: Send + Sync {
    /// Registers the device again and makes the transport send the new token. `Err` carries a
    /// description for logs (no contact data); the sync then fails with the 401.
    fn reregister(&self) -> std::result::Result<(), String>;
}

/// How a session ended: with its report, or because the server discovers in the other mode
/// (its `GET /v1/config` offers private discovery, or no longer does), which the engine then
/// switches to.
#[derive(Debug)]
pub(crate) enum Ran {
    /// The sync ran.
    Done(SyncReport),
    /// The server's mode is this one; nothing was sent but the config request.
    Switch(crate::protocol::private::Discovery),
}

/// How one sync may behave.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Attempts per request before the sync gives up (at least 1).
    pub max_attempts: u32,
    /// The longest the sync waits between attempts; a longer wait (a `Retry-After`, a daily
    /// quota) ends the sync with [`crate::Error::RetryLater`] instead.
    pub max_wait: Duration,
    /// Ignore a persisted backoff and the server's check interval (a user's explicit "sync now").
    pub force: bool,
    /// Send at most this many hashes per batch, below the server's `max_batch`.
    pub max_batch: Option<u32>,
    /// Send batches and ask for answers in CBOR when the server's `GET /v1/config` lists
    /// `application/cbor` (about a third of JSON's bytes: docs/performance.md, "Wire size").
    /// `false` keeps every body JSON, readable in a proxy while debugging.
    pub cbor: bool,
    /// Discover through a Matrix identity server instead of a contactsync server: the transport
    /// then reaches the identity server (docs/matrix.md). `None`: the discovery server's mode.
    pub matrix: Option<MatrixOptions>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            max_attempts: 4,
            max_wait: Duration::from_secs(30),
            force: false,
            max_batch: None,
            cbor: true,
            matrix: None,
        }
    }
}

/// The Matrix identity-service mode's settings (docs/matrix.md): an app on Matrix discovers its
/// users' contacts through the identity server they bound their addresses to.
#[derive(Clone, PartialEq, Eq)]
pub struct MatrixOptions {
    /// The identity server's access token, sent as `Authorization: Bearer`. The app obtains it
    /// (`POST /_matrix/identity/v2/account/register` with an `OpenID` token from its homeserver);
    /// the library never logs in.
    pub access_token: String,
    /// Every identifier is looked up again this long after the last full lookup, to notice users
    /// who bound or unbound an address since (the protocol has no change feed). New identifiers
    /// are looked up at the next sync whatever this says.
    pub relookup_interval: Duration,
    /// Addresses per lookup request. The server's limit is not advertised (Sydent's default is
    /// 10,000); an `M_TOO_LARGE` answer halves it for the rest of the sync.
    pub max_addresses: u32,
    /// Accept the `none` algorithm when the server offers no `sha256`: every address is then sent
    /// in plaintext. Off unless the app opts in (docs/matrix.md, docs/privacy.md).
    pub allow_plaintext: bool,
}

impl MatrixOptions {
    /// The defaults with this access token: a full lookup a day, Sydent's 10,000 addresses per
    /// request, hashed lookups only.
    pub fn new(access_token: impl Into<String>) -> Self {
        MatrixOptions {
            access_token: access_token.into(),
            relookup_interval: Duration::from_secs(86_400),
            max_addresses: 10_000,
            allow_plaintext: false,
        }
    }
}

impl std::fmt::Debug for MatrixOptions {
    /// Without the token: options end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixOptions")
            .field("relookup_interval", &self.relookup_interval)
            .field("max_addresses", &self.max_addresses)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish_non_exhaustive()
    }
}

/// When the next sync will contact the server, as persisted between syncs: for status screens,
/// and for a background scheduler choosing its next run (a sync before `backoff_until` fails with
/// `RetryLater` without a request; one before `next_check_at` with nothing new to send is skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncSchedule {
    /// With nothing to send, no check before this (Unix seconds): the server's check interval
    /// after the last completed sync.
    pub next_check_at: Option<i64>,
    /// No request before this (Unix seconds): the device's backoff after failed attempts, at
    /// least as long as the server's `Retry-After` when it sent one. Cleared by a completed sync.
    pub backoff_until: Option<i64>,
    /// Failed attempts in a row behind that backoff.
    pub backoff_attempts: u32,
    /// The server's daily quota for new identifiers ran out in the last sync: the additions
    /// still pending were deferred until this (Unix seconds, the server's next day).
    pub deferred_until: Option<i64>,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncReport {
    /// Batches the server acknowledged in this sync.
    pub batches_sent: u64,
    /// Of those, batches sent again: left in flight by an earlier sync, or retried after a failure.
    pub batches_retried: u64,
    /// Batches split because the server found them too large.
    pub batches_split: u64,
    /// Hashes added to the server's set for this device.
    pub added: u64,
    /// Hashes removed from it.
    pub removed: u64,
    /// Identifiers that became matches (batch answers, changes, redeemed invites).
    pub new_matches: u64,
    /// Matches the server withdrew: the user left the app or stopped being discoverable. A match
    /// that disappears because the user edited or removed the contact is not counted here.
    pub lost_matches: u64,
    /// Answers refused as breaking the protocol (their work stays pending).
    pub rejected: u64,
    /// Hashes left pending because the day's quota ran out; the next sync continues.
    pub deferred: u64,
    /// The server's key changed: everything was re-hashed and re-sent in full mode.
    pub key_rotated: bool,
    /// Nothing was sent because the server's check interval has not passed.
    pub skipped: bool,
    /// Identifiers the mode cannot look up, left out: in the Matrix mode, those that are not
    /// e-mail addresses or phone numbers (an identity server knows no other medium).
    pub unsupported: u64,
    /// Unix seconds after which the next sync is useful (the check interval, or a backoff).
    pub next_sync_at: i64,
}
