//! End to end, private discovery: the engine in `Discovery::Private` against the real reference
//! server (private discovery on) over loopback HTTP, a real SQLite file on each side.
//!
//! The server chooses the mode (its config offers private discovery); the engine follows it.
//! Checks that the device finds exactly its contacts who are users, that it hears of users who
//! join and leave through the filter's changes without evaluating anything again, that no
//! request carries an identifier, a keyed hash of one, or an unpadded count, and that the server
//! keeps nothing of the device but its registration and counters.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;

use contactsync_core::hash::HashKey;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::private::EvaluateRequest;
use contactsync_core::protocol::wire::{ConfigAnswer, Registered};
use contactsync_core::upload::{Method, get};
use contactsync_core::{Discovery, Engine, Error, NoProgress, Normalizer, Region};
use contactsync_tests::leaks::assert_private_exchanges;
use contactsync_tests::net::{Faulty, Loopback};
use contactsync_tests::world::{World, book};
use contactsync_tests::{matched, pairs, quick};

/// A private server with the users registered, and a device registered openly: its requests
/// recorded, its engine (nothing imported yet).
fn recorded() -> (World, Faulty<Loopback>, Registered, Engine) {
    let world = World::private();
    world.register_users();
    let (transport, registered) = world.device(None);
    let e = world.engine("a");
    (world, Faulty::recording(transport), registered, e)
}

#[test]
fn a_private_device_finds_exactly_its_users_and_follows_joins_and_leaves() {
    let (world, recording, registered, e) = recorded();
    assert_eq!(
        e.discovery().unwrap(),
        Discovery::Hashed,
        "before the first sync"
    );
    e.import_snapshot(book(), &NoProgress).unwrap();

    let first = e.sync(&recording, &quick(true), &NoProgress).unwrap();
    assert_eq!(
        matched(&e),
        pairs(&[
            ("Ana", "u_ana"),
            ("Clara", "u_clara"),
            ("Dario", "u_dario"),
            ("Eva", "u_eva")
        ])
    );
    assert_eq!(first.new_matches, 4);
    // 8 distinct identifiers (Bernd and Gül share a number; Hiro's is rejected), each evaluated
    // once.
    assert_eq!(first.added, 8);

    // Frank joins, Eva leaves; Ana's second identifier becomes hers too.
    let version = world.wait_for_filter(&registered.token, 0);
    world.put_user("u_frank", &[("email", "frank@nowhere.test")]);
    world.delete_user("u_eva");
    world.wait_for_filter(&registered.token, version);
    let before = recording.exchanges().len();
    let second = e.sync(&recording, &quick(false), &NoProgress).unwrap();
    assert_eq!(
        matched(&e),
        pairs(&[
            ("Ana", "u_ana"),
            ("Clara", "u_clara"),
            ("Dario", "u_dario"),
            ("Frank", "u_frank")
        ])
    );
    assert_eq!((second.new_matches, second.lost_matches), (1, 1));
    let later: Vec<_> = recording.exchanges()[before..].to_vec();
    assert!(
        later.iter().all(|x| x.path != "/v1/private/evaluate"),
        "nothing is evaluated twice"
    );
    assert!(
        later
            .iter()
            .any(|x| x.path.starts_with("/v1/private/filter/changes")),
        "the second sync reads the filter's changes, not the whole filter"
    );

    // The server chose the mode: its config offers private discovery.
    assert_eq!(e.discovery().unwrap(), Discovery::Private);
}

#[test]
fn nothing_identifying_leaves_a_private_device_and_the_server_keeps_no_set() {
    let (world, recording, registered, e) = recorded();
    let contacts = book();
    e.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    e.sync(&recording, &quick(false), &NoProgress).unwrap();
    e.sync(&recording, &quick(true), &NoProgress).unwrap();

    // Every raw value, canonical form and name — and, since the server holds the keyed hash's
    // key, every identifier's keyed hash under it, in base64url and as raw bytes.
    let config: ConfigAnswer = get(
        &world.transport(&registered.token),
        Method::Get,
        "/v1/config",
    )
    .unwrap();
    let key = HashKey::from_base64(config.key_id.clone(), &config.key).unwrap();
    let normalizer = Normalizer::new(Region::new("DE").unwrap());
    let mut texts: BTreeSet<String> = BTreeSet::new();
    let mut digests: Vec<[u8; 16]> = Vec::new();
    for c in &contacts {
        texts.insert(c.display_name.clone());
        for v in &c.values {
            texts.insert(v.value.trim().to_owned());
            if let Ok(id) = normalizer.normalize(v.kind, &v.value) {
                texts.insert(id.canonical().to_owned());
                let digest = key.hash(&id);
                texts.insert(digest.to_base64url());
                digests.push(digest.0);
            }
        }
    }
    let exchanges = recording.exchanges();
    let buckets = config.private.unwrap().buckets;
    let evaluations = assert_private_exchanges(&exchanges, &texts, &digests, &buckets, &[]);
    assert_eq!(
        evaluations, 1,
        "one padded batch for 8 identifiers, none on the second sync"
    );

    // The server keeps no set of hashes and no batch for this device.
    let conn = rusqlite::Connection::open(world.server_db()).unwrap();
    let hashes: i64 = conn
        .query_row("SELECT count(*) FROM client_hashes", [], |r| r.get(0))
        .unwrap();
    let batches: i64 = conn
        .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!((hashes, batches), (0, 0));

    // Consent withdrawn: the device is gone from the server, its values from the device.
    e.forget(&recording).unwrap();
    assert!(e.matches().unwrap().is_empty());
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM clients WHERE client_id = ?1",
            [&registered.client_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn an_evaluation_under_another_key_than_published_is_refused_and_nothing_is_kept() {
    use contactsync_core::oprf::{Element, SecretKey};
    use contactsync_core::protocol::private::{Bytes, EvaluateAnswer};
    use contactsync_core::upload::Response;
    use contactsync_tests::net::Outcome;

    let world = World::private();
    world.register_users();
    let (transport, _) = world.device(None);
    // A server that evaluates this device's elements with a key of its own (to tag it) while
    // publishing the real one: the answer is well formed, its proof is valid for that key.
    let other = SecretKey::generate(&mut rand_core::OsRng).unwrap();
    let tagging = Faulty::new(
        transport,
        Box::new(move |_, request, answer| {
            if request.path != "/v1/private/evaluate" || answer.is_none() {
                return Outcome::Pass;
            }
            let asked: EvaluateRequest = Encoding::Json.decode(&request.body).unwrap();
            let elements: Vec<Element> = asked.elements.iter().map(|b| Element(b.0)).collect();
            let (evaluated, proofs) = other
                .evaluate_batch(&elements, &mut rand_core::OsRng)
                .unwrap();
            let forged = EvaluateAnswer {
                epoch: asked.epoch,
                evaluated: evaluated.into_iter().map(|e| Bytes(e.0)).collect(),
                proofs: proofs.into_iter().map(Bytes).collect(),
                remaining_today: 1000,
            };
            Outcome::Replace(Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Encoding::Json.encode(&forged).unwrap(),
            })
        }),
    );
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let refused = e.sync(&tagging, &quick(false), &NoProgress);
    assert!(matches!(refused, Err(Error::Protocol(_))), "{refused:?}");
    assert!(e.matches().unwrap().is_empty());
    assert_eq!(e.status().unwrap().acknowledged, 0, "no value was kept");
}

#[test]
fn a_filter_version_gone_mid_download_starts_the_download_again() {
    use contactsync_core::upload::Response;
    use contactsync_tests::net::Outcome;

    let world = World::private();
    world.register_users();
    let (transport, _) = world.device(None);
    // The first filter request meets an instance that no longer has the version (410); the
    // second is served.
    let stale_once = std::sync::atomic::AtomicBool::new(true);
    let flaky = Faulty::new(
        transport,
        Box::new(move |_, request, answer| {
            if answer.is_none()
                && request.path.starts_with("/v1/private/filter?")
                && stale_once.swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                return Outcome::Replace(Response {
                    status: 410,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: br#"{"error":{"code":"filter_stale","message":"gone"}}"#.to_vec(),
                });
            }
            Outcome::Pass
        }),
    );
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    e.sync(&flaky, &quick(false), &NoProgress).unwrap();
    assert_eq!(matched(&e).len(), 4);
    let filters = flaky
        .exchanges()
        .iter()
        .filter(|x| x.path.starts_with("/v1/private/filter?"))
        .count();
    assert_eq!(filters, 2, "the download started again once");
}

#[test]
fn a_device_follows_its_server_into_private_discovery_and_back() {
    let mut world = World::default();
    world.register_users();
    let (_, registered) = world.device(None);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    let expected = pairs(&[
        ("Ana", "u_ana"),
        ("Clara", "u_clara"),
        ("Dario", "u_dario"),
        ("Eva", "u_eva"),
    ]);
    let cbor = quick(true);
    e.sync(&world.transport(&registered.token), &cbor, &NoProgress)
        .unwrap();
    assert_eq!(e.discovery().unwrap(), Discovery::Hashed);
    assert_eq!(matched(&e), expected);

    // The operator turns private discovery on: the users are registered again (their PRF
    // values exist only from then on), and the device follows at its next sync.
    world.set_private(true);
    world.register_users();
    let recording = Faulty::recording(world.transport(&registered.token));
    let report = e.sync(&recording, &cbor, &NoProgress).unwrap();
    assert_eq!(e.discovery().unwrap(), Discovery::Private);
    assert_eq!(matched(&e), expected);
    assert_eq!(report.added, 8, "every identifier evaluated");
    assert!(
        recording
            .exchanges()
            .iter()
            .all(|x| x.path == "/v1/config" || x.path.starts_with("/v1/private/")),
        "no batch after the switch"
    );

    // And back: a full re-sync of keyed hashes.
    world.set_private(false);
    let report = e
        .sync(&world.transport(&registered.token), &cbor, &NoProgress)
        .unwrap();
    assert_eq!(e.discovery().unwrap(), Discovery::Hashed);
    assert_eq!(matched(&e), expected);
    assert_eq!(report.added, 8, "every hash sent again");
}
