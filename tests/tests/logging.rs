//! The engine's log lines carry no contact data: every line logged (at every level) during an
//! import, a sync against the real reference server with matches (its first batch retried after a
//! 503), a change feed, an exclusion and a wipe is searched for each raw value, its canonical
//! form, each name, and each hash in every text form (base64url, base64, hex).
//!
//! Its own test binary: the `log` logger is process-wide, and installed once here.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use contactsync_core::IdentifierKind::{Email, Phone};
use contactsync_core::protocol::wire::ConfigAnswer;
use contactsync_core::upload::{Method, Response, SyncOptions, get};
use contactsync_core::{HashKey, NoProgress, Normalizer, Region};
use contactsync_tests::net::{Faulty, Outcome};
use contactsync_tests::person;
use contactsync_tests::world::World;

/// Every line, with its level and target.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!(
                "{} {} {}",
                record.level(),
                record.target(),
                record.args()
            ));
    }
    fn flush(&self) {}
}

#[test]
fn no_log_line_carries_contact_data() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let book = vec![
        person(
            "1",
            "Annegret",
            &[(Phone, "0151 23456789"), (Email, "Annegret.K@Example.org")],
        ),
        person("2", "Bertolt", &[(Phone, "+49 30 1234567")]),
        person("3", "Cordula", &[(Email, "cordula@example.com")]),
        person("4", "Detlef", &[(Phone, "0171 9876543")]),
        person("5", "Eberhard", &[(Phone, "not a number at all")]),
    ];
    let world = World::default();
    world.put_user("u_a", &[("phone", "+4915123456789")]);
    world.put_user("u_c", &[("email", "cordula@example.com")]);
    let (device, _) = world.device(None);
    // The first batch meets a 503 once: the retry and its backoff are logged too.
    let failed_once = AtomicBool::new(false);
    let transport = Faulty::new(
        device,
        Box::new(move |_, request, answer| {
            if request.path == "/v1/batches"
                && answer.is_none()
                && !failed_once.swap(true, Ordering::SeqCst)
            {
                return Outcome::Replace(Response {
                    status: 503,
                    headers: vec![("Retry-After".into(), "0".into())],
                    body: b"{}".to_vec(),
                });
            }
            Outcome::Pass
        }),
    );
    let e = world.engine("a");
    e.import_snapshot(book.clone(), &NoProgress).unwrap();
    let options = SyncOptions {
        force: true,
        ..SyncOptions::default()
    };
    let report = e.sync(&transport, &options, &NoProgress).unwrap();
    assert_eq!(report.new_matches, 2);
    e.apply_changes(&book[..2], &["4".to_owned()], &NoProgress)
        .unwrap();
    e.set_identifier_excluded(Email, "cordula@example.com", true)
        .unwrap();
    e.sync(&transport, &options, &NoProgress).unwrap();
    e.wipe().unwrap();

    let config: ConfigAnswer = get(&world.admin(), Method::Get, "/v1/config").unwrap();
    let key = HashKey::from_base64(config.key_id, &config.key).unwrap();
    let normalizer = Normalizer::new(Region::new("DE").unwrap());
    let mut secrets = BTreeSet::new();
    for c in &book {
        secrets.insert(c.display_name.clone());
        for v in &c.values {
            secrets.insert(v.value.clone());
            if let Ok(id) = normalizer.normalize(v.kind, &v.value) {
                let canonical = id.canonical();
                secrets.insert(canonical.to_owned());
                secrets.insert(canonical.trim_start_matches('+').to_owned());
                let digest = key.hash(&id);
                secrets.insert(digest.to_base64url());
                secrets.insert(base64::engine::general_purpose::STANDARD.encode(digest.0));
                let hex = digest.0.iter().fold(String::new(), |mut hex, b| {
                    let _ = write!(hex, "{b:02x}");
                    hex
                });
                secrets.insert(hex);
            }
        }
    }
    let lines = LINES.lock().unwrap_or_else(PoisonError::into_inner).clone();
    // The test can fail: the engine did log, at its stage boundaries.
    for stage in [
        "import: full snapshot done",
        "sync: done",
        "import: change feed",
        "store wiped",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(stage)),
            "no line for {stage:?}: {lines:#?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request POST /v1/batches: 200"))
    );
    for line in &lines {
        let lower = line.to_lowercase();
        for secret in &secrets {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "a log line carries contact data: {line}"
            );
        }
    }
}
