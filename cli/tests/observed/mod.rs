//! What the metrics and log tests share: a `contactsync serve` child whose every stderr line is
//! kept, with its public and metrics addresses, and a small HTTP client.

#![allow(dead_code, reason = "shared by several test files")]

pub mod exposition;

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::common;

/// The admin token of these tests' servers.
pub const ADMIN: &str = "observed-admin-token-0123456789";

/// A `serve` child; killed when dropped.
pub struct Observed {
    child: Child,
    pub url: String,
    pub metrics_url: Option<String>,
    lines: Option<JoinHandle<Vec<String>>>,
}

impl Observed {
    /// `serve --db DB --listen 127.0.0.1:0 --admin-token ADMIN`, open registration, `ARGS...`; waits for the address
    /// lines (and the metrics one when `ARGS` ask for a metrics address).
    pub fn start(db: &str, args: &[&str]) -> Observed {
        let mut child = common::cmd()
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .args(["--admin-token", ADMIN])
            .args(common::OPEN_REGISTRATION_UNLIMITED)
            .args(args)
            .env_remove("RUST_LOG")
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let lines = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
                kept.push(line);
            }
            kept
        });
        let next = || {
            rx.recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("serve's stderr: {e}"))
        };
        let first = next();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve's first line: {first:?}"))
            .to_owned();
        let metrics_url = args.contains(&"--metrics-listen").then(|| {
            let second = next();
            second
                .strip_prefix("metrics on ")
                .unwrap_or_else(|| panic!("serve's second line: {second:?}"))
                .to_owned()
        });
        Observed {
            child,
            url,
            metrics_url,
            lines: Some(lines),
        }
    }

    /// Stops the server (SIGTERM) and returns every line it wrote on stderr.
    pub fn stop(mut self) -> Vec<String> {
        let stopped = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        self.lines.take().unwrap().join().unwrap()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, `X-Request-Id`, body (JSON, or `Null`).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Value,
    pub text: String,
}

/// A client that never treats a status as an error.
pub struct Http(ureq::Agent);

impl Http {
    pub fn new() -> Http {
        Http(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
        )
    }

    /// `method url` with an optional bearer token and an optional JSON body.
    pub fn call(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let reply = match (method, body) {
            ("GET", _) => {
                let mut r = self.0.get(url);
                if let Some(auth) = &auth {
                    r = r.header("Authorization", auth);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = self.0.delete(url);
                if let Some(auth) = &auth {
                    r = r.header("Authorization", auth);
                }
                r.call()
            }
            (method, body) => {
                let mut r = if method == "PUT" {
                    self.0.put(url)
                } else {
                    self.0.post(url)
                };
                if let Some(auth) = &auth {
                    r = r.header("Authorization", auth);
                }
                r.header("Content-Type", "application/json")
                    .send(serde_json::to_vec(body.unwrap_or(&Value::Null)).unwrap())
            }
        };
        let mut reply = reply.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = reply.status().as_u16();
        let request_id = reply
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = reply.body_mut().read_to_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            request_id,
            body,
            text,
        }
    }

    /// A call that must answer `status`.
    pub fn expect(
        &self,
        status: u16,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let answer = self.call(method, url, token, body);
        assert_eq!(answer.status, status, "{method} {url}: {}", answer.text);
        answer
    }
}

/// The requests-per-minute limit the flow's servers run with (`--rate-limit`).
pub const RATE_LIMIT: &str = "5";
/// The daily quota the flow's servers run with (`--daily-quota`).
pub const DAILY_QUOTA: &str = "4";

/// What [`flow`] used: every value the logs must never hold, and the request ids it was given.
pub struct Flow {
    pub secrets: Vec<String>,
    /// How many requests the flow made.
    pub requests: u64,
    /// The `X-Request-Id` of the batch the daily quota refused.
    pub refused_batch_id: String,
    /// A device's token, with requests left in its minute.
    pub device_token: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        write!(out, "{b:02x}").unwrap();
        out
    })
}

/// Every kind of request, against a server run with [`RATE_LIMIT`] and [`DAILY_QUOTA`]: two
/// vouched devices and an open one, a user with a phone number and an e-mail address, three
/// batches (one match; one refused by the daily quota), an invite made, its link opened and the
/// invite redeemed, an unknown path holding the phone number, a device over its rate, an admin
/// match and a change feed.
#[allow(clippy::too_many_lines, reason = "one scenario, read in order")]
pub fn flow(http: &Http, url: &str) -> Flow {
    use contactsync_core::{Digest, HashKey, IdentifierKind};
    use serde_json::json;

    // The rate window is one minute: the whole flow stays within one.
    common::clear_of_the_minute_edge(15);
    let at = |path: &str| format!("{url}{path}");
    let token = |a: &Answer| a.body["token"].as_str().unwrap().to_owned();
    let id = |a: &Answer| a.body["client_id"].as_str().unwrap().to_owned();
    let vouch = |user_ref: &str| {
        let body = json!({"user_ref": user_ref});
        http.expect(
            201,
            "POST",
            &at("/v1/admin/clients"),
            Some(ADMIN),
            Some(&body),
        )
    };
    let (ana, bo) = (vouch("u_ana_private"), vouch("u_bo_private"));
    let open = http.expect(201, "POST", &at("/v1/clients"), None, Some(&json!({})));
    let (phone, email) = ("+4915123456789", "cy.private@example.org");
    let user = json!({"discoverable": true, "identifiers": [
        {"kind": "phone", "value": phone}, {"kind": "email", "value": email}]});
    let put_user = at("/v1/admin/users/u_cy_private");
    http.expect(200, "PUT", &put_user, Some(ADMIN), Some(&user));
    let config = http.expect(200, "GET", &at("/v1/config"), Some(&token(&ana)), None);
    let (key_id, key_text) = (
        config.body["key_id"].as_str().unwrap(),
        config.body["key"].as_str().unwrap(),
    );
    let key = HashKey::from_base64(key_id, key_text).unwrap();
    let fake = |n: u8| Digest([n; contactsync_core::hash::DIGEST_LEN]);
    let digests = [
        key.hash_parts(IdentifierKind::Phone, phone),
        key.hash_parts(IdentifierKind::Email, email),
        fake(0xf1),
        fake(0xf2),
        fake(0xf3),
        fake(0xf4),
    ];
    let b64: Vec<String> = digests.iter().map(Digest::to_base64url).collect();
    let batch = |id: &str, add: &[&String], remove: &[&String]| json!({"batch_id": id, "key_id": key_id, "mode": "delta", "add": add, "remove": remove});
    let batches = at("/v1/batches");
    let first = batch("b_1", &[&b64[0], &b64[2], &b64[3]], &[]);
    let answer = http.expect(200, "POST", &batches, Some(&token(&ana)), Some(&first));
    assert_eq!(answer.body["matches"].as_array().unwrap().len(), 1);
    let second = batch("b_2", &[], &[&b64[2]]);
    http.expect(200, "POST", &batches, Some(&token(&ana)), Some(&second));
    let third = batch("b_3", &[&b64[4], &b64[5]], &[]);
    let refused = http.expect(429, "POST", &batches, Some(&token(&ana)), Some(&third));
    assert_eq!(refused.body["error"]["reason"], "daily_quota");
    let invite = http.expect(
        201,
        "POST",
        &at("/v1/invites"),
        Some(&token(&ana)),
        Some(&json!({})),
    );
    let code = invite.body["code"].as_str().unwrap().to_owned();
    // The link as a phone opens it: the code is in the path, never in a log line or a label.
    http.expect(200, "GET", &at(&format!("/i/{code}")), None, None);
    let redeem = json!({"code": code});
    http.expect(
        200,
        "POST",
        &at("/v1/invites/redeem"),
        Some(&token(&bo)),
        Some(&redeem),
    );
    http.expect(
        404,
        "GET",
        &at(&format!("/v1/nothing/{phone}")),
        Some(&token(&bo)),
        None,
    );
    let limit: usize = RATE_LIMIT.parse().unwrap();
    for _ in 0..limit {
        http.expect(200, "GET", &at("/v1/config"), Some(&token(&open)), None);
    }
    let over = http.expect(429, "GET", &at("/v1/config"), Some(&token(&open)), None);
    assert_eq!(over.body["error"]["reason"], "rate");
    let matching = json!({"key_id": key_id, "hashes": [&b64[1]]});
    let matched = http.expect(
        200,
        "POST",
        &at("/v1/admin/match"),
        Some(ADMIN),
        Some(&matching),
    );
    assert_eq!(matched.body["matches"].as_array().unwrap().len(), 1);
    http.expect(
        200,
        "GET",
        &at("/v1/changes?since=0"),
        Some(&token(&bo)),
        None,
    );

    let mut secrets: Vec<String> = [&ana, &bo, &open]
        .iter()
        .flat_map(|a| [token(a), id(a)])
        .collect();
    secrets.extend(
        [
            ADMIN,
            "u_ana_private",
            "u_bo_private",
            "u_cy_private",
            phone,
            "15123456789",
            email,
        ]
        .map(str::to_owned),
    );
    secrets.extend([code, key_text.to_owned()]);
    secrets.extend(b64);
    secrets.extend(digests.iter().map(|d| hex(&d.0)));
    Flow {
        secrets,
        requests: 15 + limit as u64,
        refused_batch_id: refused.request_id.unwrap(),
        device_token: token(&bo),
    }
}
