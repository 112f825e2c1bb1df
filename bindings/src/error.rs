//! The one error type apps see. Kotlin names it `ContactsyncException` (UniFFI turns `*Error` into
//! `*Exception`), Swift `ContactsyncError`. Each variant is something an app can act on; none
//! carries contact data (names, numbers, hashes), since these end up in logs and crash reports.

use contactsync_core::Error as Core;

/// What can go wrong in a call into the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum ContactsyncError {
    /// The local database failed (I/O, full disk, corruption, a lock held past the timeout).
    #[error("storage: {detail}")]
    Storage {
        /// SQLite's message.
        detail: String,
    },
    /// The database was written by a newer version of the library; it was left untouched.
    #[error("the database has schema version {found}, newer than the {supported} supported")]
    NewerSchema {
        /// The file's schema version.
        found: i64,
        /// The newest this library reads.
        supported: i64,
    },
    /// The listener (or the calling coroutine / task) asked to stop. Committed work stays.
    #[error("cancelled")]
    Cancelled,
    /// An argument is unusable: an unknown region, a malformed key, an empty source id.
    #[error("invalid argument: {detail}")]
    InvalidArgument {
        /// What is wrong with it.
        detail: String,
    },
    /// A value could not be normalised (`normalize` only; imports count such values as
    /// rejections instead). `reason` is the stable code, e.g. `phone.too_short`.
    #[error("invalid value: {reason}")]
    InvalidValue {
        /// The rejection code (docs/identifiers.md).
        reason: String,
    },
    /// The call does not fit the engine's state (a snapshot pushed after it finished).
    #[error("invalid state: {detail}")]
    InvalidState {
        /// What was expected.
        detail: String,
    },
    /// A file could not be read.
    #[error("i/o: {detail}")]
    Io {
        /// The system's message.
        detail: String,
    },
    /// The app's transport could not reach the server (it threw, or reported no answer) after the
    /// sync's retries. Everything is kept; a later sync resumes.
    #[error("network: {detail}")]
    Network {
        /// The transport's message.
        detail: String,
    },
    /// The server refused a request (`unauthorized`, `forbidden`, `malformed`, ...).
    #[error("server refused ({status} {code}): {detail}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The protocol's stable error code, or `http_<status>`.
        code: String,
        /// The server's message.
        detail: String,
    },
    /// The server's answer broke the protocol; nothing was applied from it.
    #[error("protocol violation: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// The server asked to wait past what this sync may spend; sync again after `until`.
    #[error("retry after {until} (unix seconds)")]
    RetryLater {
        /// Unix seconds.
        until: i64,
    },
    /// A callback the app implements (transport, listener) threw something other than a
    /// `ContactsyncError`; `detail` is that exception's description.
    #[error("callback failed: {detail}")]
    Callback {
        /// The foreign exception, as text.
        detail: String,
    },
}

impl From<Core> for ContactsyncError {
    fn from(e: Core) -> Self {
        match e {
            Core::Storage(storage) => ContactsyncError::Storage {
                detail: storage.to_string(),
            },
            Core::NewerSchema { found, supported } => {
                ContactsyncError::NewerSchema { found, supported }
            }
            Core::Cancelled => ContactsyncError::Cancelled,
            Core::InvalidArgument(detail) => ContactsyncError::InvalidArgument { detail },
            Core::InvalidState(detail) => ContactsyncError::InvalidState { detail },
            Core::Io(detail) => ContactsyncError::Io { detail },
            Core::Network(detail) => ContactsyncError::Network { detail },
            Core::Server {
                status,
                code,
                message,
            } => ContactsyncError::Server {
                status,
                code,
                detail: message,
            },
            Core::Protocol(detail) => ContactsyncError::Protocol { detail },
            Core::RetryLater { until } => ContactsyncError::RetryLater { until },
            // The core's enum is non-exhaustive: a variant added later is still an error the app
            // sees, with the core's own (contact-data-free) message.
            other => ContactsyncError::InvalidState {
                detail: other.to_string(),
            },
        }
    }
}

/// An exception a foreign callback threw that is not a `ContactsyncError` (UniFFI hands it over
/// as this type; the foreign traits' methods declare `ContactsyncError`).
impl From<uniffi::UnexpectedUniFFICallbackError> for ContactsyncError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        // Kotlin hands over the whole stack trace; its first line (`Class: message`) is what a
        // log needs, and the frames would only bloat every error message built on it.
        let detail = e
            .reason
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        ContactsyncError::Callback { detail }
    }
}

/// The bindings' result type.
pub type Result<T, E = ContactsyncError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use contactsync_core::{StorageError, StorageErrorKind};

    use super::*;

    #[test]
    fn every_core_error_keeps_its_fields() {
        let cases = [
            (
                Core::Storage(StorageError::new(StorageErrorKind::Full, "disk full")),
                "storage: disk full",
            ),
            (Core::Cancelled, "cancelled"),
            (
                Core::Server {
                    status: 401,
                    code: "unauthorized".into(),
                    message: "bad token".into(),
                },
                "server refused (401 unauthorized): bad token",
            ),
            (
                Core::RetryLater { until: 42 },
                "retry after 42 (unix seconds)",
            ),
            (
                Core::NewerSchema {
                    found: 9,
                    supported: 2,
                },
                "the database has schema version 9, newer than the 2 supported",
            ),
        ];
        for (core, text) in cases {
            assert_eq!(ContactsyncError::from(core).to_string(), text);
        }
    }

    #[test]
    fn an_unexpected_callback_error_becomes_callback() {
        let e = ContactsyncError::from(uniffi::UnexpectedUniFFICallbackError {
            reason: "java.lang.IllegalStateException: boom\n\tat Foo.send(Foo.kt:3)\n".into(),
        });
        assert_eq!(
            e,
            ContactsyncError::Callback {
                detail: "java.lang.IllegalStateException: boom".into()
            }
        );
    }
}
