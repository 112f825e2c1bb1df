//! Request bodies: at most `max_bodies_in_flight` requests with a body in progress at once, and a
//! body that stops arriving for `body_progress_timeout` is cut off (docs/reliability.md, "Slow
//! and abusive clients").
//!
//! Without these, a client could start a body and stall: the server held what it had read, and
//! 1,000 chunked bodies stalled after 250 KB held 300 MB for as long as their clients liked.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::timeout::{TimeoutBody, TimeoutError};

use crate::ConnectionLimits;
use crate::connections::Episode;
use crate::error::ApiError;

/// The longest a request with a body waits for a slot (or the body timeout, if shorter). Short:
/// it absorbs a burst of legitimate bodies (each is read in milliseconds), while under a flood of
/// stalled bodies the requests that wait give their connection back soon (`503`, `Retry-After`)
/// instead of holding it, and with it a place under the connection cap.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// The slots for requests with a body, and the body timeout.
#[derive(Debug)]
pub(crate) struct BodyGate {
    slots: Arc<Semaphore>,
    cap: usize,
    progress_timeout: Duration,
    at_cap: Episode,
    /// The listening address, in the log lines.
    addr: SocketAddr,
}

impl BodyGate {
    pub(crate) fn new(limits: &ConnectionLimits, addr: SocketAddr) -> Self {
        let cap = usize::try_from(limits.max_bodies_in_flight).unwrap_or(usize::MAX);
        BodyGate {
            slots: Arc::new(Semaphore::new(cap)),
            cap,
            progress_timeout: limits.body_progress_timeout,
            at_cap: Episode::default(),
            addr,
        }
    }

    /// Requests with a body in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.cap.saturating_sub(self.slots.available_permits())
    }

    /// The cap on them.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

/// Middleware: a request with a body waits for a slot (at most [`SLOT_WAIT`], then `503
/// unavailable`), and its body is cut off when it delivers nothing for the body timeout (the
/// handler's body extraction then answers `408 request_timeout`). The slot is held until the
/// answer, so bodies read and not yet answered count too.
pub(crate) async fn gate(
    State(gate): State<Arc<BodyGate>>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let permit = if let Ok(permit) = Arc::clone(&gate.slots).try_acquire_owned() {
        if let Some(hits) = gate.at_cap.clear() {
            tracing::info!(addr = %gate.addr, waits = hits, "request body cap no longer reached");
        }
        Some(permit)
    } else {
        if gate.at_cap.hit() {
            tracing::warn!(
                addr = %gate.addr,
                max_bodies_in_flight = gate.cap,
                "request body cap reached: requests with a body wait for a slot, then answer \
                 503 (docs/reliability.md, \"Slow and abusive clients\")"
            );
        }
        tokio::time::timeout(
            SLOT_WAIT.min(gate.progress_timeout),
            Arc::clone(&gate.slots).acquire_owned(),
        )
        .await
        .ok()
        .and_then(Result::ok)
    };
    let Some(_permit) = permit else {
        let mut response = ApiError::Unavailable { retry_after_s: 1 }.into_response();
        // The body was not read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let timeout = gate.progress_timeout;
    next.run(request.map(|body| Body::new(TimeoutBody::new(timeout, body))))
        .await
}

/// Whether reading a body failed because it stopped arriving (somewhere in `error`'s sources).
pub(crate) fn timed_out(error: &(dyn StdError + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<TimeoutError>() {
            return true;
        }
        source = e.source();
    }
    false
}
