//! A recording HTTP proxy between the device and the server, on loopback.
//!
//! Why a proxy:
//! - **It sees every batch body.** The server keeps only a SHA-256 of a batch's body and its
//!   answer, so it cannot tell whether a batch redid work an earlier one had done; with each body
//!   recorded, the check compares what every applied batch asked for (its `add` and `remove`)
//!   with what the server answered it did (`added`, `removed`).
//! - **It keeps one address while the server restarts.** A device's credential names its server
//!   URL, and a restarted `contactsync serve --listen 127.0.0.1:0` gets another port.
//! - **It tells the server loop when a batch reaches the server**, to kill it mid-batch.
//!
//! It is faithful where it matters: a request is forwarded only once whole (a client killed while
//! sending never reaches the server, as without the proxy), and an answer that does not come
//! (server down, killed) closes the client's connection with nothing, or with the partial bytes,
//! which the client sees as no answer. Each request uses one connection each way
//! (`Connection: close`), so no pooled connection outlives a server.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::{BatchRequest, Mode};

/// Largest request or answer head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Largest body relayed (the server's own limit is far below).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// A connection idle this long is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// One batch body as the proxy forwarded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRecord {
    /// FNV-1a of the body: equal bodies under one batch id are a resend, different ones a
    /// client bug.
    pub fingerprint: u64,
    /// Real hashes added: the `add` list less its trailing padding dummies.
    pub adds: usize,
    pub removes: usize,
    pub full: bool,
    /// Padding dummies (docs/protocol.md, "Padded batches"): charged, never stored.
    pub padding: usize,
}

/// How many of a batch's adds are padding dummies.
fn padding_of(batch: &BatchRequest) -> usize {
    batch.padding.map_or(0, |p| p as usize)
}

/// What the proxy saw.
#[derive(Debug, Default)]
pub struct Log {
    /// Every batch body forwarded to the server, by batch id (a resend adds a record).
    pub batches: HashMap<String, Vec<BodyRecord>>,
    /// Batch requests forwarded, numbered from 1 in order.
    pub batch_requests: u64,
    /// The outcome of each forwarded batch request: the answer's status, or `None` when the
    /// server gave no whole answer.
    pub outcomes: HashMap<u64, Option<u16>>,
    /// Requests of every kind forwarded.
    pub requests: u64,
    /// Requests dropped because no server was listening.
    pub refused: u64,
    /// Statuses of batch answers, counted.
    pub batch_statuses: BTreeMap<u16, u64>,
}

/// What the server loop waits for.
#[derive(Debug, Clone)]
pub enum Event {
    /// Batch request `seq` is being written to the server.
    BatchForwarded {
        seq: u64,
        batch_id: String,
        at: Instant,
    },
    /// Batch request `seq` ended (its outcome is in the log).
    BatchDone { seq: u64, at: Instant },
}

#[derive(Debug, Default)]
struct Shared {
    upstream: Mutex<Option<SocketAddr>>,
    log: Mutex<Log>,
    events: Mutex<Option<Sender<Event>>>,
}

/// The running proxy (its threads live as long as the process).
#[derive(Debug, Clone)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Listens on a free loopback port.
    pub fn start() -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&for_thread);
                std::thread::spawn(move || {
                    // A connection that fails is what the client sees; nothing to do here.
                    let _ = relay(&shared, stream);
                });
            }
        });
        Ok(Proxy { addr, shared })
    }

    /// The URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where requests go from now on; `None` while no server runs.
    pub fn set_upstream(&self, upstream: Option<SocketAddr>) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Sends batch events to `events` from now on (`None`: stop).
    pub fn set_events(&self, events: Option<Sender<Event>>) {
        *lock(&self.shared.events) = events;
    }

    /// Runs `f` on the log.
    pub fn with_log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&lock(&self.shared.log))
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One HTTP/1.1 message: its head (through the blank line) and body.
#[derive(Debug)]
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The body is as long as the head said (or ran to the close, when it said nothing).
    complete: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header's value (the first one), by name in any case.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one message. `None` when the peer closed before a whole head. A request (`to_close`
/// false) must state its length; an answer may also be chunked or run to the close.
fn read_message(stream: &mut TcpStream, to_close: bool) -> io::Result<Option<Message>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let body_start = buf.split_off(head_end);
    let head = buf;
    let text = String::from_utf8_lossy(&head).into_owned();
    let length = header(&text, "content-length")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| io::Error::other("bad content-length"))
        })
        .transpose()?;
    let chunked = header(&text, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = body_start;
    match length {
        Some(length) => {
            if length > MAX_BODY {
                return Err(io::Error::other("body too large"));
            }
            while body.len() < length {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Ok(Some(Message {
                        head,
                        body,
                        complete: false,
                    }));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
            Ok(Some(Message {
                head,
                body,
                complete: true,
            }))
        }
        None if !to_close && !chunked => Ok(Some(Message {
            head,
            body,
            complete: true,
        })),
        None if !to_close => Err(io::Error::other("chunked request")),
        None => {
            // An answer without a length: to the close (the request said `Connection: close`).
            loop {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
                if body.len() > MAX_BODY {
                    return Err(io::Error::other("body too large"));
                }
            }
            let complete = !chunked || body.ends_with(b"0\r\n\r\n");
            Ok(Some(Message {
                head,
                body,
                complete,
            }))
        }
    }
}

/// The request head with `Connection: close` instead of any connection header.
fn close_after(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("connection"));
        if !is_connection {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn emit(shared: &Shared, event: Event) {
    if let Some(tx) = lock(&shared.events).as_ref() {
        let _ = tx.send(event);
    }
}

/// One client connection: one request, forwarded whole; the answer relayed as it came.
fn relay(shared: &Shared, mut client: TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(request) = read_message(&mut client, false)? else {
        return Ok(());
    };
    if !request.complete {
        // The client died while sending: the server never sees a partial request.
        return Ok(());
    }
    let line = String::from_utf8_lossy(&request.head)
        .split("\r\n")
        .next()
        .unwrap_or_default()
        .to_owned();
    let is_batch = line.starts_with("POST /v1/batches ");
    let upstream = *lock(&shared.upstream);
    let Some(upstream) = upstream else {
        lock(&shared.log).refused += 1;
        return Ok(());
    };
    let Ok(mut server) = TcpStream::connect(upstream) else {
        lock(&shared.log).refused += 1;
        return Ok(());
    };
    server.set_read_timeout(Some(IO_TIMEOUT))?;
    server.set_write_timeout(Some(IO_TIMEOUT))?;
    let seq = if is_batch {
        let parsed: Option<BatchRequest> = Encoding::of_body(None, &request.body)
            .decode(&request.body)
            .ok();
        let mut log = lock(&shared.log);
        log.requests += 1;
        log.batch_requests += 1;
        let seq = log.batch_requests;
        let batch_id = parsed
            .as_ref()
            .map(|b| b.batch_id.clone())
            .unwrap_or_default();
        if let Some(b) = parsed {
            log.batches
                .entry(b.batch_id.clone())
                .or_default()
                .push(BodyRecord {
                    fingerprint: fnv1a(&request.body),
                    adds: b.add.len().saturating_sub(padding_of(&b)),
                    removes: b.remove.len(),
                    full: b.mode == Mode::Full,
                    padding: padding_of(&b),
                });
        }
        drop(log);
        emit(
            shared,
            Event::BatchForwarded {
                seq,
                batch_id,
                at: Instant::now(),
            },
        );
        Some(seq)
    } else {
        lock(&shared.log).requests += 1;
        None
    };
    let sent = server
        .write_all(&close_after(&request.head))
        .and_then(|()| server.write_all(&request.body))
        .and_then(|()| server.flush());
    let answer = match sent {
        Ok(()) => read_message(&mut server, true).unwrap_or(None),
        Err(_) => None,
    };
    let status = answer.as_ref().filter(|a| a.complete).and_then(|a| {
        let text = String::from_utf8_lossy(&a.head);
        text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok())
    });
    if let Some(seq) = seq {
        let mut log = lock(&shared.log);
        log.outcomes.insert(seq, status);
        if let Some(s) = status {
            *log.batch_statuses.entry(s).or_default() += 1;
        }
        drop(log);
        emit(
            shared,
            Event::BatchDone {
                seq,
                at: Instant::now(),
            },
        );
    }
    if let Some(answer) = answer {
        // Whole or partial, the client gets what the server sent, then the close.
        client.write_all(&answer.head)?;
        client.write_all(&answer.body)?;
        client.flush()?;
    }
    let _ = client.shutdown(Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// A one-answer server: reads a request, answers `answer` (or closes without a word).
    fn fake_server(answer: Option<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                let request = read_message(&mut s, false).unwrap().unwrap();
                assert!(
                    String::from_utf8_lossy(&request.head).contains("Connection: close\r\n"),
                    "forwarded with Connection: close"
                );
                if let Some(a) = answer {
                    s.write_all(a).unwrap();
                }
            }
        });
        addr
    }

    fn post(proxy: &Proxy, body: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(proxy.addr).unwrap();
        write!(
            s,
            "POST /v1/batches HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }

    const BODY: &str = r#"{"batch_id":"b_1","key_id":"k","mode":"delta","add":["AAAAAAAAAAAAAAAAAAAAAA","AQAAAAAAAAAAAAAAAAAAAA"],"remove":["AgAAAAAAAAAAAAAAAAAAAA"]}"#;

    #[test]
    fn records_batches_and_relays_answers() {
        let proxy = Proxy::start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        proxy.set_events(Some(tx));
        proxy.set_upstream(Some(fake_server(Some(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        ))));
        let answer = post(&proxy, BODY);
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
        assert!(answer.ends_with(b"\r\n\r\n{}"));
        assert!(matches!(
            rx.recv().unwrap(),
            Event::BatchForwarded { seq: 1, .. }
        ));
        assert!(matches!(
            rx.recv().unwrap(),
            Event::BatchDone { seq: 1, .. }
        ));
        proxy.with_log(|log| assert_eq!(log.outcomes[&1], Some(200)));
        post(&proxy, BODY);
        proxy.with_log(|log| {
            let records = &log.batches["b_1"];
            assert_eq!(records.len(), 2);
            assert_eq!(records[0], records[1]);
            assert_eq!((records[0].adds, records[0].removes), (2, 1));
            assert_eq!(log.batch_statuses[&200], 2);
        });
    }

    #[test]
    fn no_answer_is_no_answer() {
        let proxy = Proxy::start().unwrap();
        proxy.set_upstream(Some(fake_server(None)));
        assert!(post(&proxy, BODY).is_empty());
        proxy.set_upstream(None);
        assert!(post(&proxy, BODY).is_empty());
        proxy.with_log(|log| {
            assert_eq!(log.outcomes[&1], None);
            assert_eq!(log.refused, 1);
            assert_eq!(
                log.batches["b_1"].len(),
                1,
                "a refused request never reached a server"
            );
        });
    }

    #[test]
    fn partial_answers_are_incomplete() {
        let proxy = Proxy::start().unwrap();
        proxy.set_upstream(Some(fake_server(Some(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}",
        ))));
        let answer = post(&proxy, BODY);
        let mut lines = answer.lines();
        assert_eq!(lines.next().unwrap().unwrap(), "HTTP/1.1 200 OK");
        proxy.with_log(|log| assert_eq!(log.outcomes[&1], None));
    }
}
