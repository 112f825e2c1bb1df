//! Support for the end-to-end tests: a plain HTTP transport to a reference server on loopback,
//! and wrappers that record, break or falsify what passes through a transport.

use std::sync::Mutex;
use std::time::Duration;

use contactsync_core::protocol::wire::{Registered, UserAnswer, UserIdentifier, UserRequest};
use contactsync_core::upload::{Method, Request, Response, Transport, TransportError, call};
use contactsync_core::{Normalizer, RawContact};

/// HTTP to a server on loopback (ureq), with an optional bearer token. The CLI has its own,
/// TLS-capable transport; this one is for tests only.
#[derive(Debug)]
pub struct Loopback {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Loopback {
    /// A transport to `base` (`http://127.0.0.1:PORT`) sending `token` as the bearer.
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Loopback {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            agent,
        }
    }
}

impl Transport for Loopback {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let http = builder
            .body(request.body)
            .map_err(|e| TransportError::new(e.to_string()))?;
        let mut answer = self
            .agent
            .run(http)
            .map_err(|e| TransportError::new(e.to_string()))?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(contactsync_core::upload::MAX_ANSWER_BYTES as u64 + 1)
            .read_to_vec()
            .map_err(|e| TransportError::new(e.to_string()))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// One exchange as a wrapper saw it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// The request body.
    pub body: Vec<u8>,
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// The answer's body.
    pub answer: Vec<u8>,
}

/// What a [`Faulty`] transport does to one request (numbered from 0).
pub type Fault = Box<dyn Fn(usize, &Request, Option<Response>) -> Outcome + Send + Sync>;

/// A fault's decision.
#[derive(Debug)]
pub enum Outcome {
    /// Do not send; fail as if the network were down.
    DropRequest,
    /// Send, then fail as if the answer was lost (the server applied it).
    DropAnswer,
    /// Answer this instead: decided before sending (called with no answer), the request is
    /// never sent, as when a proxy answers; decided after, the server has seen it.
    Replace(Response),
    /// Pass the real answer through.
    Pass,
}

/// Wraps a transport: records every exchange and lets a fault decide, per request, whether to
/// send it and what to answer.
pub struct Faulty<T> {
    inner: T,
    fault: Fault,
    seen: Mutex<Vec<Exchange>>,
}

impl<T> std::fmt::Debug for Faulty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty").finish_non_exhaustive()
    }
}

impl<T: Transport> Faulty<T> {
    /// A wrapper with a fault.
    pub fn new(inner: T, fault: Fault) -> Self {
        Faulty {
            inner,
            fault,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// A wrapper that only records.
    pub fn recording(inner: T) -> Self {
        Faulty::new(inner, Box::new(|_, _, _| Outcome::Pass))
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl<T: Transport> Transport for Faulty<T> {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = seen.len();
        let mut exchange = Exchange {
            method: request.method,
            path: request.path.clone(),
            body: request.body.clone(),
            status: None,
            answer: Vec::new(),
        };
        let result = match (self.fault)(n, &request, None) {
            Outcome::DropRequest => Err(TransportError::new("injected: network down")),
            // Answered in front of the server (a proxy): the server never sees the request.
            Outcome::Replace(answer) => Ok(answer),
            Outcome::DropAnswer | Outcome::Pass => match self.inner.send(request.clone()) {
                Err(e) => Err(e),
                Ok(response) => match (self.fault)(n, &request, Some(response.clone())) {
                    Outcome::DropAnswer | Outcome::DropRequest => {
                        Err(TransportError::new("injected: answer lost"))
                    }
                    Outcome::Replace(other) => Ok(other),
                    Outcome::Pass => Ok(response),
                },
            },
        };
        if let Ok(r) = &result {
            exchange.status = Some(r.status);
            exchange.answer.clone_from(&r.body);
        }
        seen.push(exchange);
        result
    }
}

/// Registers a device through open registration (`POST /v1/clients`).
pub fn register_open(base: &str) -> Result<Registered, contactsync_core::Error> {
    call(
        &Loopback::new(base, None),
        Method::Post,
        "/v1/clients",
        Some(&serde_json::json!({})),
    )
}

/// Registers, for each numbered contact, its first identifier that normalises as the
/// discoverable user `u_<number>` (a contact with none is skipped); returns how many users.
pub fn register_first_identifiers(
    admin: &dyn Transport,
    contacts: impl IntoIterator<Item = (usize, RawContact)>,
    normalizer: &Normalizer,
) -> Result<usize, contactsync_core::Error> {
    let mut users = 0;
    for (i, contact) in contacts {
        let Some(id) = contact
            .values
            .iter()
            .find_map(|v| normalizer.normalize(v.kind, &v.value).ok())
        else {
            continue;
        };
        put_user(
            admin,
            &format!("u_{i}"),
            true,
            &[(id.kind().as_str(), id.canonical())],
        )?;
        users += 1;
    }
    Ok(users)
}

/// Registers (or replaces) a user's identifiers through the admin API, each as (kind, canonical
/// value).
pub fn put_user(
    admin: &dyn Transport,
    user_ref: &str,
    discoverable: bool,
    ids: &[(&str, &str)],
) -> Result<UserAnswer, contactsync_core::Error> {
    let request = UserRequest {
        discoverable,
        identifiers: ids
            .iter()
            .map(|(kind, value)| UserIdentifier {
                kind: (*kind).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
    };
    call(
        admin,
        Method::Put,
        &format!("/v1/admin/users/{user_ref}"),
        Some(&request),
    )
}
