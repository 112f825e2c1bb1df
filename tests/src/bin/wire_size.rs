//! Wire size of a first sync: what a 100,000-contact address book (`contactsync_tests::synthetic`)
//! sends and receives on its first sync with the reference server, on loopback, over real HTTP.
//!
//! Counted twice: the bodies, per endpoint, as the core's transport sees them; and every byte
//! on the TCP connections (HTTP heads included), through a counting relay in front of the server.
//! The same book is synced by two fresh devices in the same run, one per body encoding (JSON,
//! CBOR), so the figures compare like with like. A third line derives what the JSON run would
//! have been with the 32-byte digests of before (43 characters instead of 22): every hash the
//! JSON bodies carry, counted by parsing them, costs 21 bytes more; nothing else differs (ids,
//! counts and batch sizes are the same). Nothing here is timed: byte counts only.
//!
//! `cargo run --release -p contactsync-tests --bin wire_size [-- --contacts N]`
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "a measuring binary: it reports on stdout and stops loudly on a broken setup"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contactsync_core::upload::SyncOptions;
use contactsync_core::{Config, Engine, NoProgress, Region};
use contactsync_tests::net::{Faulty, Loopback, register_open};
use contactsync_tests::synthetic::{Book, DEFAULT_REGION, SEED};
use contactsync_tests::world::World;
use serde_json::Value;

/// One contact in this many is a user of the app.
const USER_EVERY: usize = 50;

fn main() {
    let book = Book::from_args(SEED);
    let contacts = book.size;
    let world = World::roomy();
    let server = &world.server;
    let relay = Relay::start(server.url().trim_start_matches("http://").parse().unwrap());
    let region = Region::new(DEFAULT_REGION).unwrap();
    let users = world.register_every(&book, USER_EVERY);
    println!(
        "{contacts} contacts, {users} of them users of the app; first sync of each device through \
         a counting relay (HTTP/1.1 on loopback, no TLS)"
    );

    let mut runs = Vec::new();
    for (label, options) in encodings() {
        let registered = register_open(&server.url()).unwrap();
        let engine = Engine::open(
            world.dir.path().join(format!("{label}.db")),
            Config::with_region(region),
        )
        .unwrap();
        let import = engine
            .import_snapshot(book.contacts(), &NoProgress)
            .unwrap();
        let transport = Faulty::recording(Loopback::new(&relay.url(), Some(&registered.token)));
        let before = relay.counts();
        let report = engine.sync(&transport, &options, &NoProgress).unwrap();
        let after = relay.counts();
        assert_eq!(report.added, import.queued_add, "{label}: not all uploaded");
        let mut bodies: BTreeMap<String, Counts> = BTreeMap::new();
        for x in transport.exchanges() {
            let path = x.path.split('?').next().unwrap_or_default().to_owned();
            let entry = bodies.entry(path).or_default();
            entry.requests += 1;
            entry.up += x.body.len();
            entry.down += x.answer.len();
            entry.hashes_up += hashes_in(&x.body);
            entry.hashes_down += hashes_in(&x.answer);
        }
        let run = Run {
            label,
            hashes: report.added + report.removed,
            matches: report.new_matches,
            bodies,
            wire_up: after.0 - before.0,
            wire_down: after.1 - before.1,
        };
        if label == "json" {
            runs.push(run.before_truncation());
        }
        runs.push(run);
    }
    for run in &runs {
        run.print();
    }
    world.server.stop();
}

/// The encodings compared: each a label and the sync options that select it.
fn encodings() -> Vec<(&'static str, SyncOptions)> {
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    vec![
        (
            "json",
            SyncOptions {
                cbor: false,
                ..options.clone()
            },
        ),
        ("cbor", options),
    ]
}

/// Hashes in a JSON body: the lists of batches, matches and changes.
fn hashes_in(body: &[u8]) -> usize {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    ["add", "remove", "matches", "gained", "lost"]
        .iter()
        .filter_map(|list| value.get(list).and_then(Value::as_array))
        .map(Vec::len)
        .sum()
}

/// One path's exchanges.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    requests: usize,
    /// Request body bytes.
    up: usize,
    /// Answer body bytes.
    down: usize,
    /// Hashes in the request bodies (JSON runs only).
    hashes_up: usize,
    /// Hashes in the answer bodies (JSON runs only).
    hashes_down: usize,
}

/// One device's first sync.
struct Run {
    label: &'static str,
    hashes: u64,
    matches: u64,
    /// Per path.
    bodies: BTreeMap<String, Counts>,
    wire_up: u64,
    wire_down: u64,
}

impl Run {
    /// A JSON run as it would have been with 43-character hashes: 21 bytes more per hash.
    fn before_truncation(&self) -> Run {
        const MORE: usize = 43 - 22;
        let bodies: BTreeMap<String, Counts> = self
            .bodies
            .iter()
            .map(|(path, c)| {
                let before = Counts {
                    up: c.up + MORE * c.hashes_up,
                    down: c.down + MORE * c.hashes_down,
                    ..*c
                };
                (path.clone(), before)
            })
            .collect();
        let (up, down): (usize, usize) = self
            .bodies
            .values()
            .map(|c| (c.hashes_up, c.hashes_down))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        Run {
            label: "json, 32-byte digests (before; derived from the json run)",
            hashes: self.hashes,
            matches: self.matches,
            bodies,
            wire_up: self.wire_up + (MORE * up) as u64,
            wire_down: self.wire_down + (MORE * down) as u64,
        }
    }

    fn print(&self) {
        println!();
        println!(
            "== {}: {} hashes uploaded, {} matches",
            self.label, self.hashes, self.matches
        );
        println!(
            "{:<16} {:>8} {:>14} {:>14}",
            "path", "requests", "body B up", "body B down"
        );
        let (mut up, mut down) = (0, 0);
        for (path, c) in &self.bodies {
            println!("{path:<16} {:>8} {:>14} {:>14}", c.requests, c.up, c.down);
            up += c.up;
            down += c.down;
        }
        println!("{:<16} {:>8} {up:>14} {down:>14}", "bodies", "");
        println!(
            "{:<16} {:>8} {:>14} {:>14}",
            "on the wire", "", self.wire_up, self.wire_down
        );
        let batches = self.bodies.get("/v1/batches").copied().unwrap_or_default();
        println!(
            "per hash: {:.2} B in batch bodies, {:.2} B up with HTTP heads, {:.2} B up and down",
            batches.up as f64 / self.hashes as f64,
            self.wire_up as f64 / self.hashes as f64,
            (self.wire_up + self.wire_down) as f64 / self.hashes as f64
        );
    }
}

/// A TCP relay in front of the server that counts the bytes each way: what a sync costs on the
/// wire, HTTP request and status lines and headers included.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Relay {
    fn start(server: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let (u, d) = (Arc::clone(&up), Arc::clone(&down));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(server) else {
                    continue;
                };
                pipe(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    &u,
                );
                pipe(upstream, client, &d);
            }
        });
        Relay { addr, up, down }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes relayed so far: (to the server, from the server).
    fn counts(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to` on a thread of its own, counting.
fn pipe(mut from: TcpStream, mut to: TcpStream, count: &Arc<AtomicU64>) {
    let count = Arc::clone(count);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    count.fetch_add(n as u64, Ordering::SeqCst);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
