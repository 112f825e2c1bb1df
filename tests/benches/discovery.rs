//! Discovery benchmark: the private mode (an oblivious PRF and a filter of the users' tags)
//! beside the keyed-hash mode, end to end, in one run, against the reference server on loopback
//! (real HTTP, a real SQLite file on each side, the release build).
//!
//! 1. **First discovery** of a fresh device, for books of 1,000 and 100,000 contacts
//!    (`contactsync_tests::synthetic`): import, then sync until done, once with the server in the
//!    keyed-hash mode and once with it in the private mode, on the same database and users. Prints
//!    wall time, the device's CPU time, requests, bytes up and down (in all and per identifier)
//!    and matches; the matches of both modes must be the same (asserted: a correctness check).
//! 2. **Server evaluations per second over HTTP**: connections posting full-bucket
//!    `POST /v1/private/evaluate` requests (one pre-blinded batch of 1,024 elements, sent again
//!    and again, the answer checked once) for a fixed time, in CBOR and in JSON.
//!
//! **The server** runs in this process (`contactsync_server::start`: two tokio workers, the
//! evaluation on its blocking pool), its limits raised so that no quota stops a 100,000-contact
//! first sync in one day. It holds the book's users (every [`USER_EVERY`]th contact's first
//! valid identifier) and `--others` more (half German mobile numbers, half e-mail addresses).
//!
//! **CPU time** comes from `/proc` (10 ms ticks, `contactsync_tests::cpu`): the server's is the
//! sum over its threads (named `contactsync-server`, sampled every 50 ms so that blocking-pool
//! threads that exit still count); the device's is the process's less the server's and the sampler's: the engine (import,
//! hashing or blinding and verifying, its SQLite file), the HTTP client and the recording of
//! each exchange.
//!
//! ```sh
//! cargo bench -p contactsync-tests --bench discovery            # about 5 minutes
//! cargo bench -p contactsync-tests --bench discovery -- --quick # one run of each
//! cargo bench -p contactsync-tests --bench discovery -- --check # seconds: proves the harness
//! cargo test -p contactsync-tests --bench discovery -- --check  # the same, debug build (CI)
//! ```
//! Options: `--sizes 1000,100000`, `--runs N` (default 5 below 10,000 contacts, 3 above),
//! `--others N` (100,000), `--seconds S`, `--connections N` and `--bucket N` (the evaluation
//! phase: 5 s, 8, 1,024), `--only discovery|evaluate`. Figures: docs/performance.md, "Private
//! discovery".
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: it reports on stdout and stops loudly on a broken setup"
)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contactsync_core::oprf::{Blinded, Element, PublicKey};
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::private::{Bytes, EvaluateAnswer, EvaluateRequest};
use contactsync_core::protocol::wire::{
    ConfigAnswer, UserEntry, UserIdentifier, UsersAnswer, UsersRequest,
};
use contactsync_core::upload::{Method, Request, SyncOptions, Transport, call, get};
use contactsync_core::{Discovery, IdentifierKind, NoProgress, Normalizer, Region};
use contactsync_server::LimitsConfig;
use contactsync_tests::cpu::{CpuSampler, process_cpu};
use contactsync_tests::net::Faulty;
use contactsync_tests::synthetic::{Book, DEFAULT_REGION, SEED};
use contactsync_tests::world::World;

/// One contact in this many is a user of the app (10%: a well-established app).
const USER_EVERY: usize = 10;

struct Args {
    sizes: Vec<usize>,
    runs: Option<usize>,
    others: usize,
    seconds: f64,
    connections: usize,
    bucket: usize,
    discovery: bool,
    evaluate: bool,
}

impl Args {
    fn parse() -> Args {
        let given: Vec<String> = std::env::args().skip(1).collect();
        let value = |name: &str| {
            given.iter().position(|a| a == name).map(|i| {
                given
                    .get(i + 1)
                    .unwrap_or_else(|| panic!("{name} needs a value"))
            })
        };
        let flag = |name: &str| given.iter().any(|a| a == name);
        let mut args = Args {
            sizes: vec![1_000, 100_000],
            runs: None,
            others: 100_000,
            seconds: 5.0,
            connections: 8,
            bucket: 1024,
            discovery: true,
            evaluate: true,
        };
        if flag("--quick") {
            args.runs = Some(1);
        }
        if flag("--check") {
            // Small enough for a debug build (`cargo test`), whose cryptography is about a
            // hundred times slower: the harness is what is checked, not the figures.
            args.sizes = vec![20];
            args.runs = Some(1);
            args.others = 20;
            args.seconds = 1.0;
            args.bucket = 16;
        }
        if let Some(v) = value("--sizes") {
            args.sizes = v
                .split(',')
                .map(|s| s.parse().expect("--sizes N,M"))
                .collect();
        }
        if let Some(v) = value("--runs") {
            args.runs = Some(v.parse().expect("--runs N"));
        }
        if let Some(v) = value("--others") {
            args.others = v.parse().expect("--others N");
        }
        if let Some(v) = value("--seconds") {
            args.seconds = v.parse().expect("--seconds S");
        }
        if let Some(v) = value("--connections") {
            args.connections = v.parse().expect("--connections N");
        }
        if let Some(v) = value("--bucket") {
            args.bucket = v.parse().expect("--bucket N (one of the server's buckets)");
        }
        match value("--only").map(String::as_str) {
            None => {}
            Some("discovery") => args.evaluate = false,
            Some("evaluate") => args.discovery = false,
            Some(other) => panic!("--only discovery|evaluate, not {other}"),
        }
        args
    }
}

fn main() {
    let args = Args::parse();
    // Other work on the machine shows in every figure but the CPU times: printed to judge a run.
    println!("load average (1, 5, 15 min) at the start: {}", load());
    let sampler = CpuSampler::start().unwrap();
    let mut world = World::new(LimitsConfig {
        // A first sync of 100,000 contacts (about 200,000 identifiers, padded) in one day, and
        // the throughput phase's millions of evaluations.
        daily_new_identifiers: 1_000_000_000,
        max_set_size: 10_000_000,
        requests_per_minute: 10_000_000,
        ..LimitsConfig::default()
    });
    // Users are registered with the mode on, so each gets its PRF values with its hashes.
    world.set_private(true);
    let largest = args.sizes.iter().copied().max().unwrap_or(0);
    let started = Instant::now();
    let (users, others) = register_users(&world, largest, args.others);
    println!(
        "setup: {users} users from the book (every {USER_EVERY}th contact of {largest}) and \
         {others} others registered in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if args.discovery {
        for &size in &args.sizes {
            let runs = args.runs.unwrap_or(if size < 10_000 { 5 } else { 3 });
            first_discovery(&mut world, &sampler, size, runs);
        }
    }
    if args.evaluate {
        world.set_private(true);
        evaluations(&world, &sampler, &args);
    }
    sampler.stop();
    println!();
    println!("load average (1, 5, 15 min) at the end: {}", load());
}

fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Registers the book's users and `others` more in batches of 1,000 (`POST /v1/admin/users`);
/// returns how many of each.
fn register_users(world: &World, size: usize, others: usize) -> (usize, usize) {
    let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).unwrap());
    let book = Book { seed: SEED, size };
    let from_book = (0..size).step_by(USER_EVERY).filter_map(|i| {
        let contact = book.contact(i);
        let id = contact
            .values
            .iter()
            .find_map(|v| normalizer.normalize(v.kind, &v.value).ok())?;
        Some(entry(
            format!("u_{i}"),
            id.kind(),
            id.canonical().to_owned(),
        ))
    });
    let entries: Vec<UserEntry> = from_book.collect();
    let users = entries.len();
    let entries = entries.into_iter().chain((0..others).map(|i| {
        if i % 2 == 0 {
            entry(
                format!("o_{i}"),
                IdentifierKind::Phone,
                format!("+49151{:08}", 10_000_000 + i),
            )
        } else {
            entry(
                format!("o_{i}"),
                IdentifierKind::Email,
                format!("o{i}@others.example"),
            )
        }
    }));
    let admin = world.admin();
    let mut batch = Vec::with_capacity(1_000);
    let send = |batch: &mut Vec<UserEntry>| {
        let request = UsersRequest {
            users: std::mem::take(batch),
        };
        let _: UsersAnswer = call(&admin, Method::Post, "/v1/admin/users", Some(&request)).unwrap();
    };
    for e in entries {
        batch.push(e);
        if batch.len() == 1_000 {
            send(&mut batch);
        }
    }
    if !batch.is_empty() {
        send(&mut batch);
    }
    (users, others)
}

fn entry(user_ref: String, kind: IdentifierKind, value: String) -> UserEntry {
    UserEntry {
        user_ref,
        discoverable: true,
        identifiers: vec![UserIdentifier {
            kind: kind.as_str().to_owned(),
            value,
        }],
    }
}

/// One first discovery's figures.
struct Run {
    import_wall: Duration,
    import_cpu: Duration,
    sync_wall: Duration,
    device_cpu: Duration,
    server_cpu: Duration,
    requests: usize,
    up: usize,
    down: usize,
    /// Of `down`, the users' filter (`GET /v1/private/filter...`): a cost of the user base,
    /// not of the book.
    filter: usize,
    identifiers: u64,
    matches: BTreeSet<(Option<String>, String, String)>,
}

/// Medians of `runs` first discoveries of a `size`-contact book in each mode, printed side by
/// side; the matches must agree.
fn first_discovery(world: &mut World, sampler: &CpuSampler, size: usize, runs: usize) {
    let book = Book { seed: SEED, size };
    let mut hashed = Vec::new();
    let mut private = Vec::new();
    for run in 0..runs {
        for (on, runs) in [(false, &mut hashed), (true, &mut private)] {
            world.set_private(on);
            runs.push(discover(world, sampler, &book, on, run));
        }
    }
    let (h, p) = (&hashed[0], &private[0]);
    assert_eq!(
        h.matches, p.matches,
        "the two modes must find the same matches"
    );
    for r in hashed.iter().chain(&private) {
        assert_eq!(r.matches, h.matches, "every run must find the same matches");
    }
    println!();
    println!(
        "first discovery, {size} contacts ({} identifiers, {} matches); medians of {runs} run(s)",
        h.identifiers,
        h.matches.len()
    );
    println!(
        "{:<34} {:>14} {:>14} {:>8}",
        "", "keyed hash", "private", "ratio"
    );
    let row = |label: &str, f: &dyn Fn(&Run) -> f64, unit: &str| {
        let (a, b) = (median(&hashed, f), median(&private, f));
        println!(
            "{label:<34} {:>11.1} {unit:<2} {:>11.1} {unit:<2} {:>7.1}×",
            a,
            b,
            b / a.max(f64::MIN_POSITIVE)
        );
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    row("import: wall", &|r| ms(r.import_wall), "ms");
    row("import: CPU", &|r| ms(r.import_cpu), "ms");
    row("sync until done: wall", &|r| ms(r.sync_wall), "ms");
    row("sync: device CPU", &|r| ms(r.device_cpu), "ms");
    row("sync: server CPU", &|r| ms(r.server_cpu), "ms");
    row(
        "first discovery (import + sync): wall",
        &|r| ms(r.import_wall + r.sync_wall),
        "ms",
    );
    row("requests", &|r| r.requests as f64, "");
    row("bytes up", &|r| r.up as f64, "B");
    row("bytes down", &|r| r.down as f64, "B");
    row("  of which the users' filter", &|r| r.filter as f64, "B");
    row(
        "bytes up per identifier",
        &|r| r.up as f64 / r.identifiers.max(1) as f64,
        "B",
    );
    row(
        "bytes down per identifier, no filter",
        &|r| (r.down - r.filter) as f64 / r.identifiers.max(1) as f64,
        "B",
    );
    row(
        "device CPU per identifier",
        &|r| r.device_cpu.as_secs_f64() * 1e6 / r.identifiers.max(1) as f64,
        "µs",
    );
    row(
        "server CPU per identifier",
        &|r| r.server_cpu.as_secs_f64() * 1e6 / r.identifiers.max(1) as f64,
        "µs",
    );
}

/// A fresh device's first discovery: import the book, then sync until nothing is left.
fn discover(world: &World, sampler: &CpuSampler, book: &Book, private: bool, run: usize) -> Run {
    // The server's first request after a restart builds its filter cache: not the device's cost.
    let (warm, _) = world.device(None);
    let _: ConfigAnswer = get(&warm, Method::Get, "/v1/config").unwrap();

    let (transport, _) = world.device(None);
    let name = format!("d{}_{}_{run}", book.size, u8::from(private));
    let engine = world.engine(&name);
    let cpu = process_cpu();
    let started = Instant::now();
    engine
        .import_snapshot(book.contacts(), &NoProgress)
        .unwrap();
    let import_wall = started.elapsed();
    let import_cpu = process_cpu().saturating_sub(cpu);

    let recording = Faulty::recording(transport);
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    let (cpu, server_before, sampler_before) = (process_cpu(), sampler.server(), sampler.own());
    let started = Instant::now();
    let mut identifiers = 0;
    for _ in 0..10 {
        let report = engine.sync(&recording, &options, &NoProgress).unwrap();
        identifiers += report.added;
        if report.deferred == 0 {
            break;
        }
    }
    let sync_wall = started.elapsed();
    let server_cpu = sampler.server().saturating_sub(server_before);
    let device_cpu = process_cpu()
        .saturating_sub(cpu)
        .saturating_sub(server_cpu)
        .saturating_sub(sampler.own().saturating_sub(sampler_before));
    let expected = if private {
        Discovery::Private
    } else {
        Discovery::Hashed
    };
    assert_eq!(engine.discovery().unwrap(), expected);
    let exchanges = recording.exchanges();
    assert!(exchanges.iter().all(|x| x.status.is_some_and(|s| s < 300)));
    let matches = contactsync_tests::match_rows(&engine);
    drop(engine);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(world.dir.path().join(format!("{name}.db{suffix}")));
    }
    Run {
        import_wall,
        import_cpu,
        sync_wall,
        device_cpu,
        server_cpu,
        requests: exchanges.len(),
        up: exchanges.iter().map(|x| x.body.len() + x.path.len()).sum(),
        down: exchanges.iter().map(|x| x.answer.len()).sum(),
        filter: exchanges
            .iter()
            .filter(|x| x.path.starts_with("/v1/private/filter"))
            .map(|x| x.answer.len())
            .sum(),
        identifiers,
        matches,
    }
}

fn median(runs: &[Run], f: &dyn Fn(&Run) -> f64) -> f64 {
    let mut values: Vec<f64> = runs.iter().map(f).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Evaluation requests of `--bucket` elements from `--connections` connections (one device
/// each) for `--seconds`, in each encoding: evaluations and requests per second, and where the
/// CPU went.
fn evaluations(world: &World, sampler: &CpuSampler, args: &Args) {
    let (seconds, connections, bucket) = (args.seconds, args.connections, args.bucket);
    let devices: Vec<String> = (0..connections)
        .map(|_| world.device(None).1.token)
        .collect();
    let config: ConfigAnswer =
        get(&world.transport(&devices[0]), Method::Get, "/v1/config").unwrap();
    let private = config.private.expect("private discovery is on");
    let key = PublicKey::from_bytes(&private.public_key.0).unwrap();
    let ids: Vec<(IdentifierKind, String)> = (0..bucket)
        .map(|i| (IdentifierKind::Phone, format!("+49160{i:08}")))
        .collect();
    let blinded = Blinded::new(&ids, bucket).unwrap();
    let request = EvaluateRequest {
        epoch: private.epoch,
        elements: blinded.elements().iter().map(|e| Bytes(e.0)).collect(),
    };
    println!();
    println!(
        "server evaluations over HTTP: {connections} connections posting {bucket}-element \
         batches for {seconds} s, the server on {} cores",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    for encoding in [Encoding::Cbor, Encoding::Json] {
        let body = encoding.encode(&request).unwrap();
        // The answer is checked once: a real evaluation under the published key.
        let first = world
            .transport(&devices[0])
            .send(evaluate_request(encoding, &body))
            .unwrap();
        let text = String::from_utf8_lossy(&first.body);
        assert_eq!(first.status, 200, "{text}");
        let answer: EvaluateAnswer = encoding.decode(&first.body).unwrap();
        let evaluated: Vec<Element> = answer.evaluated.iter().map(|b| Element(b.0)).collect();
        let proofs: Vec<_> = answer.proofs.iter().map(|p| p.0).collect();
        blinded.finalize(&key, &evaluated, &proofs).unwrap();

        let done = AtomicU64::new(0);
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let (cpu, server) = (process_cpu(), sampler.server());
        let started = Instant::now();
        std::thread::scope(|scope| {
            for token in &devices {
                let (done, body) = (&done, &body);
                scope.spawn(move || {
                    let transport = world.transport(token);
                    while Instant::now() < deadline {
                        let answer = transport.send(evaluate_request(encoding, body)).unwrap();
                        assert_eq!(answer.status, 200);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        let server_cpu = sampler.server().saturating_sub(server).as_secs_f64();
        let all_cpu = process_cpu().saturating_sub(cpu).as_secs_f64();
        let requests = done.load(Ordering::Relaxed) as f64;
        println!(
            "  {:<5} {:>8.0} evaluations/s  {:>6.1} requests/s  (target: at least 20,000 \
             evaluations/s)  CPU: server {:.2} cores, {:.1} µs per evaluation; clients {:.2} \
             cores; {} B up, {} B down per request",
            format!("{encoding:?}"),
            requests * bucket as f64 / elapsed,
            requests / elapsed,
            server_cpu / elapsed,
            server_cpu * 1e6 / (requests * bucket as f64).max(1.0),
            (all_cpu - server_cpu).max(0.0) / elapsed,
            body.len(),
            encoding.encode(&answer).unwrap().len(),
        );
    }
}

/// A `POST /v1/private/evaluate` request carrying `body`, answered in the same encoding.
fn evaluate_request(encoding: Encoding, body: &[u8]) -> Request {
    Request {
        method: Method::Post,
        path: "/v1/private/evaluate".into(),
        headers: vec![
            ("Content-Type".into(), encoding.media_type().into()),
            ("Accept".into(), encoding.media_type().into()),
        ],
        body: body.to_vec(),
    }
}
