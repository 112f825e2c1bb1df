//! The server's `SQLite` schema, as numbered migrations.
//!
//! `MIGRATIONS[n]` takes a database from version `n` to `n + 1`; the version lives in
//! `PRAGMA user_version`. A released migration is never edited: a change is a new entry.
//!
//! Digests (hashes) are 16-byte BLOBs (HMAC-SHA-256 truncated to 128 bits; 32-byte before
//! migration 3); token and code digests are SHA-256 BLOBs. No table holds a raw identifier, a
//! token or an invite code.

/// Migrations in order; a database at version `n` has run the first `n`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: keys, clients and their sets, stored batches, counters, users, invites, changes, receipts.
    r"
-- Hashing keys: one current, at most one next (a rotation in progress). A retired key is
-- deleted, and with it (ON DELETE CASCADE) everything hashed under it.
CREATE TABLE keys (
    key_id     TEXT    NOT NULL PRIMARY KEY,
    secret     BLOB    NOT NULL,
    state      TEXT    NOT NULL UNIQUE CHECK (state IN ('current', 'next')),
    created_at INTEGER NOT NULL
) STRICT;

-- Devices. The token is kept as its SHA-256 only.
CREATE TABLE clients (
    client_id       TEXT    NOT NULL PRIMARY KEY,
    token_sha256    BLOB    NOT NULL UNIQUE,
    user_ref        TEXT,
    created_at      INTEGER NOT NULL,
    -- The key its set was uploaded under, and the free adds left after a rotation.
    set_key_id      TEXT,
    rekey_allowance INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Each client's current set of hashes.
CREATE TABLE client_hashes (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    PRIMARY KEY (client_id, digest)
) STRICT, WITHOUT ROWID;

-- Batch answers for idempotency, byte for byte, with the SHA-256 of the request body.
CREATE TABLE batches (
    client_id   TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    batch_id    TEXT    NOT NULL,
    body_sha256 BLOB    NOT NULL,
    answer      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (client_id, batch_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX batches_by_age ON batches (created_at);

-- Rate (fixed one-minute window) and quota (UTC day) counters, one row per client.
CREATE TABLE usage (
    client_id   TEXT    NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    quota_day   INTEGER NOT NULL,
    quota_used  INTEGER NOT NULL,
    rate_minute INTEGER NOT NULL,
    rate_count  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The app's users, as its backend registered them.
CREATE TABLE users (
    user_ref     TEXT    NOT NULL PRIMARY KEY,
    discoverable INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Users' identifiers, hashed under the current key and, during a rotation, the next: only the
-- keyed hash is stored. A hash belongs to one user at a time.
CREATE TABLE user_hashes (
    key_id   TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest   BLOB NOT NULL,
    user_ref TEXT NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    PRIMARY KEY (key_id, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_hashes_by_user ON user_hashes (user_ref, key_id);

-- Open invites, by the SHA-256 of the code. Redeemed, revoked and expired ones are deleted:
-- all three answer the same 404 as an unknown code.
CREATE TABLE invites (
    code_sha256 BLOB    NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_ref    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX invites_by_client ON invites (client_id);
CREATE INDEX invites_by_expiry ON invites (expires_at);

-- An open invite's keyed hash (kind invite): its creator's identifier while it is open.
CREATE TABLE invite_hashes (
    key_id      TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    code_sha256 BLOB NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (key_id, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX invite_hashes_by_invite ON invite_hashes (code_sha256);

-- The change feed. seq is the cursor: AUTOINCREMENT, so a number is never reused even when the
-- newest rows are deleted. user_ref NULL: lost. target_client NULL: for every client holding the
-- digest, and only the latest such row of a digest is kept (answers report a hash's latest state
-- only, so older rows would never change an answer); else for that client only (a redeemed
-- invite, for its creator).
CREATE TABLE changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id        TEXT    NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    digest        BLOB    NOT NULL,
    user_ref      TEXT,
    target_client TEXT    REFERENCES clients (client_id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_by_target ON changes (target_client, seq) WHERE target_client IS NOT NULL;
CREATE INDEX changes_by_hash ON changes (key_id, digest);

-- Consent receipts: no identifier, no hash, no client id (only its SHA-256).
CREATE TABLE receipts (
    receipt_id       TEXT    NOT NULL PRIMARY KEY,
    client_id_sha256 BLOB    NOT NULL,
    deleted_at       INTEGER NOT NULL,
    hashes           INTEGER NOT NULL,
    batches          INTEGER NOT NULL,
    invites          INTEGER NOT NULL
) STRICT;
",
    // 2: where each client's change feed begins (the feed's head when it registered). Clients
    // registered before have no such point: theirs is the feed's start, so a change addressed to
    // them is never skipped (at worst, a hash's latest state is reported again). And the kind of
    // identifier each user hash is of (so an operator can see what a user has under each key,
    // never the value); NULL for hashes stored before.
    r"
ALTER TABLE clients ADD COLUMN feed_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_hashes ADD COLUMN kind TEXT;
",
    // 3: the rate counter leaves the database: a request no longer waits for a write and an
    // fsync to be counted (the counters are in the server's memory, storage/rate.rs); the daily
    // quota stays, exact and durable.
    r"
ALTER TABLE usage DROP COLUMN rate_minute;
ALTER TABLE usage DROP COLUMN rate_count;
",
    // 4: truncate_digests_to_128_bits. The protocol's digest became HMAC-SHA-256 truncated to its
    // first 16 bytes (docs/protocol.md). A prefix of the full HMAC *is* the truncated HMAC, so
    // every stored digest is cut to its first 16 bytes and still matches what clients send now.
    // Two digests sharing a 16-byte prefix (about 1.5e-19 for 10^10 hashes under one key) would
    // become one row: OR REPLACE keeps one instead of failing the upgrade. The change feed keeps
    // only a hash's latest row for every client, as before. Stored batch answers are left as
    // they were: a client from before resending a batch gets its answer byte for byte.
    r"
UPDATE OR REPLACE client_hashes SET digest = substr(digest, 1, 16) WHERE length(digest) = 32;
UPDATE OR REPLACE user_hashes SET digest = substr(digest, 1, 16) WHERE length(digest) = 32;
UPDATE OR REPLACE invite_hashes SET digest = substr(digest, 1, 16) WHERE length(digest) = 32;
UPDATE changes SET digest = substr(digest, 1, 16) WHERE length(digest) = 32;
DELETE FROM changes
 WHERE target_client IS NULL
   AND seq NOT IN (SELECT max(seq) FROM changes WHERE target_client IS NULL GROUP BY key_id, digest);
",
    // 5: the admin credential lives in the database, as the SHA-256 of the token: the same for
    // every instance and across restarts, rotated with `contactsync admin token rotate` (which
    // replaces the row: at most one is valid). A server configured with a token of its own
    // (`--admin-token-file`) ignores this table.
    r"
CREATE TABLE admin_tokens (
    token_sha256 BLOB    NOT NULL PRIMARY KEY,
    created_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
",
    // 6: private discovery (docs/protocol.md, "Private discovery"). The OPRF key rides on the
    // hashing key, so one rotation serves both modes: a key made while the mode is on gets an
    // epoch (unique, increasing) and a secret. Users' PRF values per epoch are kept as their
    // 16-byte lookup and 64-bit filter tag only (never the identifier, never the output); the
    // filter's log records each tag that became or stopped being a discoverable user's (its
    // newest seq is the filter's version), pruned after a retention, with the newest pruned seq
    // per epoch kept as its floor; and each client's evaluation counters (the epoch allowance).
    r"
ALTER TABLE keys ADD COLUMN oprf_epoch INTEGER;
ALTER TABLE keys ADD COLUMN oprf_secret BLOB;
CREATE UNIQUE INDEX keys_by_oprf_epoch ON keys (oprf_epoch);

CREATE TABLE prf_values (
    epoch    INTEGER NOT NULL,
    lookup   BLOB    NOT NULL,
    tag      INTEGER NOT NULL,
    user_ref TEXT    NOT NULL REFERENCES users (user_ref) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
) STRICT, WITHOUT ROWID;
CREATE INDEX prf_values_by_user ON prf_values (epoch, user_ref);
CREATE INDEX prf_values_by_tag ON prf_values (epoch, tag);

CREATE TABLE filter_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    epoch      INTEGER NOT NULL,
    tag        INTEGER NOT NULL,
    present    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX filter_changes_by_epoch ON filter_changes (epoch, seq);
CREATE INDEX filter_changes_by_age ON filter_changes (created_at);

CREATE TABLE filter_floors (
    epoch INTEGER NOT NULL PRIMARY KEY,
    seq   INTEGER NOT NULL
) STRICT;

CREATE TABLE private_usage (
    client_id TEXT    NOT NULL PRIMARY KEY REFERENCES clients (client_id) ON DELETE CASCADE,
    epoch     INTEGER NOT NULL,
    evaluated INTEGER NOT NULL,
    allowance INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
",
    // 7: a user's PRF values are found by user first. Deleting a user (and the foreign key's
    // cascade) asks by `user_ref` alone, which an index led by the epoch could only answer by
    // scanning every value; the one query by both columns is served as well either way.
    r"
DROP INDEX prf_values_by_user;
CREATE INDEX prf_values_by_user ON prf_values (user_ref, epoch);
",
    // 8: an open invite's PRF value per epoch (docs/protocol.md, "Private discovery"), its
    // creator's while it is open, as its keyed hashes are in `invite_hashes`: computed when the
    // invite is made (the server knows the code then, and never stores it), deleted with it.
    r"
CREATE TABLE invite_prf_values (
    epoch       INTEGER NOT NULL,
    lookup      BLOB    NOT NULL,
    tag         INTEGER NOT NULL,
    code_sha256 BLOB    NOT NULL REFERENCES invites (code_sha256) ON DELETE CASCADE,
    PRIMARY KEY (epoch, lookup)
) STRICT, WITHOUT ROWID;
CREATE INDEX invite_prf_values_by_tag ON invite_prf_values (epoch, tag);
CREATE INDEX invite_prf_values_by_invite ON invite_prf_values (code_sha256);
",
];

/// The schema version this server writes.
#[allow(clippy::cast_possible_wrap, reason = "a handful of migrations")]
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::MIGRATIONS;
    use crate::storage::{SqliteStorage, Storage};

    /// A client registered before migration 2 gets the feed's start as its first cursor (nothing
    /// addressed to it before the upgrade is skipped); its users' hashes keep no kind.
    #[test]
    fn version_1_databases_migrate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO clients (client_id, token_sha256, user_ref, created_at)
                     VALUES ('c_old', x'00', 'u_1', 0);
                 INSERT INTO keys VALUES ('k_1', x'01', 'current', 0);
                 INSERT INTO users VALUES ('u_1', 1, 0);
                 INSERT INTO user_hashes VALUES ('k_1', x'02', 'u_1');",
            )
            .unwrap();
        }
        let storage = SqliteStorage::open(&path).unwrap();
        let mut tx = storage.read().unwrap();
        let client = tx.client("c_old").unwrap().unwrap();
        assert_eq!(client.feed_start, 0);
        assert_eq!(client.user_ref.as_deref(), Some("u_1"));
        // A user hash from before kinds were kept: counted, of no known kind.
        assert_eq!(
            tx.user_hash_counts("u_1").unwrap(),
            vec![("k_1".to_owned(), None, 1)]
        );
    }

    /// Migration 4 cuts every stored digest to its first 16 bytes: a device's set, a user's
    /// hashes and the feed then hold exactly what clients send now (the 16-byte HMAC prefix).
    #[test]
    fn version_2_databases_truncate_their_digests() {
        use contactsync_core::{HashKey, IdentifierKind};
        use hmac::{Hmac, Mac};

        let secret = [5u8; 32];
        let full = |canonical: &str| -> Vec<u8> {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
            mac.update(b"contactsync-v1\0phone\0");
            mac.update(canonical.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        let (ana, bo) = (full("+4915123456789"), full("+4915199999999"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO clients (client_id, token_sha256, created_at) VALUES ('c_1', x'00', 0);
                 INSERT INTO users VALUES ('u_ana', 1, 0);",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO keys VALUES ('k_1', ?1, 'current', 0)",
                [&secret[..]],
            )
            .unwrap();
            for d in [&ana, &bo] {
                conn.execute("INSERT INTO client_hashes VALUES ('c_1', ?1)", [d])
                    .unwrap();
                // Two rows of one hash for every client: only the latest is kept.
                conn.execute(
                    "INSERT INTO changes (key_id, digest, user_ref, created_at)
                     VALUES ('k_1', ?1, NULL, 0), ('k_1', ?1, 'u_ana', 1)",
                    [d],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO user_hashes VALUES ('k_1', ?1, 'u_ana', 'phone')",
                [&ana],
            )
            .unwrap();
        }
        let storage = SqliteStorage::open(&path).unwrap();
        let key = HashKey::new("k_1", &secret).unwrap();
        let ana_now = key.hash_parts(IdentifierKind::Phone, "+4915123456789");
        let bo_now = key.hash_parts(IdentifierKind::Phone, "+4915199999999");
        let mut tx = storage.read().unwrap();
        let held = tx.set_members("c_1", &[ana_now, bo_now]).unwrap();
        assert_eq!(held.len(), 2, "the set matches today's digests");
        assert_eq!(
            tx.user_hashes("u_ana").unwrap(),
            vec![("k_1".to_owned(), ana_now)]
        );
        drop(tx);
        let conn = rusqlite::Connection::open(&path).unwrap();
        for table in ["client_hashes", "user_hashes", "changes"] {
            let lengths: Vec<i64> = conn
                .prepare(&format!("SELECT DISTINCT length(digest) FROM {table}"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(lengths, [16], "{table}");
        }
        let changes: Vec<Option<String>> = conn
            .prepare("SELECT user_ref FROM changes ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            changes,
            [Some("u_ana".to_owned()), Some("u_ana".to_owned())]
        );
    }
}
