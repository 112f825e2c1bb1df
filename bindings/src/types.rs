//! Records and enums mirrored from the core, with the conversions both ways. They carry no
//! behaviour: field meanings are documented on the core types of the same name.

use std::collections::HashMap;
use std::time::Duration;

use contactsync_core as core;
use contactsync_core::protocol::wire;

use crate::error::{ContactsyncError, Result};

/// The kinds of identifier the engine matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum IdentifierKind {
    /// A phone number; canonically E.164.
    Phone,
    /// An e-mail address.
    Email,
    /// A username in the app's namespace, or a messenger handle.
    Handle,
    /// A linked account, `provider:subject`.
    Account,
    /// An invite code.
    Invite,
}

impl From<IdentifierKind> for core::IdentifierKind {
    fn from(k: IdentifierKind) -> Self {
        match k {
            IdentifierKind::Phone => core::IdentifierKind::Phone,
            IdentifierKind::Email => core::IdentifierKind::Email,
            IdentifierKind::Handle => core::IdentifierKind::Handle,
            IdentifierKind::Account => core::IdentifierKind::Account,
            IdentifierKind::Invite => core::IdentifierKind::Invite,
        }
    }
}

impl From<core::IdentifierKind> for IdentifierKind {
    fn from(k: core::IdentifierKind) -> Self {
        match k {
            core::IdentifierKind::Phone => IdentifierKind::Phone,
            core::IdentifierKind::Email => IdentifierKind::Email,
            core::IdentifierKind::Handle => IdentifierKind::Handle,
            core::IdentifierKind::Account => IdentifierKind::Account,
            core::IdentifierKind::Invite => IdentifierKind::Invite,
        }
    }
}

/// A normalised identifier.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Identifier {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its canonical form (what is hashed).
    pub canonical: String,
}

/// One raw value of a contact, as the address book holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Labelled {
    /// What it is meant to be.
    pub kind: IdentifierKind,
    /// The address book's label (`mobile`, `work`; a messenger's name for handles).
    #[uniffi(default = None)]
    pub label: Option<String>,
    /// The value as typed. Linked accounts are `provider:subject`.
    pub value: String,
}

/// A contact as the app's platform adapter hands it over.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RawContact {
    /// Stable id in the source (Android's contact id, an iOS contact identifier).
    pub source_id: String,
    /// The name the user sees.
    pub display_name: String,
    /// Raw values in source order.
    #[uniffi(default = [])]
    pub values: Vec<Labelled>,
    /// The source's version or last-modified stamp, when it has one.
    #[uniffi(default = None)]
    pub version: Option<String>,
}

impl From<RawContact> for core::RawContact {
    fn from(c: RawContact) -> Self {
        core::RawContact {
            source_id: c.source_id,
            display_name: c.display_name,
            values: c
                .values
                .into_iter()
                .map(|v| core::Labelled {
                    kind: v.kind.into(),
                    label: v.label,
                    value: v.value,
                })
                .collect(),
            version: c.version,
        }
    }
}

/// How an engine is opened.
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

/// The stage a long operation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Stage {
    /// Reading, normalising and storing contacts.
    Import,
    /// Removing contacts a snapshot no longer holds.
    Remove,
    /// Re-hashing under a new key.
    Rehash,
    /// Sending hashes to the server.
    Upload,
}

/// Where a long operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Progress {
    /// What it is doing.
    pub stage: Stage,
    /// Items done in this stage.
    pub done: u64,
    /// Items in this stage, when known.
    pub total: Option<u64>,
}

impl From<core::Progress> for Progress {
    fn from(p: core::Progress) -> Self {
        Progress {
            stage: match p.stage {
                core::Stage::Import => Stage::Import,
                core::Stage::Remove => Stage::Remove,
                core::Stage::Rehash => Stage::Rehash,
                core::Stage::Upload => Stage::Upload,
            },
            done: p.done,
            total: p.total,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// New contacts.
    pub added: u64,
    /// Contacts whose content changed.
    pub changed: u64,
    /// Contacts seen unchanged.
    pub unchanged: u64,
    /// Contacts removed.
    pub removed: u64,
    /// Entries whose source id came earlier in the same import (the later one was kept).
    pub duplicates: u64,
    /// Contacts normalised and hashed.
    pub normalized: u64,
    /// Raw values rejected.
    pub rejected: u64,
    /// Rejections by reason code (`phone.too_short`, ...).
    pub rejections: HashMap<String, u64>,
    /// Identifiers that became pending upload.
    pub queued_add: u64,
    /// Identifiers that became pending removal.
    pub queued_remove: u64,
}

impl From<core::ImportReport> for ImportReport {
    fn from(r: core::ImportReport) -> Self {
        ImportReport {
            added: r.added,
            changed: r.changed,
            unchanged: r.unchanged,
            removed: r.removed,
            duplicates: r.duplicates,
            normalized: r.normalized,
            rejected: r.rejected,
            rejections: r.rejections.into_iter().collect(),
            queued_add: r.queued_add,
            queued_remove: r.queued_remove,
        }
    }
}

/// Counts over the store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Status {
    /// Contacts stored.
    pub contacts: u64,
    /// Of those, excluded from discovery.
    pub excluded_contacts: u64,
    /// Distinct identifiers.
    pub identifiers: u64,
    /// Hashes waiting to be added on the server.
    pub pending_add: u64,
    /// Hashes waiting to be removed from it.
    pub pending_remove: u64,
    /// Hashes sent and not yet acknowledged.
    pub in_flight: u64,
    /// Hashes the server has.
    pub acknowledged: u64,
    /// Identifiers matched to a user of the app.
    pub matches: u64,
    /// Raw values rejected.
    pub rejected: u64,
    /// The current key's id.
    pub key_id: Option<String>,
    /// The next sync re-sends everything in full mode.
    pub full_resync: bool,
}

impl From<core::Status> for Status {
    fn from(s: core::Status) -> Self {
        Status {
            contacts: s.contacts,
            excluded_contacts: s.excluded_contacts,
            identifiers: s.identifiers,
            pending_add: s.pending_add,
            pending_remove: s.pending_remove,
            in_flight: s.in_flight,
            acknowledged: s.acknowledged,
            matches: s.matches,
            rejected: s.rejected,
            key_id: s.key_id,
            full_resync: s.full_resync,
        }
    }
}

/// Upload state of one identifier's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum UploadState {
    /// Not wanted on the server and not there.
    Idle,
    /// Wanted, not yet sent.
    PendingAdd,
    /// Sent, not acknowledged.
    AddInFlight,
    /// The server has it.
    Acknowledged,
    /// The server has it and it is no longer wanted.
    PendingRemove,
    /// Its removal was sent, not acknowledged.
    RemoveInFlight,
}

impl From<core::UploadState> for UploadState {
    fn from(s: core::UploadState) -> Self {
        match s {
            core::UploadState::Idle => UploadState::Idle,
            core::UploadState::PendingAdd => UploadState::PendingAdd,
            core::UploadState::AddInFlight => UploadState::AddInFlight,
            core::UploadState::Acknowledged => UploadState::Acknowledged,
            core::UploadState::PendingRemove => UploadState::PendingRemove,
            core::UploadState::RemoveInFlight => UploadState::RemoveInFlight,
        }
    }
}

/// One identifier of a stored contact.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IdentifierView {
    /// Its kind.
    pub kind: IdentifierKind,
    /// Its canonical form.
    pub canonical: String,
    /// Where its hash stands with the server.
    pub state: UploadState,
    /// Excluded from discovery.
    pub excluded: bool,
    /// The app user it matched, if any.
    pub user_ref: Option<String>,
}

/// A raw value that was rejected, with its reason code.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedValue {
    /// The kind it was meant to be.
    pub kind: IdentifierKind,
    /// Its label.
    pub label: Option<String>,
    /// The value as the source held it.
    pub value: String,
    /// The reason code.
    pub reason: String,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactView {
    /// Its source id.
    pub source_id: String,
    /// Its display name.
    pub display_name: String,
    /// Excluded from discovery.
    pub excluded: bool,
    /// Its identifiers.
    pub identifiers: Vec<IdentifierView>,
    /// Its rejected values.
    pub rejected: Vec<RejectedValue>,
}

impl From<core::ContactView> for ContactView {
    fn from(c: core::ContactView) -> Self {
        ContactView {
            source_id: c.source_id,
            display_name: c.display_name,
            excluded: c.excluded,
            identifiers: c
                .identifiers
                .into_iter()
                .map(|i| IdentifierView {
                    kind: i.kind.into(),
                    canonical: i.canonical,
                    state: i.state.into(),
                    excluded: i.excluded,
                    user_ref: i.user_ref,
                })
                .collect(),
            rejected: c
                .rejected
                .into_iter()
                .map(|r| RejectedValue {
                    kind: r.kind.into(),
                    label: r.label,
                    value: r.value,
                    reason: r.reason,
                })
                .collect(),
        }
    }
}

/// A hash waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingUpload {
    /// Addition or removal, and whether it is in flight.
    pub state: UploadState,
    /// The identifier's kind.
    pub kind: IdentifierKind,
    /// The keyed hash (base64url), once a key is known.
    pub digest: Option<String>,
    /// The key it was made with.
    pub key_id: Option<String>,
}

impl From<core::PendingUpload> for PendingUpload {
    fn from(p: core::PendingUpload) -> Self {
        PendingUpload {
            state: p.state.into(),
            kind: p.kind.into(),
            digest: p.digest,
            key_id: p.key_id,
        }
    }
}

/// A contact who uses the app, and through which identifier.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Match {
    /// The contact's source id (`None` for a match made through an invite code).
    pub source_id: Option<String>,
    /// The contact's display name.
    pub display_name: String,
    /// The matching identifier's kind.
    pub kind: IdentifierKind,
    /// The matching identifier.
    pub canonical: String,
    /// The app's reference of the user it matched.
    pub user_ref: String,
    /// When, in Unix seconds.
    pub matched_at: i64,
}

impl From<core::Match> for Match {
    fn from(m: core::Match) -> Self {
        Match {
            source_id: m.source_id,
            display_name: m.display_name,
            kind: m.kind.into(),
            canonical: m.canonical,
            user_ref: m.user_ref,
            matched_at: m.matched_at,
        }
    }
}

/// How one sync may behave.
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
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Of those, sent again (left in flight, or retried).
    pub batches_retried: u64,
    /// Batches split because the server found them too large.
    pub batches_split: u64,
    /// Hashes added on the server.
    pub added: u64,
    /// Hashes removed from it.
    pub removed: u64,
    /// Identifiers that became matches.
    pub new_matches: u64,
    /// Matches the server withdrew (the user left or stopped being discoverable); not those gone
    /// because the contact was edited or removed.
    pub lost_matches: u64,
    /// Answers refused as breaking the protocol.
    pub rejected: u64,
    /// Hashes left for later by the daily quota.
    pub deferred: u64,
    /// The server's key changed and everything was re-sent.
    pub key_rotated: bool,
    /// Nothing was sent: the server's check interval has not passed.
    pub skipped: bool,
    /// Unix seconds after which the next sync is useful.
    pub next_sync_at: i64,
}

impl From<core::SyncReport> for SyncReport {
    fn from(r: core::SyncReport) -> Self {
        SyncReport {
            batches_sent: r.batches_sent,
            batches_retried: r.batches_retried,
            batches_split: r.batches_split,
            added: r.added,
            removed: r.removed,
            new_matches: r.new_matches,
            lost_matches: r.lost_matches,
            rejected: r.rejected,
            deferred: r.deferred,
            key_rotated: r.key_rotated,
            skipped: r.skipped,
            next_sync_at: r.next_sync_at,
        }
    }
}

/// The server's receipt for a consent withdrawal (`forget`).
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

/// An invite code to show as text or as a QR code.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Invite {
    /// The code, canonical.
    pub code: String,
    /// A link carrying it.
    pub link: String,
    /// When it expires, in Unix seconds.
    pub expires_at: i64,
}

impl From<wire::InviteAnswer> for Invite {
    fn from(a: wire::InviteAnswer) -> Self {
        Invite {
            code: a.code,
            link: a.link,
            expires_at: a.expires_at,
        }
    }
}

/// A device's registration with a server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Registration {
    /// The server's id of this device.
    pub client_id: String,
    /// The bearer token; keep it in the platform's secure storage.
    pub token: String,
    /// The user the app's backend vouched for, if any.
    pub user_ref: Option<String>,
}

impl From<wire::Registered> for Registration {
    fn from(r: wire::Registered) -> Self {
        Registration {
            client_id: r.client_id,
            token: r.token,
            user_ref: r.user_ref,
        }
    }
}
