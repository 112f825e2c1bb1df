//! What the app implements: its HTTP client ([`Transport`]) and a progress/cancel listener
//! ([`ProgressListener`]). Both are foreign traits; the adapters here turn them into the core's
//! traits, deciding what a failing callback means (it must never panic or abort the work unsafely).

use std::sync::Arc;

use contactsync_core as core;
use contactsync_core::upload::{Request, Response, TransportError};

use crate::error::{ContactsyncError, Result};
use crate::types::Progress;

/// The core's HTTP method, which apps see as `HttpMethod` (it derives its UniFFI conversions).
pub use contactsync_core::upload::Method as HttpMethod;

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A request for the app's transport to send.
///
/// Hand-written: headers are records for apps, where the core's request holds them as tuples,
/// which UniFFI cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// Path and query, starting with `/v1/`: resolve it against the server's base URL.
    pub path: String,
    /// Headers to send (`Content-Type` when there is a body); the transport adds
    /// `Authorization: Bearer <token>` itself.
    pub headers: Vec<HttpHeader>,
    /// The body; empty for `GET` and `DELETE`.
    pub body: Vec<u8>,
}

/// The answer, whatever its status: a 4xx or 5xx is an answer too, never an error.
///
/// Hand-written: headers are records for apps, where the core's answer holds them as tuples,
/// which UniFFI cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (`Retry-After` matters).
    pub headers: Vec<HttpHeader>,
    /// The body; stop reading past 4 MiB (the engine refuses longer ones anyway).
    pub body: Vec<u8>,
}

/// The app's HTTP client: sends one request to the discovery server and returns its answer.
///
/// Throw `ContactsyncError.Network` when no answer came (no network, DNS, TLS, timeout); the
/// sync retries with backoff. Any other exception is treated the same way and its description
/// kept for the final error. Called on the thread running the sync, never the caller's UI thread
/// when the idiomatic Kotlin/Swift layers are used.
#[uniffi::export(foreign)]
pub trait Transport: Send + Sync {
    /// Sends `request`; returns the answer whatever its status.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ContactsyncError>;
}

/// Receives progress of long operations and can cancel them.
///
/// Called on the thread doing the work, every few hundred items: keep it cheap. An exception
/// thrown from `on_progress` is ignored; one thrown from `is_cancelled` cancels the operation
/// (work already committed stays, consistent).
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    /// Progress so far.
    fn on_progress(&self, progress: Progress) -> Result<(), ContactsyncError>;
    /// Polled between items; `true` stops the operation with `ContactsyncError.Cancelled`.
    fn is_cancelled(&self) -> Result<bool, ContactsyncError>;
}

/// The app's hook for a `401 unauthorized` from the discovery server (its token was revoked or
/// forgotten): register the device again and store the new token where the transport reads it.
///
/// Every call that sends the device's credentials takes one (`sync`, `forget`, `create_invite`,
/// `redeem_invite`) and calls it at most once, on the first 401, then sends the call again under
/// the new registration (the next sync sends everything in full). Throwing (any exception) ends
/// the call with the 401's `ContactsyncError.Server`, the hook's error described in its message,
/// as a second 401 does. It runs inside the call: calling the engine's `sync`, `reset_sync` or
/// `forget` from it would wait forever (the engine resets itself).
#[uniffi::export(foreign)]
pub trait Reregister: Send + Sync {
    /// Registers again; returns once the transport sends the new token.
    fn reregister(&self) -> Result<(), ContactsyncError>;
}

/// The app's hook as the core's.
pub(crate) struct CoreReregister(pub(crate) Arc<dyn Reregister>);

impl CoreReregister {
    /// The optional hook as the core's engine methods take it.
    pub(crate) fn as_core(hook: Option<&Self>) -> Option<&dyn core::Reregister> {
        hook.map(|h| h as &dyn core::Reregister)
    }
}

impl core::Reregister for CoreReregister {
    fn reregister(&self) -> std::result::Result<(), String> {
        self.0.reregister().map_err(|e| e.to_string())
    }
}

/// The app's transport as the core's.
pub(crate) struct CoreTransport(pub(crate) Arc<dyn Transport>);

impl core::Transport for CoreTransport {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let request = HttpRequest {
            method: request.method,
            path: request.path,
            headers: request
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            body: request.body,
        };
        match self.0.send(request) {
            Ok(answer) => Ok(Response {
                status: answer.status,
                headers: answer
                    .headers
                    .into_iter()
                    .map(|h| (h.name, h.value))
                    .collect(),
                body: answer.body,
            }),
            Err(ContactsyncError::Network { detail }) => Err(TransportError { message: detail }),
            Err(other) => Err(TransportError {
                message: format!("the app's transport failed: {other}"),
            }),
        }
    }
}

/// The app's listener (or none) as the core's.
pub(crate) struct CoreListener(pub(crate) Option<Arc<dyn ProgressListener>>);

impl core::ProgressListener for CoreListener {
    fn on_progress(&self, progress: core::Progress) {
        if let Some(l) = &self.0 {
            // A listener that fails to show progress must not stop the work.
            let _ = l.on_progress(progress);
        }
    }

    fn is_cancelled(&self) -> bool {
        // A listener that cannot answer is taken to mean "stop": the safe side for work the app
        // can no longer follow.
        self.0
            .as_ref()
            .is_some_and(|l| l.is_cancelled().unwrap_or(true))
    }
}

impl std::fmt::Debug for CoreTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreTransport")
    }
}

impl std::fmt::Debug for CoreListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreListener")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use contactsync_core::{ProgressListener as _, Transport as _};

    use super::*;

    /// A transport answering from a script, recording what it was asked.
    pub(crate) struct Scripted {
        answer: Mutex<Option<Result<HttpResponse>>>,
        pub(crate) seen: Mutex<Vec<HttpRequest>>,
    }

    impl Transport for Scripted {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(request);
            self.answer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or(Err(ContactsyncError::Network {
                    detail: "no more answers".into(),
                }))
        }
    }

    use std::sync::PoisonError;

    /// A transport giving `answer` to its first request, and a network failure to the others.
    pub(crate) fn scripted(answer: Result<HttpResponse>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answer: Mutex::new(Some(answer)),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn request() -> Request {
        Request {
            method: HttpMethod::Post,
            path: "/v1/batches".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn requests_and_answers_cross_unchanged() {
        let t = scripted(Ok(HttpResponse {
            status: 429,
            headers: vec![HttpHeader {
                name: "Retry-After".into(),
                value: "7".into(),
            }],
            body: b"{\"error\":{}}".to_vec(),
        }));
        let answer = CoreTransport(t.clone()).send(request()).expect("an answer");
        assert_eq!(answer.status, 429);
        assert_eq!(answer.header("retry-after"), Some("7"));
        assert_eq!(answer.body, b"{\"error\":{}}");
        let seen = t.seen.lock().expect("lock");
        assert_eq!(seen[0].method, HttpMethod::Post);
        assert_eq!(seen[0].path, "/v1/batches");
        assert_eq!(seen[0].headers[0].name, "Content-Type");
        assert_eq!(seen[0].body, b"{}");
    }

    #[test]
    fn a_failing_transport_is_a_transport_error_whatever_it_threw() {
        let network = CoreTransport(scripted(Err(ContactsyncError::Network {
            detail: "timeout".into(),
        })))
        .send(request())
        .expect_err("fails");
        assert_eq!(network.message, "timeout");
        let unexpected = CoreTransport(scripted(Err(ContactsyncError::Callback {
            detail: "java.lang.IllegalStateException: bug".into(),
        })))
        .send(request())
        .expect_err("fails");
        assert!(
            unexpected.message.contains("IllegalStateException"),
            "{}",
            unexpected.message
        );
    }

    struct Listener {
        progress: Result<()>,
        cancelled: Result<bool>,
    }

    impl ProgressListener for Listener {
        fn on_progress(&self, _: Progress) -> Result<()> {
            self.progress.clone()
        }
        fn is_cancelled(&self) -> Result<bool> {
            self.cancelled.clone()
        }
    }

    #[test]
    fn a_listener_that_throws_cancels_and_one_that_fails_progress_does_not() {
        let boom = || ContactsyncError::Callback {
            detail: "boom".into(),
        };
        let progress = core::Progress {
            stage: core::Stage::Import,
            done: 1,
            total: None,
        };
        let failing_progress = CoreListener(Some(Arc::new(Listener {
            progress: Err(boom()),
            cancelled: Ok(false),
        })));
        failing_progress.on_progress(progress);
        assert!(!failing_progress.is_cancelled());
        let failing_poll = CoreListener(Some(Arc::new(Listener {
            progress: Ok(()),
            cancelled: Err(boom()),
        })));
        assert!(failing_poll.is_cancelled());
        assert!(!CoreListener(None).is_cancelled());
    }
}
