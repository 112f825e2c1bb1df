//! Wire size of a first sync: what a 100,000-contact address book (core/benches/synthetic) sends
//! and receives on its first sync with the reference server, on loopback, over real HTTP.
//!
//! Counted twice: the bodies, per endpoint, as the core's transport sees them; and every byte
//! on the TCP connections (HTTP heads included), through a counting relay in front of the server.
//! The same book is synced by two fresh devices in the same run, one per body encoding, so the
//! figures compare like with like. Nothing here is timed: byte counts only.
//!
//! `cargo run --release -p contactsync-tests --bin wire_size [-- --contacts N]`
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "a measuring binary: it reports on stdout and stops loudly on a broken setup"
)]

#[path = "../../../core/benches/synthetic/mod.rs"]
#[allow(
    dead_code,
    reason = "the benchmarks' generator; this binary uses part of it"
)]
mod synthetic;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contactsync_core::upload::SyncOptions;
use contactsync_core::{Config, Engine, NoProgress, Normalizer, Region};
use contactsync_server::{LimitsConfig, ServerConfig};
use contactsync_tests::net::{Faulty, Loopback, register_first_identifiers, register_open};
use synthetic::{Book, DEFAULT_REGION};

const SEED: u64 = 20_261_125;
const ADMIN: &str = "wire-size-admin-token-0123456789";
/// One contact in this many is a user of the app.
const USER_EVERY: usize = 50;

fn main() {
    let mut contacts = 100_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--contacts") {
        contacts = args[i + 1].parse().expect("--contacts N");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(
        dir.path().join("server.db"),
        "127.0.0.1:0".parse().unwrap(),
        ADMIN,
    );
    config.limits = LimitsConfig {
        daily_new_identifiers: 10_000_000,
        requests_per_minute: 1_000_000,
        ..LimitsConfig::default()
    };
    let server = contactsync_server::start(config).unwrap();
    let relay = Relay::start(server.url().trim_start_matches("http://").parse().unwrap());
    let admin = Loopback::new(&server.url(), Some(ADMIN));
    let region = Region::new(DEFAULT_REGION).unwrap();
    let book = Book {
        seed: SEED,
        size: contacts,
    };
    let users = register_users(&admin, &book, Normalizer::new(region));
    println!(
        "{contacts} contacts, {users} of them users of the app; first sync of each device through \
         a counting relay (HTTP/1.1 on loopback, no TLS)"
    );

    let mut runs = Vec::new();
    for (label, options) in encodings() {
        let registered = register_open(&server.url()).unwrap();
        let engine = Engine::open(
            dir.path().join(format!("{label}.db")),
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
        let mut bodies: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        for x in transport.exchanges() {
            let path = x.path.split('?').next().unwrap_or_default().to_owned();
            let entry = bodies.entry(path).or_default();
            entry.0 += 1;
            entry.1 += x.body.len();
            entry.2 += x.answer.len();
        }
        runs.push(Run {
            label,
            hashes: report.added + report.removed,
            matches: report.new_matches,
            bodies,
            wire_up: after.0 - before.0,
            wire_down: after.1 - before.1,
        });
    }
    for run in &runs {
        run.print();
    }
    server.stop();
}

/// The encodings compared: each a label and the sync options that select it.
fn encodings() -> Vec<(&'static str, SyncOptions)> {
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    vec![("json", options)]
}

/// One device's first sync.
struct Run {
    label: &'static str,
    hashes: u64,
    matches: u64,
    /// Per path: requests, request body bytes, answer body bytes.
    bodies: BTreeMap<String, (usize, usize, usize)>,
    wire_up: u64,
    wire_down: u64,
}

impl Run {
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
        for (path, (n, sent, received)) in &self.bodies {
            println!("{path:<16} {n:>8} {sent:>14} {received:>14}");
            up += sent;
            down += received;
        }
        println!("{:<16} {:>8} {up:>14} {down:>14}", "bodies", "");
        println!(
            "{:<16} {:>8} {:>14} {:>14}",
            "on the wire", "", self.wire_up, self.wire_down
        );
        let batches = self.bodies.get("/v1/batches").copied().unwrap_or_default();
        println!(
            "per hash: {:.2} B in batch bodies, {:.2} B up with HTTP heads, {:.2} B up and down",
            batches.1 as f64 / self.hashes as f64,
            self.wire_up as f64 / self.hashes as f64,
            (self.wire_up + self.wire_down) as f64 / self.hashes as f64
        );
    }
}

/// Registers the first valid identifier of every 50th contact as an app user; returns how many.
fn register_users(admin: &Loopback, book: &Book, normalizer: Normalizer) -> usize {
    let every = (0..book.size).step_by(USER_EVERY);
    register_first_identifiers(admin, every.map(|i| (i, book.contact(i))), &normalizer).unwrap()
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
