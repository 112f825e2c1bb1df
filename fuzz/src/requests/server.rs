//! The fuzzed server in-process: its router on a fresh `SqliteStorage`, the set-up a server in use
//! holds, and what it is known to hold (for plausible fields).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use contactsync_core::oprf::Element;
use contactsync_core::protocol::wire::{ConfigAnswer, Registered, UserAnswer};
use contactsync_core::{HashKey, IdentifierKind};
use contactsync_server::{LimitsConfig, RegistrationLimits, ServerConfig, SqliteStorage};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::input::Reader;

use super::{ADMIN_TOKEN, MAX_BODY, USER_IDS};

/// What the server is known to hold, for choosing plausible fields.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// Tokens: the open client, `u_1`'s client, `u_2`'s client.
    pub(super) tokens: Vec<String>,
    /// Key ids, the current one first.
    pub(super) key_ids: Vec<String>,
    /// Hashes of `u_1`'s identifiers under each known key, and of nobody's.
    pub(super) hashes: Vec<String>,
    /// Batch ids used so far.
    pub(super) batch_ids: Vec<String>,
    /// Invite codes the server made.
    pub(super) invites: Vec<String>,
    /// Cursors the server gave.
    pub(super) cursors: Vec<String>,
    /// Batches answered: the request body and the answer.
    pub(super) answered: Vec<(Vec<u8>, String, Vec<u8>)>,
    /// Private discovery's epochs, the current one first.
    pub(super) epochs: Vec<u32>,
    /// A valid group element (the current public key), base64url.
    pub(super) element: String,
    /// Filter versions the server advertised.
    pub(super) versions: Vec<u64>,
}

impl Known {
    pub(super) fn pick<'s>(list: &'s [String], sel: u8, fallback: &'s str) -> &'s str {
        if list.is_empty() {
            fallback
        } else {
            &list[usize::from(sel) % list.len()]
        }
    }

    pub(super) fn hash(&self, r: &mut Reader<'_>) -> String {
        let sel = r.byte();
        match sel {
            0..=0xef => Known::pick(&self.hashes, sel, "").to_owned(),
            0xf0..=0xf7 => r.text(),
            // Well-formed base64url of 32 bytes, or not quite.
            0xf8..=0xfb => format!(
                "{}{}",
                "A".repeat(42),
                ["A", "B", "=", "-"][usize::from(sel - 0xf8)]
            ),
            _ => "A".repeat(44),
        }
    }

    /// An epoch: a known one, mostly, or any number.
    pub(super) fn epoch(&self, r: &mut Reader<'_>) -> u32 {
        let sel = r.byte();
        match self.epochs.get(usize::from(sel) % self.epochs.len().max(1)) {
            Some(epoch) if sel < 0xf0 => *epoch,
            _ => r.u32(),
        }
    }

    /// A filter version: an advertised one, mostly, or any number.
    pub(super) fn version(&self, r: &mut Reader<'_>) -> u64 {
        let sel = r.byte();
        match self
            .versions
            .get(usize::from(sel) % self.versions.len().max(1))
        {
            Some(version) if sel < 0xf0 => *version,
            _ => u64::from(r.u32()),
        }
    }

    /// A private request's body: `field` holding `n` elements (a known point, zeros, text).
    pub(super) fn private_body(&self, r: &mut Reader<'_>, field: &str, len: usize) -> Value {
        let n = [0, 1, 2, 3, 4, 8, 9][r.choose(7)];
        let items: Vec<String> = (0..n)
            .map(|_| match r.byte() % 4 {
                0 | 1 if len == 32 => self.element.clone(),
                0 | 1 => "A".repeat(22),
                2 => "A".repeat(len * 4 / 3 + 1),
                _ => r.text(),
            })
            .collect();
        json!({"epoch": self.epoch(r), field: items})
    }

    pub(super) fn key_id(&self, r: &mut Reader<'_>) -> String {
        let sel = r.byte();
        if sel < 0xf0 {
            Known::pick(&self.key_ids, sel, "k").to_owned()
        } else {
            r.text()
        }
    }
}

/// The fuzzed server: its router, and what it is known to hold.
pub(super) struct Server {
    pub(super) router: Router,
    pub(super) known: Known,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // Timers on: the router times request bodies out (tower-http's `TimeoutBody`).
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

/// One answer, read whole.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) cache_control: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) body: Vec<u8>,
}

pub(super) fn send(router: &Router, request: Request<Body>) -> Answer {
    runtime().block_on(async {
        let response = router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let cache_control = header(header::CACHE_CONTROL);
        let content_type = header(header::CONTENT_TYPE);
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("an answer's body")
            .to_vec();
        Answer {
            status,
            cache_control,
            content_type,
            body,
        }
    })
}

/// A request, or `None` when the input made a path or a token that HTTP cannot carry (no client
/// could send it: the request would never reach the server).
pub(super) fn request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Option<Request<Body>> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        let value = HeaderValue::from_bytes(format!("Bearer {token}").as_bytes()).ok()?;
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .ok()
}

/// A setup request that must succeed.
fn must<T: DeserializeOwned>(
    router: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> T {
    let request = request(method, path, token, body.to_string().into_bytes()).expect("a request");
    let answer = send(router, request);
    assert!(
        answer.status.is_success(),
        "setup {path}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    serde_json::from_slice(&answer.body).expect("a setup answer")
}

impl Server {
    pub(super) fn start(dir: &std::path::Path) -> Server {
        let storage = SqliteStorage::open(dir.join("server.db")).expect("open the storage");
        let mut config = ServerConfig::new(
            dir.join("server.db"),
            "127.0.0.1:0".parse().expect("an address"),
            ADMIN_TOKEN,
        );
        config.public_url = Some("https://example.org".to_owned());
        // Open registration, without limits on the one (unknown) address fuzz requests come from.
        config.open_registration = true;
        config.registration = RegistrationLimits::unlimited();
        config.limits = LimitsConfig {
            max_batch: 8,
            max_body_bytes: MAX_BODY,
            daily_new_identifiers: 12,
            check_interval_s: 60,
            requests_per_minute: 30,
            max_set_size: 20,
        };
        // Private discovery on, with buckets the small limits allow, the filter rebuilt as
        // soon as the users change.
        config.private.enabled = true;
        config.private.buckets = vec![2, 4, 8];
        config.private.filter_rebuild = std::time::Duration::from_millis(1);
        let router =
            contactsync_server::fuzzing::router(&config, Arc::new(storage)).expect("the router");
        let open: Registered = must(&router, Method::POST, "/v1/clients", None, &json!({}));
        let mut tokens = vec![open.token];
        for user in ["u_1", "u_2"] {
            let vouched: Registered = must(
                &router,
                Method::POST,
                "/v1/admin/clients",
                Some(ADMIN_TOKEN),
                &json!({"user_ref": user}),
            );
            tokens.push(vouched.token);
        }
        let identifiers: Vec<Value> = USER_IDS
            .iter()
            .map(|(kind, value)| json!({"kind": kind.as_str(), "value": value}))
            .collect();
        let _: UserAnswer = must(
            &router,
            Method::PUT,
            "/v1/admin/users/u_1",
            Some(ADMIN_TOKEN),
            &json!({"discoverable": true, "identifiers": identifiers}),
        );
        let mut server = Server {
            router,
            known: Known {
                tokens,
                ..Known::default()
            },
        };
        server.learn_key();
        server
    }

    /// Reads the current key (the admin may ask) and adds its id and its hashes.
    pub(super) fn learn_key(&mut self) {
        let config: ConfigAnswer = must(
            &self.router,
            Method::GET,
            "/v1/config",
            Some(ADMIN_TOKEN),
            &json!({}),
        );
        let key = HashKey::from_base64(config.key_id.clone(), &config.key).expect("a usable key");
        if !self.known.key_ids.contains(&config.key_id) {
            self.known.key_ids.insert(0, config.key_id);
        }
        if let Some(private) = &config.private {
            if !self.known.epochs.contains(&private.epoch) {
                self.known.epochs.insert(0, private.epoch);
            }
            self.known.element = Element(private.public_key.0).to_base64url();
            self.known.versions.push(private.filter_version);
        }
        for (kind, value) in USER_IDS
            .iter()
            .chain(&[(IdentifierKind::Email, "nobody@example.org")])
        {
            self.known
                .hashes
                .push(key.hash_parts(*kind, value).to_base64url());
        }
    }
}
