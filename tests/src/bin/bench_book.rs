//! Writes the import benchmark's synthetic book (`contactsync_tests::synthetic`, the book
//! `cargo bench -p contactsync-tests --bench import` imports) as a vCard 3.0 file that
//! `contactsync import` reads, for whole-process comparisons (`tools/bench/import-vs-jvm.sh`).
//!
//! - `--out FILE` (required): the vCard file. `UID` is the source id, `FN` the display name, `REV`
//!   the stamp; phones are `TEL`, e-mails `EMAIL`, handles `IMPP` (`service:user`, the service in
//!   `X-SERVICE-TYPE` as well). A label that is one lower-case word goes in `TYPE`; any other
//!   (`Handy privat`, `Büro`) is an Apple-style `itemN.X-ABLabel`, as iOS exports have it.
//!   **Linked accounts are left out**: no vCard property maps to them (the file readers never
//!   produce an account), so the file holds about 3% fewer values than the in-engine book.
//! - `--keyed-db FILE`: also creates an empty device database with region DE and the bench's
//!   hashing key set (key id `bench-key`, 32 bytes of 0x5a), to be copied before each cold run so
//!   that `contactsync import` hashes as it stores, as the in-engine bench does.
//! - `--contacts N` (default 100,000), `--seed S` (default the benchmarks' seed, `synthetic::SEED`).
//!
//! It then reads the file back with the core's own reader and checks that every contact comes
//! back with the same source id, name and values (kind and text) — the file is the book, less its
//! accounts — and prints, on stdout, the counts both pipelines must reproduce: contacts, values,
//! distinct identifiers per kind and rejected values (core normaliser, region DE).
//!
//! `cargo run --release -p contactsync-tests --bin bench_book -- --out book.vcf [--keyed-db t.db]`
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a measuring tool: it reports on stdout and stops loudly on a broken setup"
)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;

use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::{
    Config, Engine, IdentifierKind, NoProgress, Normalizer, RawContact, Region,
};
use contactsync_tests::synthetic::{Book, DEFAULT_REGION, SEED};

/// The import bench's seed and key (`benches/import/`).
const KEY: [u8; 32] = [0x5a; 32];
const KEY_ID: &str = "bench-key";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter().position(|a| a == name).map(|i| {
            args.get(i + 1)
                .unwrap_or_else(|| panic!("{name} needs a value"))
        })
    };
    let contacts: usize = arg("--contacts").map_or(100_000, |v| v.parse().expect("--contacts N"));
    let seed: u64 = arg("--seed").map_or(SEED, |v| v.parse().expect("--seed S"));
    let out = PathBuf::from(arg("--out").expect("--out FILE is required"));
    let book = Book {
        seed,
        size: contacts,
    };

    let mut file = BufWriter::new(std::fs::File::create(&out).expect("create --out"));
    let mut card = String::with_capacity(512);
    for contact in book.contacts() {
        card.clear();
        write_card(&mut card, &contact);
        file.write_all(card.as_bytes()).expect("write");
    }
    file.into_inner()
        .expect("flush")
        .sync_all()
        .expect("sync the book");

    check_and_count(&book, &out);

    if let Some(db) = arg("--keyed-db") {
        let db = PathBuf::from(db);
        let region = Region::new(DEFAULT_REGION).expect("region");
        let engine = Engine::open(&db, Config::with_region(region)).expect("open --keyed-db");
        engine
            .set_key(KEY_ID, &KEY, &NoProgress)
            .expect("set the key");
        drop(engine);
        println!("keyed database: {}", db.display());
    }
}

/// The contact as the file holds it: accounts left out (no vCard property maps to one).
fn without_accounts(mut c: RawContact) -> RawContact {
    c.values.retain(|v| v.kind != IdentifierKind::Account);
    c
}

/// Reads the file back with the core's reader, checks it against the book, prints the counts.
fn check_and_count(book: &Book, path: &std::path::Path) {
    let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).expect("region"));
    let mut expected = book.contacts().map(without_accounts);
    let (mut read, mut values, mut rejected) = (0usize, 0usize, 0usize);
    let mut distinct: BTreeSet<(IdentifierKind, String)> = BTreeSet::new();
    let entries = source::read_path(path, &ReadOptions::default()).expect("read the book back");
    for item in entries {
        let SourceItem::Contact(c) = item.expect("read the book back") else {
            panic!("a card of the book did not read");
        };
        let got = c.contact;
        let want = expected.next().expect("more cards than contacts");
        let pairs = |c: &RawContact| -> Vec<(IdentifierKind, String)> {
            c.values.iter().map(|v| (v.kind, v.value.clone())).collect()
        };
        assert_eq!(
            (&got.source_id, &got.display_name, pairs(&got)),
            (&want.source_id, &want.display_name, pairs(&want)),
            "card {} reads back as another contact",
            read + 1
        );
        let n = normalizer.normalize_contact(&got);
        read += 1;
        values += got.values.len();
        rejected += n.rejections.len();
        distinct.extend(
            n.identifiers
                .iter()
                .map(|i| (i.kind(), i.canonical().to_owned())),
        );
    }
    assert!(expected.next().is_none(), "fewer cards than contacts");
    let per_kind = |k: IdentifierKind| distinct.iter().filter(|(kind, _)| *kind == k).count();
    println!(
        "book: {} ({read} contacts, seed {})",
        path.display(),
        book.seed
    );
    println!(
        "values {values}, rejected {rejected}, distinct identifiers {} (phone {}, email {}, handle {})",
        distinct.len(),
        per_kind(IdentifierKind::Phone),
        per_kind(IdentifierKind::Email),
        per_kind(IdentifierKind::Handle)
    );
}

/// One contact as a vCard 3.0 card.
fn write_card(out: &mut String, c: &RawContact) {
    out.push_str("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:");
    escape(out, &c.source_id);
    out.push_str("\r\nFN:");
    escape(out, &c.display_name);
    out.push_str("\r\n");
    if let Some(version) = &c.version {
        out.push_str("REV:");
        escape(out, version);
        out.push_str("\r\n");
    }
    let mut item = 0;
    for v in &c.values {
        let property = match v.kind {
            IdentifierKind::Phone => "TEL",
            IdentifierKind::Email => "EMAIL",
            IdentifierKind::Handle => "IMPP",
            // No vCard property maps to a linked account or an invite.
            IdentifierKind::Account | IdentifierKind::Invite => continue,
        };
        let label = v.label.as_deref().filter(|l| !l.is_empty());
        let simple = label.is_none_or(|l| l.bytes().all(|b| b.is_ascii_lowercase()));
        if !simple {
            item += 1;
            let _ = write!(out, "item{item}.");
        }
        out.push_str(property);
        if v.kind == IdentifierKind::Handle {
            // The service is the label; the value a URI of that scheme, so that a handle holding
            // a colon (`live:alice`) keeps it.
            let service = label.unwrap_or("im");
            let _ = write!(out, ";X-SERVICE-TYPE={service}:{service}:");
        } else {
            match label {
                Some(l) if simple => {
                    let _ = write!(out, ";TYPE={l}:");
                }
                _ => out.push(':'),
            }
        }
        escape(out, &v.value);
        out.push_str("\r\n");
        if let (false, Some(l)) = (simple, label) {
            let _ = write!(out, "item{item}.X-ABLabel:");
            escape(out, l);
            out.push_str("\r\n");
        }
    }
    out.push_str("END:VCARD\r\n");
}

/// vCard 3.0 text escaping (RFC 2426 §5): backslash, comma, semicolon, newline.
fn escape(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
}
