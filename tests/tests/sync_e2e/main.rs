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
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod hostile;
mod key_rotation;
mod limits;
mod matching;
mod observe;
mod padding;
mod privacy;
mod recovery;
mod reregister;

use std::fmt::Write as _;

use contactsync_core::protocol::wire::Registered;
use contactsync_core::upload::{Response, SyncOptions, Transport};
use contactsync_core::{Engine, NoProgress, SyncReport};
use contactsync_tests::net::Loopback;
use contactsync_tests::world::{World, book};
use contactsync_tests::{match_rows, matched, pairs, person};

/// A server with the users registered, a device registered openly, and its engine with the book
/// imported (not yet synced).
fn imported() -> (World, Loopback, Registered, Engine) {
    let world = World::default();
    world.register_users();
    let (transport, registered) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    (world, transport, registered, e)
}

/// Bodies in JSON: these tests read and rewrite bodies as text. (CBOR bodies are read in
/// `nothing_raw_leaves_the_device`, in the server's tests/encodings.rs, and in every other
/// end-to-end sync, which takes the default.)
fn quick() -> SyncOptions {
    contactsync_tests::quick(false)
}

fn sync(engine: &Engine, transport: &dyn Transport) -> SyncReport {
    engine.sync(transport, &quick(), &NoProgress).unwrap()
}

/// What a device's sync produced, comparable between runs.
fn local_state(engine: &Engine) -> (Vec<(Option<String>, String, String)>, String) {
    let matches = match_rows(engine);
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
