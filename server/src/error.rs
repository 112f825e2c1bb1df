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
    /// New hashes per UTC day.
    DailyQuota,
}

/// A request's failure, as docs/protocol.md's error table has it. Messages are fixed texts or
/// name a field or a position: never a value from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    Malformed(String),
    Unauthorized,
    Forbidden(&'static str),
    NotFound(&'static str),
    KeyRotated {
        key_id: String,
    },
    BatchConflict,
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
}

impl ApiError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        ApiError::Malformed(message.into())
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::KeyRotated { .. } | ApiError::BatchConflict | ApiError::KeyIncomplete(_) => {
                StatusCode::CONFLICT
            }
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable { .. } | ApiError::Conflict => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The protocol's body for this error.
    pub(crate) fn envelope(&self) -> ErrorEnvelope {
        let body = |code: &str, message: &str| ErrorBody {
            code: code.to_owned(),
            message: message.to_owned(),
            ..ErrorBody::default()
        };
        let error = match self {
            ApiError::Malformed(m) => body(codes::MALFORMED, m),
            ApiError::Unauthorized => {
                body(codes::UNAUTHORIZED, "missing, unknown or deleted token")
            }
            ApiError::Forbidden(m) => body(codes::FORBIDDEN, m),
            ApiError::NotFound(m) => body(codes::NOT_FOUND, m),
            ApiError::KeyRotated { key_id } => ErrorBody {
                key_id: Some(key_id.clone()),
                ..body(codes::KEY_ROTATED, "the hashing key changed")
            },
            ApiError::BatchConflict => body(
                codes::BATCH_CONFLICT,
                "this batch id was used with a different body",
            ),
            ApiError::RequestTimeout => {
                body(codes::REQUEST_TIMEOUT, "the request body stopped arriving")
            }
            ApiError::UnsupportedMediaType => body(
                codes::UNSUPPORTED_MEDIA_TYPE,
                "send bodies as application/json or application/cbor",
            ),
            ApiError::KeyIncomplete(c) => ErrorBody {
                coverage: Some(*c),
                ..body(
                    codes::KEY_INCOMPLETE,
                    &format!(
                        "activating would lose users: {} of {} users have fewer identifiers under \
                         the next key ({} of {} identifiers registered under it); register them \
                         again (PUT or POST /v1/admin/users), or activate with force",
                        c.users_short, c.users_current, c.identifiers_next, c.identifiers_current
                    ),
                )
            },
            ApiError::TooLarge {
                max_batch,
                max_body_bytes,
            } => ErrorBody {
                max_batch: Some(*max_batch),
                max_body_bytes: Some(*max_body_bytes),
                ..body(codes::TOO_LARGE, "the request is larger than the limits")
            },
            ApiError::TooManyRequests {
                retry_after_s,
                reason,
            } => {
                let (reason, message) = match reason {
                    LimitReason::Rate => ("rate", "too many requests this minute"),
                    LimitReason::DailyQuota => (
                        "daily_quota",
                        "the day's budget of new identifiers is spent",
                    ),
                };
                ErrorBody {
                    retry_after_s: Some(*retry_after_s),
                    reason: Some(reason.to_owned()),
                    ..body(codes::TOO_MANY_REQUESTS, message)
                }
            }
            ApiError::Internal => body(codes::INTERNAL, "the server failed"),
            ApiError::Unavailable { retry_after_s } => ErrorBody {
                retry_after_s: Some(*retry_after_s),
                ..body(codes::UNAVAILABLE, "the server is busy")
            },
            ApiError::Conflict => ErrorBody {
                retry_after_s: Some(1),
                ..body(codes::UNAVAILABLE, "the server is busy")
            },
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
                tracing::warn!("storage busy: answering 503");
                ApiError::Unavailable { retry_after_s: 1 }
            }
            ServerError::Conflict => ApiError::Conflict,
            other => {
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
        response
    }
}
