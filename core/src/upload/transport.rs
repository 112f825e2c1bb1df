//! The app owns the network: the core sends each protocol request through a [`Transport`] the app
//! implements with its own HTTP client (`OkHttp` on Android, `URLSession` on iOS, ureq in the CLI),
//! so the app's authentication, proxies and certificate pinning apply, and the core never opens a
//! socket on a phone.

/// An HTTP method of the protocol (apps see it as `HttpMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "HttpMethod"))]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as HTTP spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One request. The transport resolves `path` against the server's base URL and adds the
/// `Authorization` header (it holds the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path and query, starting with `/v1/` (e.g. `/v1/changes?since=12&limit=1000`).
    pub path: String,
    /// Extra headers (`Content-Type` when there is a body).
    pub headers: Vec<(String, String)>,
    /// The body; empty for `GET` and `DELETE`.
    pub body: Vec<u8>,
}

/// One answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names in any case.
    pub headers: Vec<(String, String)>,
    /// The body. A transport should stop reading past [`MAX_ANSWER_BYTES`]; the core refuses
    /// longer bodies anyway.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The largest answer the core reads. The biggest legitimate answer (a changes page of 1000
/// matches) is under 200 KiB.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The request never got an HTTP answer: no network, DNS, TLS, a timeout, a reset connection.
/// The sync retries with backoff; whether the server saw the request is unknown, which the
/// protocol's idempotent batches make harmless.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// What failed, for logs (never the request's body).
    pub message: String,
}

impl TransportError {
    /// A transport error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
        }
    }
}

/// Sends protocol requests for the engine.
pub trait Transport: Send + Sync {
    /// Sends one request and returns the server's answer, whatever its status; an error only when
    /// no answer arrived.
    fn send(&self, request: Request) -> Result<Response, TransportError>;
}
