//! One real Sydent for the Kotlin and Swift tests of the Matrix mode, driven over a small JSON
//! control API on loopback, so that Sydent's start and provisioning live in one place
//! (`contactsync_tests::sydent`) and not again in Kotlin and in Swift.
//!
//! `cargo run -p contactsync-tests --bin sydent-fixture`: starts a Sydent (Sydent's default of
//! 10,000 addresses per lookup), then prints one line on stdout and nothing after it —
//!
//! - `{"control_url":"http://127.0.0.1:P","sydent_url":"http://127.0.0.1:Q"}` when it runs;
//! - `{"skipped":"..."}` (and exit 0) when Sydent is not installed (scripts/sydent-for-tests); with
//!   `CONTACTSYNC_CI` set it fails instead (exit 101), as the Rust tests do.
//!
//! The control API (requests and answers are JSON objects; a failure is a 4xx/5xx whose body is
//! `{"error": "..."}`), one request at a time, each answered once Sydent serves the new state:
//!
//! | Request | Body | Answer |
//! |---------|------|--------|
//! | `GET /` | | `{"sydent_url"}` |
//! | `POST /token` | `{"user_id"}` | `{"token"}`: an identity-server access token for that account |
//! | `POST /bind` | `{"bindings": [{"medium", "address", "mxid"}]}` | `{}` |
//! | `POST /unbind` | `{"medium", "address", "mxid"}` | `{}` |
//! | `POST /pepper` | `{"pepper"}` | `{}`: every lookup hash re-hashed, Sydent restarted |
//! | `POST /reset` | `{"address_lookup_limit"?}` | `{"sydent_url"}`: a fresh Sydent (new port) replaces the old |
//!
//! It exits, killing Sydent, when its stdin closes (the test process that started it ended, however
//! it ended) or on SIGTERM / SIGINT. Provisioning restarts Sydent (tests/src/sydent.rs says why):
//! a request may take a few seconds.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fixture: it reports on stdout and stops loudly on a broken setup"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use contactsync_tests::sydent::{self, Sydent};
use serde_json::{Value, json};

/// Sydent's own default.
const DEFAULT_LOOKUP_LIMIT: usize = 10_000;
/// The largest control request read (a bind list of a few thousand addresses fits).
const MAX_BODY: usize = 1 << 20;

type Shared = Arc<Mutex<Option<Sydent>>>;

fn main() {
    let Some(first) = Sydent::start(DEFAULT_LOOKUP_LIMIT) else {
        // `start` has said so on stderr (or failed, on CI).
        let skipped = format!(
            "Sydent not installed in {}; run scripts/sydent-for-tests",
            sydent::venv().display()
        );
        println!("{}", json!({ "skipped": skipped }));
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the control API");
    let control_url = format!("http://{}", listener.local_addr().unwrap());
    println!(
        "{}",
        json!({ "control_url": control_url, "sydent_url": first.base_url() })
    );
    std::io::stdout().flush().unwrap();
    let shared: Shared = Arc::new(Mutex::new(Some(first)));
    let serving = Arc::clone(&shared);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(&stream, &serving);
        }
    });
    wait_for_the_end();
    // Waits for a request under way, then kills Sydent (its `Drop`).
    drop(shared.lock().unwrap_or_else(PoisonError::into_inner).take());
}

/// Until stdin closes, SIGTERM or SIGINT.
fn wait_for_the_end() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stdin = tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        });
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = stdin => {}
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    // The stdin reader may still be blocked: not waited for.
    runtime.shutdown_background();
}

/// One request, answered and closed.
fn handle(stream: &TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream);
    let (status, answer) = match read_request(&mut reader) {
        Ok((method, path, body)) => {
            // A provisioning failure panics (tests/src/sydent.rs): a 500 with its message.
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                dispatch(&mut guard, &method, &path, &body)
            }))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "the fixture panicked".into());
                (500, json!({ "error": message }))
            })
        }
        Err(message) => (400, json!({ "error": message })),
    };
    let body = answer.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The method, the path and the body (`{}` when empty) of one HTTP/1.1 request.
fn read_request(reader: &mut impl BufRead) -> Result<(String, String, Value), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err("not an HTTP request".into());
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let mut length = 0usize;
    for _ in 0..100 {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let header = line.trim_end();
        if header.is_empty() {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
            if body.is_empty() {
                return Ok((method, path, json!({})));
            }
            let body = serde_json::from_slice(&body).map_err(|e| format!("body: {e}"))?;
            return Ok((method, path, body));
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| "bad Content-Length")?;
            if length > MAX_BODY {
                return Err("body too large".into());
            }
        }
    }
    Err("too many headers".into())
}

/// A string field of the body, or a 400's message.
fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, String> {
    body[name]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("`{name}`: a non-empty string expected"))
}

/// Runs one control request against the Sydent.
fn dispatch(sydent: &mut Option<Sydent>, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let Some(running) = sydent.as_mut() else {
        return (503, json!({ "error": "shutting down" }));
    };
    let result = match (method, path) {
        ("GET", "/") => Ok(json!({ "sydent_url": running.base_url() })),
        ("POST", "/token") => {
            field(body, "user_id").map(|user| json!({ "token": running.create_token(user) }))
        }
        ("POST", "/bind") => bindings(body).map(|list| {
            let list: Vec<(&str, &str, &str)> = list.iter().map(|(m, a, x)| (*m, *a, *x)).collect();
            running.bind_all(&list);
            json!({})
        }),
        ("POST", "/unbind") => binding(body).map(|(medium, address, mxid)| {
            running.unbind(medium, address, mxid);
            json!({})
        }),
        ("POST", "/pepper") => field(body, "pepper").map(|pepper| {
            running.change_pepper(pepper);
            json!({})
        }),
        ("POST", "/reset") => {
            let limit = body["address_lookup_limit"]
                .as_u64()
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(DEFAULT_LOOKUP_LIMIT);
            // The old one stops first: its port and process go before the new one starts.
            *sydent = None;
            let fresh = Sydent::start(limit).expect("Sydent was installed a moment ago");
            let url = fresh.base_url();
            *sydent = Some(fresh);
            Ok(json!({ "sydent_url": url }))
        }
        _ => return (404, json!({ "error": format!("no {method} {path}") })),
    };
    match result {
        Ok(answer) => (200, answer),
        Err(message) => (400, json!({ "error": message })),
    }
}

/// `{"medium", "address", "mxid"}`.
fn binding(body: &Value) -> Result<(&str, &str, &str), String> {
    Ok((
        field(body, "medium")?,
        field(body, "address")?,
        field(body, "mxid")?,
    ))
}

/// `{"bindings": [...]}`, each a [`binding`].
fn bindings(body: &Value) -> Result<Vec<(&str, &str, &str)>, String> {
    body["bindings"]
        .as_array()
        .ok_or("`bindings`: a list expected")?
        .iter()
        .map(binding)
        .collect()
}
