-- Schema version 8, frozen: what migrations 1 to 8 leave behind (sqlite_master, in order; 8
-- added sync_state.invites_read_at, which SQLite appends to the table's text as written here).
-- Never edit: a schema change is a new migration and a new frozen file.

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
    batch_id  TEXT, pinned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, canonical)
) STRICT, WITHOUT ROWID;

CREATE TABLE matches (
    kind       INTEGER NOT NULL,
    canonical  TEXT    NOT NULL,
    user_ref   TEXT    NOT NULL,
    matched_at INTEGER NOT NULL,
    PRIMARY KEY (kind, canonical),
    FOREIGN KEY (kind, canonical) REFERENCES identifiers (kind, canonical) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

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
, deferred_until INTEGER, discovery TEXT NOT NULL DEFAULT 'hashed', matrix_pepper TEXT, matrix_full_at INTEGER, invites_read_at INTEGER NOT NULL DEFAULT 0) STRICT;

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

CREATE TABLE invites (
    code       TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

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

CREATE TABLE user_filter_changes (
    tag     INTEGER NOT NULL PRIMARY KEY,
    -- 1: the tag is a user's since the filter was downloaded; 0: it no longer is.
    present INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE filter_shards (
    shard   INTEGER NOT NULL PRIMARY KEY,
    bits    INTEGER NOT NULL,
    epoch   INTEGER NOT NULL,
    version INTEGER NOT NULL,
    bytes   BLOB    NOT NULL
) STRICT, WITHOUT ROWID;
