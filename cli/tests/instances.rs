//! Several `contactsync serve` processes on one PostgreSQL database: one population of devices
//! driven across two instances (each request to either, devices in parallel) ends in the state a
//! single instance reaches; a replay is answered byte for byte by either instance; the rate limit
//! and the daily quota hold across instances (they live in the database).
//!
//! Needs the tests' PostgreSQL server (server/tests/common/postgres.rs): skipped visibly without
//! it, never on CI.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;
#[path = "../../server/tests/common/postgres.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{ADMIN, Server, clear_of_the_minute_edge};
use contactsync_core::{Digest, HashKey, IdentifierKind};
use serde_json::{Value, json};

const USERS: usize = 24;
const DEVICES: usize = 10;

/// A blocking client that spreads its requests over instances, one after the other.
struct Client {
    agent: ureq::Agent,
    urls: Vec<String>,
    next: std::cell::Cell<usize>,
}

impl Client {
    fn new(urls: &[String], first: usize) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            urls: urls.to_vec(),
            next: std::cell::Cell::new(first),
        }
    }

    /// The instance of the next request.
    fn url(&self) -> &str {
        let n = self.next.get();
        self.next.set(n + 1);
        &self.urls[n % self.urls.len()]
    }

    fn send(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
        let url = format!("{}{path}", self.url());
        let auth = format!("Bearer {token}");
        let mut reply = match body {
            Some(body) => {
                let request = match method {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                request
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(serde_json::to_vec(body).unwrap())
            }
            None => self.agent.get(&url).header("Authorization", &auth).call(),
        }
        .unwrap();
        let status = reply.status().as_u16();
        (status, reply.body_mut().read_to_vec().unwrap())
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = self.send(method, path, token, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn email(i: usize) -> String {
    format!("user{i}@example.org")
}

fn hash(key: &HashKey, value: &str) -> String {
    key.hash_parts(IdentifierKind::Email, value).to_base64url()
}

fn fake(device: usize, n: usize) -> String {
    let mut bytes = [0u8; contactsync_core::hash::DIGEST_LEN];
    bytes[0] = 0xfe;
    bytes[1..5].copy_from_slice(&u32::try_from(device).unwrap().to_be_bytes());
    bytes[5..13].copy_from_slice(&(n as u64).to_be_bytes());
    Digest(bytes).to_base64url()
}

fn batch(id: &str, key: &HashKey, add: &[String], remove: &[String]) -> Value {
    json!({"batch_id": id, "key_id": key.id(), "mode": "delta", "add": add, "remove": remove})
}

/// What a device sees: its hashes' users, from batch answers and then the change feed.
#[derive(Default)]
struct View {
    users: BTreeMap<String, String>,
    cursor: String,
}

impl View {
    fn apply_matches(&mut self, answer: &Value) {
        for m in answer["matches"].as_array().unwrap() {
            self.users.insert(
                m["hash"].as_str().unwrap().to_owned(),
                m["user_ref"].as_str().unwrap().to_owned(),
            );
        }
    }

    fn poll(&mut self, client: &Client, token: &str) {
        loop {
            let v = client.ok(
                "GET",
                &format!("/v1/changes?since={}", self.cursor),
                token,
                None,
            );
            self.apply_matches(&json!({"matches": v["gained"]}));
            for lost in v["lost"].as_array().unwrap() {
                self.users.remove(lost.as_str().unwrap());
            }
            v["cursor"].as_str().unwrap().clone_into(&mut self.cursor);
            if v["more"] != true {
                return;
            }
        }
    }
}

/// One device's life: register, a first sync (its users' hashes and others), a replay of it on
/// the next instance (the same bytes), a delta, and polls of its changes.
fn device(urls: &[String], d: usize) -> (String, View) {
    let client = Client::new(urls, d);
    let registered = client.ok("POST", "/v1/clients", "", Some(&json!({})));
    let token = registered["token"].as_str().unwrap().to_owned();
    let config = client.ok("GET", "/v1/config", &token, None);
    let key = HashKey::from_base64(
        config["key_id"].as_str().unwrap(),
        config["key"].as_str().unwrap(),
    )
    .unwrap();
    let mut view = View {
        cursor: client.ok("GET", "/v1/changes", &token, None)["cursor"]
            .as_str()
            .unwrap()
            .to_owned(),
        ..View::default()
    };
    let mut add: Vec<String> = (0..8)
        .map(|u| hash(&key, &email((d * 3 + u) % USERS)))
        .collect();
    add.extend((0..40).map(|n| fake(d, n)));
    let first = batch("first", &key, &add, &[]);
    let (status, answer) = client.send("POST", "/v1/batches", &token, Some(&first));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let (status, replayed) = client.send("POST", "/v1/batches", &token, Some(&first));
    assert_eq!(
        (status, &replayed),
        (200, &answer),
        "a replay on the other instance"
    );
    view.apply_matches(&serde_json::from_slice(&answer).unwrap());
    view.poll(&client, &token);
    let removed: Vec<String> = add[..2].to_vec();
    let delta = batch("delta", &key, &[fake(d, 99)], &removed);
    client.ok("POST", "/v1/batches", &token, Some(&delta));
    for r in &removed {
        view.users.remove(r);
    }
    view.poll(&client, &token);
    (token, view)
}

/// The whole population on `urls`; returns what every device sees in the end and the rows the
/// database holds.
fn population(urls: &[String], db_url: &str) -> (Vec<BTreeSet<String>>, BTreeMap<String, i64>) {
    let admin = Client::new(urls, 0);
    for u in 0..USERS {
        admin.ok(
            "PUT",
            &format!("/v1/admin/users/u_{u}"),
            ADMIN,
            Some(&json!({"discoverable": true, "identifiers": [{"kind": "email", "value": email(u)}]})),
        );
    }
    let devices: Vec<(String, View)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..DEVICES)
            .map(|d| s.spawn(move || device(urls, d)))
            .collect();
        // Meanwhile, users change: some hide, one moves its identifier to another user.
        for u in (0..USERS).step_by(5) {
            admin.ok(
                "PUT",
                &format!("/v1/admin/users/u_{u}"),
                ADMIN,
                Some(&json!({"discoverable": false, "identifiers": [{"kind": "email", "value": email(u)}]})),
            );
        }
        admin.ok(
            "PUT",
            "/v1/admin/users/u_new",
            ADMIN,
            Some(&json!({"discoverable": true, "identifiers": [{"kind": "email", "value": email(1)}]})),
        );
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let views: Vec<BTreeSet<String>> = devices
        .into_iter()
        .enumerate()
        .map(|(d, (token, mut view))| {
            view.poll(&Client::new(urls, d + 1), &token);
            view.users.into_values().collect()
        })
        .collect();
    let mut conn = db_url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    let mut rows = BTreeMap::new();
    for table in [
        "keys",
        "clients",
        "client_hashes",
        "batches",
        "usage",
        "users",
        "user_hashes",
        "changes",
    ] {
        let n: i64 = conn
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        rows.insert(table.to_owned(), n);
    }
    let used: i64 = conn
        .query_one("SELECT sum(quota_used)::bigint FROM usage", &[])
        .unwrap()
        .get(0);
    rows.insert("quota_used".to_owned(), used);
    (views, rows)
}

#[test]
fn two_instances_end_where_one_does() {
    if !pg::available() {
        return;
    }
    let single_db = pg::TempDatabase::new("instances_single");
    let single = Server::on(&single_db.url, &["--rate-limit", "100000"]);
    let expected = population(std::slice::from_ref(&single.url), &single_db.url);
    drop(single);
    // Every device saw its users (the hidden ones gone, the moved identifier's new user).
    assert!(expected.0.iter().all(|v| !v.is_empty()), "{:?}", expected.0);
    assert!(expected.0.iter().flatten().any(|u| u == "u_new"));
    assert!(!expected.0.iter().flatten().any(|u| u == "u_5"));

    let shared = pg::TempDatabase::new("instances_shared");
    let a = Server::on(&shared.url, &["--rate-limit", "100000"]);
    let b = Server::on(&shared.url, &["--rate-limit", "100000"]);
    let got = population(&[a.url.clone(), b.url.clone()], &shared.url);
    assert_eq!(got.0, expected.0, "what each device sees");
    assert_eq!(got.1, expected.1, "the rows the database holds");
}

#[test]
fn rate_and_quota_hold_across_instances() {
    if !pg::available() {
        return;
    }
    let db = pg::TempDatabase::new("instances_limits");
    let args = ["--rate-limit", "20", "--daily-quota", "100"];
    let (a, b) = (Server::on(&db.url, &args), Server::on(&db.url, &args));
    let urls = [a.url.clone(), b.url.clone()];
    let client = Client::new(&urls, 0);

    // The quota: 60 new hashes through one instance, then 60 more through the other are
    // refused whole, 40 are not.
    clear_of_the_minute_edge(20);
    let token = client.ok("POST", "/v1/clients", "", Some(&json!({})))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = client.ok("GET", "/v1/config", &token, None);
    let key = HashKey::from_base64(
        config["key_id"].as_str().unwrap(),
        config["key"].as_str().unwrap(),
    )
    .unwrap();
    let add = |from: usize, to: usize| (from..to).map(|n| fake(0, n)).collect::<Vec<_>>();
    let v = client.ok(
        "POST",
        "/v1/batches",
        &token,
        Some(&batch("q1", &key, &add(0, 60), &[])),
    );
    assert_eq!(v["added"], 60);
    let (status, body) = client.send(
        "POST",
        "/v1/batches",
        &token,
        Some(&batch("q2", &key, &add(60, 120), &[])),
    );
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, &e["error"]["reason"]),
        (429, &json!("daily_quota")),
        "{e}"
    );
    let v = client.ok(
        "POST",
        "/v1/batches",
        &token,
        Some(&batch("q3", &key, &add(60, 100), &[])),
    );
    assert_eq!(v["added"], 40);

    // The rate: a fresh device's requests alternate between the instances; 20 a minute in all.
    clear_of_the_minute_edge(20);
    let token = client.ok("POST", "/v1/clients", "", Some(&json!({})))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let statuses: Vec<u16> = (0..30)
        .map(|_| client.send("GET", "/v1/config", &token, None).0)
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (20, 10), "{statuses:?}");
}
