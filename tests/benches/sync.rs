//! Sync benchmark: a 100,000-contact synthetic address book (`contactsync_tests::synthetic`)
//! synced with the reference server on loopback, over real HTTP, with real SQLite files on both
//! sides.
//!
//! Prints, for each sync: wall time, requests, batches, bytes uploaded.
//! - **first sync** of the whole book (every identifier is new to the server);
//! - **no-change sync** (forced past the check interval): the baseline of a sync with nothing to
//!   send — config, one scan for pending work, the changes feed;
//! - **delta sync** after 10 contacts changed (through the change feed): it should cost the
//!   baseline plus one small batch, not a fraction of the first sync.
//!
//! `cargo bench -p contactsync-tests --bench sync [-- --contacts N]`
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: it reports on stdout and stops loudly on a broken setup"
)]

use std::time::Instant;

use contactsync_core::upload::{SyncOptions, SyncReport};
use contactsync_core::{Config, Engine, NoProgress, Region};
use contactsync_tests::net::{Faulty, Loopback, register_open};
use contactsync_tests::synthetic::{Book, DEFAULT_REGION, SEED};
use contactsync_tests::world::World;

/// One contact in this many is a user of the app.
const USER_EVERY: usize = 50;

fn main() {
    let book = Book::from_args(SEED);
    let contacts = book.size;
    let world = World::roomy();
    let server = &world.server;
    let region = Region::new(DEFAULT_REGION).unwrap();

    let started = Instant::now();
    let users = world.register_every(&book, USER_EVERY);
    println!(
        "setup: {users} users registered in {:.1} s; book of {contacts} contacts",
        started.elapsed().as_secs_f64()
    );

    let registered = register_open(&server.url()).unwrap();
    let engine = Engine::open(
        world.dir.path().join("device.db"),
        Config::with_region(region),
    )
    .unwrap();
    let import = engine
        .import_snapshot(book.contacts(), &NoProgress)
        .unwrap();
    println!(
        "import: {} contacts, {} queued for upload",
        import.added, import.queued_add
    );
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    let run = |label: &str| -> (f64, SyncReport) {
        let transport = Faulty::recording(Loopback::new(&server.url(), Some(&registered.token)));
        let started = Instant::now();
        let report = engine.sync(&transport, &options, &NoProgress).unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let exchanges = transport.exchanges();
        let up: usize = exchanges.iter().map(|x| x.body.len() + x.path.len()).sum();
        let down: usize = exchanges.iter().map(|x| x.answer.len()).sum();
        println!(
            "{label:<18} {ms:>9.1} ms  {:>4} requests  {:>4} batches  {:>9} B up  {:>8} B down  \
             +{} hashes -{}  matches +{} -{}",
            exchanges.len(),
            report.batches_sent,
            up,
            down,
            report.added,
            report.removed,
            report.new_matches,
            report.lost_matches
        );
        (ms, report)
    };
    let (first, report) = run("first sync");
    assert_eq!(report.added, import.queued_add);
    let (noop, _) = run("no-change sync");
    let (upserts, deleted) = book.edit_feed(10, 0, 0);
    engine
        .apply_changes(&upserts, &deleted, &NoProgress)
        .unwrap();
    let (delta, report) = run("delta sync (10)");
    assert!(report.batches_sent == 1);
    println!();
    println!(
        "delta sync = {:.2}% of the first sync; {:.1} ms over the no-change baseline",
        delta / first * 100.0,
        delta - noop
    );
    world.server.stop();
}
