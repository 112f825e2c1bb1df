//! The storage floor of a first import: the rows the engine's first import leaves in the store,
//! written by plain SQLite (rusqlite, the same bundled build and flags) with nothing else to do.
//!
//! The rows are computed before the clock starts (normalising, hashing and encoding are not
//! timed), into a file whose schema is the engine's own (an [`Engine`] creates it, and its
//! `CREATE` statements are replayed when a variant wants another page size): one row per contact
//! (source id, display name, version, 16-byte fingerprint, generation, identifiers and rejections
//! encoded as the store encodes them) and one per distinct identifier (kind, canonical text,
//! holder counts, key id, 16-byte digest, state). A [`Variant`] says how they are written — order,
//! transactions, journal and sync modes, page and cache size, straight into the keyed tables or
//! through an append-only staging table folded afterwards — so that the benchmark can print the
//! fastest way this schema allows beside the engine's figure (`benches/import/`).
//!
//! The fastest found on the 2-core machine (docs/performance.md, "The first import's storage
//! floor"): every row in key order (contacts by source id, identifiers by kind and text), in the
//! engine's transactions (windows growing to 16,384 contacts), WAL with `synchronous = NORMAL`,
//! 16 KiB pages — what a writer that knew the whole book in advance would do.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark helper: it stops loudly on a broken setup"
)]

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use contactsync_core::{Config, Engine, HashKey, IdentifierKind, Normalizer, RawContact, Region};
use rusqlite::{Connection, params};

/// One contact row, as the engine stores it.
#[derive(Debug)]
pub struct ContactRow {
    source_id: String,
    display_name: String,
    version: Option<String>,
    fingerprint: [u8; 16],
    identifiers: Vec<u8>,
    rejections: Option<Vec<u8>>,
    rejected: i64,
    /// Its identifiers' keys, to count holders per chunk.
    keys: Vec<(i64, String)>,
}

/// One identifier row.
#[derive(Debug)]
pub struct IdentifierRow {
    kind: i64,
    canonical: String,
    digest: [u8; 16],
}

/// The rows of a whole book, in input order; identifiers by key.
#[derive(Debug)]
pub struct Rows {
    contacts: Vec<ContactRow>,
    identifiers: HashMap<(i64, String), IdentifierRow>,
}

const fn kind_code(kind: IdentifierKind) -> i64 {
    match kind {
        IdentifierKind::Phone => 1,
        IdentifierKind::Email => 2,
        IdentifierKind::Handle => 3,
        IdentifierKind::Account => 4,
        IdentifierKind::Invite => 5,
    }
}

/// The store's inline encoding (`core/src/store/codec.rs`): u32 little-endian length + bytes.
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Rows {
    /// Normalises, hashes and encodes `contacts` (a later duplicate source id replaces an earlier
    /// one, as in the engine).
    pub fn new(contacts: impl Iterator<Item = RawContact>, region: &str, key: &HashKey) -> Rows {
        let normalizer = Normalizer::new(Region::new(region).expect("region"));
        let mut rows = Rows {
            contacts: Vec::new(),
            identifiers: HashMap::new(),
        };
        for c in contacts {
            let n = normalizer.normalize_contact(&c);
            let mut identifiers = Vec::new();
            let mut keys = Vec::new();
            for id in &n.identifiers {
                let k = (kind_code(id.kind()), id.canonical().to_owned());
                identifiers.push(u8::try_from(k.0).unwrap_or(0));
                put_str(&mut identifiers, &k.1);
                rows.identifiers
                    .entry(k.clone())
                    .or_insert_with(|| IdentifierRow {
                        kind: k.0,
                        canonical: k.1.clone(),
                        digest: key.hash(id).0,
                    });
                keys.push(k);
            }
            let rejections = (!n.rejections.is_empty()).then(|| {
                let mut out = Vec::new();
                for r in &n.rejections {
                    out.push(u8::try_from(kind_code(r.kind)).unwrap_or(0));
                    match &r.label {
                        Some(label) => {
                            out.push(1);
                            put_str(&mut out, label);
                        }
                        None => out.push(0),
                    }
                    put_str(&mut out, &r.value);
                    put_str(&mut out, &r.reason.code());
                }
                out
            });
            rows.contacts.push(ContactRow {
                rejected: i64::try_from(n.rejections.len()).unwrap_or(i64::MAX),
                source_id: n.source_id,
                display_name: n.display_name,
                version: n.version,
                fingerprint: n.content_fingerprint.0,
                identifiers,
                rejections,
                keys,
            });
        }
        rows
    }
}

/// How the rows are written.
#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches of an experiment"
)]
pub struct Variant {
    /// Globally sorted by key (contacts by source id, identifiers by kind and text), rather than
    /// in input order with each transaction's rows sorted (what a streaming import can do).
    pub sorted: bool,
    /// Contacts per transaction; 0: one transaction.
    pub chunk: usize,
    /// Transactions grow as the engine's windows did before they followed the writer's pace
    /// (2026-12-08): the first an eighth of `chunk` (at least 2,048 contacts), each next one
    /// twice the last, up to `chunk`. The engine's windows now depend on timing; in a first
    /// import of the benchmark book they are a few of 2,048–4,096 contacts, then 8,192–16,384,
    /// and write about as much (106–108 against 104 MiB), so this deterministic schedule stays the
    /// model of the engine's order.
    pub grow: bool,
    /// `synchronous`: OFF, NORMAL, FULL.
    pub sync: &'static str,
    /// `journal_mode`: WAL, OFF, MEMORY, DELETE.
    pub journal: &'static str,
    pub page_kib: u32,
    pub cache_kib: u32,
    /// Rows appended to rowid staging tables in input order, then folded into the keyed tables
    /// in one `INSERT … SELECT … ORDER BY` each.
    pub staging: bool,
    /// WAL checkpoints on a thread of their own (its own connection, `PASSIVE` after each
    /// commit) instead of in the writer's commits: their copying and fsyncs leave the writer.
    pub checkpointer: bool,
    /// `contacts` as a rowid table with a unique index on its source id (rows appended, the
    /// narrow index takes the keys' order), instead of keyed by source id (`WITHOUT ROWID`).
    pub contacts_rowid: bool,
    /// The same for `identifiers` (a unique index on kind and canonical text).
    pub identifiers_rowid: bool,
    /// `wal_autocheckpoint` in pages during the write (SQLite's default: 1,000); when set, a
    /// `PASSIVE` checkpoint after the last commit is timed too.
    pub autocheckpoint: Option<i64>,
}

impl Default for Variant {
    /// What the engine does today, minus everything but SQLite.
    fn default() -> Self {
        Variant {
            sorted: false,
            chunk: 16_384,
            grow: true,
            sync: "NORMAL",
            journal: "WAL",
            page_kib: 16,
            cache_kib: 4096,
            staging: false,
            checkpointer: false,
            contacts_rowid: false,
            identifiers_rowid: false,
            autocheckpoint: None,
        }
    }
}

impl Variant {
    /// Parses `key=value,...` over the defaults: `sorted`, `grow`, `staging`, `chunk=N`, `sync=X`,
    /// `journal=X`, `page=KiB`, `cache=KiB`, `autockpt=pages`.
    pub fn parse(text: &str) -> Variant {
        let mut v = Variant::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (k, val) = part.split_once('=').unwrap_or((part, ""));
            let num = || val.parse::<usize>().expect("number");
            let leak = |s: &str| -> &'static str { Box::leak(s.to_uppercase().into_boxed_str()) };
            match k {
                "sorted" => v.sorted = true,
                "grow" => v.grow = true,
                "staging" => v.staging = true,
                "checkpointer" => v.checkpointer = true,
                "contacts-rowid" => v.contacts_rowid = true,
                "identifiers-rowid" => v.identifiers_rowid = true,
                "chunk" => v.chunk = num(),
                "autockpt" => v.autocheckpoint = Some(i64::try_from(num()).expect("pages")),
                "sync" => v.sync = leak(val),
                "journal" => v.journal = leak(val),
                "page" => v.page_kib = u32::try_from(num()).expect("page"),
                "cache" => v.cache_kib = u32::try_from(num()).expect("cache"),
                other => panic!("unknown floor variant part {other}"),
            }
        }
        v
    }
}

/// Creates an empty store at `db` with the engine's schema and `v`'s page size (before the rows
/// are computed: the engine compiles its region's phone patterns on a thread of its own, which
/// must not run while the floor is timed).
pub fn create(db: &Path, region: &str, v: &Variant) -> Connection {
    let page_kib = v.page_kib;
    let template = db.with_extension("template");
    let engine = Engine::open(
        &template,
        Config::with_region(Region::new(region).expect("region")),
    )
    .expect("engine");
    drop(engine);
    let schema: Vec<String> = {
        let t = Connection::open(&template).expect("template");
        let mut s = t
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
            .expect("schema");
        s.query_map([], |r| r.get(0))
            .expect("schema")
            .collect::<Result<_, _>>()
            .expect("schema")
    };
    let conn = Connection::open(db).expect("open");
    conn.pragma_update(None, "page_size", page_kib * 1024)
        .expect("page size");
    for mut sql in schema {
        // A rowid table: the same columns, the key as a unique constraint.
        for (table, rowid) in [
            ("contacts", v.contacts_rowid),
            ("identifiers", v.identifiers_rowid),
        ] {
            if rowid && sql.starts_with(&format!("CREATE TABLE {table} ")) {
                sql = sql
                    .replace("WITHOUT ROWID", "")
                    .replace("STRICT,", "STRICT")
                    .replace("PRIMARY KEY (kind, canonical)", "UNIQUE (kind, canonical)")
                    .replace("TEXT    NOT NULL PRIMARY KEY", "TEXT    NOT NULL UNIQUE");
            }
        }
        conn.execute_batch(&sql).expect("create");
    }
    conn.execute_batch("INSERT INTO sync_state (id, generation) VALUES (1, 1)")
        .expect("sync state");
    // The engine's schema version, so that [`check_readable`] can open the file as a store.
    let version: i64 = Connection::open(&template)
        .expect("template")
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("schema version");
    conn.pragma_update(None, "user_version", version)
        .expect("schema version");
    conn
}

/// Reads a sample of the written rows back through the engine's own store (after the clock has
/// stopped). The floor encodes the contact rows itself (the store's codec is private to the core),
/// so this is what keeps the two encodings one: if the store's changes, the store no longer reads
/// the floor's rows as the same identifiers and rejections, and the benchmark stops.
pub fn check_readable(db: &Path, rows: &Rows, region: &str) {
    let engine = Engine::open(
        db,
        Config::with_region(Region::new(region).expect("region")),
    )
    .expect("the floor's file opens as a store");
    let mut seen = std::collections::HashSet::new();
    let latest = rows
        .contacts
        .iter()
        .rev()
        .filter(|c| seen.insert(c.source_id.as_str()));
    for row in latest.take(1_000) {
        let view = engine
            .contact(&row.source_id)
            .expect("read")
            .expect("the floor's contact is in the store");
        let mut read: Vec<(i64, String)> = view
            .identifiers
            .iter()
            .map(|i| (kind_code(i.kind), i.canonical.clone()))
            .collect();
        let mut written = row.keys.clone();
        read.sort();
        written.sort();
        assert_eq!(read, written, "the store reads the floor's identifiers");
        assert_eq!(
            i64::try_from(view.rejected.len()).unwrap_or(i64::MAX),
            row.rejected,
            "the store reads the floor's rejections"
        );
    }
}

/// Writes `rows` into a new store at `db` the way `v` says; returns the time it took (from the
/// first row to the last commit, with the WAL checkpoints SQLite runs on commits, as the
/// engine's do).
/// Also returns the CPU time of the process over the same span.
pub fn write(mut conn: Connection, rows: &Rows, v: &Variant) -> (Duration, Duration) {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", v.journal, |r| r.get(0))
        .expect("journal");
    assert!(mode.eq_ignore_ascii_case(v.journal), "journal mode {mode}");
    conn.pragma_update(None, "synchronous", v.sync)
        .expect("sync");
    conn.pragma_update(None, "temp_store", "MEMORY")
        .expect("temp");
    conn.pragma_update(None, "cache_size", -i64::from(v.cache_kib))
        .expect("cache");
    if v.staging {
        conn.execute_batch(
            "CREATE TABLE stage_contacts (source_id TEXT NOT NULL, display_name TEXT NOT NULL,
                version TEXT, fingerprint BLOB NOT NULL, identifiers BLOB NOT NULL,
                rejections BLOB, rejected INTEGER NOT NULL) STRICT;
             CREATE TABLE stage_identifiers (kind INTEGER NOT NULL, canonical TEXT NOT NULL,
                digest BLOB NOT NULL) STRICT;",
        )
        .expect("staging");
    }
    // The order of the contacts, and per transaction the identifiers new in it and the holder
    // counts it adds to identifiers written before.
    let plan = plan(rows, v);
    let started = Instant::now();
    let cpu = crate::cpu::process_cpu();
    let path = conn.path().map(std::path::PathBuf::from);
    let (commits, commit_rx) = std::sync::mpsc::channel::<()>();
    let checkpointer = (v.checkpointer && v.journal == "WAL").then(|| {
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("autocheckpoint");
        let path = path.clone().expect("path");
        std::thread::spawn(move || {
            let c = Connection::open(path).expect("checkpointer");
            c.busy_timeout(Duration::from_secs(5)).expect("busy");
            while commit_rx.recv().is_ok() {
                while commit_rx.try_recv().is_ok() {}
                c.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
                    .expect("checkpoint");
            }
        })
    });
    if let Some(pages) = v.autocheckpoint {
        conn.pragma_update(None, "wal_autocheckpoint", pages)
            .expect("autocheckpoint");
    }
    for step in &plan {
        write_step(&mut conn, step, v.staging);
        let _ = commits.send(());
    }
    drop(commits);
    if v.autocheckpoint.is_some() {
        conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .expect("checkpoint");
    }
    if let Some(t) = checkpointer {
        t.join().expect("checkpointer");
    }
    if v.staging {
        conn.execute_batch(
            "BEGIN;
             INSERT INTO contacts (source_id, display_name, version, fingerprint, generation,
                identifiers, rejections, rejected)
                SELECT source_id, display_name, version, fingerprint, 1, identifiers, rejections,
                    rejected FROM stage_contacts ORDER BY source_id;
             INSERT INTO identifiers (kind, canonical, holders, included, key_id, digest, state)
                SELECT kind, canonical, count(*), count(*), 'bench-key', min(digest), 1
                FROM stage_identifiers GROUP BY kind, canonical ORDER BY kind, canonical;
             DROP TABLE stage_contacts;
             DROP TABLE stage_identifiers;
             COMMIT;",
        )
        .expect("fold");
    }
    let elapsed = (
        started.elapsed(),
        crate::cpu::process_cpu().saturating_sub(cpu),
    );
    let (contacts, identifiers): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM identifiers)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(
        (
            usize::try_from(contacts).unwrap_or(0),
            usize::try_from(identifiers).unwrap_or(0)
        ),
        (
            rows.contacts
                .iter()
                .map(|c| &c.source_id)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            rows.identifiers.len()
        ),
        "the floor wrote every row once"
    );
    elapsed
}

/// Writes one transaction's rows.
fn write_step(conn: &mut Connection, step: &Step<'_>, staging: bool) {
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare_cached(if staging {
                "INSERT INTO stage_contacts (source_id, display_name, version, fingerprint,
                    identifiers, rejections, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            } else {
                "INSERT INTO contacts (source_id, display_name, version, fingerprint,
                    generation, identifiers, rejections, rejected)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)"
            })
            .expect("prepare");
        for c in &step.contacts {
            insert
                .execute(params![
                    c.source_id,
                    c.display_name,
                    c.version,
                    &c.fingerprint[..],
                    c.identifiers,
                    c.rejections,
                    c.rejected
                ])
                .expect("contact");
        }
    }
    if staging {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO stage_identifiers (kind, canonical, digest) VALUES (?1, ?2, ?3)",
            )
            .expect("prepare");
        for row in &step.staged {
            insert
                .execute(params![row.kind, row.canonical, &row.digest[..]])
                .expect("stage identifier");
        }
    }
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO identifiers (kind, canonical, holders, included, key_id, digest, state)
             VALUES (?1, ?2, ?3, ?3, 'bench-key', ?4, 1)",
        )
        .expect("prepare");
    for (row, count) in &step.new {
        insert
            .execute(params![row.kind, row.canonical, count, &row.digest[..]])
            .expect("identifier");
    }
    let mut update = tx
        .prepare_cached(
            "UPDATE identifiers SET holders = holders + ?3, included = included + ?3
             WHERE kind = ?1 AND canonical = ?2",
        )
        .expect("prepare");
    for (row, count) in &step.held {
        update
            .execute(params![row.kind, row.canonical, count])
            .expect("update");
    }
    drop((insert, update));
    tx.commit().expect("commit");
}

/// One transaction's rows, in the order they are written.
struct Step<'a> {
    contacts: Vec<&'a ContactRow>,
    /// Identifier occurrences for the staging table, in input order.
    staged: Vec<&'a IdentifierRow>,
    /// Identifiers written first in this transaction, with their holders in it; then the holders
    /// it adds to identifiers written before.
    new: Vec<(&'a IdentifierRow, i64)>,
    held: Vec<(&'a IdentifierRow, i64)>,
}

/// The transactions `v` writes `rows` in, computed before the clock starts.
fn plan<'a>(rows: &'a Rows, v: &Variant) -> Vec<Step<'a>> {
    let mut order: Vec<&ContactRow> = rows.contacts.iter().collect();
    if v.sorted {
        order.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    }
    let chunk = if v.chunk == 0 {
        order.len().max(1)
    } else {
        v.chunk
    };
    let count = |contacts: &[&'a ContactRow]| {
        let mut counts: HashMap<&'a (i64, String), i64> = HashMap::new();
        for c in contacts {
            for k in &c.keys {
                *counts.entry(k).or_default() += 1;
            }
        }
        let mut ids: Vec<_> = counts.into_iter().collect();
        ids.sort();
        ids
    };
    // Globally sorted: every identifier once, spread over the transactions in key order.
    let all = if v.sorted { count(&order) } else { Vec::new() };
    let mut windows = Vec::new();
    let (mut at, mut size) = (
        0,
        if v.grow {
            (chunk / 8).max(2048).min(chunk)
        } else {
            chunk
        },
    );
    while at < order.len() {
        let end = (at + size).min(order.len());
        windows.push(&order[at..end]);
        at = end;
        if v.grow {
            size = (size * 2).min(chunk);
        }
    }
    let per = all.len().div_ceil(windows.len().max(1)).max(1);
    let mut all = all.chunks(per);
    let mut written = std::collections::HashSet::new();
    let mut plan = Vec::new();
    for contacts in windows {
        let mut contacts = contacts.to_vec();
        let mut step = Step {
            contacts: Vec::new(),
            staged: Vec::new(),
            new: Vec::new(),
            held: Vec::new(),
        };
        if v.staging {
            step.staged = contacts
                .iter()
                .flat_map(|c| c.keys.iter().map(|k| &rows.identifiers[k]))
                .collect();
        } else {
            contacts.sort_by(|a, b| a.source_id.cmp(&b.source_id));
            let ids = if v.sorted {
                all.next().unwrap_or_default().to_vec()
            } else {
                count(&contacts)
            };
            for (k, n) in ids {
                let row = &rows.identifiers[k];
                if written.insert(k) {
                    step.new.push((row, n));
                } else {
                    step.held.push((row, n));
                }
            }
        }
        step.contacts = contacts;
        plan.push(step);
    }
    plan
}
