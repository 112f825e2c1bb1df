//! One protocol request: serialise, send through the app's [`Transport`], map the answer to a
//! typed result. Every status and body the server could send, hostile ones included, ends as a
//! value or an [`Error`]; nothing here can panic.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::transport::{MAX_ANSWER_BYTES, Method, Request, Response, Transport};
use crate::error::{Error, Result};
use crate::protocol::encoding::{CBOR, Encoding, JSON};
use crate::protocol::matrix::MatrixError;
use crate::protocol::wire::{ErrorBody, ErrorEnvelope, codes};

/// A refusal, kept apart from [`Error`] so the sync loop can react to each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer (transport error). Retry with backoff.
    Network(String),
    /// 408, 429 or 5xx: retry after at least `retry_after` seconds, if given.
    Retry {
        status: u16,
        code: String,
        retry_after: Option<u64>,
        daily_quota: bool,
    },
    /// 409 `key_rotated`.
    KeyRotated { key_id: Option<String> },
    /// 413 `too_large`.
    TooLarge,
    /// Any other refusal: the sync stops with [`Error::Server`].
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer broke the protocol.
    Protocol(String),
    /// Retries ran out (or the wait was too long): sync again after `until`.
    Later { until: i64 },
    /// The listener cancelled while waiting to retry.
    Cancelled,
}

impl Failure {
    /// For a log line: the status and code, or the kind of failure; never a message (a
    /// transport's may quote a URL, a server's is the server's).
    pub(crate) fn describe(&self) -> String {
        match self {
            Failure::Network(_) => "no answer".into(),
            Failure::Retry { status, code, .. } | Failure::Refused { status, code, .. } => {
                format!("{status} {code}")
            }
            Failure::KeyRotated { .. } => "409 key_rotated".into(),
            Failure::TooLarge => "413 too_large".into(),
            Failure::Protocol(_) => "protocol violation".into(),
            Failure::Later { .. } => "retry later".into(),
            Failure::Cancelled => "cancelled".into(),
        }
    }

    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Network(m) => Error::Network(m),
            Failure::Retry { status, code, .. } => Error::Server {
                status,
                code,
                message: "the server asked to retry later".into(),
            },
            Failure::KeyRotated { .. } => Error::Server {
                status: 409,
                code: codes::KEY_ROTATED.into(),
                message: "the hashing key changed".into(),
            },
            Failure::TooLarge => Error::Server {
                status: 413,
                code: codes::TOO_LARGE.into(),
                message: "the request is larger than the server accepts".into(),
            },
            Failure::Refused {
                status,
                code,
                message,
            } => Error::Server {
                status,
                code,
                message,
            },
            Failure::Protocol(m) => Error::Protocol(m),
            Failure::Later { until } => Error::RetryLater { until },
            Failure::Cancelled => Error::Cancelled,
        }
    }
}

/// Sends a request (its body in the encoding given) and returns the raw answer when its status
/// is 2xx. `accept` is the answer encoding asked for: CBOR is asked for with JSON as the
/// fallback, so a server that does not speak CBOR answers JSON, which [`parse`] reads as well.
/// `bearer` is a token the core holds itself (the Matrix identity server's, which the app hands
/// in with the sync's options); the discovery server's token stays with the transport.
pub(crate) fn exchange(
    transport: &dyn Transport,
    method: Method,
    path: &str,
    body: Option<(Vec<u8>, Encoding)>,
    accept: Encoding,
    bearer: Option<&str>,
) -> Result<Response, Failure> {
    let accept = match accept {
        Encoding::Json => JSON.to_owned(),
        Encoding::Cbor => format!("{CBOR}, {JSON};q=0.5"),
    };
    let mut headers = vec![("Accept".to_owned(), accept)];
    if let Some(token) = bearer {
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    if let Some((_, encoding)) = &body {
        headers.push(("Content-Type".to_owned(), encoding.media_type().to_owned()));
    }
    let request = Request {
        method,
        path: path.to_owned(),
        headers,
        body: body.map(|(bytes, _)| bytes).unwrap_or_default(),
    };
    let response = transport
        .send(request)
        .map_err(|e| Failure::Network(e.message))?;
    if response.body.len() > MAX_ANSWER_BYTES {
        return Err(Failure::Protocol(format!(
            "answer of {} bytes is larger than the {MAX_ANSWER_BYTES} accepted",
            response.body.len()
        )));
    }
    if (200..300).contains(&response.status) {
        Ok(response)
    } else {
        let refused = refusal(&response);
        log::debug!(
            "request {} {}: {}",
            method.as_str(),
            without_query(path),
            refused.describe()
        );
        Err(refused)
    }
}

/// A path for a log line: its query (a changes cursor) left out.
pub(crate) fn without_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// Maps a non-2xx answer: this protocol's error body, else a Matrix one (`errcode`, with
/// `retry_after_ms`), else the status alone.
fn refusal(response: &Response) -> Failure {
    let status = response.status;
    let body = serde_json::from_slice::<ErrorEnvelope>(&response.body)
        .map_or_else(|_| matrix_error(&response.body), |e| e.error);
    let code = if body.code.is_empty() || body.code.len() > 64 {
        format!("http_{status}")
    } else {
        body.code.clone()
    };
    let retry_after = response
        .header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(body.retry_after_s);
    match (status, code.as_str()) {
        (409, codes::KEY_ROTATED) => Failure::KeyRotated {
            key_id: body.key_id,
        },
        (413, _) => Failure::TooLarge,
        // A body that stalled on the way (408) is a network failure: the same batch is sent
        // again, as after no answer.
        (408 | 429 | 500..=599, _) => Failure::Retry {
            status,
            daily_quota: body.reason.as_deref() == Some("daily_quota"),
            code,
            retry_after,
        },
        _ => Failure::Refused {
            status,
            code,
            // The message is the server's; cap it so a hostile server cannot flood logs.
            message: body.message.chars().take(200).collect(),
        },
    }
}

/// A Matrix error body in this protocol's terms: its `errcode` as the code, `retry_after_ms` in
/// whole seconds (rounded up, so the wait is never shorter than asked). Fields it lacks stay
/// empty; an unparsable body gives an empty one.
fn matrix_error(body: &[u8]) -> ErrorBody {
    let error = serde_json::from_slice::<MatrixError>(body).unwrap_or_default();
    ErrorBody {
        code: error.errcode.unwrap_or_default(),
        message: error.error.unwrap_or_default(),
        retry_after_s: error.retry_after_ms.map(|ms| ms.div_ceil(1000)),
        ..ErrorBody::default()
    }
}

/// Parses a 2xx answer's body, in the encoding its `Content-Type` says (JSON or CBOR, whatever
/// was asked for: a server may answer JSON to a request that accepts CBOR).
pub(crate) fn parse<A: DeserializeOwned>(response: &Response) -> Result<A, Failure> {
    Encoding::of_body(response.header("Content-Type"), &response.body)
        .decode(&response.body)
        .map_err(|e| {
            // The message names the field and position, never the value.
            Failure::Protocol(format!(
                "unparsable answer: {}",
                e.0.chars().take(200).collect::<String>()
            ))
        })
}

/// One JSON request, one typed answer. Used for the one-shot calls (registration, invites,
/// consent, the admin API); the sync loop sends through its own retrying exchange, to react to
/// each failure itself.
pub fn call<Q: Serialize, A: DeserializeOwned>(
    transport: &dyn Transport,
    method: Method,
    path: &str,
    body: Option<&Q>,
) -> Result<A> {
    call_in(Encoding::Json, transport, method, path, body)
}

/// [`call`] with the request body in `encoding`, and that encoding asked for in the answer: for
/// hash-heavy one-shot calls (`POST /v1/admin/match`) to a server whose `GET /v1/config` lists
/// `application/cbor`.
pub fn call_in<Q: Serialize, A: DeserializeOwned>(
    encoding: Encoding,
    transport: &dyn Transport,
    method: Method,
    path: &str,
    body: Option<&Q>,
) -> Result<A> {
    let body = body
        .map(|b| encoding.encode(b))
        .transpose()
        .map_err(|e| Error::InvalidArgument(format!("request not serialisable: {e}")))?
        .map(|bytes| (bytes, encoding));
    exchange(transport, method, path, body, encoding, None)
        .and_then(|r| parse(&r))
        .map_err(Failure::into_error)
}

/// [`call`] without a request body.
pub fn get<A: DeserializeOwned>(
    transport: &dyn Transport,
    method: Method,
    path: &str,
) -> Result<A> {
    call::<(), A>(transport, method, path, None)
}
