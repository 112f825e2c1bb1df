//! The schema, as numbered migrations.
//!
//! `MIGRATIONS[n]` takes a database from version `n` to `n + 1`; the version lives in
//! `PRAGMA user_version`. A migration is never edited once released: a change is a new entry,
//! and `store/frozen/vN.sql` keeps the exact schema each released version left behind, so a test
//! can upgrade every past version and compare it with a fresh database.

/// Migrations in order; a database at version `n` has run the first `n`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: contacts, shared identifiers with their hash and upload state, matches, sync state.
    r"
-- One row per contact. Its identifiers and rejected values are inline (store::codec): a first
-- import then writes one row per contact plus one per distinct identifier, nothing more.
CREATE TABLE contacts (
    source_id    TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    version      TEXT,
    -- RawContact::content_fingerprint, 16 bytes: equal means nothing to do.
    fingerprint  BLOB    NOT NULL,
    -- The import generation that last wrote or saw this row (see sync_state.generation).
    generation   INTEGER NOT NULL,
    -- The user excluded this contact from discovery.
    excluded     INTEGER NOT NULL DEFAULT 0,
    -- Its identifiers: kind and canonical text of each (keys into `identifiers`).
    identifiers  BLOB    NOT NULL,
    -- Raw values that could not be normalised (kind, label, value, reason); NULL when none.
    rejections   BLOB,
    rejected     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- One row per distinct identifier: a number held by two contacts is one identifier, one hash and
-- one upload. The hash lives on the row with the key id that made it: a key rotation replaces
-- every hash and starts a full re-sync, so hashes under an old key are never needed again.
CREATE TABLE identifiers (
    kind      INTEGER NOT NULL,
    canonical TEXT    NOT NULL,
    -- Contacts holding it, and of those the ones not excluded from discovery.
    holders   INTEGER NOT NULL,
    included  INTEGER NOT NULL,
    -- The user excluded this identifier; the row is kept even when no contact holds it.
    excluded  INTEGER NOT NULL DEFAULT 0,
    key_id    TEXT,
    digest    BLOB,
    -- Upload state: 0 idle, 1 pending add, 2 add in flight, 3 acknowledged,
    -- 4 pending remove, 5 remove in flight (see store::UploadState).
    state     INTEGER NOT NULL,
    batch_id  TEXT,
    PRIMARY KEY (kind, canonical)
) STRICT, WITHOUT ROWID;

-- What the server reported: this identifier belongs to a user of the app.
CREATE TABLE matches (
    kind       INTEGER NOT NULL,
    canonical  TEXT    NOT NULL,
    user_ref   TEXT    NOT NULL,
    matched_at INTEGER NOT NULL,
    PRIMARY KEY (kind, canonical),
    FOREIGN KEY (kind, canonical) REFERENCES identifiers (kind, canonical) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- One row: the hashing key, the sync cursor, backoff, and the import generation counter.
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    generation      INTEGER NOT NULL DEFAULT 0,
    key_id          TEXT,
    key_secret      BLOB,
    full_resync     INTEGER NOT NULL DEFAULT 1,
    cursor          TEXT,
    backoff_until   INTEGER,
    backoff_attempt INTEGER NOT NULL DEFAULT 0,
    next_check      INTEGER
) STRICT;
INSERT INTO sync_state (id) VALUES (1);
",
    // 2: upload batches, persisted before they are sent; identifiers kept without holders.
    r"
-- One row per batch sent and not yet answered. It is written, with its identifiers marked in
-- flight, in the transaction that plans it: a crash before the answer resends the same bytes
-- under the same id, which the server's idempotency makes harmless (docs/protocol.md).
CREATE TABLE batches (
    batch_id   TEXT    NOT NULL PRIMARY KEY,
    -- 'delta' or 'full'.
    mode       TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    -- The exact request body.
    body       BLOB    NOT NULL,
    -- Its identifiers (kind + canonical text each, store::codec), added and removed.
    adds       BLOB    NOT NULL,
    removes    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- An identifier this device keeps although no contact holds it: an invite code it created or
-- redeemed, whose match has no contact behind it.
ALTER TABLE identifiers ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
",
    // 3: truncate_digests_to_128_bits.
    r"
-- The protocol's digest became HMAC-SHA-256 truncated to its first 16 bytes (docs/protocol.md).
-- A prefix of the full HMAC is the truncated HMAC: each stored digest is cut, and matches what
-- the server (migrated the same way) holds. Batches in flight keep their exact bodies, with
-- 32-byte hashes: the server takes those from clients of before and answers them as sent, so
-- a resend is still answered and applied.
UPDATE identifiers SET digest = substr(digest, 1, 16) WHERE length(digest) = 32;
",
    // 4: deferred_until; the invites this device created.
    r"
-- The server's daily quota for new identifiers ran out in the last sync: the additions left
-- pending wait until this (Unix seconds) for its next day. NULL once a sync sent everything.
ALTER TABLE sync_state ADD COLUMN deferred_until INTEGER;

-- The invites this device created, for listing and revoking them (the server keeps only each
-- code's SHA-256). The code is also a pinned identifier, whose match tells who redeemed it.
CREATE TABLE invites (
    code       TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
",
    // 5: private discovery: PRF values, the users' filter and its changes, the mode.
    r"
-- The private mode's value of an identifier: the server's oblivious PRF (RFC 9497) under the
-- key of one epoch, kept as the filter tag it is checked by and the lookup that asks for its
-- user (docs/protocol.md, 'Private discovery'). A later sync never evaluates it again.
CREATE TABLE prf_values (
    kind      INTEGER NOT NULL,
    canonical TEXT    NOT NULL,
    epoch     INTEGER NOT NULL,
    tag       INTEGER NOT NULL,
    lookup    BLOB    NOT NULL,
    -- 1 once checked against the filter as it is now (and looked up when it was a hit); a new
    -- filter, or a change to this tag, sets it back to 0.
    checked   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, canonical),
    FOREIGN KEY (kind, canonical) REFERENCES identifiers (kind, canonical) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX prf_values_tag ON prf_values (tag);
CREATE INDEX prf_values_unchecked ON prf_values (checked) WHERE checked = 0;
-- The users' filter as last downloaded whole (one row), and the changes since, per tag.
CREATE TABLE user_filter (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    epoch   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    bytes   BLOB    NOT NULL
) STRICT;
CREATE TABLE user_filter_changes (
    tag     INTEGER NOT NULL PRIMARY KEY,
    -- 1: the tag is a user's since the filter was downloaded; 0: it no longer is.
    present INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- How this device discovers: 'hashed' (keyed hashes the server keeps) or 'private'.
ALTER TABLE sync_state ADD COLUMN discovery TEXT NOT NULL DEFAULT 'hashed';
",
    // 6: the users' filter in shards.
    r"
-- The server may split the users' filter by the top bits of its tags (GET /v1/config's
-- shard_bits, docs/protocol.md): one row per shard this device follows, each at the version it
-- was downloaded at or changes brought it to. Every row has the same epoch and bits; a new
-- epoch or shard count drops them all. An unsharded filter is shard 0 of 0 bits: the stored
-- filter carries over. user_filter_changes stays keyed by tag (a tag names its shard).
CREATE TABLE filter_shards (
    shard   INTEGER NOT NULL PRIMARY KEY,
    bits    INTEGER NOT NULL,
    epoch   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    bytes   BLOB    NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO filter_shards (shard, bits, epoch, version, bytes)
    SELECT 0, 0, epoch, version, bytes FROM user_filter;
DROP TABLE user_filter;
",
    // 7: the Matrix identity-service mode: the pepper of the last lookups, the last full one.
    r"
-- The Matrix mode (discovery = 'matrix', docs/matrix.md) keeps no hashes: they are cheap to make
-- again under the server's pepper. It keeps the pepper its last lookups used (a new one means
-- every identifier is looked up again) and when it last looked up every identifier (Unix
-- seconds; the whole set is looked up again after the app's interval, to notice users who
-- joined or left: the protocol has no change feed).
ALTER TABLE sync_state ADD COLUMN matrix_pepper TEXT;
ALTER TABLE sync_state ADD COLUMN matrix_full_at INTEGER;
",
    // 8: when the private mode last read the feed for redemptions of this device's invites.
    r"
-- A device in the private mode reads its feed (GET /v1/changes, what is addressed to it) only
-- while an invite it created may still have been redeemed unbeknown to it: one not yet
-- redeemed, which had not expired (with a day's allowance for clocks) when the feed was last
-- read to its end at this time (Unix seconds, the device's clock; 0: never).
ALTER TABLE sync_state ADD COLUMN invites_read_at INTEGER NOT NULL DEFAULT 0;
",
];

/// The schema version this library writes.
#[allow(clippy::cast_possible_wrap, reason = "a handful of migrations")]
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;
