//! Helpers shared by the cross-crate integration tests in `tests/tests/` and the benchmarks in
//! `benches/`: where the shared test vectors and fixtures live, the synthetic address book, and a
//! real Matrix identity server (Sydent) for the Matrix mode.

pub mod cpu;
pub mod floor;
pub mod leaks;
pub mod net;
pub mod sydent;
pub mod synthetic;
pub mod world;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use contactsync_core::upload::SyncOptions;
use contactsync_core::{Engine, IdentifierKind, RawContact};

/// `tests/vectors/`: JSON vectors read by the Rust tests now and the Kotlin and Swift tests later.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// `tests/fixtures/`: the project's own contact files.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `../shared/testdata/`, beside the project's root, when it is there (developers and CI have it;
/// a plain clone does not). When it is absent, says so on stderr in a way the test harness does not
/// capture, so that a skipped check is visible in every run.
pub fn shared_testdata_dir() -> Option<PathBuf> {
    use std::io::Write as _;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    // `eprintln!` would be captured; a direct write to the stderr handle is not.
    let _ = writeln!(std::io::stderr(), "skipped: ../shared absent");
    None
}

/// A contact with these values (no labels), for the small books of end-to-end tests.
pub fn person(id: &str, name: &str, values: &[(IdentifierKind, &str)]) -> RawContact {
    let mut c = RawContact::new(id, name);
    for (kind, value) in values {
        c.push(*kind, None, *value);
    }
    c
}

/// An engine's matches as (display name, user reference) pairs.
///
/// # Panics
/// When the store cannot be read (a test failure).
#[allow(clippy::unwrap_used, reason = "test helper")]
pub fn matched(engine: &Engine) -> BTreeSet<(String, String)> {
    engine
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.display_name, m.user_ref))
        .collect()
}

/// An engine's matches as (source id, canonical identifier, user reference) rows: what a sync
/// found, comparable between runs and modes.
///
/// # Panics
/// When the store cannot be read (a test failure).
#[allow(clippy::unwrap_used, reason = "test helper")]
pub fn match_rows<T: FromIterator<(Option<String>, String, String)>>(engine: &Engine) -> T {
    engine
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.source_id, m.canonical, m.user_ref))
        .collect()
}

/// Sync options for a test that syncs when it says so: one attempt, no wait, forced past the
/// check interval; bodies in CBOR when `cbor`, else in JSON (which a test can read as text).
pub fn quick(cbor: bool) -> SyncOptions {
    SyncOptions {
        max_attempts: 1,
        max_wait: Duration::ZERO,
        force: true,
        cbor,
        ..SyncOptions::default()
    }
}

/// The pairs [`matched`] is compared with.
pub fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}
