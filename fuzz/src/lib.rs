//! The fuzz targets' shared code: what each target feeds the real code with, and the invariants
//! it checks. The targets in `fuzz_targets/` are one line each over these modules, so the logic
//! is unit-tested here and the seeds are made from the same encoders (see [`seeds`]).
//!
//! Run them with `scripts/fuzz` (docs/reliability.md, "Fuzzing").

pub mod answers;
pub mod identifiers;
pub mod input;
pub mod requests;
pub mod seeds;
pub mod sources;
pub mod wire;

/// A fresh directory for one input's databases: in `/dev/shm` where there is one (`SQLite`'s
/// syncs cost nothing in memory, and an input runs in a few milliseconds instead of tens), else
/// in the system's temporary directory.
pub fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("contactsync-fuzz-")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new()
            .prefix("contactsync-fuzz-")
            .tempdir()
    };
    dir.expect("a scratch directory")
}

/// Whether `FUZZ_DEBUG` is set: the structured targets then tell on stderr what each step did
/// (to see what an input or a crash artefact does; `scripts/fuzz` never sets it).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}
