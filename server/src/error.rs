//! The two error types: [`ServerError`] (public: starting, storage, I/O) and [`ApiError`] (what
//! a request answers, as the protocol's error envelope).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contactsync_core::protocol::wire::{ErrorBody, ErrorEnvelope, KeyCoverage, codes};
use thiserror::Error;

/// Why the server could not start, or a storage operation failed.
///
/// Messages never contain an identifier, a hash or a token.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration cannot be served.
    #[error("configuration: {0}")]
    Config(String),
    /// Binding the listener, or another I/O failure.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed (corrupt, full, from a newer server, ...).
    #[error("storage: {0}")]
    Storage(String),
    /// The database stayed locked by another writer for longer than the busy timeout; the
    /// request answers `503 unavailable` and the client retries.
    #[error("storage busy")]
    Busy,
    /// The transaction lost a race with a concurrent one (PostgreSQL's serialization failure
    /// or deadlock): it was rolled back whole, and running it again is safe. The server
    /// retries such a request a few times before answering `503 unavailable`.
    #[error("storage conflict: a concurrent transaction won; retry")]
    Conflict,
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// The runtime or the server thread failed.
    #[error("runtime: {0}")]
    Runtime(String),
}

impl From<rusqlite::Error> for ServerError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, DatabaseBusy | DatabaseLocked) =>
            {
                ServerError::Busy
            }
            // rusqlite's messages name the statement or the column, never a bound value.
            _ => ServerError::Storage(e.to_string()),
        }
    }
}

/// Why `daily_quota` or `rate` refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitReason {
    /// Requests per minute.
    Rate,
    /// Open registrations, per client address or for the whole server (reason `rate` on the
    /// wire: a client waits as it does for the request rate).
    Registration,
    /// New hashes per UTC day.
    DailyQuota,
}

impl LimitReason {
    /// The protocol's `reason`.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            LimitReason::Rate | LimitReason::Registration => "rate",
            LimitReason::DailyQuota => "daily_quota",
        }
    }

    /// The `limit` label of `contactsync_rate_limited_total`: which limit refused.
    pub(crate) const fn label(self) -> &'static str {
        match self {
            LimitReason::Rate => "rate",
            LimitReason::Registration => "registration",
            LimitReason::DailyQuota => "daily_quota",
        }
    }
}

/// What an error answer was, for the request's log line (`observe`): attached to the response
/// as an extension by [`ApiError`]'s `into_response`, never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrorCode {
    /// The protocol's error code (`too_many_requests`, `not_found`, ...).
    pub(crate) code: &'static str,
    /// The `429`'s reason (`rate`, `daily_quota`).
    pub(crate) reason: Option<&'static str>,
}

/// A request's failure, as docs/protocol.md's error table has it. Messages are fixed texts or
/// name a field or a position: never a value from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    Malformed(String),
    Unauthorized,
    Forbidden(&'static str),
    /// A device without a user (open registration) asked for what only a user's may do.
    UserRequired(&'static str),
    NotFound(&'static str),
    KeyRotated {
        key_id: String,
    },
    BatchConflict,
    /// The batch would grow the client's set past `max_set_size`.
    SetFull {
        max_set_size: u32,
    },
    /// A body in a media type other than JSON or CBOR.
    UnsupportedMediaType,
    /// The request body stopped arriving (`body_progress_timeout`).
    RequestTimeout,
    /// Activation refused: users would be lost.
    KeyIncomplete(KeyCoverage),
    TooLarge {
        max_batch: u32,
        max_body_bytes: u32,
    },
    TooManyRequests {
        retry_after_s: u64,
        reason: LimitReason,
    },
    Internal,
    Unavailable {
        retry_after_s: u64,
    },
    /// A transaction lost a race ([`ServerError::Conflict`]): the caller runs the request again;
    /// answered as `503 unavailable` only once retries are spent.
    Conflict,
    /// Private discovery: the request names another epoch than the current key's.
    EpochRotated,
    /// Private discovery: the filter version or changes asked for are no longer kept.
    FilterStale,
    /// Private discovery is off on this server.
    PrivateDisabled,
    /// The server discovers privately: it stores no device's hashes.
    HashedDisabled,
}

impl ApiError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        ApiError::Malformed(message.into())
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::UserRequired(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::PrivateDisabled | ApiError::HashedDisabled => {
                StatusCode::NOT_FOUND
            }
            ApiError::FilterStale => StatusCode::GONE,
            ApiError::EpochRotated
            | ApiError::KeyRotated { .. }
            | ApiError::BatchConflict
            | ApiError::KeyIncomplete(_)
            | ApiError::SetFull { .. } => StatusCode::CONFLICT,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable { .. } | ApiError::Conflict => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The protocol's error code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => codes::MALFORMED,
            ApiError::Unauthorized => codes::UNAUTHORIZED,
            ApiError::Forbidden(_) => codes::FORBIDDEN,
            ApiError::UserRequired(_) => codes::USER_REQUIRED,
            ApiError::NotFound(_) => codes::NOT_FOUND,
            ApiError::KeyRotated { .. } => codes::KEY_ROTATED,
            ApiError::BatchConflict => codes::BATCH_CONFLICT,
            ApiError::SetFull { .. } => codes::SET_FULL,
            ApiError::RequestTimeout => codes::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => codes::UNSUPPORTED_MEDIA_TYPE,
            ApiError::KeyIncomplete(_) => codes::KEY_INCOMPLETE,
            ApiError::TooLarge { .. } => codes::TOO_LARGE,
            ApiError::TooManyRequests { .. } => codes::TOO_MANY_REQUESTS,
            ApiError::Internal => codes::INTERNAL,
            ApiError::Unavailable { .. } | ApiError::Conflict => codes::UNAVAILABLE,
            ApiError::EpochRotated => codes::EPOCH_ROTATED,
            ApiError::FilterStale => codes::FILTER_STALE,
            ApiError::PrivateDisabled => codes::PRIVATE_DISABLED,
            ApiError::HashedDisabled => codes::HASHED_DISABLED,
        }
    }

    /// The protocol's body for this error.
    pub(crate) fn envelope(&self) -> ErrorEnvelope {
        let body = |message: &str| ErrorBody {
            code: self.code().to_owned(),
            message: message.to_owned(),
            ..ErrorBody::default()
        };
        let error = match self {
            ApiError::Malformed(m) => body(m),
            ApiError::Unauthorized => body("missing, unknown or deleted token"),
            ApiError::Forbidden(m) | ApiError::UserRequired(m) | ApiError::NotFound(m) => body(m),
            ApiError::KeyRotated { key_id } => ErrorBody {
                key_id: Some(key_id.clone()),
                ..body("the hashing key changed")
            },
            ApiError::BatchConflict => body("this batch id was used with a different body"),
            ApiError::SetFull { max_set_size } => body(&format!(
                "this batch would make the device's set hold more than {max_set_size} hashes"
            )),
            ApiError::RequestTimeout => body("the request body stopped arriving"),
            ApiError::UnsupportedMediaType => {
                body("send bodies as application/json or application/cbor")
            }
            ApiError::KeyIncomplete(c) => ErrorBody {
                coverage: Some(*c),
                ..body(&format!(
                    "activating would lose users: {} of {} users have fewer identifiers under \
                     the next key ({} of {} identifiers registered under it); register them \
                     again (PUT or POST /v1/admin/users), or activate with force",
                    c.users_short, c.users_current, c.identifiers_next, c.identifiers_current
                ))
            },
            ApiError::TooLarge {
                max_batch,
                max_body_bytes,
            } => ErrorBody {
                max_batch: Some(*max_batch),
                max_body_bytes: Some(*max_body_bytes),
                ..body("the request is larger than the limits")
            },
            ApiError::TooManyRequests {
                retry_after_s,
                reason,
            } => {
                let message = match reason {
                    LimitReason::Rate => "too many requests this minute",
                    LimitReason::Registration => {
                        "too many registrations from this address or on this server"
                    }
                    LimitReason::DailyQuota => "the day's budget of new identifiers is spent",
                };
                ErrorBody {
                    retry_after_s: Some(*retry_after_s),
                    reason: Some(reason.as_str().to_owned()),
                    ..body(message)
                }
            }
            ApiError::Internal => body("the server failed"),
            ApiError::Unavailable { retry_after_s } => ErrorBody {
                retry_after_s: Some(*retry_after_s),
                ..body("the server is busy")
            },
            ApiError::Conflict => ErrorBody {
                retry_after_s: Some(1),
                ..body("the server is busy")
            },
            ApiError::EpochRotated => body("the private discovery key changed epoch"),
            ApiError::FilterStale => {
                body("that filter version is no longer kept: download the whole filter")
            }
            ApiError::PrivateDisabled => body("private discovery is off on this server"),
            ApiError::HashedDisabled => body(
                "this server discovers privately and stores no hashes: see GET /v1/config's \
                 `private`",
            ),
        };
        ErrorEnvelope { error }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { retry_after_s, .. }
            | ApiError::Unavailable { retry_after_s } => Some(*retry_after_s),
            ApiError::Conflict => Some(1),
            _ => None,
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Busy => {
                crate::metrics::storage_error("busy");
                tracing::warn!("storage busy: answering 503");
                ApiError::Unavailable { retry_after_s: 1 }
            }
            ServerError::Conflict => ApiError::Conflict,
            other => {
                if matches!(other, ServerError::Storage(_) | ServerError::Io(_)) {
                    crate::metrics::storage_error("other");
                }
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.envelope()).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"the server failed"}}"#.to_vec()
        });
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        let reason = match &self {
            ApiError::TooManyRequests { reason, .. } => {
                crate::metrics::rate_limited(reason.label());
                Some(reason.as_str())
            }
            _ => None,
        };
        // A lost race answered: every retry lost too (`retry_conflicts`).
        if self == ApiError::Conflict {
            crate::metrics::storage_error("conflict");
        }
        response.extensions_mut().insert(ErrorCode {
            code: self.code(),
            reason,
        });
        response
    }
}
