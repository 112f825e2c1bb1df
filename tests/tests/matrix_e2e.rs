//! End to end, the Matrix identity-service v2 mode against a real identity server: Sydent from the
//! Python Package Index (scripts/sydent-for-tests), started on loopback by
//! `contactsync_tests::sydent`, with users' bindings put in place by Sydent's own code.
//!
//! The first test checks the test world itself: what was provisioned is what Sydent answers, with
//! the hash the core computes ([`MatrixHasher`]), and a changed pepper is served after a restart.
//! The others sync an engine in the Matrix mode (`SyncOptions::matrix`) against it: exactly the
//! bound contacts are found, under their Matrix ids, with nothing but hashes sent; a pepper
//! changed between syncs is survived; an unbound user is gone after the re-lookup interval; the
//! server's address limit splits the lookups; a wrong token is a typed refusal.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contactsync_core::hash::MatrixHasher;
use contactsync_core::{
    Config, Discovery, Engine, Error, IdentifierKind, MatrixOptions, NoProgress, Normalizer,
    RawContact, Region, SyncOptions,
};
use contactsync_tests::net::{Exchange, Faulty, Loopback, Outcome};
use contactsync_tests::sydent::Sydent;
use contactsync_tests::synthetic::{Book, DEFAULT_REGION};
use contactsync_tests::{matched, pairs, person};
use serde_json::{Value, json};

use IdentifierKind::{Account, Email, Handle};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn get(sydent: &Sydent, path: &str, token: &str) -> (u16, Value) {
    let mut answer = agent()
        .get(format!("{}{path}", sydent.base_url()))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

fn post(sydent: &Sydent, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut answer = agent()
        .post(format!("{}{path}", sydent.base_url()))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&serde_json::to_vec(body).unwrap()[..])
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

#[test]
fn sydent_answers_what_was_provisioned() {
    let Some(mut sydent) = Sydent::start(10_000) else {
        return;
    };
    let token = sydent.create_token("@app:sydent.test");
    sydent.bind("email", "Ana@Example.org", "@ana:sydent.test");
    sydent.bind("msisdn", "4915123456789", "@bob:sydent.test");

    assert_eq!(
        get(&sydent, "/_matrix/identity/v2/hash_details", "wrong").0,
        401
    );
    let (status, details) = get(&sydent, "/_matrix/identity/v2/hash_details", &token);
    assert_eq!(status, 200, "{details}");
    let pepper = details["lookup_pepper"].as_str().unwrap().to_owned();
    assert_eq!(pepper, sydent.pepper());

    let lookup = |sydent: &Sydent, pepper: &str| {
        let hasher = MatrixHasher::new(pepper);
        let ana = hasher.hash_raw("ana@example.org", "email");
        let bob = hasher.hash_raw("4915123456789", "msisdn");
        let nobody = hasher.hash_raw("nobody@example.org", "email");
        let body =
            json!({"addresses": [&ana, &bob, &nobody], "algorithm": "sha256", "pepper": pepper});
        let (status, answer) = post(sydent, "/_matrix/identity/v2/lookup", &token, &body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["mappings"],
            json!({ana: "@ana:sydent.test", bob: "@bob:sydent.test"})
        );
    };
    lookup(&sydent, &pepper);

    // A new pepper: the old one is refused with the new one in the error, the new one finds both.
    sydent.change_pepper("newpepper");
    let body = json!({"addresses": [], "algorithm": "sha256", "pepper": pepper});
    let (status, error) = post(&sydent, "/_matrix/identity/v2/lookup", &token, &body);
    assert_eq!(status, 400);
    assert_eq!(error["errcode"], "M_INVALID_PEPPER");
    assert_eq!(error["lookup_pepper"], "newpepper");
    lookup(&sydent, "newpepper");

    // Unbound: gone from the lookup.
    sydent.unbind("email", "ana@example.org", "@ana:sydent.test");
    let hasher = MatrixHasher::new("newpepper");
    let ana = hasher.hash_raw("ana@example.org", "email");
    let body = json!({"addresses": [&ana], "algorithm": "sha256", "pepper": "newpepper"});
    let (_, answer) = post(&sydent, "/_matrix/identity/v2/lookup", &token, &body);
    assert_eq!(answer["mappings"], json!({}));
}

/// A German book: Ana, Bernd and Clara of the end-to-end book (users by phone and by e-mail, one
/// in another case than bound), a contact with a handle and a linked account only (no medium at
/// an identity server), a non-user.
fn book() -> Vec<RawContact> {
    let mut book = contactsync_tests::world::book();
    book.truncate(3);
    book.extend([
        person(
            "4",
            "Dario",
            &[(Account, "google:1078543"), (Handle, "@dario")],
        ),
        person("5", "Frank", &[(Email, "frank@nowhere.test")]),
    ]);
    book
}

/// Ana by phone, Bernd by phone, Clara by e-mail; Frank is bound to nobody.
fn bind_users(sydent: &mut Sydent) {
    sydent.bind("msisdn", "4915123456789", "@ana:sydent.test");
    sydent.bind("msisdn", "49301234567", "@bernd:sydent.test");
    sydent.bind("email", "clara@example.com", "@clara:sydent.test");
}

/// A Sydent with the app's token and the users bound, and a device with the book imported: its
/// engine, and the directory of its database (to be kept while the engine is used). `None`
/// (skipped, visibly) when Sydent is not installed.
fn world(address_lookup_limit: usize) -> Option<(Sydent, String, Engine, tempfile::TempDir)> {
    let mut sydent = Sydent::start(address_lookup_limit)?;
    let token = sydent.create_token("@app:sydent.test");
    bind_users(&mut sydent);
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    Some((sydent, token, e, dir))
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    let engine = Engine::open(
        dir.path().join("device.db"),
        Config::with_region(Region::new("DE").unwrap()),
    )
    .unwrap();
    engine.import_snapshot(book(), &NoProgress).unwrap();
    engine
}

fn options(token: &str, relookup: Duration) -> SyncOptions {
    let mut matrix = MatrixOptions::new(token);
    matrix.relookup_interval = relookup;
    SyncOptions {
        max_attempts: 1,
        max_wait: Duration::ZERO,
        matrix: Some(matrix),
        ..SyncOptions::default()
    }
}

/// Every request is the protocol's two paths, with the app's token; no lookup carries an
/// identifier in any form but its hash under the pepper sent.
fn assert_only_hashes(exchanges: &[Exchange]) {
    let raw = [
        "4915123456789",
        "49301234567",
        "+4915123456789",
        "ana@example.org",
        "clara@example.com",
        "Clara@Example.COM",
        "frank@nowhere.test",
        "google:1078543",
        "dario",
    ];
    assert!(!exchanges.is_empty());
    for exchange in exchanges {
        assert!(
            exchange.path == "/_matrix/identity/v2/hash_details"
                || exchange.path == "/_matrix/identity/v2/lookup",
            "{}",
            exchange.path
        );
        let body = String::from_utf8_lossy(&exchange.body);
        for value in raw {
            assert!(!body.contains(value), "{value} in {body}");
        }
        if exchange.path.ends_with("/lookup") {
            let request: Value = serde_json::from_slice(&exchange.body).unwrap();
            assert_eq!(request["algorithm"], "sha256");
            for address in request["addresses"].as_array().unwrap() {
                let address = address.as_str().unwrap();
                assert_eq!(
                    address.len(),
                    43,
                    "a SHA-256 in unpadded base64url: {address}"
                );
                assert!(!address.contains(' '));
            }
        }
    }
}

#[test]
fn a_book_finds_exactly_its_bound_contacts_with_hashes_only() {
    let Some((mut sydent, token, e, _dir)) = world(10_000) else {
        return;
    };
    let recording = Faulty::recording(Loopback::new(&sydent.base_url(), None));
    let hourly = options(&token, Duration::from_secs(3600));

    let report = e.sync(&recording, &hourly, &NoProgress).unwrap();
    assert_eq!(e.discovery().unwrap(), Discovery::Matrix);
    let expected = pairs(&[
        ("Ana", "@ana:sydent.test"),
        ("Bernd", "@bernd:sydent.test"),
        ("Clara", "@clara:sydent.test"),
    ]);
    assert_eq!(matched(&e), expected);
    assert_eq!(report.new_matches, 3);
    // Ana's phone and e-mail, Bernd's phone, Clara's and Frank's e-mail: one lookup of five.
    assert_eq!((report.added, report.batches_sent), (5, 1));
    assert_eq!(
        report.unsupported, 2,
        "Dario's account and handle are left out"
    );
    let exchanges = recording.exchanges();
    assert_eq!(exchanges.len(), 2, "hash_details, then one lookup");
    assert_only_hashes(&exchanges);

    // Within the interval, nothing new: no request at all.
    let report = e.sync(&recording, &hourly, &NoProgress).unwrap();
    assert!(report.skipped);
    assert_eq!(recording.exchanges().len(), 2);

    // A new contact is looked up at once, alone.
    let mut more = book();
    more.push(person("6", "Gül", &[(Email, "gul@example.net")]));
    sydent.bind("email", "gul@example.net", "@gul:sydent.test");
    e.import_snapshot(more, &NoProgress).unwrap();
    let report = e.sync(&recording, &hourly, &NoProgress).unwrap();
    assert_eq!((report.added, report.new_matches), (1, 1));
    assert!(matched(&e).contains(&("Gül".to_owned(), "@gul:sydent.test".to_owned())));
    assert_only_hashes(&recording.exchanges());
}

fn paths_and_statuses(exchanges: &[Exchange]) -> Vec<(String, Option<u16>)> {
    exchanges
        .iter()
        .map(|x| (x.path.rsplit('/').next().unwrap().to_owned(), x.status))
        .collect()
}

fn steps(items: &[(&str, u16)]) -> Vec<(String, Option<u16>)> {
    items
        .iter()
        .map(|(p, s)| ((*p).to_owned(), Some(*s)))
        .collect()
}

/// A transport that restarts Sydent with a new pepper after each of the first `changes`
/// `hash_details` answers: the lookup that follows uses a pepper the server no longer has.
fn pepper_changing(sydent: &Arc<Mutex<Sydent>>, base: &str, changes: usize) -> Faulty<Loopback> {
    let sydent = Arc::clone(sydent);
    let done = AtomicUsize::new(0);
    Faulty::new(
        Loopback::new(base, None),
        Box::new(move |_, request, answer| {
            if answer.is_some()
                && request.path.ends_with("/hash_details")
                && done.load(Ordering::SeqCst) < changes
            {
                // Unique across transports: a pepper set again is no change.
                static PEPPERS: AtomicUsize = AtomicUsize::new(0);
                done.fetch_add(1, Ordering::SeqCst);
                let n = PEPPERS.fetch_add(1, Ordering::SeqCst);
                sydent.lock().unwrap().change_pepper(&format!("midsync{n}"));
            }
            Outcome::Pass
        }),
    )
}

#[test]
fn a_pepper_changed_between_syncs_is_survived() {
    let Some((mut sydent, token, e, _dir)) = world(10_000) else {
        return;
    };
    let base = sydent.base_url();
    let daily = options(&token, Duration::from_secs(86_400));
    e.sync(&Loopback::new(&base, None), &daily, &NoProgress)
        .unwrap();
    let before = matched(&e);
    assert_eq!(before.len(), 3);

    // A new pepper while the device was idle, and a new contact: the sync sees the pepper in
    // hash_details and looks up the whole book under it, without a refusal.
    sydent.change_pepper("pepper2");
    sydent.bind("email", "gul@example.net", "@gul:sydent.test");
    let mut more = book();
    more.push(person("6", "Gül", &[(Email, "gul@example.net")]));
    e.import_snapshot(more, &NoProgress).unwrap();
    let recording = Faulty::recording(Loopback::new(&base, None));
    let report = e.sync(&recording, &daily, &NoProgress).unwrap();
    let mut expected = before.clone();
    expected.insert(("Gül".to_owned(), "@gul:sydent.test".to_owned()));
    assert_eq!(matched(&e), expected);
    assert_eq!(report.added, 6, "the whole book again under the new pepper");
    assert_eq!(
        paths_and_statuses(&recording.exchanges()),
        steps(&[("hash_details", 200), ("lookup", 200)])
    );
    assert_only_hashes(&recording.exchanges());

    // Changed between hash_details and the lookup: M_INVALID_PEPPER, hash_details again, the
    // book re-hashed and looked up once more.
    let sydent = Arc::new(Mutex::new(sydent));
    let forced = SyncOptions {
        force: true,
        ..daily.clone()
    };
    let changing = pepper_changing(&sydent, &base, 1);
    let report = e.sync(&changing, &forced, &NoProgress).unwrap();
    assert_eq!(
        paths_and_statuses(&changing.exchanges()),
        steps(&[
            ("hash_details", 200),
            ("lookup", 400),
            ("hash_details", 200),
            ("lookup", 200)
        ]),
        "the stale pepper refused once, then the new one"
    );
    assert_eq!(
        (report.added, report.new_matches, report.lost_matches),
        (6, 0, 0)
    );
    assert_eq!(matched(&e), expected);
    assert_only_hashes(&changing.exchanges());

    // A pepper that changes again after the retry's hash_details: a typed error, not a loop,
    // and the matches stay as they were.
    let changing = pepper_changing(&sydent, &base, 2);
    let error = e.sync(&changing, &forced, &NoProgress).unwrap_err();
    assert!(
        matches!(&error, Error::Protocol(m) if m.contains("pepper")),
        "{error:?}"
    );
    assert_eq!(changing.exchanges().len(), 4);
    assert_eq!(matched(&e), expected);
}

#[test]
fn an_unbound_user_is_gone_after_the_relookup_interval() {
    let Some((mut sydent, token, e, _dir)) = world(10_000) else {
        return;
    };
    let transport = Loopback::new(&sydent.base_url(), None);
    e.sync(
        &transport,
        &options(&token, Duration::from_secs(3600)),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(matched(&e).len(), 3);

    sydent.unbind("email", "clara@example.com", "@clara:sydent.test");
    // Within the hour, the device does not ask: Clara is still listed (the interval's cost).
    let report = e
        .sync(
            &transport,
            &options(&token, Duration::from_secs(3600)),
            &NoProgress,
        )
        .unwrap();
    assert!(report.skipped);
    assert_eq!(matched(&e).len(), 3);
    // An interval that has run out (the app's setting applies at once): the whole book again.
    let report = e
        .sync(&transport, &options(&token, Duration::ZERO), &NoProgress)
        .unwrap();
    assert_eq!((report.added, report.lost_matches), (5, 1));
    assert_eq!(
        matched(&e),
        pairs(&[("Ana", "@ana:sydent.test"), ("Bernd", "@bernd:sydent.test")])
    );
}

#[test]
fn batches_stay_within_the_servers_address_limit() {
    // A Sydent that takes 2 addresses per lookup, and a device that starts at 4: M_TOO_LARGE
    // halves the batch, and the five identifiers go in three lookups.
    let Some((sydent, token, e, _dir)) = world(2) else {
        return;
    };
    let recording = Faulty::recording(Loopback::new(&sydent.base_url(), None));
    let mut opts = options(&token, Duration::from_secs(3600));
    if let Some(m) = opts.matrix.as_mut() {
        m.max_addresses = 4;
    }
    let report = e.sync(&recording, &opts, &NoProgress).unwrap();
    assert_eq!(matched(&e).len(), 3);
    assert_eq!((report.batches_split, report.batches_sent), (1, 3));
    for x in recording.exchanges() {
        if x.path.ends_with("/lookup") && x.status == Some(200) {
            let request: Value = serde_json::from_slice(&x.body).unwrap();
            assert!(request["addresses"].as_array().unwrap().len() <= 2);
        }
    }
}

#[test]
fn a_wrong_token_is_refused_and_nothing_is_stored() {
    let Some(sydent) = Sydent::start(10_000) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let transport = Loopback::new(&sydent.base_url(), None);
    let error = e
        .sync(
            &transport,
            &options("not-a-token", Duration::ZERO),
            &NoProgress,
        )
        .unwrap_err();
    assert!(
        matches!(&error, Error::Server { status: 401, code, .. } if code == "M_UNAUTHORIZED"),
        "{error:?}"
    );
    assert!(e.matches().unwrap().is_empty());
}

/// What the identity server sees of a 1,000-contact book (the synthetic book of the benchmarks,
/// region DE), every 10th contact bound by its first e-mail or phone: the requests and bytes of a
/// first sync, a sync with nothing new, one with a new contact, and a full re-lookup. The
/// figures in docs/performance.md ("Matrix mode") come from its output:
/// `cargo test -p contactsync-tests --test matrix_e2e thousand -- --nocapture`.
#[test]
fn a_thousand_contact_book_is_one_lookup() {
    use std::io::Write as _;

    let Some(mut sydent) = Sydent::start(10_000) else {
        return;
    };
    let token = sydent.create_token("@app:sydent.test");
    let book = Book {
        seed: 1,
        size: 1000,
    };
    let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).unwrap());
    let mut bound = Vec::new();
    for i in (0..book.size).step_by(10) {
        let contact = book.contact(i);
        let first = contact.values.iter().find_map(|v| {
            let id = normalizer.normalize(v.kind, &v.value).ok()?;
            let (medium, address) = MatrixHasher::medium_and_address(&id).ok()?;
            Some((medium.to_owned(), address.to_owned()))
        });
        if let Some((medium, address)) = first {
            bound.push((medium, address, format!("@u{i}:sydent.test")));
        }
    }
    let bindings: Vec<(&str, &str, &str)> = bound
        .iter()
        .map(|(m, a, u)| (m.as_str(), a.as_str(), u.as_str()))
        .collect();
    sydent.bind_all(&bindings);

    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(
        dir.path().join("device.db"),
        Config::with_region(Region::new(DEFAULT_REGION).unwrap()),
    )
    .unwrap();
    e.import_snapshot(book.contacts().collect::<Vec<_>>(), &NoProgress)
        .unwrap();
    let recording = Faulty::recording(Loopback::new(&sydent.base_url(), None));
    let daily = options(&token, Duration::from_secs(86_400));
    let mut seen = 0;
    let mut step = |name: &str, options: &SyncOptions| {
        let report = e.sync(&recording, options, &NoProgress).unwrap();
        let exchanges = recording.exchanges();
        let new = &exchanges[seen..];
        seen = exchanges.len();
        let lookups = new.iter().filter(|x| x.path.ends_with("/lookup")).count();
        let sent: usize = new.iter().map(|x| x.body.len()).sum();
        let received: usize = new.iter().map(|x| x.answer.len()).sum();
        let _ = writeln!(
            std::io::stderr(),
            "matrix, 1,000 contacts, {name}: {} requests ({lookups} lookups), {} addresses, \
             {sent} bytes sent, {received} bytes received, {} unsupported left out",
            new.len(),
            report.added,
            report.unsupported
        );
        assert_only_hashes_or_none(new);
        (new.len(), lookups, report)
    };

    let (requests, lookups, report) = step("first sync", &daily);
    assert_eq!((requests, lookups), (2, 1));
    assert_eq!(matched(&e).len(), bound.len(), "every bound contact found");
    assert!(report.added > 1000);
    let (requests, _, report) = step("nothing new", &daily);
    assert_eq!(requests, 0);
    assert!(report.skipped);
    let mut more: Vec<RawContact> = book.contacts().collect();
    more.push(person("new", "Neu", &[(Email, "neu@example.org")]));
    e.import_snapshot(more, &NoProgress).unwrap();
    let (requests, lookups, report) = step("one new contact", &daily);
    assert_eq!((requests, lookups, report.added), (2, 1, 1));
    let (requests, lookups, _) = step("full re-lookup", &options(&token, Duration::ZERO));
    assert_eq!((requests, lookups), (2, 1));
}

/// [`assert_only_hashes`] for a window that may be empty.
fn assert_only_hashes_or_none(exchanges: &[Exchange]) {
    if !exchanges.is_empty() {
        assert_only_hashes(exchanges);
    }
}
