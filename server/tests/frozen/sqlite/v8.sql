-- The server's SQLite schema at version 8, frozen: what migrations 1 to 8 leave behind (version 7
-- with open invites' PRF values)
-- (sqlite_master: tables, then indexes). Never edit: a schema change is a new migration
-- and a new file.

CREATE TABLE admin_tokens (
    token_sha256 BLOB    NOT NULL PRIMARY KEY,
    created_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE batches (
    client_id   TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    batch_id    TEXT    NOT NULL,
    body_sha256 BLOB    NOT NULL,
    answer      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, batch_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id        TEXT    NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest        BLOB    NOT NULL,
    user_ref      TEXT,
    target_client TEXT    REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE client_hashes (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    PRIMARY KEY (client_id, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE clients (
    client_id       TEXT    NOT NULL PRIMARY KEY,
    token_sha256    BLOB    NOT NULL UNIQUE,
    user_ref        TEXT,
    created_at      INTEGER NOT NULL,
    -- The key its set was uploaded under, and the free adds left after a rotation.
    set_key_id      TEXT,
    rekey_allowance INTEGER NOT NULL DEFAULT 0
, feed_start INTEGER NOT NULL DEFAULT 0) STRICT;

CREATE TABLE invite_hashes (
    key_id      TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    code_sha256 BLOB NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (key_id, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE invites (
    code_sha256 BLOB    NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_ref    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE keys (
    key_id     TEXT    NOT NULL PRIMARY KEY,
    secret     BLOB    NOT NULL,
    state      TEXT    NOT NULL UNIQUE CHECK (state IN ('current', 'next')),
    created_at INTEGER NOT NULL
, oprf_epoch INTEGER, oprf_secret BLOB) STRICT;

CREATE TABLE receipts (
    receipt_id       TEXT    NOT NULL PRIMARY KEY,
    client_id_sha256 BLOB    NOT NULL,
    deleted_at       INTEGER NOT NULL,
    hashes           INTEGER NOT NULL,
    batches          INTEGER NOT NULL,
    invites          INTEGER NOT NULL
) STRICT;

CREATE TABLE usage (
    client_id   TEXT    NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    quota_day   INTEGER NOT NULL,
    quota_used  INTEGER NOT NULL) STRICT, WITHOUT ROWID;

CREATE TABLE user_hashes (
    key_id   TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest   BLOB NOT NULL,
    user_ref TEXT NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE, kind TEXT,
    PRIMARY KEY (key_id, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    user_ref     TEXT    NOT NULL PRIMARY KEY,
    discoverable INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE filter_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch      INTEGER NOT NULL,
    tag        INTEGER NOT NULL,
    present    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE filter_floors (
    epoch INTEGER NOT NULL PRIMARY KEY,
    seq   INTEGER NOT NULL
) STRICT;

CREATE TABLE prf_values (
    epoch    INTEGER NOT NULL,
    lookup   BLOB    NOT NULL,
    tag      INTEGER NOT NULL,
    user_ref TEXT    NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
) STRICT, WITHOUT ROWID;

CREATE TABLE private_usage (
    client_id TEXT    NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    epoch     INTEGER NOT NULL,
    evaluated INTEGER NOT NULL,
    allowance INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX batches_by_age ON batches (created_at);

CREATE INDEX changes_by_hash ON changes (key_id, digest);

CREATE INDEX changes_by_target ON changes (target_client, seq) WHERE target_client IS NOT NULL;

CREATE INDEX invite_hashes_by_invite ON invite_hashes (code_sha256);

CREATE INDEX invites_by_client ON invites (client_id);

CREATE INDEX invites_by_expiry ON invites (expires_at);

CREATE INDEX user_hashes_by_user ON user_hashes (user_ref, key_id);
CREATE INDEX filter_changes_by_age ON filter_changes (created_at);
CREATE INDEX filter_changes_by_epoch ON filter_changes (epoch, seq);
CREATE UNIQUE INDEX keys_by_oprf_epoch ON keys (oprf_epoch);
CREATE INDEX prf_values_by_tag ON prf_values (epoch, tag);
CREATE INDEX prf_values_by_user ON prf_values (user_ref, epoch);

CREATE TABLE invite_prf_values (
    epoch       INTEGER NOT NULL,
    lookup      BLOB    NOT NULL,
    tag         INTEGER NOT NULL,
    code_sha256 BLOB    NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
) STRICT, WITHOUT ROWID;
CREATE INDEX invite_prf_values_by_tag ON invite_prf_values (epoch, tag);
CREATE INDEX invite_prf_values_by_invite ON invite_prf_values (code_sha256);
