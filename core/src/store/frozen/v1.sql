-- Schema version 1, frozen: exactly what migration 1 leaves behind (sqlite_master, in order).
-- Never edit: a schema change is a new migration and a new frozen file.

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    source_id    TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    version      TEXT,
    -- RawContact::content_fingerprint, 16 bytes: equal means nothing to do.
    fingerprint  BLOB    NOT NULL,
    -- The import generation that last wrote this row (see sync_state.generation).
    generation   INTEGER NOT NULL,
    -- Values rejected when the contact was last normalised (details in `rejections`).
    rejected     INTEGER NOT NULL DEFAULT 0,
    -- The user excluded this contact from discovery.
    excluded     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE identifiers (
    id        INTEGER PRIMARY KEY,
    kind      INTEGER NOT NULL,
    canonical TEXT    NOT NULL,
    -- The user excluded this identifier from discovery; kept even when no contact holds it.
    excluded  INTEGER NOT NULL DEFAULT 0,
    key_id    TEXT,
    digest    BLOB,
    -- Upload state: 0 idle, 1 pending add, 2 add in flight, 3 acknowledged,
    -- 4 pending remove, 5 remove in flight (see store::UploadState).
    state     INTEGER NOT NULL DEFAULT 0,
    batch_id  TEXT,
    UNIQUE (kind, canonical)
) STRICT;

CREATE INDEX identifiers_by_digest ON identifiers (digest) WHERE digest IS NOT NULL;

CREATE INDEX identifiers_pending ON identifiers (state, id) WHERE state IN (1, 2, 4, 5);

CREATE TABLE contact_identifiers (
    contact_id    INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    identifier_id INTEGER NOT NULL REFERENCES identifiers (id),
    PRIMARY KEY (contact_id, identifier_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX contact_identifiers_by_identifier ON contact_identifiers (identifier_id);

CREATE TABLE rejections (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    label      TEXT,
    value      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    PRIMARY KEY (contact_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE matches (
    identifier_id INTEGER PRIMARY KEY REFERENCES identifiers (id) ON DELETE CASCADE,
    user_ref      TEXT    NOT NULL,
    matched_at    INTEGER NOT NULL
) STRICT;

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
