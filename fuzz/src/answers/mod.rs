//! The client against a server whose every answer comes from the fuzz input.
//!
//! A real [`Engine`] (a real store in a fresh directory, a few contacts imported) runs real
//! operations — `sync`, `register`, `create_invite`, `redeem_invite`, `forget` — through a
//! [`Transport`] that answers each request with the next scripted answer: a status, maybe a
//! `Retry-After`, and a body built from the input. Bodies are structured (a config, a batch
//! answer echoing the batch it answers, a changes page naming hashes the client sent, an error
//! envelope, ...) or raw bytes, or a structured body with bytes overwritten, so the real parsing
//! and the real reactions to every kind of answer run, not just the JSON parser. When the script
//! is used up the transport reports a network failure, so every operation ends.
//!
//! Checked: no panic; every operation ends with `Ok` or one of the errors a server can cause
//! (`network`, `server`, `protocol`, `retry_later`), never a storage or state error; it stops
//! sending once the server is gone; `forget` wipes only after a receipt; the store stays
//! readable; and every match it keeps has a user reference the server really sent, in the form
//! the client accepts.
//!
//! Retries never sleep: `max_wait` is zero, so a retry happens only when the backoff drawn is
//! zero, and there is no timing in the target.
//!
//! This file holds the operations and the checks; `script.rs` the scripted server (how an answer
//! is read from the input), `seeds.rs` the seeds written in the same encoding.

mod script;
mod seeds;

pub use seeds::seeds;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use contactsync_core::identifier::invite;
use contactsync_core::upload;
use contactsync_core::{
    Config, Engine, Error, IdentifierKind, NoProgress, RawContact, Region, SyncOptions,
};

use crate::input::Reader;
use script::{Scripted, Seen};

/// Most answers one input scripts.
const MAX_ANSWERS: usize = 48;
/// Requests an operation may send after the script ran out: the retries of one request at most.
const AFTER_THE_END: usize = 4;

/// The contacts an input can import (a mask byte picks them).
fn contacts() -> Vec<RawContact> {
    use IdentifierKind::{Account, Email, Handle, Phone};
    vec![
        RawContact::new("1", "Erika").with(Phone, Some("mobile"), "0172 3127130"),
        RawContact::new("2", "Max").with(Email, None, "max@example.org"),
        RawContact::new("3", "Ana")
            .with(Phone, None, "+1 202 555 0173")
            .with(Email, Some("work"), "ana@example.com"),
        RawContact::new("4", "Handle").with(Handle, Some("telegram"), "@ana_01"),
        RawContact::new("5", "Account").with(Account, None, "google:1078543"),
        RawContact::new("6", "Shared").with(Phone, None, "+49 172 3127130"),
        RawContact::new("7", "Bad").with(Phone, None, "12"),
        RawContact::new("8", "Many")
            .with(Phone, None, "030 901820")
            .with(Email, None, "many@example.net")
            .with(Handle, None, "many"),
    ]
}

/// The invite codes an input can redeem.
fn codes_to_redeem() -> [String; 2] {
    [
        invite::from_entropy(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        invite::from_entropy(&[200; 15]),
    ]
}

/// A key the engine may hold before the first sync, so that the server's key is a rotation.
const OLD_KEY: (&str, [u8; 32]) = ("k0", [9; 32]);

/// An operation of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `Engine::sync`.
    Sync,
    /// `upload::register`.
    Register,
    /// `Engine::create_invite`.
    CreateInvite,
    /// `Engine::redeem_invite` of one of two valid codes.
    Redeem(usize),
    /// `Engine::forget`.
    Forget,
}

impl Op {
    fn read(b: u8) -> Op {
        match b % 6 {
            0 | 5 => Op::Sync,
            1 => Op::Register,
            2 => Op::CreateInvite,
            3 => Op::Redeem(usize::from(b / 6) % 2),
            _ => Op::Forget,
        }
    }
}

/// The statuses an answer picks by index (then a raw `u16`, then "no answer").
const STATUSES: [u16; 16] = [
    200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 418, 299, 302,
];
const RAW_STATUS: u8 = 16;
const NO_ANSWER: u8 = 17;

/// Kinds of body.
mod body {
    pub const RAW: u8 = 0;
    pub const CONFIG: u8 = 1;
    pub const BATCH: u8 = 2;
    pub const CHANGES: u8 = 3;
    pub const ERROR: u8 = 4;
    pub const ONE_SHOT: u8 = 5;
    pub const MUTATED: u8 = 6;
    pub const COUNT: usize = 7;
}

/// Runs one input.
pub fn check(data: &[u8], dir: &Path) {
    let mut r = Reader::new(data);
    let flags = r.byte();
    let options = SyncOptions {
        max_attempts: 1 + u32::from(flags % 3),
        max_wait: Duration::ZERO,
        force: true,
        max_batch: (flags & 8 != 0).then(|| 1 + u32::from(r.byte() % 4)),
        cbor: flags & 16 != 0,
        matrix: None,
    };
    let mask = r.byte();
    let ops: Vec<Op> = (0..=r.byte() % 4).map(|_| Op::read(r.byte())).collect();

    let engine = Engine::open(
        dir.join("client.db"),
        Config::with_region(Region::new("DE").expect("DE")),
    )
    .expect("open the store");
    let chosen: Vec<RawContact> = contacts()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    engine
        .import_snapshot(chosen, &NoProgress)
        .expect("import the contacts");
    if flags & 4 != 0 {
        engine
            .set_key(OLD_KEY.0, &OLD_KEY.1, &NoProgress)
            .expect("an old key");
    }

    let transport = Scripted {
        answers: Mutex::new((r, 0)),
        seen: Mutex::new(Seen::default()),
    };
    for op in ops {
        let before = transport.seen.lock().expect("seen").requests;
        let contacts_before = engine.status().expect("status").contacts;
        let result = match op {
            Op::Sync => engine.sync(&transport, &options, &NoProgress).map(drop),
            Op::Register => upload::register(&transport).map(drop),
            Op::CreateInvite => engine.create_invite(&transport, Some(3600)).map(drop),
            Op::Redeem(i) => engine
                .redeem_invite(&transport, &codes_to_redeem()[i])
                .map(drop),
            Op::Forget => engine.forget(&transport).map(drop),
        };
        if crate::debug() {
            eprintln!("{op:?}: {result:?}");
        }
        if let Err(e) = &result {
            assert!(
                matches!(
                    e,
                    Error::Network(_)
                        | Error::Server { .. }
                        | Error::Protocol(_)
                        | Error::RetryLater { .. }
                ),
                "{op:?} ended with an error no answer should cause: {e:?}"
            );
        }
        let (requests, script_used) = {
            let seen = transport.seen.lock().expect("seen");
            let script = transport.answers.lock().expect("script");
            (
                seen.requests,
                script.0.is_empty() || script.1 >= MAX_ANSWERS,
            )
        };
        if script_used {
            let after = requests - before;
            assert!(
                after <= MAX_ANSWERS + AFTER_THE_END * 4,
                "{op:?} sent {after} requests and goes on after the server is gone"
            );
        }
        let status = engine.status().expect("the store stays readable");
        if op == Op::Forget {
            if result.is_ok() {
                assert_eq!(status.contacts, 0, "forget kept contacts after the receipt");
            } else {
                assert_eq!(
                    status.contacts, contacts_before,
                    "a failed forget changed the store"
                );
            }
        }
    }
    let seen = transport.seen.lock().expect("seen");
    for m in engine.matches().expect("matches") {
        assert!(
            seen.user_refs.contains(&m.user_ref),
            "a match with a user reference no answer sent"
        );
        assert!(
            !m.user_ref.is_empty()
                && m.user_ref.len() <= 256
                && !m.user_ref.chars().any(char::is_control),
            "a match with an unusable user reference was kept"
        );
    }
}
