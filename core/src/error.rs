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
    /// write lock past the busy timeout. The message is SQLite's own (it never holds values:
    /// every statement binds its values as parameters).
    #[error("storage: {0}")]
    Storage(String),
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
        let text = match &e {
            E::SqliteFailure(code, Some(msg)) => format!("{msg} ({:?})", code.code),
            E::SqliteFailure(code, None) => format!("{:?}", code.code),
            // The remaining variants are programming errors (type mismatches, wrong parameter
            // counts); some carry a value in their Display, so only the variant is reported.
            other => {
                let debug = format!("{other:?}");
                let name = debug.split(['(', ' ', '{']).next().unwrap_or("unknown");
                format!("sqlite api: {name}")
            }
        };
        Error::Storage(text)
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
