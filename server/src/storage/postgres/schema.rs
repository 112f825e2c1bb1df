//! The server's PostgreSQL schema, as numbered migrations.
//!
//! `MIGRATIONS[n]` takes a database from version `n` to `n + 1`; the version lives in the
//! one-row table `contactsync_schema`. A released migration is never edited: a change is a new
//! entry, and `frozen/vN.sql` keeps the schema each version left behind (the tests upgrade every
//! frozen version and compare with a fresh database).
//!
//! The tables are those of the `SQLite` schema (`../schema.rs`, which documents each), with
//! PostgreSQL's types; digests are `bytea`. Two differences: the change feed's `seq` is an
//! identity column, made visible in order by a lock (see `append_change`), and request counters
//! live in an `UNLOGGED` table: shared by every instance, never fsynced, emptied by a crash —
//! which costs a rate limit one minute's memory, nothing else.

/// Migrations in order; a database at version `n` has run the first `n`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the SQLite schema at its version 3, and the request counters.
    r"
CREATE TABLE keys (
    key_id     text   NOT NULL PRIMARY KEY,
    secret     bytea  NOT NULL,
    state      text   NOT NULL UNIQUE CHECK (state IN ('current', 'next')),
    created_at bigint NOT NULL
);

CREATE TABLE clients (
    client_id       text   NOT NULL PRIMARY KEY,
    token_sha256    bytea  NOT NULL UNIQUE,
    user_ref        text,
    created_at      bigint NOT NULL,
    set_key_id      text,
    rekey_allowance bigint NOT NULL DEFAULT 0,
    feed_start      bigint NOT NULL DEFAULT 0
);

CREATE TABLE client_hashes (
    client_id text  NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    digest    bytea NOT NULL,
    PRIMARY KEY (client_id, digest)
);

CREATE TABLE batches (
    client_id   text   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    batch_id    text   NOT NULL,
    body_sha256 bytea  NOT NULL,
    answer      bytea  NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (client_id, batch_id)
);
CREATE INDEX batches_by_age ON batches (created_at);

CREATE TABLE usage (
    client_id  text   NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    quota_day  bigint NOT NULL,
    quota_used bigint NOT NULL
);

CREATE UNLOGGED TABLE request_counts (
    client_id text    NOT NULL PRIMARY KEY,
    minute    bigint  NOT NULL,
    count     integer NOT NULL
);

CREATE TABLE users (
    user_ref     text    NOT NULL PRIMARY KEY,
    discoverable boolean NOT NULL,
    updated_at   bigint  NOT NULL
);

CREATE TABLE user_hashes (
    key_id   text  NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest   bytea NOT NULL,
    user_ref text  NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    kind     text,
    PRIMARY KEY (key_id, digest)
);
CREATE INDEX user_hashes_by_user ON user_hashes (user_ref, key_id);

CREATE TABLE invites (
    code_sha256 bytea  NOT NULL PRIMARY KEY,
    client_id   text   NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_ref    text   NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL
);
CREATE INDEX invites_by_client ON invites (client_id);
CREATE INDEX invites_by_user ON invites (user_ref);
CREATE INDEX invites_by_expiry ON invites (expires_at);

CREATE TABLE invite_hashes (
    key_id      text  NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest      bytea NOT NULL,
    code_sha256 bytea NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (key_id, digest)
);
CREATE INDEX invite_hashes_by_invite ON invite_hashes (code_sha256);

CREATE TABLE changes (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id        text   NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest        bytea  NOT NULL,
    user_ref      text,
    target_client text   REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at    bigint NOT NULL
);
CREATE INDEX changes_by_target ON changes (target_client, seq) WHERE target_client IS NOT NULL;
CREATE INDEX changes_by_hash ON changes (key_id, digest);

CREATE TABLE receipts (
    receipt_id       text   NOT NULL PRIMARY KEY,
    client_id_sha256 bytea  NOT NULL,
    deleted_at       bigint NOT NULL,
    hashes           bigint NOT NULL,
    batches          bigint NOT NULL,
    invites          bigint NOT NULL
);
",
    // 2: the admin credential, as SQLite's migration 5 (`../schema.rs`).
    r"
CREATE TABLE admin_tokens (
    token_sha256 bytea  NOT NULL PRIMARY KEY,
    created_at   bigint NOT NULL
);
",
    // 3: private discovery, as SQLite's migration 6 (`../schema.rs`); the filter's log is
    // appended in sequence order under a lock, as the change feed is.
    r"
ALTER TABLE keys ADD COLUMN oprf_epoch bigint UNIQUE;
ALTER TABLE keys ADD COLUMN oprf_secret bytea;

CREATE TABLE prf_values (
    epoch    bigint NOT NULL,
    lookup   bytea  NOT NULL,
    tag      bigint NOT NULL,
    user_ref text   NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
);
CREATE INDEX prf_values_by_user ON prf_values (epoch, user_ref);
CREATE INDEX prf_values_by_tag ON prf_values (epoch, tag);

CREATE TABLE filter_changes (
    seq        bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    epoch      bigint  NOT NULL,
    tag        bigint  NOT NULL,
    present    boolean NOT NULL,
    created_at bigint  NOT NULL
);
CREATE INDEX filter_changes_by_epoch ON filter_changes (epoch, seq);
CREATE INDEX filter_changes_by_age ON filter_changes (created_at);

CREATE TABLE filter_floors (
    epoch bigint NOT NULL PRIMARY KEY,
    seq   bigint NOT NULL
);

CREATE TABLE private_usage (
    client_id text   NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    epoch     bigint NOT NULL,
    evaluated bigint NOT NULL,
    allowance bigint NOT NULL
);
",
    // 4: a user's PRF values are found by user first, as SQLite's migration 7 (`../schema.rs`):
    // the foreign key's cascade and `delete_user` ask by `user_ref` alone.
    r"
DROP INDEX prf_values_by_user;
CREATE INDEX prf_values_by_user ON prf_values (user_ref, epoch);
",
    // 5: an open invite's PRF value per epoch, as SQLite's migration 8 (`../schema.rs`).
    r"
CREATE TABLE invite_prf_values (
    epoch       bigint NOT NULL,
    lookup      bytea  NOT NULL,
    tag         bigint NOT NULL,
    code_sha256 bytea  NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
);
CREATE INDEX invite_prf_values_by_tag ON invite_prf_values (epoch, tag);
CREATE INDEX invite_prf_values_by_invite ON invite_prf_values (code_sha256);
",
];

/// The schema version this server writes.
#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    reason = "a handful of migrations"
)]
pub(crate) const LATEST: i32 = MIGRATIONS.len() as i32;
