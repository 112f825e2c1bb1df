//! The local store: one SQLite file per user, opened one way.
//!
//! Stage: owns the SQLite file (schema, writes, queries, the sync state, batches as persisted, the
//! wipe). May import `error`, `identifier`, `hash`, `contact` and `protocol` (a batch is stored as
//! the exact body sent); never `diff`, `key`, `upload` or `engine`: they call into the store, it
//! calls none of them. No other stage runs SQL.
//!
//! `Store::open` (reached through [`crate::Engine::open`]) sets the pragmas (WAL, foreign keys, a
//! busy timeout), refuses a database from a newer version, and runs the numbered migrations of
//! `store/schema.rs` inside one immediate transaction, so two processes opening the same file at
//! once cannot both migrate it. docs/store.md describes the schema.
//!
//! One writer connection behind a mutex serialises every state change; readers get their own
//! connections from a small pool, so with WAL a UI thread can query while an import writes.
//! Every state change is one transaction (`Store::write`): a process killed at any instant
//! reopens at the last commit.

pub(crate) mod answers;
mod codec;
pub(crate) mod invites;
pub(crate) mod matrix;
pub(crate) mod outbox;
pub(crate) mod private;
pub(crate) mod read;
pub(crate) mod rows;
mod schema;
pub(crate) mod write;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::contact::Fingerprint;
use crate::error::{Error, Result, StorageError};
use crate::identifier::IdentifierKind;

/// The transaction a [`Store::write`] closure runs in. A stage above that spreads one
/// transaction's work over functions of its own names it by this, never by the SQLite crate.
pub(crate) type Tx<'c> = Transaction<'c>;

pub use read::{ContactView, IdentifierView, InviteView, Match, PendingUpload, Status};

/// The schema version this library creates and reads.
pub const SCHEMA_VERSION: i64 = schema::LATEST;

/// Page size of a new database file.
const PAGE_SIZE: i64 = 16 * 1024;

/// Address space a reader may map of the file (pages are shared with the OS cache).
const READER_MMAP: i64 = 256 * 1024 * 1024;

/// Readers kept open for reuse; more are opened on demand and closed after use.
const MAX_IDLE_READERS: usize = 4;

/// Upload state of one identifier's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Not wanted on the server and not there: held only by excluded contacts, or excluded.
    Idle,
    /// Wanted and not yet sent.
    PendingAdd,
    /// Sent in a batch that has not been acknowledged.
    AddInFlight,
    /// The server has it.
    Acknowledged,
    /// The server has it and it is no longer wanted.
    PendingRemove,
    /// Its removal was sent and not yet acknowledged.
    RemoveInFlight,
}

/// An [`UploadState`]'s stored code as an SQL literal, for statements written once as text:
/// `concat!("... WHERE state = ", state!(PendingAdd))` says which state a query means, where a
/// bare `1` did not. `sql_state_literals_are_the_codes` keeps the two in step.
macro_rules! state {
    (Idle) => {
        "0"
    };
    (PendingAdd) => {
        "1"
    };
    (AddInFlight) => {
        "2"
    };
    (Acknowledged) => {
        "3"
    };
    (PendingRemove) => {
        "4"
    };
    (RemoveInFlight) => {
        "5"
    };
}
pub(crate) use state;

impl UploadState {
    pub(crate) const fn code(self) -> i64 {
        match self {
            UploadState::Idle => 0,
            UploadState::PendingAdd => 1,
            UploadState::AddInFlight => 2,
            UploadState::Acknowledged => 3,
            UploadState::PendingRemove => 4,
            UploadState::RemoveInFlight => 5,
        }
    }

    pub(crate) const fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => UploadState::Idle,
            1 => UploadState::PendingAdd,
            2 => UploadState::AddInFlight,
            3 => UploadState::Acknowledged,
            4 => UploadState::PendingRemove,
            5 => UploadState::RemoveInFlight,
            _ => return None,
        })
    }

    /// The state after the identifier became wanted (`true`) or unwanted on the server.
    /// In-flight states wait for their answer; the upload stage reconciles after it.
    pub(crate) const fn towards(self, wanted: bool) -> Self {
        match (self, wanted) {
            (UploadState::Idle, true) => UploadState::PendingAdd,
            (UploadState::PendingRemove, true) => UploadState::Acknowledged,
            (UploadState::PendingAdd, false) => UploadState::Idle,
            (UploadState::Acknowledged, false) => UploadState::PendingRemove,
            (state, _) => state,
        }
    }

    /// A stable name (`pending_add`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            UploadState::Idle => "idle",
            UploadState::PendingAdd => "pending_add",
            UploadState::AddInFlight => "add_in_flight",
            UploadState::Acknowledged => "acknowledged",
            UploadState::PendingRemove => "pending_remove",
            UploadState::RemoveInFlight => "remove_in_flight",
        }
    }
}

/// The integer a kind is stored as; never renumbered.
pub(crate) const fn kind_code(kind: IdentifierKind) -> i64 {
    match kind {
        IdentifierKind::Phone => 1,
        IdentifierKind::Email => 2,
        IdentifierKind::Handle => 3,
        IdentifierKind::Account => 4,
        IdentifierKind::Invite => 5,
    }
}

pub(crate) const fn kind_from_code(code: i64) -> Option<IdentifierKind> {
    Some(match code {
        1 => IdentifierKind::Phone,
        2 => IdentifierKind::Email,
        3 => IdentifierKind::Handle,
        4 => IdentifierKind::Account,
        5 => IdentifierKind::Invite,
        _ => return None,
    })
}

/// The (kind, canonical) rows a query selects as its first two columns, in its order; rows of a
/// kind this version does not know are skipped.
pub(crate) fn identifier_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<(IdentifierKind, String)>> {
    let rows = stmt.query_map(params, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (code, canonical) = row?;
        if let Some(kind) = kind_from_code(code) {
            out.push((kind, canonical));
        }
    }
    Ok(out)
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a write waits for another process's lock before failing with a storage error.
    pub busy_timeout: Duration,
    /// SQLite page cache per connection, in KiB.
    pub cache_kib: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            cache_kib: 4 * 1024,
        }
    }
}

/// The database: a serialised writer and a pool of readers on one file.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    options: StoreOptions,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub(crate) fn open(path: &Path, options: StoreOptions) -> Result<Store> {
        #[cfg(unix)]
        create_private(path);
        // Two processes (an app and its extension) may open a new file at the same moment. The
        // switch to WAL and the first read of a WAL index can answer "busy" without waiting on
        // the busy handler, so the whole open is retried within the busy timeout.
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(2);
        let writer = loop {
            let attempt = open_connection(path, &options, false).and_then(|mut conn| {
                migrate(&mut conn)?;
                Ok(conn)
            });
            match attempt {
                Err(e) if is_busy(&e) && started.elapsed() < options.busy_timeout => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                other => break other?,
            }
        };
        Ok(Store {
            path: path.to_owned(),
            options,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` in one immediate transaction on the writer; commits when it returns `Ok`,
    /// rolls back otherwise (also on a panic, as the transaction is dropped).
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer();
        let tx = begin_immediate(&mut conn)?;
        let out = f(&tx)?;
        commit(tx)?;
        Ok(out)
    }

    /// Deletes every row (the schema and the generation counter stay), then compacts the file
    /// and truncates the WAL so the deleted pages do not linger on disk, and closes idle readers
    /// so none keeps an old page cache. The writer stays locked throughout: no write lands
    /// between the delete and the compaction.
    pub(crate) fn wipe(&self) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        write::wipe(&tx)?;
        tx.commit()?;
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        drop(conn);
        self.drop_readers();
        Ok(())
    }

    /// The writer connection itself, for work that manages its own transactions (VACUUM).
    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled back: the
        // connection is consistent, so poisoning is not a reason to refuse service.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a reader connection, in one read transaction (a consistent view).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.begin_read()?;
        let out = f(&conn);
        let end = self.end_read(conn);
        let out = out?;
        end?;
        Ok(out)
    }

    /// [`Store::read`]'s start: an idle reader (or a new one) in a read transaction. Out of line,
    /// as [`Store::end_read`], [`begin_immediate`] and [`commit`] are: `read` and `write` have a
    /// copy per closure, and the mobile library is bounded (docs/performance.md, "Size").
    #[inline(never)]
    fn begin_read(&self) -> Result<Connection> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path, &self.options, true)?,
        };
        conn.execute_batch("BEGIN DEFERRED")?;
        Ok(conn)
    }

    /// [`Store::read`]'s end: commits the read transaction, and keeps the reader for the next
    /// read when that worked.
    #[inline(never)]
    fn end_read(&self, conn: Connection) -> Result<()> {
        conn.execute_batch("COMMIT")?;
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        Ok(())
    }

    /// Streams every stored contact's (source id, fingerprint) to `each`, in one read
    /// transaction: what a snapshot's diff is indexed on, without the diff holding a connection.
    pub(crate) fn each_contact_fingerprint(
        &self,
        each: impl FnMut(&str, Option<Fingerprint>),
    ) -> Result<()> {
        self.read(|conn| read::each_contact_fingerprint(conn, each))
    }

    /// Closes idle readers (after a wipe, so no connection holds an old page cache).
    fn drop_readers(&self) {
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// [`Store::write`]'s start, out of line (see [`Store::begin_read`]).
#[inline(never)]
fn begin_immediate(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// [`Store::write`]'s commit, out of line (see [`Store::begin_read`]).
#[inline(never)]
fn commit(tx: Transaction<'_>) -> Result<()> {
    Ok(tx.commit()?)
}

/// Opens one connection with the store's pragmas.
/// Creates a new database file readable and writable by its owner only (mode 0600: it holds the
/// address book's identifiers and the hashing key); SQLite gives the `-wal` and `-shm` files it
/// creates beside it the same mode. An existing file keeps its mode. One `open` call, and no
/// error of its own: whatever fails here fails again, with SQLite's message, when it opens the
/// path.
#[cfg(unix)]
fn create_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

fn open_connection(path: &Path, options: &StoreOptions, reader: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(options.busy_timeout)?;
    // Refuse a newer database before changing anything in it (even its journal mode).
    check_version(&conn)?;
    if !reader {
        // 16 KiB pages for a new file (the size is fixed once the file has content): identifier
        // keys arrive in random order, and larger pages mean fewer page splits and fewer pages
        // rewritten per commit; a first import measured about 25% faster than with 4 KiB.
        let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        if pages == 0 {
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
    }
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Storage(StorageError::other(format!(
            "the database cannot use WAL (journal mode {mode})"
        ))));
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    // In WAL mode NORMAL never corrupts and never loses a committed transaction on a process
    // crash; only a power loss can undo the last commits, which the next import redoes.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))?;
    if reader {
        conn.pragma_update(None, "query_only", true)?;
        // Readers scan (a snapshot's index, status counts): mapped pages skip a copy per read.
        conn.pragma_update(None, "mmap_size", READER_MMAP)?;
    }
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A lock held by another connection (SQLite's `BUSY` and `LOCKED` codes).
fn is_busy(e: &Error) -> bool {
    matches!(e, Error::Storage(storage) if storage.is_busy())
}

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

fn check_version(conn: &Connection) -> Result<i64> {
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Brings the schema to [`SCHEMA_VERSION`] in one immediate transaction.
fn migrate(conn: &mut Connection) -> Result<()> {
    if check_version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    let from = check_version(&tx)?;
    let from = usize::try_from(from)
        .map_err(|_| Error::Storage(StorageError::other("negative schema version")))?;
    let started = std::time::Instant::now();
    for migration in &schema::MIGRATIONS[from..] {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    log::info!(
        "store: schema migrated from version {from} to {SCHEMA_VERSION} in {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}

#[cfg(test)]
mod tests;
