//! Import benchmark: a deterministic synthetic address book (`contactsync_tests::synthetic`)
//! through the engine, as a phone app would feed it.
//!
//! Prints medians of repeated runs, each in a fresh child process (so that peak memory is the
//! import's own, and nothing is warm that an app's first import would find cold):
//! - **first import** of the whole book into an empty database (normalise + hash + store);
//! - **re-import** of the same book as a full snapshot after 10 contacts changed, 10 were added and
//!   10 removed — and how many contacts that re-import normalised (it should be the 20 new or
//!   changed ones, not the book);
//! - the same 30 changes through the **change feed**;
//! - both again in a process whose phone patterns for the changed contacts' regions are not yet
//!   compiled (about 10 ms a region, once per process; see docs/performance.md);
//! - **peak RSS** (`VmHWM`) of the first-import process.
//!
//! Baselines in the same run: normalising and hashing the book on one thread with no store (what
//! the import would cost if writing were free), the **storage floor** (plain SQLite writing the
//! rows the first import leaves, computed beforehand, in key order: `contactsync_tests::floor`),
//! the same rows in the order and transactions a streaming import can write them, and the
//! issue's targets.
//!
//! `cargo bench -p contactsync-tests --bench import [-- --contacts N --runs R]`
//! (environment `CS_WORKERS`, `CS_CHUNK`, `CS_CACHE_KIB` override the engine's defaults;
//! `CS_FLOOR="variant;variant"` measures other ways of writing the floor's rows
//! ([`contactsync_tests::floor::Variant::parse`]), and `CS_FLOOR_ONLY=1` only those); `--normalise [N]` runs only
//! the normalise + hash baseline and a hash of its output, for profiling the normaliser (`valgrind
//! --tool=callgrind --toggle-collect='import::baseline'`), `--normalise N thread` the same on a
//! thread other than the one that warmed the region's phone patterns up, as in an import, and
//! `--normalise N same-thread` on the thread that warmed them up

// A benchmark binary reports on stdout; that is its job.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: it reports on stdout and stops loudly on a broken setup"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use contactsync_core::{Config, Engine, ImportReport, NoProgress, Normalizer, Region};
use contactsync_tests::synthetic::{Book, DEFAULT_REGION, SEED};

mod floors;

use floors::{floor_child, measure_floor, print_floors};

const KEY: [u8; 32] = [0x5a; 32];
const CHANGED: usize = 10;
const ADDED: usize = 10;
const REMOVED: usize = 10;

/// The engine's defaults; `CS_WORKERS`, `CS_CHUNK` and `CS_CACHE_KIB` override them to explore.
fn config() -> Config {
    let mut c = Config::with_region(Region::new(DEFAULT_REGION).expect("region"));
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = env("CS_WORKERS") {
        c.workers = n;
    }
    if let Some(n) = env("CS_CHUNK") {
        c.chunk_size = n;
    }
    if let Some(n) = env("CS_CACHE_KIB").and_then(|n| u32::try_from(n).ok()) {
        c.store.cache_kib = n;
    }
    c
}

fn open(db: &Path) -> Engine {
    let engine = Engine::open(db, config()).expect("open");
    engine.set_key("bench-key", &KEY, &NoProgress).expect("key");
    engine
}

/// One measurement in this process; prints `millis normalized rss_kib` on stdout.
fn child(mode: &str, db: &Path, size: usize) {
    let book = Book { seed: SEED, size };
    let engine = open(db);
    let (elapsed, cpu, report): (Duration, f64, ImportReport) = match mode {
        "first" => {
            let (t, cpu) = (Instant::now(), cpu_millis());
            let r = engine
                .import_snapshot(book.contacts(), &NoProgress)
                .expect("first import");
            (t.elapsed(), cpu_millis() - cpu, r)
        }
        "reimport" | "reimport-cold" => {
            // The book is generated before the clock starts: the engine's cost, not the
            // generator's (an app's platform reader has its own).
            let edited: Vec<_> = book.edited(CHANGED, ADDED, REMOVED).collect();
            if mode == "reimport" {
                // As in a long-lived app, the phone patterns of the regions in the book are
                // compiled (by the first import); `reimport-cold` measures a fresh process.
                let (upserts, _) = book.edit_feed(CHANGED, ADDED, REMOVED);
                warm_up(&upserts);
            }
            let (t, cpu) = (Instant::now(), cpu_millis());
            let r = engine
                .import_snapshot(edited, &NoProgress)
                .expect("re-import");
            (t.elapsed(), cpu_millis() - cpu, r)
        }
        "feed" => {
            let (upserts, deleted) = book.edit_feed(CHANGED, ADDED, REMOVED);
            // An app's engine is long-lived: compile the phone patterns of these contacts'
            // regions first (the cold figure is printed separately by `feed-cold`).
            warm_up(&upserts);
            let (t, cpu) = (Instant::now(), cpu_millis());
            let r = engine
                .apply_changes(&upserts, &deleted, &NoProgress)
                .expect("feed");
            (t.elapsed(), cpu_millis() - cpu, r)
        }
        "feed-cold" => {
            let (upserts, deleted) = book.edit_feed(CHANGED, ADDED, REMOVED);
            let (t, cpu) = (Instant::now(), cpu_millis());
            let r = engine
                .apply_changes(&upserts, &deleted, &NoProgress)
                .expect("feed");
            (t.elapsed(), cpu_millis() - cpu, r)
        }
        other => panic!("unknown mode {other}"),
    };
    if mode != "first" {
        assert_eq!(
            (report.added, report.changed, report.removed),
            (ADDED as u64, CHANGED as u64, REMOVED as u64),
            "{mode}: the edit is 10 added, 10 changed, 10 removed"
        );
    }
    println!(
        "{} {} {} {} {cpu} {}",
        elapsed.as_secs_f64() * 1000.0,
        report.normalized,
        peak_rss_kib(),
        report.added + report.changed + report.unchanged,
        written_bytes()
    );
}

/// Normalises contacts once, for the side effect of compiling their regions' phone patterns.
fn warm_up(contacts: &[contactsync_core::RawContact]) {
    let n = Normalizer::new(Region::new(DEFAULT_REGION).expect("region"));
    for c in contacts {
        std::hint::black_box(n.normalize_contact(c));
    }
}

/// CPU time of this process so far (all threads, user + system), in milliseconds; from
/// /proc/self/stat, in clock ticks of 10 ms.
fn cpu_millis() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 * 10.0)
        })
        .unwrap_or(0.0)
}

/// Bytes this process has written to files so far (`wchar` in /proc/self/io: the database, its
/// WAL and the WAL's index, whether or not they have reached the disk yet). Unlike time, the same
/// on a busy machine as on an idle one.
fn written_bytes() -> u64 {
    proc_number("/proc/self/io", "wchar:")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

fn peak_rss_kib() -> u64 {
    proc_number("/proc/self/status", "VmHWM:")
}

/// The number after `field` in a /proc file of `field value` lines; 0 when there is none.
fn proc_number(file: &str, field: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Sample {
    millis: f64,
    normalized: u64,
    rss_kib: u64,
    contacts: u64,
    cpu_millis: f64,
    written: u64,
}

/// Runs this benchmark again as a child process with `args` (a fresh process per measurement, so
/// its peak RSS is the measurement's own); returns the words it printed.
fn spawn_self(args: &[&str]) -> Vec<String> {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(args)
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn run_child(mode: &str, db: &Path, size: usize) -> Sample {
    let f = spawn_self(&[
        "--child",
        mode,
        &db.display().to_string(),
        &size.to_string(),
    ]);
    Sample {
        millis: f[0].parse().expect("millis"),
        normalized: f[1].parse().expect("normalized"),
        rss_kib: f[2].parse().expect("rss"),
        contacts: f[3].parse().expect("contacts"),
        cpu_millis: f[4].parse().expect("cpu"),
        written: f[5].parse().expect("written"),
    }
}

fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let src = PathBuf::from(format!("{}{suffix}", from.display()));
        let dst = PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).expect("copy");
            // Flushed now, so that the measured run's first fsync does not pay for this copy.
            std::fs::File::open(&dst)
                .and_then(|f| f.sync_all())
                .expect("sync");
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// Normalises and hashes the book on one thread with no store; prints what the book holds and
/// returns the milliseconds it took.
fn baseline(size: usize) -> f64 {
    let book = Book { seed: SEED, size };
    let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).expect("region"));
    let key = contactsync_core::HashKey::new("bench-key", &KEY).expect("key");
    let (mut values, mut identifiers) = (0usize, 0usize);
    let t = Instant::now();
    for c in book.contacts() {
        let n = normalizer.normalize_contact(&c);
        values += c.values.len();
        identifiers += n.identifiers.len();
        for id in &n.identifiers {
            std::hint::black_box(key.hash(id));
        }
    }
    let baseline = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "book: {values} raw values, {identifiers} identifiers ({:.2} per contact); \
         normalising it alone peaks at {:.1} MiB RSS",
        identifiers as f64 / size as f64,
        peak_rss_kib() as f64 / 1024.0
    );

    baseline
}

/// A hash of everything normalising and hashing the book produces (identifiers, digests,
/// rejections with their reason codes, fingerprints), so that a change to the normaliser can show
/// that its output on the whole book stayed the same (`SipHash` with fixed keys: the same in every
/// build of one toolchain).
fn output_digest(size: usize) -> String {
    use std::hash::{DefaultHasher, Hash as _, Hasher as _};
    let book = Book { seed: SEED, size };
    let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).expect("region"));
    let key = contactsync_core::HashKey::new("bench-key", &KEY).expect("key");
    let mut h = DefaultHasher::new();
    for c in book.contacts() {
        let n = normalizer.normalize_contact(&c);
        for id in &n.identifiers {
            (id.to_string(), key.hash(id).0).hash(&mut h);
        }
        for r in &n.rejections {
            (&r.label, &r.value, r.reason.code()).hash(&mut h);
        }
        n.content_fingerprint.0.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// Medians over the runs.
struct Figures {
    first: f64,
    first_cpu: f64,
    /// MiB the first import wrote to files.
    first_written: f64,
    re: f64,
    re_cold: f64,
    feed: f64,
    feed_cold: f64,
    rss: f64,
    re_normalized: u64,
    feed_normalized: u64,
    stored: u64,
}

/// Runs every measurement `runs` times, each in a fresh child process on its own copy of the
/// database the first import left.
fn measure(dir: &Path, size: usize, runs: usize) -> Figures {
    let (mut first, mut re, mut feed, mut rss) = (vec![], vec![], vec![], vec![]);
    let (mut feed_cold, mut re_cold, mut first_cpu) = (vec![], vec![], vec![]);
    let mut first_written = vec![];
    let (mut re_normalized, mut feed_normalized, mut stored) = (0, 0, 0);
    for run in 0..runs {
        let db = dir.join(format!("first-{run}.db"));
        let s = run_child("first", &db, size);
        first.push(s.millis);
        first_cpu.push(s.cpu_millis);
        first_written.push(mib(s.written));
        rss.push(s.rss_kib as f64);
        stored = s.contacts;
        let copy = |name: &str| {
            let path = dir.join(format!("{name}-{run}.db"));
            copy_db(&db, &path);
            path
        };
        let (feed_db, cold_db, cold_re_db) = (copy("feed"), copy("cold"), copy("cold-re"));
        re_cold.push(run_child("reimport-cold", &cold_re_db, size).millis);
        let s = run_child("reimport", &db, size);
        re.push(s.millis);
        re_normalized = s.normalized;
        let s = run_child("feed", &feed_db, size);
        feed.push(s.millis);
        feed_normalized = s.normalized;
        feed_cold.push(run_child("feed-cold", &cold_db, size).millis);
    }
    Figures {
        first: median(first),
        first_cpu: median(first_cpu),
        first_written: median(first_written),
        re: median(re),
        re_cold: median(re_cold),
        feed: median(feed),
        feed_cold: median(feed_cold),
        rss: median(rss) / 1024.0,
        re_normalized,
        feed_normalized,
        stored,
    }
}

/// Runs the measurement a child process was started for; false in the parent.
fn run_as_child(args: &[String]) -> bool {
    match args.get(1).map(String::as_str) {
        Some("--floor") => floor_child(
            Path::new(&args[2]),
            args[3].parse().expect("size"),
            &args[4],
        ),
        Some("--child") => child(
            &args[2],
            Path::new(&args[3]),
            args[4].parse().expect("size"),
        ),
        // Only the normalise + hash baseline, for profiling the normaliser on its own
        // (`perf stat -e instructions <bench binary> --normalise [N]`).
        Some("--normalise") => {
            let size = args.get(2).map_or(100_000, |n| n.parse().expect("size"));
            let region = Region::new(DEFAULT_REGION).expect("region");
            let warm_up = move || contactsync_core::identifier::phone::warm_up(region);
            let ms = match args.get(3).map(String::as_str) {
                // As in an import: the region's patterns were compiled (and first used) by
                // `Engine::open`'s warm-up thread, and another thread normalises; every regex
                // search then takes the regex pool's shared (locked) path.
                Some("thread") => {
                    std::thread::spawn(warm_up).join().expect("warm-up");
                    std::thread::spawn(move || baseline(size))
                        .join()
                        .expect("baseline")
                }
                // The same with the warm-up on the normalising thread: the pools' fast path.
                Some("same-thread") => std::thread::spawn(move || {
                    warm_up();
                    baseline(size)
                })
                .join()
                .expect("baseline"),
                _ => baseline(size),
            };
            println!("normalise + hash alone: {ms:.0} ms");
            println!("output digest: {}", output_digest(size));
        }
        _ => return false,
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if run_as_child(&args) {
        return;
    }
    let size = arg(&args, "--contacts", 100_000);
    let runs = arg(&args, "--runs", 5).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "import benchmark: {size} synthetic contacts (seed {SEED}, region {DEFAULT_REGION}), \
         {runs} runs, {} cores",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );

    let baseline = baseline(size);

    if std::env::var("CS_FLOOR_ONLY").is_ok() {
        for f in measure_floor(dir.path(), size, runs) {
            println!(
                "floor {:<60} {:>8.0} ms  cpu {:>6.0} ms  written {:>5.0} MiB",
                f.variant, f.millis, f.cpu, f.written
            );
        }
        return;
    }
    let Figures {
        first,
        first_cpu,
        first_written,
        re,
        re_cold,
        feed,
        feed_cold,
        rss,
        re_normalized,
        feed_normalized,
        stored,
    } = measure(dir.path(), size, runs);
    // After the engine's runs: the floor's files must not be written back while the engine is
    // measured (measured first, they made its first import ~20% slower).
    let floors = measure_floor(dir.path(), size, runs);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let db_size = std::fs::metadata(dir.path().join("first-0.db")).map_or(0, |m| m.len());
    println!(
        "stored: {stored} contacts, database {:.1} MiB",
        db_size as f64 / 1_048_576.0
    );
    println!();
    println!("{:<46} {:>10} {:>14}", "", "median", "target");
    println!(
        "{:<46} {:>8.0} ms {:>14} {}",
        "first import (normalise + hash + store)",
        first,
        "<= 500 ms",
        verdict(first <= 500.0)
    );
    println!(
        "{:<46} {:>8.0} ms",
        "  CPU time of the first import, all threads", first_cpu
    );
    println!(
        "{:<46} {:>7.0} MiB",
        "  written to files (database, WAL, its index)", first_written
    );
    println!(
        "{:<46} {:>8.1} ms {:>14} {}",
        format!("re-import, 30 changes ({re_normalized} normalised)"),
        re,
        format!("<= {:.0} ms", first * 0.10),
        verdict(re <= first * 0.10)
    );
    println!(
        "{:<46} {:>8.1} ms",
        "  the same, first use of the regions' patterns", re_cold
    );
    println!(
        "{:<46} {:>8.2} ms {:>14} {}",
        format!("change feed, 30 changes ({feed_normalized} normalised)"),
        feed,
        "<= 10 ms",
        verdict(feed <= 10.0)
    );
    println!(
        "{:<46} {:>8.2} ms",
        "  the same, first use of the regions' patterns", feed_cold
    );
    println!(
        "{:<46} {:>7.1} MiB {:>14} {}",
        "peak RSS of the first import",
        rss,
        "<= 64 MiB",
        verdict(rss <= 64.0)
    );
    println!();
    println!(
        "baseline: normalise + hash alone, one thread, no store: {baseline:.0} ms \
         (first import = {:.2}x that)",
        first / baseline
    );
    print_floors(&floors, first, first_cpu);
    println!(
        "re-import / first import: {:.1}%; contacts normalised by the re-import: {re_normalized} \
         of {size}",
        re / first * 100.0
    );
}
