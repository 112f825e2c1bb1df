//! [`Database`]: which backend, and where, as `contactsync serve --db` names it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{PostgresStorage, SqliteStorage, Storage};
use crate::error::ServerError;

/// Where the server keeps its state.
///
/// Parsed from one string: a `postgres://` or `postgresql://` URL selects PostgreSQL (several
/// instances may share it); anything else is an `SQLite` file path, optionally written
/// `sqlite:PATH`. Printing one never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// One `SQLite` file, created and migrated if needed.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (libpq's URL form; `options=-csearch_path%3D...` selects
    /// a schema), migrated if needed.
    Postgres(String),
}

impl Database {
    /// Reads `--db`'s value.
    pub fn parse(value: &str) -> Database {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Database::Postgres(value.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(
                value.strip_prefix("sqlite:").unwrap_or(value),
            ))
        }
    }

    /// Opens (and migrates) the database. Blocks: call it off the async runtime.
    pub fn open(&self) -> Result<Arc<dyn Storage>, ServerError> {
        Ok(match self {
            Database::Sqlite(path) => Arc::new(SqliteStorage::open(path)?),
            Database::Postgres(url) => Arc::new(PostgresStorage::connect(url)?),
        })
    }
}

impl From<&str> for Database {
    fn from(value: &str) -> Self {
        Database::parse(value)
    }
}

impl From<String> for Database {
    fn from(value: String) -> Self {
        Database::parse(&value)
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Self {
        Database::Sqlite(path.to_owned())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Self {
        Database::Sqlite(path.clone())
    }
}

impl fmt::Display for Database {
    /// The path, or the URL with its password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        // Cannot fail for a URL that has a password (it has a host).
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(_) => write!(f, "Sqlite({self})"),
            Database::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Database;
    use std::path::PathBuf;

    #[test]
    fn parses_urls_and_paths() {
        assert_eq!(
            Database::parse("postgres://u@h/db"),
            Database::Postgres("postgres://u@h/db".into())
        );
        assert!(matches!(
            Database::parse("postgresql://h/db"),
            Database::Postgres(_)
        ));
        assert_eq!(
            Database::parse("sqlite:server.db"),
            Database::Sqlite(PathBuf::from("server.db"))
        );
        assert_eq!(
            Database::parse("/var/lib/x.db"),
            Database::Sqlite(PathBuf::from("/var/lib/x.db"))
        );
    }

    #[test]
    fn never_prints_a_password() {
        let db = Database::parse("postgres://app:s3cret@db.example:5432/contactsync");
        for shown in [db.to_string(), format!("{db:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("db.example"), "{shown}");
        }
    }
}
