//! [`PostgresStorage`]: the backend several server instances share.
//!
//! **Isolation.** Write transactions run at `SERIALIZABLE`: PostgreSQL checks that the outcome of
//! concurrent transactions equals some serial order, and fails one with a serialization error
//! when it would not. That is the guarantee the rules are written against (read, decide, write:
//! a redeemed invite, a user's hashes, a key rotation), across every instance, with no lock held
//! in any one process. A failed transaction is [`ServerError::Conflict`]: it changed nothing, and
//! the server runs it again ([`super::retry_conflicts`]). A client's own transactions (its
//! batches, the hot path) are serialised by a lock of that client instead, at `REPEATABLE READ`
//! (`PostgresStorage::write_in` says why). Read transactions are `REPEATABLE READ READ ONLY`:
//! one snapshot, never blocked, never failed by a writer.
//!
//! **The change feed.** A sequence hands out numbers at insert time, not at commit: had change 11
//! committed before change 10, a reader between the two commits would move its cursor past 10
//! and never see it. So appending takes a transaction-scoped advisory lock first (released only
//! at commit or rollback): appenders commit one at a time, in sequence order, and a snapshot that
//! holds a change holds every change before it. Only appending waits for that lock — a change is
//! recorded when a user's hashes or an invite change, never for a client's batch.
//!
//! **Request counters** live in an `UNLOGGED` table, upserted by one statement outside any
//! transaction: exact across instances, and never waiting for an fsync (schema.rs).
//!
//! **Threads.** The storage's calls block, like every backend's (the server makes them on
//! tokio's blocking pool). The connections run on a small runtime of the storage's own, so the
//! storage works the same under any caller (the server, a test, a tool); each call hands its
//! query to it and waits. docs/performance.md measures that hand-off against an all-async path.

mod schema;
mod tx;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::{PoolStatus, Scope, Storage, Transaction};
use crate::error::ServerError;
use schema::{LATEST, MIGRATIONS};
use tx::PgTx;

/// How long a request waits for a pooled connection, or a new one, before answering `503`.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// How long a statement waits for a row lock before the request answers `503` (the same
/// bound as `SQLite`'s busy timeout).
const LOCK_TIMEOUT: &str = "5s";
/// Connections per instance, unless the URL's `pool_size` says otherwise. Two instances keep
/// well under PostgreSQL's default 100 connections.
const DEFAULT_POOL_SIZE: usize = 16;
/// The advisory lock migrations run under, so that instances starting together migrate once.
const MIGRATION_LOCK: i64 = 0x636f_6e74_6163_7401;
/// The first key of the scopes' advisory locks (two-key form: this, and the scope's); it differs
/// from the first half of the one-key locks above, so no lock is shared.
const SCOPE_LOCKS: i32 = 0x636c_6e74;
/// The second key of the directory's lock. A client's is 32 bits of its id's SHA-256: one
/// client in four billion shares the directory's lock, which costs waits, nothing else.
const DIRECTORY_LOCK: i32 = 0;

/// The second key of a client's advisory lock.
fn client_lock(client_id: &str) -> i32 {
    let digest = crate::util::sha256(client_id.as_bytes());
    i32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The server's state in a PostgreSQL database; several instances may share it.
pub struct PostgresStorage {
    pool: Pool,
    /// Drives the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects to the database at `url` (libpq's URL form, e.g.
    /// `postgres://user:password@host:5432/db`; `pool_size=N` sets this instance's connections)
    /// and migrates it. A database written by a newer server is refused, untouched.
    pub fn connect(url: &str) -> Result<Self, ServerError> {
        let (url, pool_size) = take_pool_size(url)?;
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| ServerError::Config(format!("the PostgreSQL URL: {e}")))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("contactsync-postgres")
            .enable_all()
            .build()
            .map_err(|e| ServerError::Runtime(e.to_string()))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| ServerError::Config(format!("the PostgreSQL pool: {e}")))?;
        let storage = PostgresStorage {
            pool,
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        };
        storage.migrate()?;
        Ok(storage)
    }

    /// Runs `future` on the storage's runtime and waits for it.
    fn block<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    fn connection(&self) -> Result<Object, ServerError> {
        self.block(self.pool.get()).map_err(pool_error)
    }

    fn begin(&self, sql: &str, read_only: bool) -> Result<Box<dyn Transaction + '_>, ServerError> {
        let client = self.connection()?;
        self.block(client.batch_execute(sql)).map_err(db_error)?;
        Ok(Box::new(PgTx::new(self, client, read_only, None)))
    }

    /// Runs the migrations the database has not run yet, in one transaction, under an advisory
    /// lock: instances that start together migrate once, one after the other.
    fn migrate(&self) -> Result<(), ServerError> {
        let mut client = self.connection()?;
        self.block(async {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS contactsync_schema (version integer NOT NULL)",
            )
            .await?;
            let row = tx
                .query_opt("SELECT version FROM contactsync_schema", &[])
                .await?;
            let version: i32 = if let Some(row) = row {
                row.try_get(0)?
            } else {
                tx.execute("INSERT INTO contactsync_schema VALUES (0)", &[])
                    .await?;
                0
            };
            if version > LATEST {
                return Ok(Err(ServerError::Storage(format!(
                    "the database is at schema version {version}, newer than this server's {LATEST}"
                ))));
            }
            for (done, sql) in (1i32..).zip(MIGRATIONS) {
                if done > version {
                    tx.batch_execute(sql).await?;
                    tx.execute("UPDATE contactsync_schema SET version = $1", &[&done])
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(Ok(()))
        })
        .map_err(db_error)?
    }
}

impl Drop for PostgresStorage {
    /// The runtime is shut down without waiting: dropping it the ordinary way panics when the
    /// storage is dropped on an async thread (the server's last reference may go there).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Storage for PostgresStorage {
    fn write(&self) -> Result<Box<dyn Transaction + '_>, ServerError> {
        // lock_timeout bounds a wait for a row another transaction holds (SET LOCAL: this
        // transaction only).
        self.begin(
            &format!(
                "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"
            ),
            false,
        )
    }

    /// A client's transaction: the client's session-level advisory lock, then `REPEATABLE READ`.
    ///
    /// The lock is taken *before* `BEGIN`: a transaction's snapshot is taken at its first
    /// statement, so a lock taken inside it would leave the waiter with a snapshot from before
    /// the holder committed. It is released after `COMMIT` or `ROLLBACK` (or by the server, if the
    /// connection breaks).
    ///
    /// Why not `SERIALIZABLE` here: these transactions (a batch, an invite made or revoked, the
    /// client's deletion) read and write the client's own rows — serialised by the lock — and
    /// only *read* anyone else's (users, keys). Under `SERIALIZABLE`, PostgreSQL's predicate locks
    /// cover index pages, not rows: two clients' batches that touch one page of `client_hashes`
    /// (every client, while the table is small) fail each other as if they had conflicted. A
    /// snapshot is enough: a batch that overlaps a user's change reads the users before it, as
    /// if it had come first, and the change reaches the client through its feed (which is read
    /// at poll time, against the client's set then). Rows two transactions both write (an invite
    /// a redeemer closes while its creator is deleted, a foreign key's parent) still make one of
    /// them fail, and run again.
    ///
    /// The directory's transactions (the admin API's users and keys) take one lock for all of
    /// them the same way, and stay `SERIALIZABLE`: they read and write across users (a hash
    /// moves from one user to another), and two imports that touch the same users would
    /// otherwise fail each other repeatedly.
    fn write_in(&self, scope: Scope<'_>) -> Result<Box<dyn Transaction + '_>, ServerError> {
        let (key, begin) = match scope {
            Scope::Client(client_id) => (
                client_lock(client_id),
                "BEGIN ISOLATION LEVEL REPEATABLE READ",
            ),
            Scope::Directory => (DIRECTORY_LOCK, "BEGIN ISOLATION LEVEL SERIALIZABLE"),
        };
        let client = self.connection()?;
        self.block(client.batch_execute(&format!(
            "SET lock_timeout = '{LOCK_TIMEOUT}'; SELECT pg_advisory_lock({SCOPE_LOCKS}, {key})"
        )))
        .map_err(db_error)?;
        let mut tx = PgTx::new(self, client, false, Some(key));
        tx.start(begin)?;
        Ok(Box::new(tx))
    }

    fn read(&self) -> Result<Box<dyn Transaction + '_>, ServerError> {
        self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", true)
    }

    fn ready(&self) -> Result<(), ServerError> {
        let client = self.connection()?;
        let row = self
            .block(client.query_one("SELECT version FROM contactsync_schema", &[]))
            .map_err(db_error)?;
        let version: i32 = row.try_get(0).map_err(db_error)?;
        super::version_mismatch(i64::from(version), i64::from(LATEST))
    }

    /// The pool's size: a request beyond it would wait for a connection.
    fn concurrency(&self) -> usize {
        self.pool.status().max_size
    }

    fn count_request(&self, client_id: &str, minute: i64) -> Result<(i64, u32), ServerError> {
        let client = self.connection()?;
        let row = self
            .block(async {
                let stmt = client
                    .prepare_cached(
                        "INSERT INTO request_counts (client_id, minute, count) VALUES ($1, $2, 1)
                         ON CONFLICT (client_id) DO UPDATE SET
                             count = CASE WHEN excluded.minute > request_counts.minute THEN 1
                                          ELSE request_counts.count + 1 END,
                             minute = GREATEST(request_counts.minute, excluded.minute)
                         RETURNING minute, count",
                    )
                    .await?;
                client.query_one(&stmt, &[&client_id, &minute]).await
            })
            .map_err(db_error)?;
        let minute: i64 = row.try_get(0).map_err(db_error)?;
        let count: i32 = row.try_get(1).map_err(db_error)?;
        Ok((minute, u32::try_from(count).unwrap_or(0)))
    }

    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: Some(status.max_size),
            size: Some(status.size),
            available: Some(status.available),
            waiting: Some(status.waiting),
            writers_waiting: None,
        }
    }
}

/// Reads (and removes) the `pool_size` parameter, which libpq does not know.
fn take_pool_size(url: &str) -> Result<(String, usize), ServerError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|_| ServerError::Config("the PostgreSQL URL does not parse".into()))?;
    let mut size = DEFAULT_POOL_SIZE;
    let mut kept = Vec::new();
    for (name, value) in parsed.query_pairs() {
        if name == "pool_size" {
            size = value
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ServerError::Config("pool_size must be at least 1".into()))?;
        } else {
            kept.push((name.into_owned(), value.into_owned()));
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.into(), size))
}

/// A driver error as the storage seam reports it: a lost race is [`ServerError::Conflict`], a
/// lock or connection wait too long [`ServerError::Busy`]. Messages carry PostgreSQL's code and
/// message, never its detail (which may quote a row's values).
#[allow(
    clippy::needless_pass_by_value,
    reason = "used as map_err(db_error): the error is the driver's, consumed or not"
)]
fn db_error(e: tokio_postgres::Error) -> ServerError {
    if let Some(code) = e.code() {
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return ServerError::Conflict;
        }
        if *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::QUERY_CANCELED
            || *code == SqlState::TOO_MANY_CONNECTIONS
            || *code == SqlState::CANNOT_CONNECT_NOW
        {
            return ServerError::Busy;
        }
    }
    match e.as_db_error() {
        Some(db) => {
            ServerError::Storage(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
        }
        None => ServerError::Storage(format!("PostgreSQL: {e}")),
    }
}

fn pool_error(e: PoolError) -> ServerError {
    match e {
        PoolError::Timeout(_) => ServerError::Busy,
        PoolError::Backend(e) => db_error(e),
        other => ServerError::Storage(format!("PostgreSQL pool: {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::take_pool_size;

    #[test]
    fn pool_size_is_taken_from_the_url() {
        let (url, size) =
            take_pool_size("postgres://u:p@h:5432/db?pool_size=4&sslmode=disable").unwrap();
        assert_eq!(size, 4);
        assert_eq!(url, "postgres://u:p@h:5432/db?sslmode=disable");
        let (url, size) = take_pool_size("postgres://h/db").unwrap();
        assert_eq!(
            (url.as_str(), size),
            ("postgres://h/db", super::DEFAULT_POOL_SIZE)
        );
        assert!(take_pool_size("postgres://h/db?pool_size=0").is_err());
    }
}
