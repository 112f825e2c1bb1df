//! End to end: the engine syncs with the real reference server on loopback, over real HTTP,
//! with a real SQLite file on each side.
//!
//! Covers: a first sync, a delta sync after edits, a contact joining and leaving, consent
//! withdrawal (checked in the server's database), a replayed batch, a transport failing at every
//! step, hostile answers, the quota, key rotation, invites, and that no payload ever carries an
//! identifier's raw or canonical text.
//!
//! One module per topic; this file holds the address book, the world they share, and the helpers
//! more than one topic uses.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod hostile;
mod key_rotation;
mod limits;
mod matching;
mod observe;
mod padding;
mod privacy;
mod recovery;
mod reregister;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use contactsync_core::protocol::wire::Registered;
use contactsync_core::upload::{Response, SyncOptions, Transport};
use contactsync_core::{Engine, IdentifierKind, NoProgress, RawContact, SyncReport};
use contactsync_tests::net::Loopback;
use contactsync_tests::world::World;

fn person(id: &str, name: &str, values: &[(IdentifierKind, &str)]) -> RawContact {
    let mut c = RawContact::new(id, name);
    for (kind, value) in values {
        c.push(*kind, None, *value);
    }
    c
}

use IdentifierKind::{Account, Email, Handle, Phone};

/// The address book: some contacts use the app (registered below), some do not.
fn book() -> Vec<RawContact> {
    vec![
        person(
            "1",
            "Ana",
            &[(Phone, "0151 23456789"), (Email, "ana@example.org")],
        ),
        person("2", "Bernd", &[(Phone, "+49 30 1234567")]),
        person("3", "Clara", &[(Email, "Clara@Example.COM")]),
        person("4", "Dario", &[(Account, "google:1078543")]),
        person("5", "Eva", &[(Handle, "@eva_k")]),
        person(
            "6",
            "Frank",
            &[(Phone, "0171 9876543"), (Email, "frank@nowhere.test")],
        ),
        person("7", "Gül", &[(Phone, "030 1234567")]),
        person("8", "Hiro", &[(Phone, "not a number")]),
    ]
}

/// Canonical forms the app's backend registers.
fn register_users(world: &World) {
    world.put_user("u_ana", &[("phone", "+4915123456789")]);
    world.put_user("u_clara", &[("email", "clara@example.com")]);
    world.put_user("u_dario", &[("account", "google:1078543")]);
    world.put_user("u_eva", &[("handle", "eva_k")]);
}

/// A server with the users registered, a device registered openly, and its engine with the book
/// imported (not yet synced).
fn imported() -> (World, Loopback, Registered, Engine) {
    let world = World::default();
    register_users(&world);
    let (transport, registered) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    (world, transport, registered, e)
}

/// Bodies in JSON: these tests read and rewrite bodies as text. (CBOR bodies are read in
/// `nothing_raw_leaves_the_device`, in the server's tests/encodings.rs, and in every other
/// end-to-end sync, which takes the default.)
fn quick() -> SyncOptions {
    SyncOptions {
        max_attempts: 1,
        max_wait: std::time::Duration::ZERO,
        force: true,
        max_batch: None,
        cbor: false,
        matrix: None,
    }
}

fn sync(engine: &Engine, transport: &dyn Transport) -> SyncReport {
    engine.sync(transport, &quick(), &NoProgress).unwrap()
}

/// What a device's sync produced, comparable between runs.
fn local_state(engine: &Engine) -> (Vec<(Option<String>, String, String)>, String) {
    let matches = engine
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.source_id, m.canonical, m.user_ref))
        .collect();
    let s = engine.status().unwrap();
    let status = format!(
        "contacts={} identifiers={} pending_add={} pending_remove={} in_flight={} acknowledged={} matches={} full={}",
        s.contacts,
        s.identifiers,
        s.pending_add,
        s.pending_remove,
        s.in_flight,
        s.acknowledged,
        s.matches,
        s.full_resync
    );
    (matches, status)
}

/// The hashes the device's uploads left on the server, reconstructed from what it sent and
/// what the server acknowledged: every added hash minus every removed one.
fn matched_names(engine: &Engine) -> BTreeSet<(String, String)> {
    engine
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.display_name, m.user_ref))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Every row of every table of the server's database, as text, except the request counters that
/// move with every request (`usage.rate_minute`, `usage.rate_count`: rate limiting).
fn server_dump(world: &World) -> Vec<String> {
    let conn = rusqlite::Connection::open(world.server_db()).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let columns = if table == "usage" {
            "client_id, quota_day, quota_used"
        } else {
            "*"
        };
        let mut stmt = conn
            .prepare(&format!("SELECT {columns} FROM \"{table}\""))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut lines = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let mut line = format!("{table}:");
            for i in 0..columns {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                let _ = write!(line, " {v:?}");
            }
            lines.push(line);
        }
        lines.sort();
        out.extend(lines);
    }
    out
}

/// How many hashes the server holds for its (one) device.
fn server_set_size(world: &World) -> i64 {
    rusqlite::Connection::open(world.server_db())
        .unwrap()
        .query_row("SELECT count(*) FROM client_hashes", [], |r| r.get(0))
        .unwrap()
}

fn json_response(status: u16, body: &[u8]) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_vec(),
    }
}
