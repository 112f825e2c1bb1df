//! contactsync-ffi: the thin `UniFFI` layer over `contactsync-core`.
//!
//! Placeholder: the bindings issue turns this into the `UniFFI` crate (lib + cdylib + staticlib)
//! that mirrors the core's `Engine`, records and errors for Kotlin and Swift. Nothing here may
//! hold logic that a Rust test of the core cannot reach.

/// The core crate's version, so the bindings can report what they wrap.
pub fn core_version() -> &'static str {
    contactsync_core::VERSION
}
