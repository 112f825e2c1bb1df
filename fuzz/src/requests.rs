//! The server's real router (`contactsync_server::fuzzing::router`: the axum routes, extractors,
//! handlers, the protocol's rules and `SqliteStorage` in a fresh directory) fed a sequence of
//! requests read from the fuzz input, in-process.
//!
//! Before the input's requests, the fuzzer sets up what a server in use holds, through the same
//! router: an open-registration client, two clients vouched for users `u_1` and `u_2`, and `u_1`
//! registered with a phone number and an e-mail address. The input's requests then pick a route
//! of docs/protocol.md (or a made-up path), a method (mostly the route's), a credential (none,
//! one of those clients, the admin token, garbage) and a body: raw bytes, or a structured body
//! with fields chosen from what the server knows (its key ids, the hashes of `u_1`'s
//! identifiers, batch ids already used, invite codes it made, private discovery's epochs, filter
//! versions and a valid group element: the mode is on) or made up.
//!
//! Checked, for every answer: never a panic; the status is never 5xx except `503`; the body is
//! JSON: an error envelope whose code belongs to the status (docs/protocol.md's table), or the
//! route's answer type; `Cache-Control: no-store` on all of them. And the protocol's
//! idempotency: a batch that was answered, sent again with the same body, gets the same bytes.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use contactsync_core::oprf::Element;
use contactsync_core::protocol::private::{
    EvaluateAnswer, FILTER_MEDIA_TYPE, FilterChanges, FilterPart, LookupAnswer,
};
use contactsync_core::protocol::wire::{
    ActivateAnswer, BatchAnswer, ChangesAnswer, ConfigAnswer, DeleteReceipt, ErrorEnvelope,
    InviteAnswer, KeyInfo, KeysAnswer, MatchAnswer, RedeemAnswer, Registered, RevokeAnswer,
    UserAnswer, UserInfo, UserListAnswer, UsersAnswer, codes,
};
use contactsync_core::{HashKey, IdentifierKind};
use contactsync_server::{LimitsConfig, RegistrationLimits, ServerConfig, SqliteStorage};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::input::{Reader, Writer};

/// The admin token of the fuzzed server.
pub const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
/// Most requests one input sends.
const MAX_REQUESTS: usize = 12;
/// A body limit small enough that the fuzzer reaches it.
const MAX_BODY: u32 = 16 * 1024;

/// `u_1`'s identifiers, canonical.
const USER_IDS: [(IdentifierKind, &str); 2] = [
    (IdentifierKind::Phone, "+491723127130"),
    (IdentifierKind::Email, "ana@example.org"),
];

/// The routes of docs/protocol.md, and a made-up path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Register,
    Vouch,
    Config,
    Batches,
    Changes,
    DeleteClient,
    CreateInvite,
    Redeem,
    RevokeInvite,
    PutUser,
    DeleteUser,
    CreateKey,
    ListKeys,
    ActivateKey,
    AdminMatch,
    Other,
    PutUsers,
    GetUser,
    ListUsers,
    RevokeClient,
    RotateAdminToken,
    PrivateEvaluate,
    PrivateLookup,
    PrivateFilter,
    PrivateFilterChanges,
}

/// The routes an input's byte picks (new routes go at the end: the seeds' bytes keep their
/// meaning).
const ROUTES: [Route; 25] = [
    Route::Register,
    Route::Vouch,
    Route::Config,
    Route::Batches,
    Route::Changes,
    Route::DeleteClient,
    Route::CreateInvite,
    Route::Redeem,
    Route::RevokeInvite,
    Route::PutUser,
    Route::DeleteUser,
    Route::CreateKey,
    Route::ListKeys,
    Route::ActivateKey,
    Route::AdminMatch,
    Route::Other,
    Route::PutUsers,
    Route::GetUser,
    Route::ListUsers,
    Route::RevokeClient,
    Route::RotateAdminToken,
    Route::PrivateEvaluate,
    Route::PrivateLookup,
    Route::PrivateFilter,
    Route::PrivateFilterChanges,
];

impl Route {
    /// The route a method on this route's path reaches: the route itself with its own method
    /// (or `HEAD` for `GET`), its sibling on the same path, or none (`404`).
    fn reached_by(self, method: &Method) -> Option<Route> {
        let siblings: &[Route] = match self {
            Route::CreateKey | Route::ListKeys => &[Route::CreateKey, Route::ListKeys],
            Route::PutUser | Route::DeleteUser | Route::GetUser => {
                &[Route::PutUser, Route::DeleteUser, Route::GetUser]
            }
            Route::PutUsers | Route::ListUsers => &[Route::PutUsers, Route::ListUsers],
            _ => &[],
        };
        std::iter::once(self)
            .chain(siblings.iter().copied())
            .find(|r| {
                *method == r.method() || (*method == Method::HEAD && r.method() == Method::GET)
            })
    }

    fn method(self) -> Method {
        match self {
            Route::Config
            | Route::Changes
            | Route::ListKeys
            | Route::GetUser
            | Route::ListUsers
            | Route::PrivateFilter
            | Route::PrivateFilterChanges => Method::GET,
            Route::DeleteClient | Route::RevokeInvite | Route::DeleteUser | Route::RevokeClient => {
                Method::DELETE
            }
            Route::PutUser => Method::PUT,
            _ => Method::POST,
        }
    }
}

const OTHER_METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
];

/// What the server is known to hold, for choosing plausible fields.
#[derive(Debug, Default)]
struct Known {
    /// Tokens: the open client, `u_1`'s client, `u_2`'s client.
    tokens: Vec<String>,
    /// Key ids, the current one first.
    key_ids: Vec<String>,
    /// Hashes of `u_1`'s identifiers under each known key, and of nobody's.
    hashes: Vec<String>,
    /// Batch ids used so far.
    batch_ids: Vec<String>,
    /// Invite codes the server made.
    invites: Vec<String>,
    /// Cursors the server gave.
    cursors: Vec<String>,
    /// Batches answered: the request body and the answer.
    answered: Vec<(Vec<u8>, String, Vec<u8>)>,
    /// Private discovery's epochs, the current one first.
    epochs: Vec<u32>,
    /// A valid group element (the current public key), base64url.
    element: String,
    /// Filter versions the server advertised.
    versions: Vec<u64>,
}

impl Known {
    fn pick<'s>(list: &'s [String], sel: u8, fallback: &'s str) -> &'s str {
        if list.is_empty() {
            fallback
        } else {
            &list[usize::from(sel) % list.len()]
        }
    }

    fn hash(&self, r: &mut Reader<'_>) -> String {
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
    fn epoch(&self, r: &mut Reader<'_>) -> u32 {
        let sel = r.byte();
        match self.epochs.get(usize::from(sel) % self.epochs.len().max(1)) {
            Some(epoch) if sel < 0xf0 => *epoch,
            _ => r.u32(),
        }
    }

    /// A filter version: an advertised one, mostly, or any number.
    fn version(&self, r: &mut Reader<'_>) -> u64 {
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
    fn private_body(&self, r: &mut Reader<'_>, field: &str, len: usize) -> Value {
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

    fn key_id(&self, r: &mut Reader<'_>) -> String {
        let sel = r.byte();
        if sel < 0xf0 {
            Known::pick(&self.key_ids, sel, "k").to_owned()
        } else {
            r.text()
        }
    }
}

/// The fuzzed server: its router, and what it is known to hold.
struct Server {
    router: Router,
    known: Known,
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
struct Answer {
    status: StatusCode,
    cache_control: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn send(router: &Router, request: Request<Body>) -> Answer {
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
fn request(
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
    fn start(dir: &std::path::Path) -> Server {
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
    fn learn_key(&mut self) {
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

/// Builds one request from the input.
fn build(
    r: &mut Reader<'_>,
    known: &mut Known,
) -> (Route, Method, Option<String>, String, Vec<u8>) {
    let route = ROUTES[r.choose(ROUTES.len())];
    let m = r.byte();
    let method = if m < 0xc0 {
        route.method()
    } else {
        OTHER_METHODS[usize::from(m) % OTHER_METHODS.len()].clone()
    };
    let token = match r.byte() % 8 {
        0 => None,
        1..=3 => Some(Known::pick(&known.tokens, r.byte(), "").to_owned()),
        4 | 5 => Some(ADMIN_TOKEN.to_owned()),
        6 => Some(r.text()),
        _ => Some(format!("t_{}", "A".repeat(43))),
    };
    let param = |r: &mut Reader<'_>, list: &[String], fallback: &str| {
        let sel = r.byte();
        let text = if sel < 0xe0 {
            Known::pick(list, sel, fallback).to_owned()
        } else {
            r.text()
        };
        url_path_segment(&text)
    };
    let path = match route {
        Route::Register => "/v1/clients".to_owned(),
        Route::Vouch => "/v1/admin/clients".to_owned(),
        Route::Config => "/v1/config".to_owned(),
        Route::Batches => "/v1/batches".to_owned(),
        Route::Changes => match r.byte() % 4 {
            0 => "/v1/changes".to_owned(),
            1 | 2 => format!(
                "/v1/changes?since={}&limit={}",
                Known::pick(&known.cursors, r.byte(), "0"),
                r.u16()
            ),
            _ => format!("/v1/changes?{}", url_query(&r.text())),
        },
        Route::DeleteClient => "/v1/client".to_owned(),
        Route::CreateInvite => "/v1/invites".to_owned(),
        Route::Redeem => "/v1/invites/redeem".to_owned(),
        Route::RevokeInvite => format!("/v1/invites/{}", param(r, &known.invites, "7K3M9QX2R4")),
        Route::PutUsers => "/v1/admin/users".to_owned(),
        Route::ListUsers => match r.byte() % 3 {
            0 => "/v1/admin/users".to_owned(),
            1 => format!("/v1/admin/users?after=u_1&limit={}", r.u16()),
            _ => format!("/v1/admin/users?{}", url_query(&r.text())),
        },
        Route::RevokeClient => format!("/v1/admin/clients/{}", param(r, &[], "c_1")),
        Route::RotateAdminToken => "/v1/admin/token".to_owned(),
        Route::PutUser | Route::DeleteUser | Route::GetUser => {
            let users = ["u_1".to_owned(), "u_2".to_owned(), "u_3".to_owned()];
            format!("/v1/admin/users/{}", param(r, &users, "u_1"))
        }
        Route::CreateKey | Route::ListKeys => "/v1/admin/keys".to_owned(),
        Route::ActivateKey => format!("/v1/admin/keys/{}/activate", param(r, &known.key_ids, "k")),
        Route::AdminMatch => "/v1/admin/match".to_owned(),
        Route::Other => format!("/{}", url_query(&r.text())),
        Route::PrivateEvaluate => "/v1/private/evaluate".to_owned(),
        Route::PrivateLookup => "/v1/private/lookup".to_owned(),
        Route::PrivateFilter => match r.byte() % 4 {
            0 | 1 => format!("/v1/private/filter?epoch={}&part=0", known.epoch(r)),
            2 => format!(
                "/v1/private/filter?epoch={}&part={}&version={}",
                known.epoch(r),
                r.byte() % 3,
                known.version(r)
            ),
            _ => format!("/v1/private/filter?{}", url_query(&r.text())),
        },
        Route::PrivateFilterChanges => match r.byte() % 3 {
            0 | 1 => format!(
                "/v1/private/filter/changes?epoch={}&since={}",
                known.epoch(r),
                known.version(r)
            ),
            _ => format!("/v1/private/filter/changes?{}", url_query(&r.text())),
        },
    };
    let body = body(r, known);
    (route, method, token, path, body)
}

/// A body: raw bytes, or one of the protocol's request bodies with chosen fields.
fn body(r: &mut Reader<'_>, known: &mut Known) -> Vec<u8> {
    let value = match r.byte() % 9 {
        0 => return r.blob().to_vec(),
        1 => return Vec::new(),
        2 => {
            let sel = r.byte();
            let batch_id = if sel < 0xc0 && !known.batch_ids.is_empty() {
                Known::pick(&known.batch_ids, sel, "").to_owned()
            } else if sel < 0xf0 {
                let id = format!("b_{}", known.batch_ids.len());
                known.batch_ids.push(id.clone());
                id
            } else {
                r.text()
            };
            let key_id = known.key_id(r);
            let mode = match r.byte() % 4 {
                0 | 1 => json!("delta"),
                2 => json!("full"),
                _ => json!(r.text()),
            };
            let add: Vec<String> = (0..r.byte() % 10).map(|_| known.hash(r)).collect();
            let remove: Vec<String> = (0..r.byte() % 4).map(|_| known.hash(r)).collect();
            let mut v = json!({"batch_id": batch_id, "key_id": key_id, "mode": mode, "add": add, "remove": remove});
            if r.byte() == 0xff {
                v["extra"] = json!(1);
            }
            v
        }
        3 => {
            let identifiers: Vec<Value> = (0..r.byte() % 10)
                .map(|_| {
                    let kind =
                        ["phone", "email", "handle", "account", "invite", "fax"][r.choose(6)];
                    let value = match r.byte() % 6 {
                        0 => "+491723127130".to_owned(),
                        1 => "ana@example.org".to_owned(),
                        2 => "google:1078543".to_owned(),
                        3 => "0172 3127130".to_owned(),
                        4 => Known::pick(&known.invites, r.byte(), "7K3M9QX2R4").to_owned(),
                        _ => r.text(),
                    };
                    json!({"kind": kind, "value": value})
                })
                .collect();
            match r.byte() % 3 {
                0 => json!({"discoverable": true, "identifiers": identifiers}),
                1 => json!({"discoverable": false, "identifiers": identifiers}),
                _ => json!({"identifiers": identifiers}),
            }
        }
        4 => {
            let user = match r.byte() % 3 {
                0 => "u_1".to_owned(),
                1 => "u_9".to_owned(),
                _ => r.text(),
            };
            json!({ "user_ref": user })
        }
        5 => {
            let key_id = known.key_id(r);
            let hashes: Vec<String> = (0..r.byte() % 10).map(|_| known.hash(r)).collect();
            json!({"key_id": key_id, "hashes": hashes})
        }
        6 => match r.byte() % 3 {
            0 => json!({}),
            1 => json!({"ttl_s": r.u32()}),
            _ => json!({"ttl_s": -1}),
        },
        7 => {
            let sel = r.byte();
            let code = if sel < 0xe0 {
                Known::pick(&known.invites, sel, "7K3M9QX2R4").to_owned()
            } else {
                r.text()
            };
            json!({ "code": code })
        }
        _ => match r.byte() % 4 {
            // `POST /v1/admin/users`: a few users, each with a user body's identifiers.
            0 => {
                let users: Vec<Value> = (0..r.byte() % 4)
                    .map(|i| {
                        let user_ref = if r.byte() < 0xe0 {
                            format!("u_{}", i + 1)
                        } else {
                            r.text()
                        };
                        let identifiers = match r.byte() % 3 {
                            0 => json!([{"kind": "phone", "value": "+491723127130"}]),
                            1 => json!([{"kind": "email", "value": "ana@example.org"}]),
                            _ => json!([{"kind": "handle", "value": r.text()}]),
                        };
                        json!({"user_ref": user_ref, "identifiers": identifiers})
                    })
                    .collect();
                json!({ "users": users })
            }
            // `.../activate`: forced or not.
            1 => json!({"force": r.byte().is_multiple_of(2)}),
            // Private discovery's evaluation or lookup.
            2 => {
                if r.flag() {
                    known.private_body(r, "lookups", 16)
                } else {
                    known.private_body(r, "elements", 32)
                }
            }
            _ => json!([r.u32(), r.text()]),
        },
    };
    value.to_string().into_bytes()
}

/// `text` as one path segment: characters that would change the path's shape escaped.
fn url_path_segment(text: &str) -> String {
    url_escape(text, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `text` as a query: only what a URI cannot hold escaped.
fn url_query(text: &str) -> String {
    url_escape(text, |b| {
        b.is_ascii_graphic() && !b"#%".contains(&b) || b == b'%'
    })
}

fn url_escape(text: &str, keep: impl Fn(u8) -> bool) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

/// The error codes each status may carry (docs/protocol.md's table).
fn codes_for(status: StatusCode) -> &'static [&'static str] {
    match status.as_u16() {
        400 => &[codes::MALFORMED],
        401 => &[codes::UNAUTHORIZED],
        403 => &[codes::FORBIDDEN],
        404 => &[codes::NOT_FOUND, codes::PRIVATE_DISABLED],
        408 => &[codes::REQUEST_TIMEOUT],
        409 => &[
            codes::KEY_ROTATED,
            codes::BATCH_CONFLICT,
            codes::KEY_INCOMPLETE,
            codes::SET_FULL,
            codes::EPOCH_ROTATED,
        ],
        410 => &[codes::FILTER_STALE],
        413 => &[codes::TOO_LARGE],
        429 => &[codes::TOO_MANY_REQUESTS],
        503 => &[codes::UNAVAILABLE],
        _ => &[],
    }
}

fn parses<T: DeserializeOwned>(body: &[u8]) -> bool {
    serde_json::from_slice::<T>(body).is_ok()
}

/// Checks one answer; returns it.
fn check_answer(route: Route, method: &Method, path: &str, answer: &Answer) {
    let what = format!("{method} {path} → {}", answer.status);
    let status = answer.status;
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "{what}: a server error: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.cache_control.as_deref(),
        Some("no-store"),
        "{what}: cacheable"
    );
    if *method == Method::HEAD && answer.body.is_empty() {
        return;
    }
    if status.is_success() && route.reached_by(method) == Some(Route::PrivateFilter) {
        assert_eq!(
            answer.content_type.as_deref(),
            Some(FILTER_MEDIA_TYPE),
            "{what}: not a filter part"
        );
        assert!(
            FilterPart::from_bytes(&answer.body).is_ok(),
            "{what}: not a filter part"
        );
        return;
    }
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "{what}: not JSON"
    );
    if !status.is_success() {
        let envelope: ErrorEnvelope = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
            panic!(
                "{what}: not an error envelope ({e}): {}",
                String::from_utf8_lossy(&answer.body)
            )
        });
        assert!(
            codes_for(status).contains(&envelope.error.code.as_str()),
            "{what}: code {:?} does not belong to the status",
            envelope.error.code
        );
        return;
    }
    if route == Route::Other {
        // A made-up path may spell a real one: any JSON answer will do.
        assert!(parses::<Value>(&answer.body), "{what}: not JSON");
        return;
    }
    let Some(reached) = route.reached_by(method) else {
        panic!("{what}: a success for a method the route does not have");
    };
    let typed = match reached {
        Route::Register | Route::Vouch => parses::<Registered>(&answer.body),
        Route::Config => parses::<ConfigAnswer>(&answer.body),
        Route::Batches => parses::<BatchAnswer>(&answer.body),
        Route::Changes => parses::<ChangesAnswer>(&answer.body),
        Route::DeleteClient | Route::RevokeClient => parses::<DeleteReceipt>(&answer.body),
        Route::CreateInvite => parses::<InviteAnswer>(&answer.body),
        Route::Redeem => parses::<RedeemAnswer>(&answer.body),
        Route::RevokeInvite => parses::<RevokeAnswer>(&answer.body),
        Route::PutUser | Route::DeleteUser => parses::<UserAnswer>(&answer.body),
        Route::PutUsers => parses::<UsersAnswer>(&answer.body),
        Route::GetUser => parses::<UserInfo>(&answer.body),
        Route::ListUsers => parses::<UserListAnswer>(&answer.body),
        Route::RotateAdminToken => serde_json::from_slice::<Value>(&answer.body)
            .is_ok_and(|v| v["admin_token"].is_string()),
        Route::CreateKey => parses::<KeyInfo>(&answer.body),
        Route::ActivateKey => parses::<ActivateAnswer>(&answer.body),
        Route::ListKeys => parses::<KeysAnswer>(&answer.body),
        Route::AdminMatch => parses::<MatchAnswer>(&answer.body),
        Route::PrivateEvaluate => parses::<EvaluateAnswer>(&answer.body),
        Route::PrivateLookup => parses::<LookupAnswer>(&answer.body),
        Route::PrivateFilterChanges => parses::<FilterChanges>(&answer.body),
        Route::Other | Route::PrivateFilter => false,
    };
    assert!(
        typed,
        "{what}: not the route's answer: {}",
        String::from_utf8_lossy(&answer.body)
    );
}

/// Runs one input against a fresh server in `dir`.
pub fn check(data: &[u8], dir: &std::path::Path) {
    let mut server = Server::start(dir);
    let mut r = Reader::new(data);
    for _ in 0..MAX_REQUESTS {
        if r.is_empty() {
            break;
        }
        let (route, method, token, path, body) = build(&mut r, &mut server.known);
        let Some(request) = request(method.clone(), &path, token.as_deref(), body.clone()) else {
            continue;
        };
        let answer = send(&server.router, request);
        if crate::debug() {
            eprintln!(
                "{method} {path} → {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(160)
                    .collect::<String>()
            );
        }
        check_answer(route, &method, &path, &answer);
        if !answer.status.is_success() {
            continue;
        }
        learn(&mut server, route, &method, token.as_deref(), body, &answer);
    }
    // Idempotency: every batch answered, sent again, is answered with the same bytes.
    let answered = std::mem::take(&mut server.known.answered);
    for (body, token, first) in answered {
        let request = request(Method::POST, "/v1/batches", Some(&token), body).expect("a request");
        let again = send(&server.router, request);
        // The client may have been deleted since, or its batch answers with it.
        if again.status == StatusCode::UNAUTHORIZED {
            continue;
        }
        assert_eq!(again.status, StatusCode::OK, "a replayed batch was refused");
        assert_eq!(again.body, first, "a replayed batch got another answer");
    }
}

/// Remembers what a successful answer tells about the server.
fn learn(
    server: &mut Server,
    route: Route,
    method: &Method,
    token: Option<&str>,
    body: Vec<u8>,
    answer: &Answer,
) {
    let Some(route) = route.reached_by(method).filter(|_| *method != Method::HEAD) else {
        return;
    };
    let known = &mut server.known;
    match route {
        Route::Register | Route::Vouch => {
            if let Ok(r) = serde_json::from_slice::<Registered>(&answer.body) {
                known.tokens.push(r.token);
            }
        }
        Route::Changes => {
            if let Ok(c) = serde_json::from_slice::<ChangesAnswer>(&answer.body) {
                known.cursors.push(c.cursor);
            }
        }
        Route::CreateInvite => {
            if let Ok(i) = serde_json::from_slice::<InviteAnswer>(&answer.body) {
                known.invites.push(i.code);
            }
        }
        Route::CreateKey => {
            if let Ok(k) = serde_json::from_slice::<KeyInfo>(&answer.body)
                && !known.key_ids.contains(&k.key_id)
            {
                known.key_ids.push(k.key_id);
            }
        }
        Route::ActivateKey => server.learn_key(),
        Route::Config => {
            if let Ok(c) = serde_json::from_slice::<ConfigAnswer>(&answer.body)
                && let Some(private) = c.private
            {
                known.versions.push(private.filter_version);
            }
        }
        Route::Batches => {
            if let Some(token) = token {
                known
                    .answered
                    .push((body, token.to_owned(), answer.body.clone()));
            }
        }
        _ => {}
    }
}

/// Seeds: the setup's flows and the protocol's examples, as request scripts.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let index = |route: Route| {
        u8::try_from(ROUTES.iter().position(|r| *r == route).unwrap_or(0)).unwrap_or(0)
    };
    let raw = |w: &mut Writer, route: Route, auth: u8, body: &str| {
        w.byte(index(route)).byte(0).byte(auth);
        if (1..=3).contains(&auth) {
            w.byte(1);
        }
        w.byte(0).blob(body.as_bytes());
    };
    let mut seeds = Vec::new();
    // Each route with the protocol's example body (auth 1: a client with a user; 4: admin).
    for (name, route, auth, body) in [
        ("register", Route::Register, 0, "{}"),
        ("vouch", Route::Vouch, 4, r#"{"user_ref": "u_1042"}"#),
        (
            "batch",
            Route::Batches,
            1,
            r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","mode":"delta","add":["Xq4"],"remove":["p9V"]}"#,
        ),
        ("invite", Route::CreateInvite, 1, r#"{"ttl_s": 604800}"#),
        ("redeem", Route::Redeem, 1, r#"{"code": "7K3M9QX2R4"}"#),
        (
            "user",
            Route::PutUser,
            4,
            r#"{"discoverable": true, "identifiers": [{"kind": "phone", "value": "+4915123456789"}, {"kind": "email", "value": "ana@example.org"}, {"kind": "account", "value": "google:1078543"}]}"#,
        ),
        (
            "match",
            Route::AdminMatch,
            4,
            r#"{"key_id": "k_2026_11", "hashes": ["Xq4"]}"#,
        ),
    ] {
        let mut w = Writer::new();
        if route == Route::PutUser {
            w.byte(index(route))
                .byte(0)
                .byte(auth)
                .byte(0)
                .byte(0)
                .blob(body.as_bytes());
        } else {
            raw(&mut w, route, auth, body);
        }
        seeds.push((format!("example_{name}"), w.finish()));
    }
    // A device's day: config, first cursor, a batch matching u_1, its replay, the changes, an
    // invite made by u_1's device and redeemed by u_2's, then consent withdrawn.
    let mut w = Writer::new();
    w.byte(index(Route::Config)).byte(0).byte(1).byte(0).byte(1);
    w.byte(index(Route::Changes))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(0)
        .byte(1);
    // `id`: 0xc0 a new batch id, 0 the first one again (a replay).
    let batch = |w: &mut Writer, who: u8, id: u8| {
        w.byte(index(Route::Batches))
            .byte(0)
            .byte(1)
            .byte(who)
            .byte(2);
        w.byte(id)
            .byte(0)
            .byte(0)
            .byte(3)
            .byte(0)
            .byte(1)
            .byte(2)
            .byte(0)
            .byte(0);
    };
    batch(&mut w, 0, 0xc0);
    batch(&mut w, 0, 0);
    w.byte(index(Route::Changes))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(1)
        .byte(0)
        .u16(1000)
        .byte(1);
    w.byte(index(Route::CreateInvite))
        .byte(0)
        .byte(1)
        .byte(1)
        .byte(6)
        .byte(1)
        .u32(3600);
    w.byte(index(Route::Redeem))
        .byte(0)
        .byte(1)
        .byte(2)
        .byte(7)
        .byte(0);
    w.byte(index(Route::DeleteClient))
        .byte(0)
        .byte(1)
        .byte(0)
        .byte(1);
    seeds.push(("device_day".to_owned(), w.finish()));
    // Key rotation: a next key, u_1 again, activation, a batch under the old key.
    let mut w = Writer::new();
    w.byte(index(Route::CreateKey)).byte(0).byte(4).byte(1);
    w.byte(index(Route::ActivateKey))
        .byte(0)
        .byte(4)
        .byte(1)
        .byte(1);
    batch(&mut w, 1, 0xc0);
    w.byte(index(Route::ListKeys)).byte(0).byte(4).byte(1);
    seeds.push(("key_rotation".to_owned(), w.finish()));
    // Private discovery: an evaluation of two known points, the filter's part 0, its changes
    // since the advertised version, a lookup of two.
    let mut w = Writer::new();
    let private = |w: &mut Writer, route: Route| {
        w.byte(index(route)).byte(0).byte(1).byte(0);
    };
    private(&mut w, Route::PrivateEvaluate);
    // Body 8, then its private arm: an evaluation (flag even), 2 elements, each the point.
    w.byte(8).byte(2).byte(0).byte(2).byte(0).byte(0).byte(0);
    private(&mut w, Route::PrivateFilter);
    w.byte(0).byte(0).byte(1);
    private(&mut w, Route::PrivateFilterChanges);
    w.byte(0).byte(0).byte(0).byte(1);
    private(&mut w, Route::PrivateLookup);
    w.byte(8).byte(2).byte(1).byte(2).byte(0).byte(0).byte(0);
    seeds.push(("private_discovery".to_owned(), w.finish()));
    seeds
}
