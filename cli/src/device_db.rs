//! The device's database: where it is (`--db`, else `$CONTACTSYNC_DB`, else `contactsync.db` in
//! the platform's data directory), opening the core's [`Engine`] on it, and a database error as
//! a [`Failure`]. Every verb over the local database goes through here, so they all find the
//! same file and word its errors the same way; `serve` takes the data directory from here too.

use std::path::{Path, PathBuf};

use contactsync_core::identifier::Region;
use contactsync_core::{Config, Engine, Error};

use crate::failure::{Failure, UsageError};

/// The environment variable that overrides the default database path.
pub const DB_ENV: &str = "CONTACTSYNC_DB";

/// File name of the database inside the data directory.
const DB_FILE: &str = "contactsync.db";

/// The database path: `--db`, else `$CONTACTSYNC_DB`, else `contactsync.db` in the platform's
/// data directory. With `create`, the default data directory is created when missing (an
/// explicit path is taken as given: a mistyped directory is an error, not a new one).
pub fn resolve_db(arg: Option<&Path>, create: bool) -> Result<PathBuf, Failure> {
    if let Some(path) = arg {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os(DB_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = data_dir().ok_or_else(|| {
        UsageError(format!(
            "no data directory for the default database (HOME is not set); use --db or {DB_ENV}"
        ))
    })?;
    if create {
        std::fs::create_dir_all(&dir)
            .map_err(|e| UsageError(format!("creating {}: {e}", dir.display())))?;
    }
    Ok(dir.join(DB_FILE))
}

/// The application's data directory by the platform's convention, the one the `directories`
/// crate gives for `ProjectDirs::from("org", "contactsync", "contactsync").data_dir()`:
/// `$XDG_DATA_HOME/contactsync` or `~/.local/share/contactsync` on Linux and the BSDs,
/// `~/Library/Application Support/org.contactsync.contactsync` on macOS,
/// `%APPDATA%\contactsync\contactsync\data` on Windows.
///
/// Written out here rather than taken from `directories`, which pulls in an MPL-2.0 crate
/// (`option-ext`) that `scripts/check-licenses` rejects.
pub fn data_dir() -> Option<PathBuf> {
    fn env_path(name: &str) -> Option<PathBuf> {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }
    if cfg!(windows) {
        return env_path("APPDATA").map(|d| d.join("contactsync").join("contactsync").join("data"));
    }
    if cfg!(target_os = "macos") {
        return env_path("HOME").map(|h| {
            h.join("Library")
                .join("Application Support")
                .join("org.contactsync.contactsync")
        });
    }
    env_path("XDG_DATA_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("contactsync"))
}

/// Opens the engine; `must_exist` refuses to create a database (the read-only verbs).
pub fn open(db: &Path, region: Region, must_exist: bool) -> Result<Engine, Failure> {
    if must_exist && !db.exists() {
        return Err(UsageError(format!(
            "no database at {} (run `contactsync import` first, or pass --db)",
            db.display()
        ))
        .into());
    }
    Engine::open(db, Config::with_region(region)).map_err(|e| engine_failure(db, &e))
}

pub fn engine_failure(db: &Path, e: &Error) -> Failure {
    UsageError(format!("{}: {e}", db.display())).into()
}
