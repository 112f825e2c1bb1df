//! Every endpoint of docs/protocol.md against a real server on loopback: the happy paths and
//! each error code, as a device and as the app's backend see them — one module per resource, one
//! test binary.

// Test code: a failed expectation is a failed test; a scenario reads best as one function.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::cloned_ref_to_slice_refs,
    clippy::similar_names,
    reason = "tests"
)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod batches;
mod changes;
mod envelopes;
mod invites;
mod keys;
mod limits;
mod links;
mod matching;
mod padding;
mod registration;
mod users;
