//! Helpers shared by the cross-crate integration tests in `tests/tests/` and the benchmarks in
//! `benches/`: where the shared test vectors and fixtures live, and the synthetic address book.

pub mod cpu;
pub mod net;
pub mod synthetic;
pub mod world;

use std::path::PathBuf;

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
