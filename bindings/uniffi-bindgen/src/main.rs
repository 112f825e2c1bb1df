//! UniFFI's binding generator, pinned to the version of the `uniffi` runtime the FFI crate links,
//! so generated code and scaffolding always agree. Library mode only:
//!
//! ```text
//! cargo uniffi-bindgen generate --library target/debug/libcontactsync_ffi.so \
//!     --language kotlin --out-dir <dir> --config bindings/uniffi.toml
//! ```

fn main() {
    uniffi::uniffi_bindgen_main();
}
