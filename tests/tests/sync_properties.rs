//! Property: whatever a device's address book went through, and wherever its transport failed
//! on the way, one clean sync at the end leaves exactly what the final book calls for — locally
//! (the matches) and on the real server (the device's set of hashes).
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use contactsync_core::upload::SyncOptions;
use contactsync_core::{
    Config, Engine, IdentifierKind, NoProgress, Normalizer, RawContact, Region,
};
use contactsync_server::{RegistrationLimits, ServerConfig, start};
use contactsync_tests::net::{Faulty, Loopback, Outcome, put_user, register_open};
use proptest::prelude::*;

use IdentifierKind::{Email, Phone};

const ADMIN: &str = "admin-token-for-properties-0123";

/// Each contact in two versions; a book takes, per contact, none or one of them.
fn version(i: usize, v: u8) -> RawContact {
    let phones = [
        "0151 23456789",
        "030 1234567",
        "0171 9876543",
        "0160 5550100",
        "0176 1112223",
        "040 7654321",
    ];
    let mails = [
        "ana@example.org",
        "bo@example.org",
        "clara@example.com",
        "dario@example.net",
        "eva@example.org",
        "fynn@example.com",
    ];
    let mut c = RawContact::new(format!("c{i}"), format!("Contact {i}"));
    if v == 1 {
        c.push(Phone, None, phones[i]);
    } else {
        // The second version: the next contact's number (shared identifiers) and an address.
        c.push(Phone, None, phones[(i + 1) % phones.len()]);
        c.push(Email, None, mails[i]);
    }
    c
}

/// Registered users: some numbers and addresses of the pool.
const USERS: &[(&str, &str, &str)] = &[
    ("u1", "phone", "+4915123456789"),
    ("u2", "phone", "+49301234567"),
    ("u3", "email", "clara@example.com"),
    ("u4", "email", "fynn@example.com"),
    ("u5", "phone", "+49407654321"),
];

fn book(choice: &[u8]) -> Vec<RawContact> {
    choice
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .map(|(i, v)| version(i, *v))
        .collect()
}

/// What the final book calls for: (source id, canonical, user) matches, and the set's size.
fn expected(book: &[RawContact]) -> (BTreeSet<(String, String, String)>, usize) {
    let n = Normalizer::new(Region::new("DE").unwrap());
    let mut ids = BTreeSet::new();
    let mut matches = BTreeSet::new();
    for c in book {
        for v in &c.values {
            let canonical = n
                .normalize(v.kind, &v.value)
                .unwrap()
                .canonical()
                .to_owned();
            ids.insert((v.kind, canonical.clone()));
            if let Some((user, _, _)) = USERS.iter().find(|(_, _, value)| *value == canonical) {
                matches.insert((c.source_id.clone(), canonical, (*user).to_owned()));
            }
        }
    }
    (matches, ids.len())
}

/// One round: which version of each contact the book holds (0: none), and which request of the
/// round's sync fails, and how: 0 never sent, 1 answer lost (the server applied it), 2 refused as
/// too large and 4 as malformed in front of the server, 3 unavailable after the server applied it.
type Round = (Vec<u8>, Option<(usize, u8)>);

fn refusal(status: u16, code: &str) -> contactsync_core::upload::Response {
    contactsync_core::upload::Response {
        status,
        headers: vec![],
        body: format!(r#"{{"error":{{"code":"{code}","message":"injected"}}}}"#).into_bytes(),
    }
}

fn run(rounds: &[Round]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ServerConfig::new(dir.path().join("server.db"), listen, ADMIN);
    // Devices register themselves, all from loopback.
    config.open_registration = true;
    config.registration = RegistrationLimits::unlimited();
    let server = start(config).unwrap();
    let admin = Loopback::new(&server.url(), Some(ADMIN));
    for (user, kind, value) in USERS {
        put_user(&admin, user, true, &[(kind, value)]).unwrap();
    }
    let registered = register_open(&server.url()).unwrap();
    let engine = Engine::open(
        dir.path().join("device.db"),
        Config::with_region(Region::new("DE").unwrap()),
    )
    .unwrap();
    let options = SyncOptions {
        max_batch: Some(2),
        ..contactsync_tests::quick(true)
    };
    for (choice, failure) in rounds {
        engine.import_snapshot(book(choice), &NoProgress).unwrap();
        let failure = *failure;
        let flaky = Faulty::new(
            Loopback::new(&server.url(), Some(&registered.token)),
            Box::new(move |n, _, answer| match failure {
                Some((at, how)) if at == n => match (how, answer) {
                    (0, _) => Outcome::DropRequest,
                    // Refusals come before the server (a proxy, or the server refusing what it
                    // did not apply, as the protocol says a refusal means).
                    (2, None) => Outcome::Replace(refusal(413, "too_large")),
                    (4, None) => Outcome::Replace(refusal(400, "malformed")),
                    (_, None) => Outcome::Pass,
                    (1, Some(_)) => Outcome::DropAnswer,
                    // A gateway timing out after the server applied the request.
                    (_, Some(_)) => Outcome::Replace(refusal(503, "unavailable")),
                },
                _ => Outcome::Pass,
            }),
        );
        // A failure ends the sync with a typed error (a 413 is split, not an error); anything
        // else is a bug.
        if let Err(e) = engine.sync(&flaky, &options, &NoProgress) {
            prop_assert!(
                matches!(
                    e,
                    contactsync_core::Error::Network(_)
                        | contactsync_core::Error::RetryLater { .. }
                        | contactsync_core::Error::Server {
                            status: 400 | 413,
                            ..
                        }
                ),
                "unexpected error {e:?}"
            );
        }
    }
    let clean = Loopback::new(&server.url(), Some(&registered.token));
    engine.sync(&clean, &options, &NoProgress).unwrap();

    let last = book(&rounds.last().unwrap().0);
    let (want_matches, want_set) = expected(&last);
    let got: BTreeSet<(String, String, String)> = engine
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.source_id.unwrap_or_default(), m.canonical, m.user_ref))
        .collect();
    prop_assert_eq!(got, want_matches);
    let set: i64 = rusqlite::Connection::open(dir.path().join("server.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM client_hashes", [], |r| r.get(0))
        .unwrap();
    prop_assert_eq!(usize::try_from(set).unwrap(), want_set);
    let s = engine.status().unwrap();
    prop_assert_eq!((s.pending_add, s.pending_remove, s.in_flight), (0, 0, 0));
    server.stop();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn any_history_with_any_failures_ends_where_the_final_book_says(
        rounds in prop::collection::vec(
            (
                prop::collection::vec(0u8..3, 6),
                prop::option::of((0usize..12, 0u8..5)),
            ),
            1..5,
        )
    ) {
        run(&rounds)?;
    }
}
