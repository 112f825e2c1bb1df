//! End to end: the engine syncs with the real reference server on loopback, over real HTTP,
//! with a real SQLite file on each side.
//!
//! Covers: a first sync, a delta sync after edits, a contact joining and leaving, consent
//! withdrawal (checked in the server's database), a replayed batch, a transport failing at every
//! step, hostile answers, the quota, key rotation, invites, and that no payload ever carries an
//! identifier's raw or canonical text.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;
use std::fmt::Write as _;

use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::Registered;
use contactsync_core::upload::{Method, Response, SyncOptions, Transport};
use contactsync_core::{Engine, Error, IdentifierKind, NoProgress, RawContact, Region, SyncReport};
use contactsync_server::{LimitsConfig, RegistrationLimits};
use contactsync_tests::net::{Fault, Faulty, Loopback, Outcome, put_user};
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

#[test]
fn first_sync_finds_users_by_every_kind_of_identifier() {
    let (_world, transport, _, e) = imported();
    let report = sync(&e, &transport);
    assert!(report.batches_sent >= 1);
    assert_eq!(report.new_matches, 4, "{report:?}");
    assert_eq!(report.added, e.status().unwrap().acknowledged);
    assert_eq!(
        matched_names(&e),
        set(&[
            ("Ana", "u_ana"),
            ("Clara", "u_clara"),
            ("Dario", "u_dario"),
            ("Eva", "u_eva"),
        ])
    );
    let s = e.status().unwrap();
    assert_eq!((s.pending_add, s.pending_remove, s.in_flight), (0, 0, 0));
    assert!(!s.full_resync);
    // Nothing changed: the next sync sends no batch.
    let again = sync(&e, &transport);
    assert_eq!((again.batches_sent, again.new_matches), (0, 0));
}

#[test]
fn delta_sync_sends_only_the_edits() {
    let (_world, transport, _, e) = imported();
    sync(&e, &transport);
    let mut edited = book();
    // Frank drops his number and gains Clara's address; Hiro is gone.
    edited[5] = person(
        "6",
        "Frank",
        &[(Email, "frank@nowhere.test"), (Email, "clara@example.com")],
    );
    edited.pop();
    e.import_snapshot(edited, &NoProgress).unwrap();
    let recording = Faulty::recording(transport);
    let report = sync(&e, &recording);
    assert_eq!((report.added, report.removed), (0, 1), "{report:?}");
    let batches: Vec<_> = recording
        .exchanges()
        .into_iter()
        .filter(|x| x.path == "/v1/batches")
        .collect();
    assert_eq!(batches.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&batches[0].body).unwrap();
    assert_eq!(body["mode"], "delta");
    assert_eq!(
        body["add"].as_array().unwrap().len(),
        0,
        "clara@ is already on the server"
    );
    assert_eq!(body["remove"].as_array().unwrap().len(), 1);
    // Clara's address is now held by two contacts: one hash, two matched contacts.
    let names = matched_names(&e);
    assert!(names.contains(&("Frank".to_owned(), "u_clara".to_owned())));
    assert!(names.contains(&("Clara".to_owned(), "u_clara".to_owned())));
}

#[test]
fn a_contact_joining_and_leaving_is_reported() {
    let (world, transport, _, e) = imported();
    sync(&e, &transport);
    assert!(!matched_names(&e).iter().any(|(n, _)| n == "Bernd"));

    world.put_user("u_bernd", &[("phone", "+49301234567")]);
    let joined = sync(&e, &transport);
    assert_eq!(
        (joined.new_matches, joined.batches_sent),
        (1, 0),
        "{joined:?}"
    );
    // Bernd and Gül share the landline: both show up.
    let names = matched_names(&e);
    assert!(names.contains(&("Bernd".to_owned(), "u_bernd".to_owned())));
    assert!(names.contains(&("Gül".to_owned(), "u_bernd".to_owned())));

    world.delete_user("u_bernd");
    world.put_user("u_eva", &[]);
    let left = sync(&e, &transport);
    assert_eq!(left.lost_matches, 2, "{left:?}");
    assert_eq!(
        matched_names(&e),
        set(&[("Ana", "u_ana"), ("Clara", "u_clara"), ("Dario", "u_dario")])
    );
}

#[test]
fn nothing_raw_leaves_the_device() {
    let world = World::default();
    register_users(&world);
    let (transport, _) = world.device(Some("u_me"));
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    let mut contacts = book();
    // The project's own vCard and CSV fixtures too.
    for path in std::fs::read_dir(contactsync_tests::fixtures_dir().join("vcards"))
        .unwrap()
        .chain(std::fs::read_dir(contactsync_tests::fixtures_dir().join("csv")).unwrap())
    {
        let path = path.unwrap().path();
        let entries = contactsync_core::source::read_path(
            &path,
            &contactsync_core::source::ReadOptions::default(),
        )
        .unwrap();
        contacts.extend(entries.filter_map(|item| match item {
            Ok(contactsync_core::source::SourceItem::Contact(c)) => Some(c.contact),
            _ => None,
        }));
    }
    let report = e.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    assert!(report.normalized > 10);
    let cbor = SyncOptions {
        cbor: true,
        ..quick()
    };
    e.sync(&recording, &cbor, &NoProgress).unwrap();
    // Every other call that reaches the server too.
    let invite = e.create_invite(&recording, None).unwrap();
    world.put_user("u_ana", &[("phone", "+4915123456789")]);
    e.sync(&recording, &cbor, &NoProgress).unwrap();
    e.forget(&recording).unwrap();
    assert!(!invite.code.is_empty());

    // Every raw value, its canonical form, and each name.
    let normalizer = contactsync_core::Normalizer::new(Region::new("DE").unwrap());
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for c in &contacts {
        if c.display_name.len() >= 3 {
            secrets.insert(c.display_name.clone());
        }
        for v in &c.values {
            let raw = v.value.trim();
            if raw.len() >= 4 {
                secrets.insert(raw.to_owned());
            }
            if let Ok(id) = normalizer.normalize(v.kind, &v.value) {
                secrets.insert(id.canonical().to_owned());
                // E.164 without the plus, as some encodings would carry it.
                if v.kind == Phone {
                    secrets.insert(id.canonical().trim_start_matches('+').to_owned());
                }
            }
        }
    }
    let exchanges = recording.exchanges();
    assert!(exchanges.iter().any(|x| x.path == "/v1/batches"));
    let mut hashes = 0;
    let mut cbor_bodies = 0;
    for x in exchanges {
        // Hash lists must hold nothing but 16-byte digests; they are then set aside, since 22
        // random base64 characters can contain a short name by chance, in any case. A CBOR body
        // is decoded whole: its byte strings must be digests, and its text is searched as JSON's.
        let mut body = if Encoding::of_body(None, &x.body) == Encoding::Cbor {
            cbor_bodies += 1;
            let value: ciborium::Value = Encoding::Cbor.decode(&x.body).expect("a CBOR body");
            readable(value, &mut hashes)
        } else {
            serde_json::from_slice(&x.body).unwrap_or(serde_json::Value::Null)
        };
        for list in ["add", "remove"] {
            if let Some(items) = body.get_mut(list).and_then(serde_json::Value::as_array_mut) {
                for item in items.iter().filter(|i| !i.is_null()) {
                    let text = item.as_str().expect("a hash is a string");
                    text.parse::<contactsync_core::Digest>()
                        .expect("a hash list holds only 16-byte digests");
                    hashes += 1;
                }
                items.clear();
            }
        }
        // Random ids (batch and key ids, server-issued invite codes, cursors) are set aside for
        // the same reason; they are not contact data.
        for random in ["batch_id", "key_id", "code"] {
            if let Some(field) = body.get_mut(random) {
                *field = serde_json::Value::Null;
            }
        }
        let path = x.path.split('?').next().unwrap_or_default();
        let payload = format!("{path} {body}").to_lowercase();
        for secret in &secrets {
            assert!(
                !payload.contains(&secret.to_lowercase()),
                "a payload to {} carries contact data",
                x.path
            );
        }
    }
    assert!(hashes > 10);
    assert!(
        cbor_bodies > 0,
        "the batches went as CBOR, and were read here"
    );
}

/// A CBOR value as JSON, for the text search: every byte string must be a 16-byte digest
/// (counted, then set aside as `null`); text, numbers and structure are kept.
fn readable(value: ciborium::Value, hashes: &mut usize) -> serde_json::Value {
    use ciborium::Value as C;
    use serde_json::Value as J;
    match value {
        C::Bytes(bytes) => {
            assert_eq!(bytes.len(), 16, "a byte string that is not a digest");
            *hashes += 1;
            J::Null
        }
        C::Text(text) => J::String(text),
        C::Integer(n) => J::String(i128::from(n).to_string()),
        C::Float(f) => J::String(f.to_string()),
        C::Bool(b) => J::Bool(b),
        C::Tag(_, inner) => readable(*inner, hashes),
        C::Array(items) => J::Array(items.into_iter().map(|v| readable(v, hashes)).collect()),
        C::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match readable(k, hashes) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, readable(v, hashes))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

#[test]
fn a_replayed_batch_returns_the_same_answer_and_changes_nothing() {
    let world = World::default();
    register_users(&world);
    let (transport, _) = world.device(None);
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync(&e, &recording);
    let batch = recording
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    let before = server_dump(&world);
    let replay = recording
        .send(contactsync_core::upload::Request {
            method: Method::Post,
            path: "/v1/batches".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: batch.body.clone(),
        })
        .unwrap();
    assert_eq!(replay.status, 200);
    assert_eq!(
        replay.body, batch.answer,
        "the stored answer, byte for byte"
    );
    assert_eq!(
        server_dump(&world),
        before,
        "the replay changed the server's state"
    );
    // The same id with another body is a conflict.
    let mut other: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
    other["add"] = serde_json::json!([]);
    let conflict = recording
        .send(contactsync_core::upload::Request {
            method: Method::Post,
            path: "/v1/batches".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&other).unwrap(),
        })
        .unwrap();
    assert_eq!(conflict.status, 409);
    assert!(String::from_utf8_lossy(&conflict.body).contains("batch_conflict"));
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

#[test]
fn consent_withdrawal_leaves_nothing_on_the_server() {
    let world = World::default();
    register_users(&world);
    let (transport, registered) = world.device(Some("u_me"));
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync(&e, &recording);
    e.create_invite(&recording, None).unwrap();
    let sent: BTreeSet<String> = recording
        .exchanges()
        .iter()
        .filter(|x| x.path == "/v1/batches")
        .flat_map(|x| {
            let v: serde_json::Value = serde_json::from_slice(&x.body).unwrap();
            v["add"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(sent.len() >= 8);
    let dump = server_dump(&world).join("\n");
    assert!(
        dump.contains(&registered.client_id),
        "the dump sees the client"
    );

    let receipt = e.forget(&recording).unwrap();
    assert_eq!(receipt.client_id, registered.client_id);
    assert_eq!(receipt.deleted.hashes, sent.len() as u64);
    assert_eq!(receipt.deleted.invites, 1);

    // Registered users' own hashes are the app's data and stay; every other hash this client
    // sent must be gone, as text or as bytes.
    let config: contactsync_core::protocol::wire::ConfigAnswer =
        contactsync_core::upload::get(&world.admin(), Method::Get, "/v1/config").unwrap();
    let key = contactsync_core::HashKey::from_base64(config.key_id, &config.key).unwrap();
    let users: BTreeSet<String> = [
        (Phone, "+4915123456789"),
        (Email, "clara@example.com"),
        (Account, "google:1078543"),
        (Handle, "eva_k"),
    ]
    .iter()
    .map(|(k, v)| key.hash_parts(*k, v).to_base64url())
    .collect();
    let dump = server_dump(&world).join("\n");
    assert!(
        !dump.contains(&registered.client_id),
        "a row still names the client"
    );
    let mut checked = 0;
    for hash in sent.difference(&users) {
        let digest: contactsync_core::Digest = hash.parse().unwrap();
        let as_blob = format!("{:?}", rusqlite::types::Value::Blob(digest.0.to_vec()));
        assert!(
            !dump.contains(hash.as_str()) && !dump.contains(&as_blob),
            "a hash of the client survived"
        );
        checked += 1;
    }
    assert!(checked >= 4);
    // Locally: nothing left, and the token no longer works.
    assert_eq!(e.status().unwrap().contacts, 0);
    let err = e.sync(&recording, &quick(), &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Server { status: 401, .. }), "{err:?}");
}

/// A clean run to compare against: import, sync, a user joins, edit, sync.
fn scenario(world: &World, e: &Engine, transport: &dyn Transport, sync_until_done: &dyn Fn()) {
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync_until_done();
    world.put_user("u_bernd", &[("phone", "+49301234567")]);
    let mut edited = book();
    edited[0] = person("1", "Ana", &[(Email, "ana@example.org")]);
    e.import_snapshot(edited, &NoProgress).unwrap();
    sync_until_done();
    let _ = transport;
}

#[test]
fn a_transport_failing_at_every_step_then_retried_ends_like_a_clean_run() {
    // The clean run, and how many requests it makes.
    let clean_world = World::default();
    register_users(&clean_world);
    let (t, _) = clean_world.device(None);
    let clean_t = Faulty::recording(t);
    let clean = clean_world.engine("clean");
    let opts = SyncOptions {
        max_batch: Some(3),
        ..quick()
    };
    scenario(&clean_world, &clean, &clean_t, &|| {
        clean.sync(&clean_t, &opts, &NoProgress).unwrap();
    });
    let expected = local_state(&clean);
    let expected_server = server_set_size(&clean_world);
    assert_eq!(
        expected_server, 7,
        "eight identifiers, one removed by the edit"
    );
    let requests = clean_t.exchanges().len();
    assert!(requests >= 8, "{requests}");

    for step in 0..requests {
        for lose_answer in [false, true] {
            let world = World::default();
            register_users(&world);
            let (t, _) = world.device(None);
            let failed = std::sync::atomic::AtomicBool::new(false);
            let flaky = Faulty::new(
                t,
                Box::new(move |n, _, answer| {
                    if n != step {
                        return Outcome::Pass;
                    }
                    match (lose_answer, answer) {
                        (false, _) => Outcome::DropRequest,
                        (true, None) => Outcome::Pass,
                        (true, Some(_)) => Outcome::DropAnswer,
                    }
                }),
            );
            let e = world.engine("flaky");
            scenario(&world, &e, &flaky, &|| loop {
                match e.sync(&flaky, &opts, &NoProgress) {
                    Ok(_) => break,
                    Err(Error::Network(_)) => {
                        failed.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(other) => panic!("step {step}: {other:?}"),
                }
            });
            assert!(
                failed.load(std::sync::atomic::Ordering::SeqCst),
                "step {step} never failed"
            );
            assert_eq!(
                (local_state(&e), server_set_size(&world)),
                (expected.clone(), expected_server),
                "step {step}, answer lost: {lose_answer}"
            );
        }
    }
}

/// Replaces the first real answer to a request whose path starts with `path` by `answer`, where
/// `%ID%` and `%KEY%` stand for the request's batch id and key id.
fn hostile(path: &'static str, answer: Response) -> Fault {
    let used = std::sync::atomic::AtomicBool::new(false);
    Box::new(move |_, request, real| {
        if !request.path.starts_with(path) || real.is_none() {
            return Outcome::Pass;
        }
        if used.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Outcome::Pass;
        }
        let sent: serde_json::Value =
            serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null);
        let mut answer = answer.clone();
        if answer.body.len() < 4096 {
            let text = String::from_utf8_lossy(&answer.body)
                .replace("%ID%", sent["batch_id"].as_str().unwrap_or_default())
                .replace("%KEY%", sent["key_id"].as_str().unwrap_or_default())
                .replace(
                    "%SINCE%",
                    request
                        .path
                        .split("since=")
                        .nth(1)
                        .and_then(|q| q.split('&').next())
                        .unwrap_or_default(),
                );
            answer.body = text.into_bytes();
        }
        Outcome::Replace(answer)
    })
}

fn json_response(status: u16, body: &[u8]) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_vec(),
    }
}

/// What a hostile case must end in.
type Expect<'a> = &'a dyn Fn(&Error) -> bool;

const BATCHES: &str = "/v1/batches";
const CHANGES: &str = "/v1/changes?since=";

/// Hostile answers: (what, to which request, the answer, the error it must give).
fn hostile_cases() -> Vec<(&'static str, &'static str, Response, Expect<'static>)> {
    let wrong_batch = br#"{"batch_id":"b_someone_else","key_id":"%KEY%","added":1,"removed":0,"matches":[],"remaining_today":5}"#;
    let stranger_hash = br#"{"batch_id":"%ID%","key_id":"%KEY%","added":1,"removed":0,"matches":[{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_ref":"u_x"}],"remaining_today":5}"#;
    let protocol: Expect<'static> = &|e| matches!(e, Error::Protocol(_));
    vec![
        (
            "malformed json",
            BATCHES,
            json_response(200, b"{\"batch_id\": [not json"),
            protocol,
        ),
        ("wrong batch id", BATCHES, json_response(200, wrong_batch), protocol),
        (
            "a match the batch did not ask for",
            BATCHES,
            json_response(200, stranger_hash),
            protocol,
        ),
        (
            "10 MB body",
            BATCHES,
            json_response(200, &vec![b' '; 10 * 1024 * 1024]),
            protocol,
        ),
        (
            "unknown error code",
            BATCHES,
            json_response(418, br#"{"error":{"code":"teapot_mode","message":"short and stout"}}"#),
            &|e| matches!(e, Error::Server { status: 418, code, .. } if code == "teapot_mode"),
        ),
        (
            "error without a body",
            BATCHES,
            json_response(400, b""),
            &|e| matches!(e, Error::Server { status: 400, code, .. } if code == "http_400"),
        ),
        (
            "server error, retries exhausted",
            BATCHES,
            json_response(503, b"<html>down</html>"),
            &|e| matches!(e, Error::RetryLater { .. }),
        ),
        (
            "changes: not json",
            CHANGES,
            json_response(200, b"<html>"),
            protocol,
        ),
        (
            "changes: a hash that is not one",
            CHANGES,
            json_response(
                200,
                br#"{"gained":[{"hash":"+4915123456789","user_ref":"u"}],"lost":[],"cursor":"9","more":false}"#,
            ),
            protocol,
        ),
        (
            "changes: more, with the same cursor, forever",
            CHANGES,
            json_response(200, br#"{"gained":[],"lost":[],"cursor":"%SINCE%","more":true}"#),
            protocol,
        ),
        (
            "changes: a 10 KB user reference",
            CHANGES,
            json_response(
                200,
                format!(
                    r#"{{"gained":[{{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_ref":"{}"}}],"lost":[],"cursor":"9","more":false}}"#,
                    "u".repeat(10_000)
                )
                .as_bytes(),
            ),
            protocol,
        ),
    ]
}

#[test]
fn hostile_answers_give_typed_errors_and_lose_nothing() {
    let clean_world = World::default();
    register_users(&clean_world);
    let (t, _) = clean_world.device(None);
    let clean = clean_world.engine("clean");
    clean.import_snapshot(book(), &NoProgress).unwrap();
    sync(&clean, &t);
    let expected = local_state(&clean);

    for (name, path, answer, expected_error) in hostile_cases() {
        let (_world, t, _, e) = imported();
        if path == CHANGES {
            // The first sync takes the head cursor and sends the batches; the hostile answer
            // comes to the second sync's changes request.
            sync(&e, &t);
        }
        let before = local_state(&e);
        let hostile_t = Faulty::new(t, hostile(path, answer));
        let err = e.sync(&hostile_t, &quick(), &NoProgress).unwrap_err();
        assert!(expected_error(&err), "{name}: {err:?}");
        if path == BATCHES {
            // Nothing was applied from the answer.
            assert!(e.matches().unwrap().is_empty(), "{name}");
        } else {
            assert_eq!(local_state(&e), before, "{name}");
        }
        // The next sync completes the job.
        e.sync(&hostile_t, &quick(), &NoProgress).unwrap();
        assert_eq!(local_state(&e), expected, "{name}");
    }
}

#[test]
fn too_large_batches_are_split() {
    let world = World::default();
    register_users(&world);
    let (t, _) = world.device(None);
    // A proxy in front of the server refuses bodies with more than 3 hashes.
    let proxy = Faulty::new(
        t,
        Box::new(|_, request, _| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let n = body["add"].as_array().map_or(0, Vec::len)
                + body["remove"].as_array().map_or(0, Vec::len);
            if request.path == "/v1/batches" && n > 3 {
                Outcome::Replace(json_response(
                    413,
                    br#"{"error":{"code":"too_large","message":"too many"}}"#,
                ))
            } else {
                Outcome::Pass
            }
        }),
    );
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let report = e.sync(&proxy, &quick(), &NoProgress).unwrap();
    assert!(report.batches_split >= 1, "{report:?}");
    assert_eq!(report.new_matches, 4);
    let s = e.status().unwrap();
    assert_eq!((s.pending_add, s.in_flight), (0, 0));
}

#[test]
fn the_daily_quota_defers_the_rest_to_tomorrow() {
    let world = World::new(LimitsConfig {
        daily_new_identifiers: 5,
        ..LimitsConfig::default()
    });
    register_users(&world);
    let (t, _) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let wanted = e.status().unwrap().pending_add;
    let report = sync(&e, &t);
    assert_eq!(report.added, 5, "{report:?}");
    assert_eq!(report.deferred, wanted - 5);
    assert!(report.next_sync_at > contactsync_tests_now() + 60);
    // A second sync today sends nothing new and fails nothing.
    let again = sync(&e, &t);
    assert_eq!(again.added, 0, "{again:?}");
    assert_eq!(e.status().unwrap().pending_add, wanted - 5);
}

/// The budget of new identifiers that openly registered devices share per address reaches the
/// client as its own daily quota does: `remaining_today` is capped by it, and the client defers
/// what does not fit to the next UTC day, without failing — a second device on the same address
/// (every device here is on 127.0.0.1) gets what the first left.
#[test]
fn open_devices_on_one_address_share_its_daily_budget() {
    let world = World::with_registration(
        LimitsConfig::default(),
        RegistrationLimits {
            identifiers_per_ip_per_day: 5,
            ..RegistrationLimits::unlimited()
        },
    );
    register_users(&world);
    let (a, _) = world.device(None);
    let first = world.engine("a");
    first.import_snapshot(book(), &NoProgress).unwrap();
    let wanted = first.status().unwrap().pending_add;
    let report = sync(&first, &a);
    assert_eq!(
        (report.added, report.deferred),
        (5, wanted - 5),
        "{report:?}"
    );
    assert!(report.next_sync_at > contactsync_tests_now() + 60);

    let (b, _) = world.device(None);
    let second = world.engine("b");
    second.import_snapshot(book(), &NoProgress).unwrap();
    let report = sync(&second, &b);
    assert_eq!((report.added, report.deferred), (0, wanted), "{report:?}");
}

fn contactsync_tests_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Both steps of a key rotation, with the backend registering its users again in between.
fn rotate_key(world: &World) {
    let next: contactsync_core::protocol::wire::KeyInfo = contactsync_core::upload::call(
        &world.admin(),
        Method::Post,
        "/v1/admin/keys",
        Some(&serde_json::json!({})),
    )
    .unwrap();
    register_users(world);
    let _: contactsync_core::protocol::wire::KeyInfo = contactsync_core::upload::call(
        &world.admin(),
        Method::Post,
        &format!("/v1/admin/keys/{}/activate", next.key_id),
        Some(&serde_json::json!({})),
    )
    .unwrap();
}

#[test]
fn a_key_rotation_does_not_cost_a_device_its_day() {
    let world = World::new(LimitsConfig {
        daily_new_identifiers: 10,
        ..LimitsConfig::default()
    });
    register_users(&world);
    let (t, _) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(sync(&e, &t).added, 8, "two of the day's ten left");
    rotate_key(&world);
    let report = sync(&e, &t);
    assert!(report.key_rotated);
    assert_eq!((report.added, report.deferred), (8, 0), "{report:?}");
    assert_eq!(matched_names(&e).len(), 4);
}

#[test]
fn key_rotation_re_hashes_and_re_syncs_in_full() {
    let (world, t, _, e) = imported();
    sync(&e, &t);
    let old_key = e.key_id().unwrap();
    rotate_key(&world);
    let recording = Faulty::recording(t);
    let report = sync(&e, &recording);
    assert!(report.key_rotated, "{report:?}");
    assert_ne!(e.key_id().unwrap(), old_key);
    let first_batch = recording
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&first_batch.body).unwrap();
    assert_eq!(body["mode"], "full");
    assert_eq!(matched_names(&e).len(), 4);
    assert!(!e.status().unwrap().full_resync);
}

#[test]
fn an_invite_makes_two_users_matched_contacts() {
    let world = World::default();
    let (ta, _) = world.device(Some("u_alice"));
    let (tb, _) = world.device(Some("u_bob"));
    let alice = world.engine("alice");
    let bob = world.engine("bob");
    sync(&alice, &ta);
    sync(&bob, &tb);
    let invite = alice.create_invite(&ta, Some(3600)).unwrap();
    // Bob scans the QR code: the link works as well as the code.
    let inviter = bob.redeem_invite(&tb, &invite.link).unwrap();
    assert_eq!(inviter, "u_alice");
    let bob_sees: Vec<_> = bob.matches().unwrap();
    assert_eq!(bob_sees.len(), 1);
    assert_eq!(
        (bob_sees[0].source_id.as_deref(), bob_sees[0].kind),
        (None, IdentifierKind::Invite)
    );
    // Alice learns at her next sync.
    let report = sync(&alice, &ta);
    assert_eq!(report.new_matches, 1, "{report:?}");
    let alice_sees = alice.matches().unwrap();
    assert_eq!(alice_sees[0].user_ref, "u_bob");
    // Used once: a second redeem fails with a typed error.
    let err = bob.redeem_invite(&tb, &invite.code).unwrap_err();
    assert!(matches!(err, Error::Server { status: 404, .. }), "{err:?}");
    let err = bob.redeem_invite(&tb, "7K3M-9QX2-R4HV-W8TB-Z").unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(_)),
        "a mistyped code never leaves: {err:?}"
    );
}

#[test]
fn a_batch_whose_answer_was_lost_is_resent_after_a_restart() {
    let (world, t, registered, e) = imported();
    // The server applies the first batch, and the answer never arrives.
    let lossy = Faulty::new(
        t,
        Box::new(|_, request, _| {
            if request.path == "/v1/batches" {
                Outcome::DropAnswer
            } else {
                Outcome::Pass
            }
        }),
    );
    let err = e.sync(&lossy, &quick(), &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(
        e.status().unwrap().in_flight > 0,
        "the batch stays in flight"
    );
    let sent = lossy
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    // A restart: the engine is reopened, and the next sync goes through.
    drop(e);
    let e = world.engine("a");
    let clean = Faulty::recording(Loopback::new(&world.server.url(), Some(&registered.token)));
    let report = e.sync(&clean, &quick(), &NoProgress).unwrap();
    let resent = clean
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    assert_eq!(resent.body, sent.body, "the same batch, byte for byte");
    assert!(report.batches_retried >= 1, "{report:?}");
    assert_eq!(report.new_matches, 4, "{report:?}");
    assert_eq!(e.status().unwrap().in_flight, 0);
}

#[test]
fn answers_with_unknown_fields_are_accepted() {
    // Servers may add fields to answers without a new protocol version.
    let (_world, t, _, e) = imported();
    let extra = br#"{"batch_id":"%ID%","key_id":"%KEY%","added":8,"removed":0,"matches":[],"remaining_today":5,"extra":"ignored"}"#;
    let tolerant = Faulty::new(t, hostile(BATCHES, json_response(200, extra)));
    e.sync(&tolerant, &quick(), &NoProgress).unwrap();
    assert_eq!(e.status().unwrap().in_flight, 0);
}

/// Cancels as soon as the first batch has been answered.
#[derive(Debug, Default)]
struct CancelAfterFirstBatch(std::sync::atomic::AtomicBool);

impl contactsync_core::ProgressListener for CancelAfterFirstBatch {
    fn on_progress(&self, progress: contactsync_core::Progress) {
        if progress.stage == contactsync_core::Stage::Upload {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_cancelled_sync_resumes_where_it_stopped() {
    let (world, t, _, e) = imported();
    let small = SyncOptions {
        max_batch: Some(2),
        ..quick()
    };
    let err = e
        .sync(&t, &small, &CancelAfterFirstBatch::default())
        .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    let s = e.status().unwrap();
    assert_eq!(
        (s.acknowledged, s.in_flight),
        (2, 0),
        "one batch done, none half-done"
    );
    e.sync(&t, &small, &NoProgress).unwrap();
    assert_eq!(server_set_size(&world), 8);
    assert_eq!(matched_names(&e).len(), 4);
}

#[test]
fn a_hidden_or_departed_user_is_not_found_through_their_invites() {
    let world = World::default();
    let (ta, _) = world.device(Some("u_alice"));
    let alice = world.engine("alice");
    let invite = alice.create_invite(&ta, None).unwrap();
    // Bob keeps Alice's invite link on her card: an ordinary sync finds her through it.
    let (tb, _) = world.device(None);
    let bob = world.engine("bob");
    let card = RawContact::new("alice", "Alice").with(IdentifierKind::Invite, None, invite.link);
    bob.import_snapshot(vec![card], &NoProgress).unwrap();
    assert_eq!(sync(&bob, &tb).new_matches, 1);
    assert_eq!(matched_names(&bob), set(&[("Alice", "u_alice")]));

    // Alice turns discoverability off: her invites hide with her, and come back with her.
    put_user(&world.admin(), "u_alice", false, &[]).unwrap();
    assert_eq!(sync(&bob, &tb).lost_matches, 1);
    assert!(matched_names(&bob).is_empty());
    world.put_user("u_alice", &[]);
    assert_eq!(sync(&bob, &tb).new_matches, 1);

    // Alice leaves the app: lost again, and the code no longer redeems.
    world.delete_user("u_alice");
    assert_eq!(sync(&bob, &tb).lost_matches, 1);
    let (tc, _) = world.device(Some("u_carol"));
    let carol = world.engine("carol");
    let err = carol.redeem_invite(&tc, &invite.code).unwrap_err();
    assert!(matches!(err, Error::Server { status: 404, .. }), "{err:?}");
}
