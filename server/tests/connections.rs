//! Slow, idle and abusive connections (docs/reliability.md, "Slow and abusive clients"), on raw
//! sockets: each probe of the issue, scaled to CI (tens of sockets, timeouts of a second or two
//! set in the test's config), checks that a legitimate request on a fresh connection is answered
//! while the abusive connections are held open, and that the server closes the abusive ones.
//!
//! No check is on wall time: a read that waits longer than [`GUARD`] only catches a hang (a
//! connection the server never closes, a request never answered).
//!
//! A test binary of its own: it installs the process-wide `tracing` subscriber, to count the cap
//! log lines (each names its server's address, so parallel tests do not mix).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use common::logs::Recorder;
use common::{TestServer, read_answer};
use contactsync_server::ServerConfig;

/// How long one read may wait: only a guard against a hang, never a measure.
const GUARD: Duration = Duration::from_secs(10);

fn server(adjust: impl FnOnce(&mut ServerConfig)) -> (TestServer, SocketAddr) {
    logs();
    let t = TestServer::with(adjust);
    let addr = t.server.addr();
    (t, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    s.set_write_timeout(Some(GUARD)).unwrap();
    s
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent first;
/// fails when the connection is still open after [`GUARD`].
fn until_closed(s: &mut TcpStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                break;
            }
            Err(e) => panic!(
                "{what}: the server still holds the connection open ({e}); it sent {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A legitimate request on a fresh connection (`Connection: close`): the whole answer.
fn legit(addr: SocketAddr, request: &str) -> String {
    let mut s = connect(addr);
    s.write_all(request.as_bytes()).unwrap();
    until_closed(&mut s, "a legitimate request")
}

/// `GET /v1/config` without a token: answered `401 unauthorized`.
fn legit_get(addr: SocketAddr) {
    let answer = legit(
        addr,
        "GET /v1/config HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(answer.contains(r#""code":"unauthorized""#), "{answer}");
}

/// `POST /v1/clients` with a body: answered `201` (a request that passes the body gate).
fn legit_register(addr: SocketAddr) {
    let answer = legit(
        addr,
        "POST /v1/clients HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
}

#[test]
fn slowloris_heads_are_cut_off_and_others_are_served() {
    let (t, addr) = server(|c| c.connections.header_read_timeout = Duration::from_secs(1));
    // 100 connections send part of a request head; 10 of them keep sending a header line every
    // 200 ms (the timeout is on the whole head, not on progress).
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"POST /v1/clients HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            s
        })
        .collect();
    let trickling: Vec<TcpStream> = slow[..10].iter().map(|s| s.try_clone().unwrap()).collect();
    let trickle = std::thread::spawn(move || {
        let mut trickling = trickling;
        // Bounded: 75 rounds at most; ends when the server has closed every one.
        for _ in 0..75 {
            std::thread::sleep(Duration::from_millis(200));
            trickling.retain_mut(|s| s.write_all(b"X-Trickle: 1\r\n").is_ok());
            if trickling.is_empty() {
                break;
            }
        }
    });

    // Served while the slow connections are open.
    legit_get(addr);
    legit_register(addr);

    for (i, s) in slow.iter_mut().enumerate() {
        let answer = until_closed(s, &format!("slow head {i}"));
        // hyper closes a connection whose head timed out without an answer.
        assert_eq!(answer, "", "slow head {i}");
    }
    trickle.join().unwrap();
    legit_get(addr);
    drop(t);
}

#[test]
fn idle_connections_beyond_the_cap_wait_and_are_closed() {
    let (t, addr) = server(|c| {
        c.connections.max_connections = Some(20);
        c.connections.header_read_timeout = Duration::from_secs(1);
    });
    // Three times the cap, never sending a byte: 20 are accepted, the rest wait in the listen
    // backlog and are accepted as the first ones time out.
    let mut idle: Vec<TcpStream> = (0..60).map(|_| connect(addr)).collect();

    // The legitimate request waits in the backlog behind them; it is answered once places free.
    legit_get(addr);

    for (i, s) in idle.iter_mut().enumerate() {
        let answer = until_closed(s, &format!("idle connection {i}"));
        assert_eq!(answer, "", "idle connection {i}");
    }
    legit_get(addr);
    drop(t);
    // One warning for the whole episode, not one per connection that waited.
    let warnings = log_lines(addr, "connection cap reached");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].starts_with("WARN "), "{warnings:#?}");
    assert!(warnings[0].contains("max_connections=20"), "{warnings:#?}");
}

#[test]
fn the_connection_cap_holds() {
    let (t, addr) = server(|c| {
        c.connections.max_connections = Some(20);
        // Nothing times out during the test: the count of accepted connections stays still.
        c.connections.header_read_timeout = Duration::from_secs(120);
    });
    let mut idle: Vec<TcpStream> = (0..60).map(|_| connect(addr)).collect();
    let answered = std::thread::spawn(move || legit_get(addr));

    // Where /proc/net/tcp tells (Linux): 20 accepted, and no more however long they are held.
    if accepted_connections(addr).is_some() {
        let mut reached = false;
        for _ in 0..500 {
            if accepted_connections(addr) == Some(20) {
                reached = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            reached,
            "never 20 accepted: {:?}",
            accepted_connections(addr)
        );
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(20));
            let accepted = accepted_connections(addr).unwrap();
            assert!(accepted <= 20, "{accepted} connections accepted");
        }
    }
    assert!(!answered.is_finished(), "answered past the cap");

    // The clients give up: the server accepts the rest, and the legitimate request is answered.
    for s in &mut idle {
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    drop(idle);
    answered.join().unwrap();
    drop(t);
    let warnings = log_lines(addr, "connection cap reached");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
}

#[test]
fn stalled_bodies_are_cut_off_and_capped() {
    let (t, addr) = server(|c| {
        c.connections.max_bodies_in_flight = 4;
        c.connections.body_progress_timeout = Duration::from_secs(2);
    });
    // 40 chunked bodies that send 16 KiB and stop.
    let chunk = vec![b' '; 16 * 1024];
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(
                b"POST /v1/clients HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                  Transfer-Encoding: chunked\r\n\r\n",
            )
            .unwrap();
            write!(s, "{:x}\r\n", chunk.len()).unwrap();
            s.write_all(&chunk).unwrap();
            s.write_all(b"\r\n").unwrap();
            s
        })
        .collect();

    // A request without a body is not held up by them.
    legit_get(addr);

    // Four bodies are read at a time and cut off when they stall (408); the others wait for a
    // place and give up (503). Each connection is closed after its answer.
    let mut timed_out = 0;
    for (i, s) in stalled.iter_mut().enumerate() {
        let answer = until_closed(s, &format!("stalled body {i}"));
        let head = answer.to_ascii_lowercase();
        assert!(
            head.contains("connection: close"),
            "stalled body {i}: {answer}"
        );
        assert!(
            head.contains("cache-control: no-store"),
            "stalled body {i}: {answer}"
        );
        if answer.starts_with("HTTP/1.1 408 ") {
            assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
            timed_out += 1;
        } else {
            assert!(
                answer.starts_with("HTTP/1.1 503 "),
                "stalled body {i}: {answer}"
            );
            assert!(answer.contains(r#""code":"unavailable""#), "{answer}");
            assert!(head.contains("retry-after: 1"), "{answer}");
        }
    }
    assert!(timed_out >= 4, "{timed_out} bodies timed out");

    // With the stalled bodies gone, bodies are read again.
    legit_register(addr);
    drop(t);
    let warnings = log_lines(addr, "request body cap reached");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("max_bodies_in_flight=4"),
        "{warnings:#?}"
    );
}

#[test]
fn a_slow_body_that_keeps_arriving_is_not_cut_off() {
    let (t, addr) = server(|c| c.connections.body_progress_timeout = Duration::from_secs(2));
    // `{}` padded to 70 bytes.
    let body = format!("{{{}}}", " ".repeat(68)).into_bytes();
    let mut s = connect(addr);
    write!(
        s,
        "POST /v1/clients HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // Ten pieces 300 ms apart: longer in all than the timeout, never idle for as long.
    for piece in body.chunks(body.len().div_ceil(10)) {
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(piece).unwrap();
    }
    let answer = until_closed(&mut s, "a slow body");
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    drop(t);
}

/// RFC 9112 §6.1: a request with both `Content-Length` and `Transfer-Encoding` is framed by
/// `Transfer-Encoding` alone and the connection is closed after the answer, so nothing sent after
/// it (a smuggled request) is read. hyper does this by itself, before the request reaches the
/// server's code (which never sees the `Content-Length`).
#[test]
fn content_length_with_transfer_encoding_is_framed_by_the_chunks_and_closes() {
    let (t, addr) = server(|_| {});
    for (first, second) in [
        ("Content-Length: 4", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 4"),
    ] {
        // Framed by Content-Length, the body would be `2\r\n{` (malformed JSON, 400) and the rest a
        // second request; framed by the chunks, the body is `{}` (201) and the rest is never read.
        let mut s = connect(addr);
        write!(
            s,
            "POST /v1/clients HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             {first}\r\n{second}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n\
             GET /v1/config HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        .unwrap();
        let answer = until_closed(&mut s, "CL + TE");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
        assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    // Framing hyper refuses by itself: it answers 400 (without a body) and closes. A transfer
    // coding other than chunked; Transfer-Encoding in HTTP/1.0; two different lengths.
    for (framing, version) in [
        ("Content-Length: 2\r\nTransfer-Encoding: gzip", "1.1"),
        ("Transfer-Encoding: chunked", "1.0"),
        ("Content-Length: 2\r\nContent-Length: 3", "1.1"),
    ] {
        let mut s = connect(addr);
        write!(
            s,
            "POST /v1/clients HTTP/{version}\r\nHost: t\r\nContent-Type: application/json\r\n\
             {framing}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        )
        .unwrap();
        let answer = until_closed(&mut s, framing);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{framing}: {answer}");
    }
    legit_get(addr);
    drop(t);
}

#[test]
fn a_head_past_64_kib_is_refused() {
    let (t, addr) = server(|_| {});
    let mut s = connect(addr);
    let big = "a".repeat(70 * 1024);
    // The server may close before reading it all: a failed write is fine, the answer is not.
    let _ = write!(
        s,
        "GET /v1/config HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n"
    );
    let answer = until_closed(&mut s, "a 70 KiB head");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    legit_get(addr);
    drop(t);
}

#[test]
fn idle_connections_do_not_hold_up_a_shutdown() {
    let (t, addr) = server(|c| {
        // Long enough that only the shutdown can close them in this test.
        c.connections.header_read_timeout = Duration::from_secs(120);
        c.connections.shutdown_grace = Duration::from_secs(120);
    });
    // A connection that never sent a byte, and one kept alive after an answer.
    let mut fresh = connect(addr);
    let mut kept = connect(addr);
    kept.write_all(b"GET /v1/config HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let answer = read_answer(&mut kept);
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );

    let (stopped_tx, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        t.server.stop();
        let _ = stopped_tx.send(());
    });
    // Far shorter than the grace period: the guard only catches a shutdown waiting on them.
    stopped
        .recv_timeout(Duration::from_secs(60))
        .expect("the shutdown waited for idle connections");
    assert_eq!(until_closed(&mut fresh, "a fresh connection"), "");
    assert_eq!(until_closed(&mut kept, "a kept-alive connection"), "");
}

/// The server's accepted connections on `addr` (Linux: established sockets with that local port
/// and an inode; one still in the listen backlog has none), or `None` elsewhere. The kernel
/// writes the table in pieces, not as one snapshot: a socket can appear twice in one read
/// (counted once, by inode), and while connections close and others are accepted a read can
/// see both, so only a count taken while nothing closes is exact.
fn accepted_connections(addr: SocketAddr) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!(":{:04X}", addr.port());
    let inodes: std::collections::HashSet<&str> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 9
                && fields[1].ends_with(&local)
                && fields[3] == "01"
                && fields[9] != "0")
                .then_some(fields[9])
        })
        .collect();
    Some(inodes.len())
}

// --- log capture ---

fn logs() -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = Recorder::default();
        tracing::subscriber::set_global_default(recorder.clone()).unwrap();
        recorder
    })
}

/// The log lines of the server on `addr` that contain `text`.
fn log_lines(addr: SocketAddr, text: &str) -> Vec<String> {
    let addr = format!("addr={addr}");
    logs()
        .lines()
        .into_iter()
        .filter(|l| l.contains(text) && l.split_whitespace().any(|w| w == addr))
        .collect()
}
