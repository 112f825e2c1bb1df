//! Every endpoint of docs/protocol.md against a real server on loopback: the happy paths and
//! each error code, as a device and as the app's backend see them — one module per resource, one
//! test binary.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]
#![allow(
    clippy::cloned_ref_to_slice_refs,
    reason = "`&[x.clone()]` reads plainer"
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
