//! What every request on the public listener leaves behind: a request id (in a tracing span
//! around its handling, and in the `X-Request-Id` answer header), one log line, and its count and
//! latency in the metrics.
//!
//! The log line holds the request id, the method, the route template (never the path: it can
//! carry an invite code or a user reference), the status, the protocol's error code (and the
//! `429` reason) when the answer is an error, and the duration: never a hash, a token, an
//! identifier or a user reference.
//!
//! **Request ids** are made here, never taken from the request: an incoming `X-Request-Id` is
//! ignored. A client (or anyone on the way to an unauthenticated endpoint) could otherwise choose
//! what lands in the operator's logs, forge another request's id, or put a value there that the
//! logs must never hold. A proxy in front correlates the other way round: it logs the id this
//! server answers with (nginx: `$upstream_http_x_request_id`; docs/deployment.md, "Logs").

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use ::metrics::{counter, histogram};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use crate::error::ErrorCode;
use crate::metrics::{HTTP_DURATION, HTTP_REQUESTS, status_label};

/// The answer header that carries the request id.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The route label of a request no route matched (a `404`).
const NO_ROUTE: &str = "(no route)";

/// The route templates of the router, as `&'static str`: request logs and metrics label a
/// request with one of these, never with its path (an allocation-free, bounded label).
#[derive(Debug)]
pub(crate) struct Routes(pub(crate) Vec<&'static str>);

impl Routes {
    fn label(&self, matched: Option<&MatchedPath>) -> &'static str {
        matched
            .and_then(|m| self.0.iter().find(|r| **r == m.as_str()))
            .copied()
            .unwrap_or(NO_ROUTE)
    }
}

/// A request's id: 64 bits, written as 16 hex digits.
///
/// A keyed hash (`SipHash`, keyed once per process from the operating system's randomness) of the
/// process's request counter: unique within a process, unpredictable, and without the counter's
/// tell-tale of how many requests the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestId(u64);

impl RequestId {
    fn next() -> Self {
        static SEEN: AtomicU64 = AtomicU64::new(0);
        static KEY: LazyLock<std::hash::RandomState> = LazyLock::new(std::hash::RandomState::new);
        RequestId(KEY.hash_one(SEEN.fetch_add(1, Ordering::Relaxed)))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A method's label: the standard ones by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware (outermost): the request's span, id header, log line and metrics.
pub(crate) async fn observe(
    State(routes): State<Arc<Routes>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = RequestId::next();
    let method = method_label(request.method());
    let route = routes.label(request.extensions().get::<MatchedPath>());
    // Events while the request is handled (a storage warning, a failure) carry its id.
    let span = tracing::info_span!("request", request_id = %id, method, route);
    let mut response = next.run(request).instrument(span).await;
    let elapsed = started.elapsed();
    let status = response.status();
    let error = response.extensions().get::<ErrorCode>().copied();
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    tracing::info!(
        request_id = %id,
        method,
        route,
        status = status.as_u16(),
        code = error.map(|e| e.code),
        reason = error.and_then(|e| e.reason),
        duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    let labels = [
        ("route", route),
        ("method", method),
        ("status", status_label(status)),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_DURATION, &labels).record(elapsed);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_16_hex_digits_and_differ() {
        let (a, b) = (RequestId::next().to_string(), RequestId::next().to_string());
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn unknown_methods_and_routes_get_fixed_labels() {
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap_or_default()),
            "other"
        );
        assert_eq!(Routes(vec!["/v1/batches"]).label(None), NO_ROUTE);
    }
}
