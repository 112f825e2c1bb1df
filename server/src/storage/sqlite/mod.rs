//! [`SqliteStorage`]: the embedded default backend, one `SQLite` file.
//!
//! WAL mode, so readers never wait for the writer; write transactions are `BEGIN IMMEDIATE`, so
//! the write lock is taken up front (a transaction that reads then writes can never fail half
//! way with "busy") and every writer, in any process, is serialised. A busy timeout makes a
//! writer wait for another; several server processes on one file are therefore safe.
//!
//! `synchronous = FULL`: a consent receipt or a batch answer, once sent, survives a power loss.
//! `secure_delete = ON`: a deleted client's rows are overwritten in the file, not only unlinked.

mod tx;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::rate::MemoryRates;
use super::schema::{LATEST, MIGRATIONS};
use super::writer_line::{WriterLine, WriterTurn};
use super::{PoolStatus, Storage, Transaction};
use crate::error::ServerError;
use tx::SqliteTx;

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
