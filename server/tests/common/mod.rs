//! Helpers of the server's integration tests: a real server on loopback on either backend, a
//! small blocking client, hashes as a device makes them, and a look into the database.

#![allow(dead_code, reason = "not every test binary uses every helper")]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use contactsync_core::{Digest, HashKey, IdentifierKind};
use contactsync_server::{
    Clock, Database, LimitsConfig, RegistrationLimits, RunningServer, ServerConfig,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub const ADMIN: &str = "admin-token-of-the-tests-0123456789";

#[macro_use]
mod backend;
pub mod postgres;
pub mod private;

pub use backend::{Backend, Cell, Db, TestDb};

/// A server on a fresh database of its own (dropped after the server).
pub struct TestServer {
    pub server: RunningServer,
    pub api: Api,
    pub db: TestDb,
}

/// A server's configuration for the tests: open registration, without the per-address limits
/// (every test client comes from 127.0.0.1); `tests/registration.rs` tests those.
pub fn config(db: impl Into<Database>) -> ServerConfig {
    let mut config = ServerConfig::new(db, SocketAddr::from(([127, 0, 0, 1], 0)), ADMIN);
    config.open_registration = true;
    config.registration = RegistrationLimits::unlimited();
    config
}

impl TestServer {
    /// On `SQLite`.
    pub fn new() -> Self {
        Self::on(Backend::Sqlite)
    }

    /// On `SQLite`, with these limits.
    pub fn with_limits(limits: LimitsConfig) -> Self {
        Self::with(|c| c.limits = limits)
    }

    /// On `SQLite`, configured by `adjust`.
    pub fn with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::with_on(Backend::Sqlite, adjust)
    }

    pub fn on(backend: Backend) -> Self {
        Self::with_on(backend, |_| {})
    }

    pub fn with_limits_on(backend: Backend, limits: LimitsConfig) -> Self {
        Self::with_on(backend, |c| c.limits = limits)
    }

    pub fn with_on(backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let db = TestDb::new(backend);
        let mut config = config(&db);
        adjust(&mut config);
        let server = contactsync_server::start(config).unwrap();
        let api = Api::new(&server.url());
        TestServer { server, api, db }
    }
}

/// A clock the test moves by hand, from `start` (Unix seconds).
pub fn manual(start: i64) -> (Arc<AtomicI64>, Clock) {
    let now = Arc::new(AtomicI64::new(start));
    let read = Arc::clone(&now);
    (now, Clock::from_fn(move || read.load(Ordering::SeqCst)))
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: not JSON ({e}): {:?}", self.status, self.text()))
    }

    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: {e}: {}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code, checking the envelope's shape on the way.
    pub fn code(&self) -> String {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{}",
            self.text()
        );
        let v = self.json();
        let error = v.get("error").unwrap_or_else(|| panic!("no envelope: {v}"));
        assert!(error["message"].is_string(), "{v}");
        error["code"].as_str().unwrap().to_owned()
    }

    /// Asserts status and error code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.code(), code, "{}", self.text());
        self.json()["error"].clone()
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        self.json()
    }
}

/// An answer as the tests read it.
fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (retry_after, content_type, cache_control) = (
        header("retry-after"),
        header("content-type"),
        header("cache-control"),
    );
    Reply {
        status: response.status().as_u16(),
        body: response.body_mut().read_to_vec().unwrap(),
        retry_after,
        content_type,
        cache_control,
    }
}

/// A blocking client of one server.
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: &str) -> Self {
        // No pooled connections: every request on a fresh one, so a test never depends on a
        // connection the previous request left behind (keeping a connection alive is checked
        // on purpose, on a raw socket, in `a_body_the_handler_ignores_is_read_and_the_...`).
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        Api {
            base: base.to_owned(),
            agent,
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let result = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", None) => {
                let mut r = self.agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", Some(b)) => {
                let mut r = self.agent.delete(&url).force_send_body();
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.content_type("application/json").send(b)
            }
            (m, b) => {
                let mut r = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => panic!("method {m}"),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.content_type("application/json").send(b.unwrap_or(&[]))
            }
        };
        reply(result.unwrap_or_else(|e| panic!("{method} {path}: {e}")))
    }

    /// A `GET` (no body) or `POST` with the given `Content-Type` and `Accept` headers (each
    /// left out when `None`).
    pub fn send_as(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Option<&[u8]>,
    ) -> Reply {
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in [
            ("Authorization", token.map(|t| format!("Bearer {t}"))),
            ("Content-Type", content_type.map(str::to_owned)),
            ("Accept", accept.map(str::to_owned)),
        ] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        let request = request.body(body.unwrap_or_default().to_vec()).unwrap();
        reply(
            self.agent
                .run(request)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}")),
        )
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            Some(&serde_json::to_vec(body).unwrap()),
        )
    }

    pub fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send("PUT", path, token, Some(&serde_json::to_vec(body).unwrap()))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, token, None)
    }

    // --- the protocol's steps ---

    /// An openly registered device: (client id, token).
    pub fn register(&self) -> (String, String) {
        let v = self.post("/v1/clients", None, &json!({})).expect(201);
        (
            v["client_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    /// A device the backend vouches for: (client id, token).
    pub fn vouch(&self, user_ref: &str) -> (String, String) {
        let v = self
            .post(
                "/v1/admin/clients",
                Some(ADMIN),
                &json!({"user_ref": user_ref}),
            )
            .expect(201);
        assert_eq!(v["user_ref"], user_ref);
        (
            v["client_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    /// The current key, as a device gets it.
    pub fn key(&self, token: &str) -> HashKey {
        let v = self.get("/v1/config", Some(token)).expect(200);
        HashKey::from_base64(v["key_id"].as_str().unwrap(), v["key"].as_str().unwrap()).unwrap()
    }

    pub fn batch(&self, token: &str, body: &Value) -> Reply {
        self.post("/v1/batches", Some(token), body)
    }

    pub fn put_user(&self, user_ref: &str, identifiers: &[(&str, &str)], discoverable: bool) {
        let identifiers: Vec<Value> = identifiers
            .iter()
            .map(|(kind, value)| json!({"kind": kind, "value": value}))
            .collect();
        let v = self
            .put(
                &format!("/v1/admin/users/{user_ref}"),
                Some(ADMIN),
                &json!({"discoverable": discoverable, "identifiers": identifiers}),
            )
            .expect(200);
        assert_eq!(v["identifiers"], identifiers.len());
    }

    /// Where the client's feed begins (a call without `since`: its registration).
    pub fn first_cursor(&self, token: &str) -> String {
        let v = self.get("/v1/changes", Some(token)).expect(200);
        assert_eq!(v["gained"], json!([]));
        assert_eq!(v["lost"], json!([]));
        assert_eq!(v["more"], false);
        v["cursor"].as_str().unwrap().to_owned()
    }

    /// The head cursor: the feed followed from its first cursor to the end (the changes on the
    /// way are skipped).
    pub fn cursor(&self, token: &str) -> String {
        let mut cursor = self.first_cursor(token);
        loop {
            let v = self
                .get(&format!("/v1/changes?since={cursor}"), Some(token))
                .expect(200);
            v["cursor"].as_str().unwrap().clone_into(&mut cursor);
            if v["more"] == false {
                return cursor;
            }
        }
    }
}

/// A made-up hash, distinct per `n` and `tag`.
pub fn fake(tag: u8, n: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[0] = tag;
    bytes[1..9].copy_from_slice(&n.to_be_bytes());
    Digest(bytes).to_base64url()
}

pub fn fakes(tag: u8, range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|n| fake(tag, n)).collect()
}

/// The hash a device makes of a canonical identifier.
pub fn hash(key: &HashKey, kind: IdentifierKind, canonical: &str) -> String {
    key.hash_parts(kind, canonical).to_base64url()
}

pub fn delta(batch_id: &str, key: &HashKey, add: &[String], remove: &[String]) -> Value {
    json!({"batch_id": batch_id, "key_id": key.id(), "mode": "delta", "add": add, "remove": remove})
}

pub fn full(batch_id: &str, key: &HashKey, add: &[String]) -> Value {
    json!({"batch_id": batch_id, "key_id": key.id(), "mode": "full", "add": add, "remove": []})
}

/// The `(hash, user_ref)` pairs of a `matches` or `gained` list, sorted.
pub fn pairs(list: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["hash"].as_str().unwrap().to_owned(),
                m["user_ref"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The test's own connection to a server's database.
pub fn open_db(db: &TestDb) -> Db {
    db.open()
}

/// Opens an `SQLite` database beside the running server (WAL: no interference).
pub fn open_sqlite(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn
}

/// Every table's rows as text, for "nothing changed" comparisons; `skip` names columns to leave
/// out (`table.column`).
pub fn dump(db: &Db, skip: &[&str]) -> String {
    db.dump(skip)
}

pub fn tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every cell of every table, as (table, column, value).
pub fn cells(db: &Db) -> Vec<(String, String, Cell)> {
    db.cells()
}

pub fn count(db: &Db, sql: &str) -> i64 {
    db.count(sql)
}

/// Reads one answer (head and `Content-Length` bytes) from a kept-alive connection.
pub fn read_answer(s: &mut std::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = std::io::Read::read(s, &mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

pub mod logs;
