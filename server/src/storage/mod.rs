//! The one storage seam: [`Storage`] opens transactions, a [`Transaction`] offers the primitive
//! reads and writes the protocol's rules (in the private `service` module) are written against.
//!
//! Over 600 lines: the [`Transaction`] trait is the one list of every primitive both backends
//! implement (and `forward_transaction!` forwards); split by resource, the contract a backend
//! must meet would no longer read in one place.
//!
//! The rules live once, above this seam; a backend only stores and finds rows. [`SqliteStorage`]
//! is the embedded default (one file, one machine); [`PostgresStorage`] lets several server
//! instances share one database. [`Database`] names either, as `contactsync serve --db` takes it.
//!
//! **What a backend must guarantee**:
//!
//! - A transaction from [`Storage::write`] is serialisable against every other write transaction,
//!   across processes (`SQLite`: `BEGIN IMMEDIATE`, one writer at a time; PostgreSQL:
//!   `SERIALIZABLE`). The rules read then write (a quota, a stored batch, a user's hashes) and
//!   rely on nothing changing in between. A backend that detects a conflict instead of waiting
//!   (PostgreSQL) fails the transaction with [`ServerError::Conflict`], having rolled it back:
//!   the caller runs it again (`retry_conflicts`).
//! - [`Transaction::commit`] makes everything durable at once; dropping a transaction without
//!   committing rolls it back.
//! - Change sequence numbers ([`Transaction::append_change`]) become visible in sequence order
//!   (a reader that sees change `n` sees every change before it) and are never reused, even
//!   after rows are deleted: clients hold them as cursors.
//! - A lock wait longer than the backend's timeout is [`ServerError::Busy`] (the request answers
//!   `503 unavailable`), not a generic failure.
//! - [`Storage::count_request`] counts requests per client and minute, outside any transaction
//!   and without waiting for the disk: the rate limit needs no durability, but it must hold
//!   across every instance that shares the backend (`SQLite`: one process's memory; PostgreSQL:
//!   an unlogged table).
//!
//! Calls block; the server makes them on tokio's blocking pool.

// First: `forward_transaction!` is used by the backends below.
#[macro_use]
mod forward;
mod convert;
mod database;
mod postgres;
mod rate;
mod schema;
mod sqlite;
mod writer_line;

use std::collections::{HashMap, HashSet};
use std::fmt;

use contactsync_core::protocol::wire::DeletedCounts;
use contactsync_core::{Digest, IdentifierKind};

use crate::error::ServerError;

pub use database::Database;
pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

/// The `SQLite` schema version (`PRAGMA user_version`) this server writes: `contactsync
/// server-backup` checks a copy against it.
pub const SQLITE_SCHEMA_VERSION: i64 = schema::LATEST;

/// The error of a database at another schema version than this server's.
fn version_mismatch(found: i64, expected: i64) -> Result<(), ServerError> {
    if found == expected {
        Ok(())
    } else {
        Err(ServerError::Storage(format!(
            "the database is at schema version {found}, this server writes {expected}"
        )))
    }
}

/// The clients [`Transaction::prune_unsynced_clients`] deletes, as a statement both backends
/// build on (`$1` is a positional parameter to `SQLite` too). A client's first batch sets
/// `set_key_id` in the batch's transaction, so the first two `NOT EXISTS` only guard rows written
/// some other way; a client of the private mode never has a set: its evaluation counters are
/// its first sync.
macro_rules! delete_unsynced_clients {
    () => {
        "DELETE FROM clients
          WHERE user_ref IS NULL AND set_key_id IS NULL AND created_at < $1
            AND NOT EXISTS (SELECT 1 FROM client_hashes h WHERE h.client_id = clients.client_id)
            AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.client_id = clients.client_id)
            AND NOT EXISTS (SELECT 1 FROM private_usage p WHERE p.client_id = clients.client_id)"
    };
}
use delete_unsynced_clients;

/// How many times a transaction that lost a race runs again before the request answers `503`.
const CONFLICT_ATTEMPTS: u32 = 8;

/// An error that may be a lost race ([`ServerError::Conflict`]), to run the work again.
pub(crate) trait MaybeConflict {
    /// Whether running the work again may succeed.
    fn is_conflict(&self) -> bool;
}

impl MaybeConflict for ServerError {
    fn is_conflict(&self) -> bool {
        matches!(self, ServerError::Conflict)
    }
}

impl MaybeConflict for crate::error::ApiError {
    fn is_conflict(&self) -> bool {
        matches!(self, crate::error::ApiError::Conflict)
    }
}

/// Runs `attempt` until it does not fail with a conflict, at most [`CONFLICT_ATTEMPTS`] times,
/// with a short, growing, jittered pause between attempts (so two instances that collided do
/// not collide again in lockstep). `attempt` must be one transaction, or end with one: a failed
/// attempt has changed nothing.
pub(crate) fn retry_conflicts<T, E: MaybeConflict>(
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut pause_us: u64 = 200;
    for _ in 1..CONFLICT_ATTEMPTS {
        match attempt() {
            Err(e) if e.is_conflict() => {
                tracing::debug!("a transaction lost a race: running it again");
                crate::metrics::conflict_retry();
                let mut jitter = [0u8; 2];
                let jitter =
                    getrandom::fill(&mut jitter).map_or(0, |()| u16::from_le_bytes(jitter));
                let jitter = u64::from(jitter) % pause_us.max(1);
                std::thread::sleep(std::time::Duration::from_micros(pause_us + jitter));
                pause_us = (pause_us * 2).min(50_000);
            }
            other => return other,
        }
    }
    attempt()
}

/// Where the server keeps its state.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Starts a read-write transaction, serialised against every other writer.
    fn write(&self) -> Result<Box<dyn Transaction + '_>, ServerError>;
    /// Starts a read-write transaction in a [`Scope`]. A backend that detects conflicts
    /// instead of waiting (PostgreSQL) first waits for the scope's other write transactions:
    /// requests that would write the same rows (a client's retry that overtakes the original,
    /// two imports of users) then queue, instead of failing each other until their retries run
    /// out. A backend that serialises every writer anyway keeps the default.
    fn write_in(&self, scope: Scope<'_>) -> Result<Box<dyn Transaction + '_>, ServerError> {
        let _ = scope;
        self.write()
    }
    /// Starts a read-only transaction: one consistent view, concurrent with writers. Calling a
    /// writing method on it is an error.
    fn read(&self) -> Result<Box<dyn Transaction + '_>, ServerError>;
    /// Whether the storage can serve: reachable, and at the schema version this server writes
    /// (another instance may have migrated it further). For `GET /readyz`: one cheap read.
    fn ready(&self) -> Result<(), ServerError>;
    /// How many transactions the storage serves at once, to size the threads that wait on it.
    fn concurrency(&self) -> usize;
    /// Counts one request of `client_id` in the one-minute window `minute` (Unix seconds / 60)
    /// and returns the window that counts and the requests in it, this one included. Windows
    /// only move forward: a request whose clock reads an earlier minute than the stored one
    /// (another instance's clock a little behind) counts in the stored window.
    fn count_request(&self, client_id: &str, minute: i64) -> Result<(i64, u32), ServerError>;
    /// What the storage's connections are doing now, for `/metrics` (sampled at each scrape:
    /// cheap, and never waiting for the database).
    fn pool_status(&self) -> PoolStatus {
        PoolStatus::default()
    }
}

/// A storage's connections at one moment; each figure `None` where it does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the storage keeps at most (PostgreSQL: the pool's size; `SQLite`: idle
    /// connections kept for reuse).
    pub max_size: Option<usize>,
    /// Connections open in the pool (PostgreSQL).
    pub size: Option<usize>,
    /// Connections idle in the pool.
    pub available: Option<usize>,
    /// Requests waiting for a connection (PostgreSQL).
    pub waiting: Option<usize>,
    /// Write transactions waiting for their turn (`SQLite`'s one writer at a time).
    pub writers_waiting: Option<usize>,
}

/// What a write transaction is about, for [`Storage::write_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One client's own rows (its set, batches, quota, invites, its deletion); other rows are
    /// only read.
    Client(&'a str),
    /// The user directory and the keys (the admin API).
    Directory,
}

/// The state of a hashing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The key clients hash with.
    Current,
    /// Created for a rotation: users are registered under it too until it is activated.
    Next,
}

impl KeyState {
    /// The protocol's name of the state.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyState::Current => "current",
            KeyState::Next => "next",
        }
    }
}

/// A hashing key. A retired key is deleted with everything hashed under it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Its id, as clients send it with each batch.
    pub key_id: String,
    /// The HMAC secret (32 bytes when this server made it).
    pub secret: Vec<u8>,
    /// Current or next.
    pub state: KeyState,
    /// Unix seconds.
    pub created_at: i64,
    /// The OPRF key riding on this hashing key (private discovery), so one rotation flow serves
    /// both modes; `None` for a key made while private discovery was off.
    pub oprf: Option<OprfKey>,
}

/// A key's OPRF half: its epoch (unique, assigned increasing) and secret (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct OprfKey {
    /// The epoch clients see in `GET /v1/config`.
    pub epoch: u32,
    /// The RFC 9497 secret key.
    pub secret: Vec<u8>,
}

impl fmt::Debug for OprfKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OprfKey")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// A registered user's PRF value under one epoch's key, as the server keeps it: the lookup
/// (what clients ask about) and the filter tag, never the 64-byte output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrfValue {
    /// The 16-byte lookup.
    pub lookup: [u8; 16],
    /// The filter tag.
    pub tag: u64,
}

/// Which invites [`Transaction::invite_prf_tags`] reads: those a deletion is about to close.
#[derive(Debug, Clone, Copy)]
pub enum InviteSet<'a> {
    /// One invite, by the SHA-256 of its code.
    One(&'a [u8; 32]),
    /// A user's (`delete_invites_of`).
    OfUser(&'a str),
    /// A client's (its deletion).
    OfClient(&'a str),
    /// Those expired at this time (`prune_invites`).
    ExpiredAt(i64),
}

/// A client's evaluation counters in the private mode: the epoch it last evaluated in, how
/// many elements it had evaluated in it, and the free evaluations left after an epoch change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivateUsage {
    /// The epoch `evaluated` counts in.
    pub epoch: u32,
    /// Elements evaluated in that epoch (padding included).
    pub evaluated: u64,
    /// Evaluations still free in that epoch (granted by the first change into it).
    pub allowance: u64,
}

impl fmt::Debug for KeyRecord {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("key_id", &self.key_id)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("oprf_epoch", &self.oprf.as_ref().map(|o| o.epoch))
            .finish_non_exhaustive()
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// `c_...`.
    pub client_id: String,
    /// The user the backend vouched for; `None` for an openly registered device.
    pub user_ref: Option<String>,
    /// The key the client's set was uploaded under (`None` before its first batch).
    pub set_key_id: Option<String>,
    /// New hashes the client may still add without charge after a key rotation: the size of
    /// the set it replaced (docs/protocol.md, "Quota").
    pub rekey_allowance: u64,
    /// Where the client's change feed begins: the head of the feed when it registered. A client
    /// without a cursor starts here, so a change addressed to it between its registration and
    /// its first sync (an invite of its redeemed) is never skipped.
    pub feed_start: u64,
}

/// A client's quota counter (durable: the day's budget must not reset when a server restarts;
/// the rate counter is not, see [`Storage::count_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// UTC day (Unix seconds / 86400) that `quota_used` counts.
    pub quota_day: i64,
    /// New hashes charged that day.
    pub quota_used: u64,
}

/// An app user, as the backend registered them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRecord {
    /// Whether clients may find the user.
    pub discoverable: bool,
    /// Unix seconds of the last registration or change.
    pub updated_at: i64,
}

/// What is hashed under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    /// The key.
    pub key_id: String,
    /// Users with at least one hash under it.
    pub users: u64,
    /// Users' hashes under it.
    pub identifiers: u64,
}

/// A batch's stored answer, kept for idempotency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// SHA-256 of the exact request body.
    pub body_sha256: [u8; 32],
    /// The exact answer bytes.
    pub answer: Vec<u8>,
}

/// An open invite. The code itself is never stored: only its SHA-256 (to redeem) and its keyed
/// hashes (to be found through ordinary syncs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    /// SHA-256 of the canonical code.
    pub code_sha256: [u8; 32],
    /// The client that created it.
    pub client_id: String,
    /// Its creator's user.
    pub user_ref: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the invite is closed from then on.
    pub expires_at: i64,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The cursor position.
    pub seq: u64,
    /// The hash whose state changed.
    pub digest: Digest,
    /// Its user now; `None`: lost.
    pub user_ref: Option<String>,
}

/// What stays of a deleted client: no identifier, no hash, no client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRecord {
    /// `r_...`.
    pub receipt_id: String,
    /// SHA-256 of the client id: lets the operator check a receipt a client shows without
    /// keeping the id itself.
    pub client_id_sha256: [u8; 32],
    /// Unix seconds.
    pub deleted_at: i64,
    /// What was deleted.
    pub deleted: DeletedCounts,
}

/// One transaction. Every method blocks; errors are storage failures only (the protocol's
/// refusals are decided above this seam).
pub trait Transaction {
    /// Commits. Dropping a transaction without calling this rolls it back.
    fn commit(self: Box<Self>) -> Result<(), ServerError>;

    // --- keys ---

    /// The current key and the next one, if any.
    fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError>;
    /// Adds a key.
    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError>;
    /// Changes a key's state.
    fn set_key_state(&mut self, key_id: &str, state: KeyState) -> Result<(), ServerError>;
    /// Deletes a key and everything hashed under it (users' and invites' hashes, its changes).
    fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError>;

    // --- clients ---

    /// Registers a client under the SHA-256 of its token.
    fn insert_client(
        &mut self,
        client: &ClientRecord,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<(), ServerError>;
    /// The client a token belongs to.
    fn client_by_token(
        &mut self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<ClientRecord>, ServerError>;
    /// A client by id.
    fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError>;
    /// Records the key of the client's set and its remaining rotation allowance.
    fn update_client_set(
        &mut self,
        client_id: &str,
        set_key_id: &str,
        rekey_allowance: u64,
    ) -> Result<(), ServerError>;
    /// Deletes every row about the client (its set, stored batches, invites and their hashes,
    /// counters, changes addressed to it) and the client itself; `None` if there is no such
    /// client.
    fn delete_client(&mut self, client_id: &str) -> Result<Option<DeletedCounts>, ServerError>;
    /// The client's quota counter.
    fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError>;
    /// Replaces the client's quota counter.
    fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError>;

    // --- a client's set of hashes ---

    /// How many hashes the set holds.
    fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError>;
    /// Which of `digests` the set holds.
    fn set_members(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>, ServerError>;
    /// Empties the set; returns how many hashes it held.
    fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError>;
    /// Adds hashes; returns how many were not there before.
    fn add_to_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError>;
    /// Removes hashes; returns how many were there.
    fn remove_from_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError>;

    // --- stored batch answers ---

    /// The stored answer of a client's batch.
    fn batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
    ) -> Result<Option<StoredBatch>, ServerError>;
    /// Stores a batch's answer.
    fn insert_batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
        batch: &StoredBatch,
        created_at: i64,
    ) -> Result<(), ServerError>;
    /// Deletes answers stored before `before`; returns how many.
    fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError>;
    /// Deletes every client's set of hashes and stored batch answers, and forgets the key its
    /// set was made under and its rotation allowance; returns (hashes, batches) deleted.
    fn forget_client_sets(&mut self) -> Result<(u64, u64), ServerError>;

    // --- users (the admin API's directory) ---

    /// Among `digests` (under `key_id`), those of discoverable users, with the user.
    fn visible_users(
        &mut self,
        key_id: &str,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, String>, ServerError>;
    /// Creates or updates a user.
    fn put_user(
        &mut self,
        user_ref: &str,
        discoverable: bool,
        updated_at: i64,
    ) -> Result<(), ServerError>;
    /// A user.
    fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError>;
    /// Up to `limit` users after `after` (from the first when empty), in the order of their
    /// references (the primary key's): each reference with whether it is discoverable.
    fn users_after(&mut self, after: &str, limit: u32) -> Result<Vec<(String, bool)>, ServerError>;
    /// Every hash of a user, with its key id.
    fn user_hashes(&mut self, user_ref: &str) -> Result<Vec<(String, Digest)>, ServerError>;
    /// How many hashes a user has per key and identifier kind (`None`: a hash stored before
    /// kinds were kept).
    fn user_hash_counts(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Option<IdentifierKind>, u64)>, ServerError>;
    /// Makes `digests` (each with the kind of identifier it hashes) the user's hashes under
    /// `key_id`: the user's other hashes under that key go, and a hash another user held moves
    /// to this one.
    fn set_user_hashes(
        &mut self,
        user_ref: &str,
        key_id: &str,
        digests: &[(IdentifierKind, Digest)],
    ) -> Result<(), ServerError>;
    /// Users and their hashes per key.
    fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError>;
    /// How many users have fewer hashes under `next` than under `current`.
    fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError>;
    /// Deletes a user and its hashes; `false` if there was none.
    fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError>;

    // --- invites ---

    /// Adds an open invite and its hashes (one per key).
    fn insert_invite(
        &mut self,
        invite: &InviteRecord,
        hashes: &[(String, Digest)],
    ) -> Result<(), ServerError>;
    /// An invite by the SHA-256 of its code (open or expired: the caller checks the time).
    fn invite(&mut self, code_sha256: &[u8; 32]) -> Result<Option<InviteRecord>, ServerError>;
    /// Among `digests` (under `key_id`), the hashes of invites open at `now`, with the creator;
    /// not those of a creator registered as a user who is not discoverable.
    fn open_invite_owners(
        &mut self,
        key_id: &str,
        digests: &[Digest],
        now: i64,
    ) -> Result<HashMap<Digest, String>, ServerError>;
    /// The hashes (under `key_id`) of the invites `user_ref` has open at `now`.
    fn open_invite_hashes_of(
        &mut self,
        user_ref: &str,
        key_id: &str,
        now: i64,
    ) -> Result<Vec<Digest>, ServerError>;
    /// Closes every invite of `user_ref` (the user left the app); returns how many.
    fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError>;
    /// Closes an invite: deletes it and its hashes.
    fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError>;
    /// Deletes invites expired at `now`; returns how many.
    fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError>;
    /// Adds an open invite's PRF values, each with its epoch (private discovery).
    fn insert_invite_prf(
        &mut self,
        code_sha256: &[u8; 32],
        values: &[(u32, PrfValue)],
    ) -> Result<(), ServerError>;
    /// The epochs and tags of the PRF values of `invites`: what closing them may take out of the
    /// filter.
    fn invite_prf_tags(&mut self, invites: InviteSet<'_>) -> Result<Vec<(u32, u64)>, ServerError>;
    /// Deletes openly registered clients (no user) registered before `registered_before` that
    /// never uploaded a batch (no set key, no hash, no stored batch); returns how many.
    fn prune_unsynced_clients(&mut self, registered_before: i64) -> Result<u64, ServerError>;

    // --- the change feed ---

    /// Appends a change: `digest` (under `key_id`) now belongs to `user_ref` (`None`: lost),
    /// for every client holding it, or only for `target_client`. A change for every client
    /// replaces the earlier ones of the same hash: the feed reports a hash's latest state only,
    /// so they could never change an answer, and a departed user's reference does not linger.
    fn append_change(
        &mut self,
        key_id: &str,
        digest: &Digest,
        user_ref: Option<&str>,
        target_client: Option<&str>,
        created_at: i64,
    ) -> Result<(), ServerError>;
    /// The newest sequence number (0 when there was never a change).
    fn head_seq(&mut self) -> Result<u64, ServerError>;
    /// Up to `limit` changes after `after_seq`, in order, that concern the client: hashes in
    /// its set, and changes addressed to it.
    fn changes_for(
        &mut self,
        client_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, ServerError>;

    // --- the admin credential ---

    /// The SHA-256 of every valid admin token (at most one after a rotation).
    fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError>;
    /// Makes `token_sha256` the only valid admin token; returns how many it revoked.
    fn replace_admin_token(
        &mut self,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<u64, ServerError>;

    // --- consent receipts ---

    /// Keeps the receipt of a deletion.
    fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError>;

    // --- private discovery ---

    /// Gives a key its OPRF half.
    fn set_key_oprf(&mut self, key_id: &str, oprf: &OprfKey) -> Result<(), ServerError>;
    /// The tags of a user's PRF values in `epoch`.
    fn user_prf_tags(&mut self, user_ref: &str, epoch: u32) -> Result<Vec<u64>, ServerError>;
    /// Makes `values` the user's PRF values in `epoch`: the user's others in it go, and a lookup
    /// another user held moves to this one.
    fn set_user_prf(
        &mut self,
        user_ref: &str,
        epoch: u32,
        values: &[PrfValue],
    ) -> Result<(), ServerError>;
    /// Among `tags`, those of discoverable users' values in `epoch`, and of open invites' whose
    /// creator is not a user who hid (an invite's value counts until the sweep deletes it).
    fn present_tags(&mut self, epoch: u32, tags: &[u64]) -> Result<HashSet<u64>, ServerError>;
    /// Every tag `present_tags` counts in `epoch` (the filter's content).
    fn discoverable_tags(&mut self, epoch: u32) -> Result<Vec<u64>, ServerError>;
    /// Among `lookups` in `epoch`, those of discoverable users, with the user, then those of
    /// invites open at `now`, with their creator (as `present_tags`).
    fn prf_users(
        &mut self,
        epoch: u32,
        lookups: &[[u8; 16]],
        now: i64,
    ) -> Result<HashMap<[u8; 16], String>, ServerError>;
    /// Appends to the filter's log: `tag` became (`present`) or stopped being a discoverable
    /// user's in `epoch`. Sequence numbers become visible in order, like the change feed's.
    fn append_filter_change(
        &mut self,
        epoch: u32,
        tag: u64,
        present: bool,
        created_at: i64,
    ) -> Result<(), ServerError>;
    /// The filter's version in `epoch`: its log's newest sequence number (0 with none).
    fn filter_version(&mut self, epoch: u32) -> Result<u64, ServerError>;
    /// The log's entries of `epoch` in `(after, through]`, in order: each tag with `present`.
    fn filter_log(
        &mut self,
        epoch: u32,
        after: u64,
        through: u64,
    ) -> Result<Vec<(u64, bool)>, ServerError>;
    /// The newest sequence number pruned from `epoch`'s log (0 with none): changes since an
    /// older version are gone.
    fn filter_floor(&mut self, epoch: u32) -> Result<u64, ServerError>;
    /// Deletes log entries made before `before`, remembering each epoch's floor; returns how
    /// many.
    fn prune_filter_log(&mut self, before: i64) -> Result<u64, ServerError>;
    /// A client's evaluation counters.
    fn private_usage(&mut self, client_id: &str) -> Result<Option<PrivateUsage>, ServerError>;
    /// Replaces a client's evaluation counters.
    fn put_private_usage(
        &mut self,
        client_id: &str,
        usage: &PrivateUsage,
    ) -> Result<(), ServerError>;
}
