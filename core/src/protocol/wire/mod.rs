//! The protocol's messages (docs/protocol.md), defined once for both sides: the client stage of
//! this crate and the reference server serialise exactly these types.
//!
//! Requests refuse unknown fields (a server must not guess what a client meant); answers ignore
//! them, so a server can add fields without a new protocol version.
//!
//! The same types travel as JSON (the default, readable) or CBOR (`application/cbor`, compact:
//! see [`super::encoding`]). Only hashes look different: a [`WireHash`] is base64url text in
//! JSON and a byte string in CBOR, decided by serde's `is_human_readable`, so the two encodings
//! cannot drift apart.

use serde::{Deserialize, Serialize};

mod hash;

pub use hash::WireHash;

/// The path prefix of this protocol version.
pub const PREFIX: &str = "/v1";

/// `POST /v1/clients` and `POST /v1/admin/clients` answer: a device's registration with a
/// server (apps see it as `Registration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "uniffi",
    derive(uniffi::Record),
    uniffi(name = "Registration")
)]
pub struct Registered {
    /// The server's id of this client.
    pub client_id: String,
    /// The bearer token; the server keeps only its SHA-256. A device keeps it in the platform's
    /// secure storage.
    pub token: String,
    /// The user the backend vouched for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
}

/// `POST /v1/admin/clients` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VouchRequest {
    /// The app's opaque reference of the user this device belongs to.
    pub user_ref: String,
}

/// `GET /v1/config` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigAnswer {
    /// Id of the current key.
    pub key_id: String,
    /// The HMAC key, unpadded URL-safe base64.
    pub key: String,
    /// Always `hmac-sha256` in v1.
    pub hash: String,
    /// Always `contactsync-v1` in v1.
    pub context: String,
    /// What the server enforces.
    pub limits: Limits,
    /// Bytes of a digest ([`DIGEST_LEN`](crate::hash::DIGEST_LEN): HMAC-SHA-256 truncated to 128 bits). A server that
    /// does not say so is older and takes only 32-byte digests, which this client no longer
    /// makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_bytes: Option<u32>,
    /// Media types the server reads request bodies in, besides `application/json` (which every
    /// server reads): `application/cbor`. It answers in the encoding the `Accept` header
    /// prefers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encodings: Vec<String>,
    /// Present when the server offers private discovery (docs/protocol.md, "Private
    /// discovery").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<super::private::PrivateConfig>,
    /// The entry counts (add + remove + padding) a batch is padded to, ascending
    /// (docs/protocol.md, "Padded batches"). Empty: an older server, which reads no `padding`;
    /// batches go unpadded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_buckets: Vec<u32>,
}

/// The server's limits, as `GET /v1/config` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Hashes per batch (add + remove) or per match request.
    pub max_batch: u32,
    /// Largest request body.
    pub max_body_bytes: u32,
    /// New hashes a client may add per UTC day.
    pub daily_new_identifiers: u32,
    /// New hashes this client may still add now: today's budget left plus, after a key
    /// rotation, what is left of its free allowance for the re-sync.
    pub remaining_today: u32,
    /// A client with nothing to send checks at most this often.
    pub check_interval_s: u32,
    /// Requests per client per minute.
    pub requests_per_minute: u32,
}

/// Batch mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Add and remove against the client's current set.
    Delta,
    /// First batch of a full re-sync: the server drops the client's set, then adds.
    Full,
}

/// `POST /v1/batches` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The idempotency id, 1–64 of `[A-Za-z0-9_-]`.
    pub batch_id: String,
    /// The key the hashes were made under.
    pub key_id: String,
    /// Delta or full.
    pub mode: Mode,
    /// Hashes to add to the client's set.
    #[serde(default)]
    pub add: Vec<WireHash>,
    /// Hashes to take out of it.
    #[serde(default)]
    pub remove: Vec<WireHash>,
    /// How many of `add`'s last entries are dummies (random bytes, padding the batch to one of
    /// the server's `batch_buckets`), which the server drops unread but charges. Absent: none
    /// (and never sent to a server that advertises no buckets: it refuses unknown fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<u32>,
}

/// One match: a hash that belongs to a user of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchEntry {
    /// The hash, as the client sent it.
    pub hash: WireHash,
    /// The app's opaque reference of the user.
    pub user_ref: String,
}

/// `POST /v1/batches` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The request's batch id.
    pub batch_id: String,
    /// The request's key id.
    pub key_id: String,
    /// Hashes now in the set that were not before.
    pub added: u32,
    /// Hashes taken out of the set.
    pub removed: u32,
    /// Among this batch's `add`, the hashes of discoverable users.
    pub matches: Vec<MatchEntry>,
    /// What is left of today's budget.
    pub remaining_today: u32,
}

/// `GET /v1/changes` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesAnswer {
    /// Hashes in the client's set that are now a user's.
    pub gained: Vec<MatchEntry>,
    /// Hashes in the client's set that are no longer a user's.
    pub lost: Vec<WireHash>,
    /// The cursor to ask from next time.
    pub cursor: String,
    /// More changes wait: ask again with `cursor`.
    pub more: bool,
}

/// `DELETE /v1/client` answer: the receipt of a consent withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReceipt {
    /// Id of this receipt.
    pub receipt_id: String,
    /// The client that was deleted.
    pub client_id: String,
    /// When, in Unix seconds.
    pub deleted_at: i64,
    /// What was deleted.
    pub deleted: DeletedCounts,
}

/// Counts in a [`DeleteReceipt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedCounts {
    /// Hashes in the client's set.
    pub hashes: u64,
    /// Stored batch answers.
    pub batches: u64,
    /// Invites the client created.
    pub invites: u64,
}

/// `POST /v1/invites` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Lifetime in seconds; default 7 days, at most 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u32>,
}

/// `POST /v1/invites` answer: an invite code to show as text or as a QR code (apps see it as
/// `Invite`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Invite"))]
pub struct InviteAnswer {
    /// The canonical code.
    pub code: String,
    /// A link carrying it (for a QR code).
    pub link: String,
    /// When it expires, Unix seconds.
    pub expires_at: i64,
}

/// `POST /v1/invites/redeem` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The canonical code.
    pub code: String,
}

/// `POST /v1/invites/redeem` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemAnswer {
    /// The creator of the invite.
    pub user_ref: String,
}

/// `DELETE /v1/invites/{code}` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeAnswer {
    /// Always true.
    pub revoked: bool,
}

/// One raw identifier the app's backend registers for its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdentifier {
    /// `phone`, `email`, `handle`, `account` or `invite`.
    pub kind: String,
    /// The canonical text (docs/identifiers.md).
    pub value: String,
}

/// `PUT /v1/admin/users/{user_ref}` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Whether clients may find this user.
    #[serde(default = "yes")]
    pub discoverable: bool,
    /// Every identifier of the user (replaces what was registered).
    pub identifiers: Vec<UserIdentifier>,
}

fn yes() -> bool {
    true
}

/// `PUT` and `DELETE /v1/admin/users/{user_ref}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAnswer {
    /// The user.
    pub user_ref: String,
    /// Identifiers registered (or removed).
    pub identifiers: u32,
}

/// One user of `POST /v1/admin/users` (a bulk upsert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The app's reference of the user.
    pub user_ref: String,
    /// Whether clients may find this user.
    #[serde(default = "yes")]
    pub discoverable: bool,
    /// Every identifier of the user (replaces what was registered).
    pub identifiers: Vec<UserIdentifier>,
}

/// `POST /v1/admin/users` request: users registered or replaced in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersRequest {
    /// The users (each at most once).
    pub users: Vec<UserEntry>,
}

/// `POST /v1/admin/users` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersAnswer {
    /// Users registered or replaced.
    pub users: u32,
    /// Their identifiers.
    pub identifiers: u32,
}

/// `GET /v1/admin/users?after=REF&limit=N` answer: one page of users, ordered by reference —
/// never an identifier or a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserListAnswer {
    /// The users of this page.
    pub users: Vec<UserListEntry>,
    /// The `after` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One user of [`UserListAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserListEntry {
    /// The app's reference of the user.
    pub user_ref: String,
    /// Whether clients may find the user.
    pub discoverable: bool,
}

/// `GET /v1/admin/users/{user_ref}` answer: what the server holds of a user, never a value or a
/// hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user.
    pub user_ref: String,
    /// Whether clients may find the user.
    pub discoverable: bool,
    /// Unix seconds of the last registration or change.
    pub updated_at: i64,
    /// Per key (current first, then next): how many identifiers, of which kinds.
    pub keys: Vec<UserKeyInfo>,
}

/// A user's identifiers under one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserKeyInfo {
    /// The key.
    pub key_id: String,
    /// `current` or `next`.
    pub state: String,
    /// How many identifiers.
    pub identifiers: u64,
    /// How many of each kind (`unknown`: registered before the server kept kinds).
    pub kinds: std::collections::BTreeMap<String, u64>,
}

/// A key as the admin API lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Its id.
    pub key_id: String,
    /// `current`, `next` or `retired`.
    pub state: String,
    /// `GET /v1/admin/keys`: users with at least one identifier under the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// `GET /v1/admin/keys`: identifiers hashed under the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<u64>,
}

/// `POST /v1/admin/keys/{key_id}/activate` request (the body may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// Activate even though some users have fewer identifiers under the next key than under the
    /// current one (they are lost to every device until registered again).
    #[serde(default)]
    pub force: bool,
}

/// How far the re-registration under the next key has come: what activation would keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCoverage {
    /// Users with identifiers under the current key.
    pub users_current: u64,
    /// Users with identifiers under the next key.
    pub users_next: u64,
    /// Identifiers under the current key.
    pub identifiers_current: u64,
    /// Identifiers under the next key.
    pub identifiers_next: u64,
    /// Users with fewer identifiers under the next key than under the current one: activation
    /// makes them undiscoverable (or discoverable by fewer identifiers).
    pub users_short: u64,
}

/// `POST /v1/admin/keys/{key_id}/activate` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateAnswer {
    /// The key now current.
    pub key_id: String,
    /// `current`.
    pub state: String,
    /// The key retired (deleted with everything hashed under it); `None` when the key was current
    /// already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<String>,
    /// The counts at activation.
    pub coverage: KeyCoverage,
    /// Whether users were lost on purpose (`force`).
    pub forced: bool,
}

/// `GET /v1/admin/keys` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysAnswer {
    /// Current and next keys.
    pub keys: Vec<KeyInfo>,
}

/// `POST /v1/admin/match` request: a business's list, hashed, matched statelessly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// The key the hashes were made under.
    pub key_id: String,
    /// The hashes.
    pub hashes: Vec<WireHash>,
}

/// `POST /v1/admin/match` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchAnswer {
    /// The request's key id.
    pub key_id: String,
    /// The hashes that belong to discoverable users.
    pub matches: Vec<MatchEntry>,
}

/// Every error's body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The error itself. `code` is stable; extra fields depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable (see [`codes`]).
    pub code: String,
    /// For logs; never an identifier or a hash.
    pub message: String,
    /// `key_rotated`: the current key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// `too_many_requests`, `unavailable`: seconds to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// `too_many_requests`: `rate` or `daily_quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `too_large`: hashes per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<u32>,
    /// `too_large`: body bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u32>,
    /// `key_incomplete`: the counts that refused the activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<KeyCoverage>,
}

/// The stable error codes of v1.
pub mod codes {
    /// 400: the request is not what the protocol says.
    pub const MALFORMED: &str = "malformed";
    /// 401: missing, unknown or deleted token.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 403: the token may not do this.
    pub const FORBIDDEN: &str = "forbidden";
    /// 403: invites (creating, redeeming) need a device registered for a user of the app (one
    /// the app's backend vouched for); an openly registered device has none.
    pub const USER_REQUIRED: &str = "user_required";
    /// 404: unknown path, or an unusable invite code.
    pub const NOT_FOUND: &str = "not_found";
    /// 409: the key changed; `key_id` is the current one.
    pub const KEY_ROTATED: &str = "key_rotated";
    /// 409: a batch id reused with a different body.
    pub const BATCH_CONFLICT: &str = "batch_conflict";
    /// 409: activating the next key would lose users not registered under it; `coverage` has
    /// the counts.
    pub const KEY_INCOMPLETE: &str = "key_incomplete";
    /// 409: the batch would make the device's set of hashes larger than the server keeps for
    /// one device (far above any real address book).
    pub const SET_FULL: &str = "set_full";
    /// 409: the private mode's key changed epoch; fetch `GET /v1/config` and evaluate again.
    pub const EPOCH_ROTATED: &str = "epoch_rotated";
    /// 410: the filter changes asked for are no longer kept; download the whole filter.
    pub const FILTER_STALE: &str = "filter_stale";
    /// 404 on the private mode's routes: the server does not offer private discovery.
    pub const PRIVATE_DISABLED: &str = "private_disabled";
    /// 404 on `POST /v1/batches`: the server discovers privately and stores no device's
    /// hashes; fetch `GET /v1/config` and discover privately.
    pub const HASHED_DISABLED: &str = "hashed_disabled";
    /// 408: the request body stopped arriving (the connection is closed); retried like a
    /// network failure.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// 415: a body whose `Content-Type` is neither `application/json` nor `application/cbor`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// 413: the batch or body is too large.
    pub const TOO_LARGE: &str = "too_large";
    /// 429: wait `Retry-After` seconds.
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// 500: the server failed.
    pub const INTERNAL: &str = "internal";
    /// 503: the server is unavailable for now.
    pub const UNAVAILABLE: &str = "unavailable";
}
