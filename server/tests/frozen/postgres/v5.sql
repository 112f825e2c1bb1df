-- The server's PostgreSQL schema at version 5, frozen: what migrations 1 to 5 leave behind.
-- Never edit: a schema change is a new migration and a new file.

CREATE TABLE keys (
    key_id     text   NOT NULL PRIMARY KEY,
    secret     bytea  NOT NULL,
    state      text   NOT NULL UNIQUE CHECK (state IN ('current', 'next')),
    created_at bigint NOT NULL,
    oprf_epoch bigint UNIQUE,
    oprf_secret bytea
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

CREATE TABLE admin_tokens (
    token_sha256 bytea  NOT NULL PRIMARY KEY,
    created_at   bigint NOT NULL
);

CREATE TABLE prf_values (
    epoch    bigint NOT NULL,
    lookup   bytea  NOT NULL,
    tag      bigint NOT NULL,
    user_ref text   NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
);
CREATE INDEX prf_values_by_user ON prf_values (user_ref, epoch);
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

CREATE TABLE invite_prf_values (
    epoch       bigint NOT NULL,
    lookup      bytea  NOT NULL,
    tag         bigint NOT NULL,
    code_sha256 bytea  NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
);
CREATE INDEX invite_prf_values_by_tag ON invite_prf_values (epoch, tag);
CREATE INDEX invite_prf_values_by_invite ON invite_prf_values (code_sha256);
