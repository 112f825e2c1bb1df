//! contactsync-ffi: the core's API for Kotlin and Swift, through `UniFFI` proc-macros.
//!
//! Thin by rule: newtype objects over the core's [`contactsync_core::Engine`], the core's own
//! records and enums (derived for UniFFI behind the core's `uniffi` feature) and the few whose
//! shape differs for apps, one error enum, and the traits the app implements. Nothing here
//! decides anything a Rust test of the core cannot reach; what little is decided (what a failing
//! callback means) lives in `callbacks` and is documented on the traits.
//!
//! | Module       | Holds                                                           |
//! |--------------|-----------------------------------------------------------------|
//! | `engine`     | `Engine` and `Snapshot` objects                                 |
//! | `identifier` | `Normalizer`, `HashKey`, `guess_kind(s)`, `register_device`     |
//! | `callbacks`  | the foreign traits `Transport`, `ProgressListener`, `Reregister`; HTTP records |
//! | `observe`    | the foreign trait `ChangeObserver` and the `Subscription` object |
//! | `logging`    | the foreign trait `LogSink`, `install_log_sink`, `LogLevel`     |
//! | `types`      | the core's records re-exported; the few shaped for apps         |
//! | `oprf`       | `OprfBatch`, `OprfServerKey`: the private mode's OPRF, for known-answer tests and benchmarks |
//! | `error`      | `ContactsyncError`                                              |
//!
//! One crossing per list: from Kotlin every call costs about 20 µs through JNA whatever it does
//! (docs/performance.md), so whatever an app does per contact or per value has a list call
//! (`import_snapshot`, `contacts_by_id`, `matches`, `set_contacts_excluded`,
//! `set_identifiers_excluded`, `normalize_all`, `hash_all`, `guess_kinds`); the single-value
//! calls stay for what a user does to one value at a time (typing into a search box).
//!
//! Panics unwind (the workspace's release profile keeps `panic = "unwind"`), and `UniFFI` turns a
//! panic into an exception in the caller (`InternalException` in Kotlin, a thrown error in Swift)
//! instead of aborting the app.

// Exported functions take owned values: that is what UniFFI lifts from the foreign side.
#![allow(clippy::needless_pass_by_value)]

mod callbacks;
mod engine;
mod error;
mod identifier;
mod logging;
mod observe;
mod oprf;
mod types;

pub use callbacks::{
    HttpHeader, HttpMethod, HttpRequest, HttpResponse, ProgressListener, Reregister, Transport,
};
pub use engine::{Engine, Snapshot};
pub use error::{ContactsyncError, Result};
pub use identifier::{HashKey, Normalizer, core_version, guess_kind, guess_kinds, register_device};
pub use logging::{LogLevel, LogRecord, LogSink, install_log_sink};
pub use observe::{ChangeObserver, Subscription};
pub use oprf::{OprfBatch, OprfEvaluation, OprfServerKey};
pub use types::*;

uniffi::setup_scaffolding!();

/// Panics, on purpose. It exists only so the bindings' own tests can prove that a Rust panic
/// reaches Kotlin and Swift as a catchable error and leaves the library usable; no app has a
/// reason to call it.
///
/// It returns a `Result` although it never returns an error: UniFFI's Swift bindings call a
/// function without one through `try!`, so a panic there would trap the test instead of throwing.
#[uniffi::export]
#[allow(clippy::panic, clippy::unnecessary_wraps)]
pub fn debug_panic_for_tests(message: String) -> Result<()> {
    panic!("{message}");
}
