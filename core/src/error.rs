//! The one error type of the engine's public API.
//!
//! The bottom stage: owns [`Error`] and [`Result`] and imports nothing else of the crate, so
//! every stage can return it.
//!
//! Few variants, each something an app can act on. Messages never contain contact data (names,
//! numbers, addresses, hashes): they end up in app logs and crash reports. Values that are merely
//! invalid are not errors at all; they are counted rejections in an import report.

/// What can go wrong in the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The local database failed: I/O, a full disk, corruption, or another process holding the
    /// write lock past the busy timeout. [`StorageError::kind`] says which; its text is SQLite's
    /// own (it never holds values: every statement binds its values as parameters).
    #[error("storage: {0}")]
    Storage(StorageError),
    /// The database was written by a newer version of this library; it is left untouched.
    #[error(
        "the database has schema version {found}, newer than the {supported} this version knows"
    )]
    NewerSchema {
        /// The database's `user_version`.
        found: i64,
        /// The newest version this library can read.
        supported: i64,
    },
    /// The listener asked to stop. Work already committed stays; nothing is half-written.
    #[error("cancelled")]
    Cancelled,
    /// An argument the caller passed is unusable (an unknown region, a malformed key, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call does not fit the engine's state (e.g. a snapshot pushed after it finished).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// A file could not be read (the CLI's and tests' file imports).
    #[error("i/o: {0}")]
    Io(String),
    /// The app's transport could not reach the server (no network, DNS, TLS, timeout). The sync
    /// state is kept; a later sync resumes. Retried with backoff inside a sync first.
    #[error("network: {0}")]
    Network(String),
    /// The server refused a request with an error the client cannot recover from by itself
    /// (`unauthorized`, `forbidden`, `malformed`, an unknown 4xx code, ...). `code` is the
    /// protocol's stable error code (docs/protocol.md), or `http_<status>` when it sent none.
    #[error("server refused ({status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The protocol's error code.
        code: String,
        /// The server's message (for logs; the protocol keeps identifiers out of it).
        message: String,
    },
    /// The server's answer broke the protocol: unparsable JSON, a wrong batch id, a hash that
    /// was not asked about, an oversized body. Nothing is applied from it; in-flight work is kept
    /// and resent (idempotently) by the next sync.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The server asked the client to wait (`Retry-After`, backoff after failures) and that wait
    /// runs past what this sync may spend. Nothing is lost; sync again after `until`.
    #[error("retry after {until} (unix seconds)")]
    RetryLater {
        /// Unix seconds before which a sync will not contact the server.
        until: i64,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::Error as E;
        let storage = match &e {
            E::SqliteFailure(code, Some(msg)) => StorageError {
                kind: StorageErrorKind::of(code.code),
                detail: format!("{msg} ({:?})", code.code),
            },
            E::SqliteFailure(code, None) => StorageError {
                kind: StorageErrorKind::of(code.code),
                detail: format!("{:?}", code.code),
            },
            // The remaining variants are programming errors (type mismatches, wrong parameter
            // counts); some carry a value in their Display, so only the variant is reported.
            other => {
                let debug = format!("{other:?}");
                let name = debug.split(['(', ' ', '{']).next().unwrap_or("unknown");
                StorageError {
                    kind: StorageErrorKind::Api,
                    detail: format!("sqlite api: {name}"),
                }
            }
        };
        Error::Storage(storage)
    }
}

/// A failure of the local database, kept structured inside the engine so that code which acts
/// on the cause (the open retries a busy file) asks for a kind instead of parsing text; the
/// bindings flatten it to its text at the boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    kind: StorageErrorKind,
    detail: String,
}

impl StorageError {
    /// A storage error of a given kind: for the engine's own checks, and for an app's tests of
    /// the code that handles the engine's errors.
    pub fn new(kind: StorageErrorKind, detail: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            detail: detail.into(),
        }
    }

    /// A failure the engine itself detects (no SQLite error code behind it).
    pub(crate) fn other(detail: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::Other, detail)
    }

    /// What kind of failure this is.
    pub const fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// Whether another connection held a lock past the busy timeout: worth retrying later.
    pub const fn is_busy(&self) -> bool {
        matches!(self.kind, StorageErrorKind::Busy)
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The causes of a [`StorageError`] an app or the engine may act on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// Another connection (an app extension, a second process) held a lock (SQLite's `BUSY`,
    /// `LOCKED`).
    Busy,
    /// The disk or the database's size limit is full.
    Full,
    /// The file is damaged or is not a database.
    Corrupt,
    /// The file or its directory cannot be written.
    ReadOnly,
    /// The operating system failed to read, write or open the file.
    Io,
    /// A programming error in the engine's use of SQLite (a type mismatch, a wrong parameter
    /// count): a bug to report.
    Api,
    /// Anything else.
    Other,
}

impl StorageErrorKind {
    fn of(code: rusqlite::ErrorCode) -> StorageErrorKind {
        use rusqlite::ErrorCode as C;
        match code {
            C::DatabaseBusy | C::DatabaseLocked => StorageErrorKind::Busy,
            C::DiskFull | C::TooBig => StorageErrorKind::Full,
            C::DatabaseCorrupt | C::NotADatabase => StorageErrorKind::Corrupt,
            C::ReadOnly | C::PermissionDenied => StorageErrorKind::ReadOnly,
            C::SystemIoFailure | C::CannotOpen | C::FileLockingProtocolFailed => {
                StorageErrorKind::Io
            }
            _ => StorageErrorKind::Other,
        }
    }
}

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Null, Box::new(e))
            .into()
    }
}

impl Error {
    /// A short, stable code for logs and for the bindings (`storage`, `newer_schema`, ...).
    pub const fn code(&self) -> &'static str {
        match self {
            Error::Storage(_) => "storage",
            Error::NewerSchema { .. } => "newer_schema",
            Error::Cancelled => "cancelled",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::InvalidState(_) => "invalid_state",
            Error::Io(_) => "io",
            Error::Network(_) => "network",
            Error::Server { .. } => "server",
            Error::Protocol(_) => "protocol",
            Error::RetryLater { .. } => "retry_later",
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::ffi::c_int, message: &str) -> Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.to_owned()))
            .into()
    }

    #[test]
    fn a_lock_held_elsewhere_is_busy_by_kind_and_keeps_sqlites_text() {
        for (code, message) in [
            (rusqlite::ffi::SQLITE_BUSY, "database is locked"),
            (rusqlite::ffi::SQLITE_LOCKED, "database table is locked"),
        ] {
            let Error::Storage(storage) = sqlite(code, message) else {
                panic!("not a storage error");
            };
            assert!(storage.is_busy());
            assert_eq!(storage.kind(), StorageErrorKind::Busy);
            assert!(storage.to_string().starts_with(message), "{storage}");
        }
    }

    #[test]
    fn other_failures_are_classified_and_never_busy() {
        let cases = [
            (rusqlite::ffi::SQLITE_FULL, StorageErrorKind::Full),
            (rusqlite::ffi::SQLITE_CORRUPT, StorageErrorKind::Corrupt),
            (rusqlite::ffi::SQLITE_NOTADB, StorageErrorKind::Corrupt),
            (rusqlite::ffi::SQLITE_READONLY, StorageErrorKind::ReadOnly),
            (rusqlite::ffi::SQLITE_IOERR, StorageErrorKind::Io),
            (rusqlite::ffi::SQLITE_CONSTRAINT, StorageErrorKind::Other),
        ];
        for (code, kind) in cases {
            let Error::Storage(storage) = sqlite(code, "x") else {
                panic!("not a storage error");
            };
            assert_eq!(storage.kind(), kind, "code {code}");
            assert!(!storage.is_busy());
        }
        let api: Error = rusqlite::Error::InvalidParameterCount(1, 2).into();
        assert!(matches!(&api, Error::Storage(s) if s.kind() == StorageErrorKind::Api));
        assert_eq!(
            api.to_string(),
            "storage: sqlite api: InvalidParameterCount"
        );
    }
}
