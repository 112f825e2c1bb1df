//! `contactsync server-backup`: a consistent copy of a live server's `SQLite` database.
//!
//! Copying the file is not a backup: under WAL the latest commits live in `-wal` until a
//! checkpoint, and a copy taken while the server writes can be torn. This uses `SQLite`'s online
//! backup API in one step: it reads one snapshot (a read transaction, which under WAL never
//! blocks the server's writers) and writes every page of it. The copy is then checked
//! (`PRAGMA integrity_check`, the foreign keys, the schema version) before it is put in place.
//!
//! The copy holds the hashing keys: it is created mode 0600, under a temporary name next to the
//! destination, and renamed into place only when checked, so a failed backup leaves nothing that
//! looks like one. An existing destination is replaced only with `--force`. The same command
//! restores: its `--db` is then the backup and `--to` the server's (stopped) database file.
//!
//! PostgreSQL has `pg_dump` for this (docs/deployment.md); a `postgres://` URL is refused.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use contactsync_server::Database;
use contactsync_server::storage::SQLITE_SCHEMA_VERSION;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::failure::{Failure, UsageError};

/// How long the copy waits for a lock (a checkpoint or a writer holding one briefly).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What `server-backup` was asked for.
#[derive(Debug, clap::Args)]
pub struct BackupOptions {
    /// The server's `SQLite` database (`PATH` or `sqlite:PATH`), live or not; or, to restore, the
    /// backup.
    #[arg(long, value_name = "PATH")]
    db: String,
    /// The copy to write (mode 0600); or, to restore, the stopped server's database path.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Replace `--to` if it exists.
    #[arg(long)]
    force: bool,
}

/// The verb's failures, each a sentence.
fn fail(what: impl std::fmt::Display) -> Failure {
    UsageError(what.to_string()).into()
}

/// `contactsync server-backup`.
pub fn run(out: &mut impl Write, options: &BackupOptions) -> Result<ExitCode, Failure> {
    let source = match Database::parse(&options.db) {
        Database::Sqlite(path) => path,
        Database::Postgres(_) => {
            return Err(fail(
                "--db is a PostgreSQL URL: back it up with `pg_dump -Fc` (docs/deployment.md, \
                 \"Backups and restore\")",
            ));
        }
    };
    check_destination(&source, &options.to, options.force)?;
    let from = open_source(&source)?;
    let parent = match options.to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".contactsync-backup-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let copy = builder
        .tempfile_in(&parent)
        .map_err(|e| fail(format!("creating a file in {}: {e}", parent.display())))?;
    let started = Instant::now();
    let version = copy_and_check(&from, copy.path())?;
    drop(from);
    copy.as_file()
        .sync_all()
        .map_err(|e| fail(format!("writing {}: {e}", options.to.display())))?;
    let size = copy.as_file().metadata().map_or(0, |m| m.len());
    let placed = if options.force {
        copy.persist(&options.to)
    } else {
        copy.persist_noclobber(&options.to)
    };
    placed.map_err(|e| fail(format!("writing {}: {}", options.to.display(), e.error)))?;
    // The rename is durable once the directory is.
    if let Ok(dir) = std::fs::File::open(&parent) {
        let _ = dir.sync_all();
    }
    writeln!(
        out,
        "copied {} to {} (mode 0600): {:.1} MiB, schema version {version}, integrity ok, in {:.1} s",
        source.display(),
        options.to.display(),
        size_mib(size),
        started.elapsed().as_secs_f64()
    )?;
    if version != SQLITE_SCHEMA_VERSION {
        writeln!(
            out,
            "note: this contactsync writes schema version {SQLITE_SCHEMA_VERSION}; {}",
            if version < SQLITE_SCHEMA_VERSION {
                "a server of this version migrates the copy when it starts on it"
            } else {
                "restore the copy with the contactsync version that wrote it"
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "a size shown to one decimal place"
)]
fn size_mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Refuses a destination that would lose data or mix two databases: the source itself, an
/// existing file without `--force`, and a file that has `SQLite` journal files beside it (a
/// server may be running on it, and a stale `-wal` would be replayed into the restored copy).
fn check_destination(source: &Path, to: &Path, force: bool) -> Result<(), Failure> {
    if let (Ok(a), Ok(b)) = (source.canonicalize(), to.canonicalize())
        && a == b
    {
        return Err(fail("--to is the database itself"));
    }
    if to.exists() && !force {
        return Err(fail(format!(
            "{} exists; --force replaces it",
            to.display()
        )));
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = to.as_os_str().to_owned();
        name.push(suffix);
        let beside = PathBuf::from(name);
        if beside.exists() {
            return Err(fail(format!(
                "{} exists: is a server running on {}? Stop it first (a server that stopped \
                 cleanly leaves no {suffix} file; remove one left by a crash only after its \
                 database is moved away)",
                beside.display(),
                to.display()
            )));
        }
    }
    Ok(())
}

/// The live database, opened without creating it, and checked to be a server's.
fn open_source(path: &Path) -> Result<Connection, Failure> {
    if !path.is_file() {
        return Err(fail(format!("{}: no such database file", path.display())));
    }
    let cannot = |e: rusqlite::Error| fail(format!("{}: {e}", path.display()));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(cannot)?;
    conn.busy_timeout(LOCK_WAIT).map_err(cannot)?;
    let keys: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'keys'",
            [],
            |r| r.get(0),
        )
        .map_err(cannot)?;
    if keys != 1 {
        return Err(fail(format!(
            "{}: not a contactsync server database (no keys table)",
            path.display()
        )));
    }
    Ok(conn)
}

/// Copies every page of one snapshot of `from` into the empty file at `to`, makes the copy a
/// single file (rollback journal, no `-wal`), and checks it; returns its schema version.
fn copy_and_check(from: &Connection, to: &Path) -> Result<i64, Failure> {
    let broken = |e: rusqlite::Error| fail(format!("copying the database: {e}"));
    let mut dest = Connection::open(to).map_err(broken)?;
    {
        let backup = Backup::new(from, &mut dest).map_err(broken)?;
        let started = Instant::now();
        // All pages in one step: one read transaction, so one consistent snapshot. (Smaller
        // steps would restart whenever the server writes between two of them.)
        loop {
            match backup.step(-1).map_err(broken)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if started.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => {
                    return Err(fail(format!(
                        "copying the database: still {other:?} after {} s",
                        LOCK_WAIT.as_secs()
                    )));
                }
            }
        }
    }
    let mode: String = dest
        .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
        .map_err(broken)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(fail(format!("the copy stayed in journal mode {mode}")));
    }
    let mut problems = Vec::new();
    dest.pragma_query(None, "integrity_check", |r| {
        problems.push(r.get::<_, String>(0)?);
        Ok(())
    })
    .map_err(broken)?;
    if problems != ["ok"] {
        return Err(fail(format!(
            "the copy fails its integrity check: {}",
            problems.join("; ")
        )));
    }
    let dangling: i64 = dest
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(broken)?;
    if dangling != 0 {
        return Err(fail(format!(
            "the copy has {dangling} rows whose foreign key points nowhere"
        )));
    }
    let version: i64 = dest
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(broken)?;
    if version < 1 {
        return Err(fail(
            "the copy has no schema version: not a server database",
        ));
    }
    dest.close().map_err(|(_, e)| broken(e))?;
    Ok(version)
}
