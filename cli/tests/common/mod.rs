//! What the CLI test files share: the binary, run with a neutral environment, and a `serve`
//! child on a free port.

// Not every test file uses every helper.
#![allow(dead_code, reason = "shared by several test files")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The binary with a neutral environment: no locale region, no database or admin-token override.
pub fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_contactsync"));
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("CONTACTSYNC_DB")
        .env_remove("CONTACTSYNC_ADMIN_TOKEN")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the binary to the end.
pub fn run(args: &[&str]) -> Output {
    cmd().args(args).output().expect("run contactsync")
}

/// The admin token of the test servers.
pub const ADMIN: &str = "test-admin-token-0123456789";

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a verb that must succeed.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    text(&out.stdout)
}

/// Runs a verb that must succeed and print JSON lines.
pub fn ok_json(args: &[&str]) -> Vec<Value> {
    ok(args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {l}: {e}")))
        .collect()
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A `contactsync serve` child on a free loopback port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

/// `serve` arguments: open registration, with limits no test on one address reaches.
pub const OPEN_REGISTRATION_UNLIMITED: &[&str] = &[
    "--open-registration",
    "--registrations-per-ip-burst",
    "1000000",
    "--registrations-per-ip-per-hour",
    "3600000",
    "--registrations-global-per-minute",
    "60000",
    "--open-identifiers-per-ip-per-day",
    "4000000000",
    "--open-identifiers-global-per-day",
    "4000000000",
];

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::on(s(&dir.join("server.db")), &[])
    }

    /// `serve --db DB` with more arguments, and open registration without the per-address
    /// limits: devices register themselves, all from 127.0.0.1 (server/tests/registration.rs
    /// tests those limits).
    pub fn on(db: &str, args: &[&str]) -> Server {
        Server::spawn(db, &[OPEN_REGISTRATION_UNLIMITED, args].concat())
    }

    /// `serve --db DB` with more arguments, and nothing else of the tests' own.
    pub fn spawn(db: &str, args: &[&str]) -> Server {
        let mut child = cmd()
            .args([
                "serve",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                ADMIN,
                "--check-interval",
                "1",
            ])
            .args(args)
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = tx.send(first);
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(url) = first.strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve's first stderr line: {first:?}");
        };
        Server {
            url: url.trim().to_owned(),
            child,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
