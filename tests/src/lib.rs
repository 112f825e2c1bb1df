//! Helpers shared by the cross-crate integration tests in `tests/tests/`: where the shared test
//! vectors and fixtures live.

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
/// a plain clone does not).
pub fn shared_testdata_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    dir.is_dir().then_some(dir)
}
