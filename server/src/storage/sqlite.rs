//! [`SqliteStorage`]: the embedded default backend, one `SQLite` file.
//!
//! WAL mode, so readers never wait for the writer; write transactions are `BEGIN IMMEDIATE`, so
//! the write lock is taken up front (a transaction that reads then writes can never fail half
//! way with "busy") and every writer, in any process, is serialised. A busy timeout makes a
//! writer wait for another; several server processes on one file are therefore safe.
//!
//! `synchronous = FULL`: a consent receipt or a batch answer, once sent, survives a power loss.
//! `secure_delete = ON`: a deleted client's rows are overwritten in the file, not only unlinked.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use contactsync_core::hash::DIGEST_LEN;
use contactsync_core::protocol::wire::DeletedCounts;
use contactsync_core::{Digest, IdentifierKind};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::convert::{digest_from, key_state, sha_from, to_i64, to_u64};
use super::rate::MemoryRates;
use super::schema::{LATEST, MIGRATIONS};
use super::writer_line::{WriterLine, WriterTurn};
use super::{
    ChangeRecord, ClientRecord, InviteRecord, KeyCount, KeyRecord, KeyState, PoolStatus,
    ReceiptRecord, Storage, StoredBatch, Transaction, Usage, UserRecord,
};
use crate::error::ServerError;

/// How long a writer waits for another's lock before the request answers `503`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 8;

/// The server's state in one `SQLite` file.
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Request counters: in this process's memory (a file is served by one machine; several
    /// processes on one file each count their own requests).
    rates: MemoryRates,
    /// This process's writers, in line: see [`WriterLine`].
    writers: WriterLine,
}

impl SqliteStorage {
    /// Opens (creating if needed) and migrates the database at `path`. A database written by a
    /// newer server is refused, untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ServerError> {
        let path = path.as_ref();
        create_private(path)?;
        // Two servers may open a new file at the same moment: the switch to WAL and the first
        // read of a WAL index can answer "busy" without waiting on the busy handler, so the whole
        // open is retried within the busy timeout.
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        let conn = loop {
            match open_connection(path).and_then(|mut conn| {
                migrate(&mut conn)?;
                Ok(conn)
            }) {
                Err(ServerError::Busy) if started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                other => break other?,
            }
        };
        Ok(SqliteStorage {
            path: path.to_owned(),
            idle: Mutex::new(vec![conn]),
            rates: MemoryRates::default(),
            writers: WriterLine::default(),
        })
    }

    fn connection(&self) -> Result<Connection, ServerError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn begin<'a>(
        &'a self,
        sql: &str,
        turn: Option<WriterTurn<'a>>,
    ) -> Result<Box<dyn Transaction + 'a>, ServerError> {
        let conn = self.connection()?;
        if let Err(e) = conn.execute_batch(sql) {
            // Busy, most likely: the connection is fine once its flags are reset.
            if conn.execute_batch("PRAGMA query_only = OFF").is_ok() && conn.is_autocommit() {
                self.give_back(conn);
            }
            return Err(e.into());
        }
        Ok(Box::new(SqliteTx {
            conn: Some(conn),
            storage: self,
            _turn: turn,
        }))
    }
}

impl Storage for SqliteStorage {
    fn write(&self) -> Result<Box<dyn Transaction + '_>, ServerError> {
        let turn = self.writers.wait(BUSY_TIMEOUT)?;
        self.begin("BEGIN IMMEDIATE", Some(turn))
    }

    fn read(&self) -> Result<Box<dyn Transaction + '_>, ServerError> {
        // query_only makes a writing call on a read transaction fail instead of upgrading it.
        self.begin("PRAGMA query_only = ON; BEGIN DEFERRED", None)
    }

    fn ready(&self) -> Result<(), ServerError> {
        let conn = self.connection()?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        self.give_back(conn);
        super::version_mismatch(version, LATEST)
    }

    /// The connections kept for reuse: more at once would open (and close) a connection per
    /// request, and writers wait for one another anyway.
    fn concurrency(&self) -> usize {
        MAX_IDLE
    }

    fn count_request(&self, client_id: &str, minute: i64) -> Result<(i64, u32), ServerError> {
        Ok(self.rates.count(client_id, minute))
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            max_size: Some(MAX_IDLE),
            available: Some(
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len(),
            ),
            writers_waiting: Some(self.writers.waiting()),
            ..PoolStatus::default()
        }
    }
}

/// Creates the database file, readable and writable by its owner only (mode 0600), when it does
/// not exist yet: it holds the hashing keys. `SQLite` gives its `-wal` and `-shm` files the main
/// file's mode. An existing file keeps the mode its operator gave it.
fn create_private(path: &Path) -> Result<(), ServerError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(ServerError::Storage(format!(
            "creating the database file {}: {e}",
            path.display()
        ))),
    }
}

/// One connection with the server's pragmas.
fn open_connection(path: &Path) -> Result<Connection, ServerError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > LATEST {
        return Err(ServerError::Storage(format!(
            "the database is at schema version {version}, newer than this server's {LATEST}"
        )));
    }
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(ServerError::Storage(format!(
            "the database cannot use WAL (journal mode {mode})"
        )));
    }
    // A server's sets grow into millions of rows inserted in hash (random) order: with SQLite's
    // 2 MiB default page cache every insert re-read pages through `read()`, and a 100,000-contact
    // first sync took 5x the time of a 30,000 one. A 64 MiB cache (grown only as used) and reads
    // through a memory map keep the B-tree pages at hand.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
         PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Runs the migrations a database has not run yet, in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (done, sql) in (1i64..).zip(MIGRATIONS) {
        if done > version {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", done)?;
        }
    }
    tx.commit()?;
    Ok(())
}

struct SqliteTx<'a> {
    /// `None` once committed.
    conn: Option<Connection>,
    storage: &'a SqliteStorage,
    /// A writer's turn in this process's line, given up when the transaction is dropped (after
    /// its COMMIT or ROLLBACK).
    _turn: Option<WriterTurn<'a>>,
}

impl SqliteTx<'_> {
    fn conn(&self) -> Result<&Connection, ServerError> {
        self.conn
            .as_ref()
            .ok_or_else(|| ServerError::Storage("transaction already finished".into()))
    }

    /// Returns the connection to the pool after `end` (COMMIT or ROLLBACK) ran; a connection
    /// whose transaction could not end is dropped rather than reused in an unknown state.
    fn finish(&mut self, end: &str) -> Result<(), ServerError> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let result = conn
            .execute_batch(end)
            .and_then(|()| conn.execute_batch("PRAGMA query_only = OFF"));
        match result {
            Ok(()) => {
                self.storage.give_back(conn);
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it before the connection
                // is dropped.
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.finish("ROLLBACK") {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

fn client_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        client_id: row.get(0)?,
        user_ref: row.get(1)?,
        set_key_id: row.get(2)?,
        rekey_allowance: to_u64(row.get(3)?),
        feed_start: to_u64(row.get(4)?),
    })
}

impl Transaction for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), ServerError> {
        self.finish("COMMIT")
    }

    fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, secret, state, created_at FROM keys
             ORDER BY state = 'next', created_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            let (key_id, secret, state, created_at) = row?;
            keys.push(KeyRecord {
                key_id,
                secret,
                state: key_state(&state)?,
                created_at,
            });
        }
        Ok(keys)
    }

    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO keys (key_id, secret, state, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                key.key_id,
                key.secret,
                key.state.as_str(),
                key.created_at
            ])?;
        Ok(())
    }

    fn set_key_state(&mut self, key_id: &str, state: KeyState) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached("UPDATE keys SET state = ?2 WHERE key_id = ?1")?
            .execute(params![key_id, state.as_str()])?;
        Ok(())
    }

    fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError> {
        let conn = self.conn()?;
        // Explicit deletes, so nothing depends on the foreign-key cascade being enabled.
        for sql in [
            "DELETE FROM user_hashes WHERE key_id = ?1",
            "DELETE FROM invite_hashes WHERE key_id = ?1",
            "DELETE FROM changes WHERE key_id = ?1",
            "DELETE FROM keys WHERE key_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([key_id])?;
        }
        Ok(())
    }

    fn insert_client(
        &mut self,
        client: &ClientRecord,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO clients (client_id, token_sha256, user_ref, created_at, set_key_id,
                                      rekey_allowance, feed_start)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                client.client_id,
                &token_sha256[..],
                client.user_ref,
                created_at,
                client.set_key_id,
                to_i64(client.rekey_allowance),
                to_i64(client.feed_start),
            ])?;
        Ok(())
    }

    fn client_by_token(
        &mut self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<ClientRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, set_key_id, rekey_allowance, feed_start FROM clients
                 WHERE token_sha256 = ?1",
            )?
            .query_row([&token_sha256[..]], client_row)
            .optional()?)
    }

    fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, set_key_id, rekey_allowance, feed_start FROM clients
                 WHERE client_id = ?1",
            )?
            .query_row([client_id], client_row)
            .optional()?)
    }

    fn update_client_set(
        &mut self,
        client_id: &str,
        set_key_id: &str,
        rekey_allowance: u64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "UPDATE clients SET set_key_id = ?2, rekey_allowance = ?3 WHERE client_id = ?1",
            )?
            .execute(params![client_id, set_key_id, to_i64(rekey_allowance)])?;
        Ok(())
    }

    fn delete_client(&mut self, client_id: &str) -> Result<Option<DeletedCounts>, ServerError> {
        let conn = self.conn()?;
        let exists = conn
            .prepare_cached("SELECT 1 FROM clients WHERE client_id = ?1")?
            .query_row([client_id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let count = |sql: &str| -> Result<u64, ServerError> {
            Ok(to_u64(
                conn.prepare_cached(sql)?
                    .query_row([client_id], |r| r.get(0))?,
            ))
        };
        let counts = DeletedCounts {
            hashes: count("SELECT count(*) FROM client_hashes WHERE client_id = ?1")?,
            batches: count("SELECT count(*) FROM batches WHERE client_id = ?1")?,
            invites: count("SELECT count(*) FROM invites WHERE client_id = ?1")?,
        };
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = ?1)",
            "DELETE FROM invites WHERE client_id = ?1",
            "DELETE FROM client_hashes WHERE client_id = ?1",
            "DELETE FROM batches WHERE client_id = ?1",
            "DELETE FROM usage WHERE client_id = ?1",
            "DELETE FROM changes WHERE target_client = ?1",
            "DELETE FROM clients WHERE client_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([client_id])?;
        }
        Ok(Some(counts))
    }

    fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT quota_day, quota_used FROM usage WHERE client_id = ?1")?
            .query_row([client_id], |r| {
                Ok(Usage {
                    quota_day: r.get(0)?,
                    quota_used: to_u64(r.get(1)?),
                })
            })
            .optional()?)
    }

    fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT OR REPLACE INTO usage (client_id, quota_day, quota_used)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                client_id,
                usage.quota_day,
                to_i64(usage.quota_used)
            ])?;
        Ok(())
    }

    fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError> {
        let n: i64 = self
            .conn()?
            .prepare_cached("SELECT count(*) FROM client_hashes WHERE client_id = ?1")?
            .query_row([client_id], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    fn set_members(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>, ServerError> {
        let mut stmt = self
            .conn()?
            .prepare_cached("SELECT 1 FROM client_hashes WHERE client_id = ?1 AND digest = ?2")?;
        let mut found = HashSet::new();
        for d in digests {
            if stmt.exists(params![client_id, &d.0[..]])? {
                found.insert(*d);
            }
        }
        Ok(found)
    }

    fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached("DELETE FROM client_hashes WHERE client_id = ?1")?
            .execute([client_id])?;
        Ok(n as u64)
    }

    fn add_to_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "INSERT INTO client_hashes (client_id, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        let mut added = 0;
        for d in digests {
            added += stmt.execute(params![client_id, &d.0[..]])? as u64;
        }
        Ok(added)
    }

    fn remove_from_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError> {
        let mut stmt = self
            .conn()?
            .prepare_cached("DELETE FROM client_hashes WHERE client_id = ?1 AND digest = ?2")?;
        let mut removed = 0;
        for d in digests {
            removed += stmt.execute(params![client_id, &d.0[..]])? as u64;
        }
        Ok(removed)
    }

    fn batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
    ) -> Result<Option<StoredBatch>, ServerError> {
        let row = self
            .conn()?
            .prepare_cached(
                "SELECT body_sha256, answer FROM batches WHERE client_id = ?1 AND batch_id = ?2",
            )?
            .query_row([client_id, batch_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        row.map(|(sha, answer)| {
            Ok(StoredBatch {
                body_sha256: sha_from(sha)?,
                answer,
            })
        })
        .transpose()
    }

    fn insert_batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
        batch: &StoredBatch,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO batches (client_id, batch_id, body_sha256, answer, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                client_id,
                batch_id,
                &batch.body_sha256[..],
                batch.answer,
                created_at
            ])?;
        Ok(())
    }

    fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached("DELETE FROM batches WHERE created_at < ?1")?
            .execute([before])?;
        Ok(n as u64)
    }

    fn visible_users(
        &mut self,
        key_id: &str,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, String>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT h.user_ref FROM user_hashes h JOIN users u ON u.user_ref = h.user_ref
             WHERE h.key_id = ?1 AND h.digest = ?2 AND u.discoverable",
        )?;
        let mut found = HashMap::new();
        for d in digests {
            if let Some(user_ref) = stmt
                .query_row(params![key_id, &d.0[..]], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.insert(*d, user_ref);
            }
        }
        Ok(found)
    }

    fn put_user(
        &mut self,
        user_ref: &str,
        discoverable: bool,
        updated_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO users (user_ref, discoverable, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_ref) DO UPDATE
                     SET discoverable = excluded.discoverable, updated_at = excluded.updated_at",
            )?
            .execute(params![user_ref, discoverable, updated_at])?;
        Ok(())
    }

    fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT discoverable, updated_at FROM users WHERE user_ref = ?1")?
            .query_row([user_ref], |r| {
                Ok(UserRecord {
                    discoverable: r.get(0)?,
                    updated_at: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn users_after(&mut self, after: &str, limit: u32) -> Result<Vec<(String, bool)>, ServerError> {
        self.conn()?
            .prepare_cached(
                "SELECT user_ref, discoverable FROM users WHERE user_ref > ?1
                 ORDER BY user_ref LIMIT ?2",
            )?
            .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    fn user_hash_counts(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Option<IdentifierKind>, u64)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, kind, count(*) FROM user_hashes WHERE user_ref = ?1
             GROUP BY key_id, kind ORDER BY key_id, kind",
        )?;
        let rows = stmt.query_map([user_ref], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, kind, n) = row?;
            let kind = kind.and_then(|k| IdentifierKind::ALL.into_iter().find(|c| c.as_str() == k));
            out.push((key_id, kind, to_u64(n)));
        }
        Ok(out)
    }

    fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT k.key_id, count(DISTINCT h.user_ref), count(h.digest)
             FROM keys k LEFT JOIN user_hashes h ON h.key_id = k.key_id
             GROUP BY k.key_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyCount {
                key_id: r.get(0)?,
                users: to_u64(r.get(1)?),
                identifiers: to_u64(r.get(2)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError> {
        let n: i64 = self
            .conn()?
            .prepare_cached(
                "SELECT count(*) FROM (
                 SELECT sum(key_id = ?1) AS under_current, sum(key_id = ?2) AS under_next
                 FROM user_hashes WHERE key_id IN (?1, ?2) GROUP BY user_ref)
             WHERE under_next < under_current",
            )?
            .query_row([current, next], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    fn user_hashes(&mut self, user_ref: &str) -> Result<Vec<(String, Digest)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, digest FROM user_hashes WHERE user_ref = ?1 ORDER BY key_id, digest",
        )?;
        let rows = stmt.query_map([user_ref], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, digest) = row?;
            out.push((key_id, digest_from(digest)?));
        }
        Ok(out)
    }

    fn set_user_hashes(
        &mut self,
        user_ref: &str,
        key_id: &str,
        digests: &[(IdentifierKind, Digest)],
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached("DELETE FROM user_hashes WHERE user_ref = ?1 AND key_id = ?2")?
            .execute([user_ref, key_id])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO user_hashes (key_id, digest, user_ref, kind) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key_id, digest)
                 DO UPDATE SET user_ref = excluded.user_ref, kind = excluded.kind",
        )?;
        for (kind, d) in digests {
            insert.execute(params![key_id, &d.0[..], user_ref, kind.as_str()])?;
        }
        Ok(())
    }

    fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached("DELETE FROM user_hashes WHERE user_ref = ?1")?
            .execute([user_ref])?;
        let n = conn
            .prepare_cached("DELETE FROM users WHERE user_ref = ?1")?
            .execute([user_ref])?;
        Ok(n > 0)
    }

    fn insert_invite(
        &mut self,
        invite: &InviteRecord,
        hashes: &[(String, Digest)],
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "INSERT INTO invites (code_sha256, client_id, user_ref, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            &invite.code_sha256[..],
            invite.client_id,
            invite.user_ref,
            invite.created_at,
            invite.expires_at
        ])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO invite_hashes (key_id, digest, code_sha256) VALUES (?1, ?2, ?3)",
        )?;
        for (key_id, d) in hashes {
            insert.execute(params![key_id, &d.0[..], &invite.code_sha256[..]])?;
        }
        Ok(())
    }

    fn invite(&mut self, code_sha256: &[u8; 32]) -> Result<Option<InviteRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, created_at, expires_at FROM invites
                 WHERE code_sha256 = ?1",
            )?
            .query_row([&code_sha256[..]], |r| {
                Ok(InviteRecord {
                    code_sha256: *code_sha256,
                    client_id: r.get(0)?,
                    user_ref: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn open_invite_owners(
        &mut self,
        key_id: &str,
        digests: &[Digest],
        now: i64,
    ) -> Result<HashMap<Digest, String>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT i.user_ref FROM invite_hashes h JOIN invites i ON i.code_sha256 = h.code_sha256
             WHERE h.key_id = ?1 AND h.digest = ?2 AND i.expires_at > ?3
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
        )?;
        let mut found = HashMap::new();
        for d in digests {
            if let Some(user_ref) = stmt
                .query_row(params![key_id, &d.0[..], now], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.insert(*d, user_ref);
            }
        }
        Ok(found)
    }

    fn open_invite_hashes_of(
        &mut self,
        user_ref: &str,
        key_id: &str,
        now: i64,
    ) -> Result<Vec<Digest>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT h.digest FROM invites i JOIN invite_hashes h ON h.code_sha256 = i.code_sha256
             WHERE i.user_ref = ?1 AND h.key_id = ?2 AND i.expires_at > ?3",
        )?;
        let rows = stmt.query_map(params![user_ref, key_id, now], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(d) = <[u8; DIGEST_LEN]>::try_from(row?) {
                out.push(Digest(d));
            }
        }
        Ok(out)
    }

    fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE user_ref = ?1)",
        )?
        .execute([user_ref])?;
        let n = conn
            .prepare_cached("DELETE FROM invites WHERE user_ref = ?1")?
            .execute([user_ref])?;
        Ok(n as u64)
    }

    fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached("DELETE FROM invite_hashes WHERE code_sha256 = ?1")?
            .execute([&code_sha256[..]])?;
        conn.prepare_cached("DELETE FROM invites WHERE code_sha256 = ?1")?
            .execute([&code_sha256[..]])?;
        Ok(())
    }

    fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE expires_at <= ?1)",
        )?
        .execute([now])?;
        let n = conn
            .prepare_cached("DELETE FROM invites WHERE expires_at <= ?1")?
            .execute([now])?;
        Ok(n as u64)
    }

    fn prune_unsynced_clients(&mut self, registered_before: i64) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached(super::delete_unsynced_clients!())?
            .execute([registered_before])?;
        Ok(n as u64)
    }

    fn append_change(
        &mut self,
        key_id: &str,
        digest: &Digest,
        user_ref: Option<&str>,
        target_client: Option<&str>,
        created_at: i64,
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        if target_client.is_none() {
            conn.prepare_cached(
                "DELETE FROM changes WHERE key_id = ?1 AND digest = ?2 AND target_client IS NULL",
            )?
            .execute(params![key_id, &digest.0[..]])?;
        }
        conn.prepare_cached(
            "INSERT INTO changes (key_id, digest, user_ref, target_client, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            key_id,
            &digest.0[..],
            user_ref,
            target_client,
            created_at
        ])?;
        Ok(())
    }

    fn head_seq(&mut self) -> Result<u64, ServerError> {
        // sqlite_sequence holds the AUTOINCREMENT high-water mark, which stays when the newest
        // rows are deleted: the head never moves backwards.
        let seq: Option<i64> = self
            .conn()?
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(seq.map_or(0, to_u64))
    }

    fn changes_for(
        &mut self,
        client_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, digest, user_ref FROM changes c
             WHERE seq > ?2 AND (
                 target_client = ?1
                 OR (target_client IS NULL AND EXISTS (
                     SELECT 1 FROM client_hashes h WHERE h.client_id = ?1 AND h.digest = c.digest)))
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![client_id, to_i64(after_seq), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, digest, user_ref) = row?;
            out.push(ChangeRecord {
                seq: to_u64(seq),
                digest: digest_from(digest)?,
                user_ref,
            });
        }
        Ok(out)
    }

    fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT token_sha256 FROM admin_tokens")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|row| sha_from(row?)).collect()
    }

    fn replace_admin_token(
        &mut self,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        let revoked = conn
            .prepare_cached("DELETE FROM admin_tokens")?
            .execute([])?;
        conn.prepare_cached("INSERT INTO admin_tokens (token_sha256, created_at) VALUES (?1, ?2)")?
            .execute(params![&token_sha256[..], created_at])?;
        Ok(revoked as u64)
    }

    fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO receipts
                     (receipt_id, client_id_sha256, deleted_at, hashes, batches, invites)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                receipt.receipt_id,
                &receipt.client_id_sha256[..],
                receipt.deleted_at,
                to_i64(receipt.deleted.hashes),
                to_i64(receipt.deleted.batches),
                to_i64(receipt.deleted.invites)
            ])?;
        Ok(())
    }
}
