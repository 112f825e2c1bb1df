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

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use contactsync_core::identifier::invite;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::{BatchRequest, codes};
use contactsync_core::upload::{self, Request, Response, TransportError};
use contactsync_core::{
    Config, Engine, Error, IdentifierKind, NoProgress, RawContact, Region, SyncOptions, Transport,
};
use serde_json::{Value, json};

use crate::input::{Reader, Writer};

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

/// The error codes an error body picks from (then a made-up one, an empty one, a long one).
const ERROR_CODES: [&str; 13] = [
    codes::MALFORMED,
    codes::UNAUTHORIZED,
    codes::FORBIDDEN,
    codes::NOT_FOUND,
    codes::KEY_ROTATED,
    codes::BATCH_CONFLICT,
    codes::TOO_LARGE,
    codes::TOO_MANY_REQUESTS,
    codes::INTERNAL,
    codes::UNAVAILABLE,
    "teapot",
    "",
    "a-code-much-longer-than-the-sixty-four-characters-a-client-accepts-as-a-code",
];

/// What the fake server remembers of the requests, to answer them plausibly.
#[derive(Debug, Default)]
struct Seen {
    /// Every hash the client sent in a batch.
    hashes: Vec<String>,
    /// The last batch.
    batch: Option<BatchRequest>,
    /// The `since` of the last changes request.
    since: Option<String>,
    /// A counter for fresh cursors and ids.
    counter: u32,
    /// Every user reference an answer carried.
    user_refs: HashSet<String>,
    /// Requests received.
    requests: usize,
}

/// Answers requests from a script read from the fuzz input.
struct Scripted<'a> {
    answers: Mutex<(Reader<'a>, usize)>,
    seen: Mutex<Seen>,
}

impl Transport for Scripted<'_> {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.requests += 1;
        seen.note(&request);
        let mut script = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (r, used) = &mut *script;
        if r.is_empty() || *used >= MAX_ANSWERS {
            return Err(TransportError::new("the scripted server is gone"));
        }
        *used += 1;
        let answer = answer(r, &mut seen);
        if crate::debug() {
            eprintln!(
                "  {} {} → {:?}",
                request.method.as_str(),
                request.path,
                answer.as_ref().map(|a| (
                    a.status,
                    String::from_utf8_lossy(&a.body)
                        .chars()
                        .take(160)
                        .collect::<String>()
                ))
            );
        }
        answer
    }
}

impl Seen {
    fn note(&mut self, request: &Request) {
        if request.path == "/v1/batches"
            && let Ok(batch) = Encoding::of_body(
                request
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                    .map(|(_, value)| value.as_str()),
                &request.body,
            )
            .decode::<BatchRequest>(&request.body)
        {
            self.hashes.extend(
                batch
                    .add
                    .iter()
                    .chain(&batch.remove)
                    .map(ToString::to_string),
            );
            self.batch = Some(batch);
        }
        if request.path.starts_with("/v1/changes") {
            self.since = request
                .path
                .split_once("since=")
                .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_owned());
        }
    }

    /// A hash by selector: below 0x80 one of the last batch's (what a batch answer may name),
    /// below 0xf0 any the client sent (what a changes page may name), else a made-up one.
    fn hash(&self, sel: u8) -> String {
        let last: Vec<String> = self
            .batch
            .iter()
            .flat_map(|b| b.add.iter().chain(&b.remove))
            .map(ToString::to_string)
            .collect();
        if sel < 0x80 && !last.is_empty() {
            return last[usize::from(sel) % last.len()].clone();
        }
        if sel < 0xf0 && !self.hashes.is_empty() {
            return self.hashes[usize::from(sel) % self.hashes.len()].clone();
        }
        match sel % 5 {
            0 => String::new(),
            1 => "short".to_owned(),
            // 16 zero bytes: a well-formed hash that no batch carried.
            2 => "A".repeat(22),
            3 => "!".repeat(22),
            // 32 zero bytes: a hash of before truncation, which the client must refuse.
            _ => "A".repeat(43),
        }
    }

    fn cursor(&mut self, sel: u8) -> String {
        self.counter += 1;
        match sel % 7 {
            0 => "1".to_owned(),
            1 => "8812".to_owned(),
            2 => String::new(),
            3 => "x".repeat(300),
            4 => "a\nb".to_owned(),
            5 => self.since.clone().unwrap_or_default(),
            _ => format!("c{}", self.counter),
        }
    }
}

/// A user reference by selector: plausible ones and the kinds a client must refuse.
fn user_ref(sel: u8) -> String {
    match sel % 6 {
        0 => "u_1042".to_owned(),
        1 => format!("u_{}", sel / 6),
        2 => String::new(),
        3 => "x".repeat(300),
        4 => "a\nb".to_owned(),
        _ => "ü-user".to_owned(),
    }
}

/// The next scripted answer.
fn answer(r: &mut Reader<'_>, seen: &mut Seen) -> Result<Response, TransportError> {
    let status = match r.byte() % 18 {
        NO_ANSWER => return Err(TransportError::new("scripted network failure")),
        RAW_STATUS => r.u16(),
        i => STATUSES[usize::from(i)],
    };
    let flags = r.byte();
    let mut headers = Vec::new();
    if flags & 1 != 0 {
        headers.push(("Retry-After".to_owned(), r.u16().to_string()));
    }
    if flags & 2 != 0 {
        headers.push(("retry-after".to_owned(), "soon".to_owned()));
    }
    let kind = r.byte();
    let body = render(r, seen, kind, true);
    if let Ok(value) = serde_json::from_slice::<Value>(&body) {
        collect_user_refs(&value, &mut seen.user_refs);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Every string under a `user_ref` key, at any depth: the references an answer carries.
fn collect_user_refs(value: &Value, into: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let (true, Value::String(s)) = (k == "user_ref", v) {
                    into.insert(s.clone());
                }
                collect_user_refs(v, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_user_refs(v, into)),
        _ => {}
    }
}

/// A body of kind `kind` (mutation only at the top level).
fn render(r: &mut Reader<'_>, seen: &mut Seen, kind: u8, top: bool) -> Vec<u8> {
    let value = match kind % u8::try_from(body::COUNT).unwrap_or(1) {
        body::RAW => return r.blob().to_vec(),
        body::CONFIG => config(r),
        body::BATCH => batch(r, seen),
        body::CHANGES => changes(r, seen),
        body::ERROR => error(r, seen),
        body::ONE_SHOT => one_shot(r),
        _ if top => {
            let inner = r.byte() % body::MUTATED;
            let mut bytes = render(r, seen, inner, false);
            for _ in 0..r.byte() % 8 {
                let (op, at, b) = (r.byte() % 3, usize::from(r.u16()), r.byte());
                let at = at % (bytes.len() + 1);
                match op {
                    0 if at < bytes.len() => bytes[at] = b,
                    1 => bytes.insert(at, b),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            return bytes;
        }
        _ => Value::Null,
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

fn config(r: &mut Reader<'_>) -> Value {
    let key_id = match r.byte() % 5 {
        0 => "k1".to_owned(),
        1 => "k2".to_owned(),
        2 => String::new(),
        3 => "k with space".to_owned(),
        _ => "k".repeat(70),
    };
    let key = match r.byte() % 6 {
        0 => "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA".to_owned(),
        1 => "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".to_owned(),
        2 => "not base64!".to_owned(),
        3 => "AQIDBAUGBwg".to_owned(),
        4 => "A".repeat(200),
        _ => "  BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc  ".to_owned(),
    };
    let flags = r.byte();
    let hash = if flags & 1 == 0 {
        "hmac-sha256"
    } else {
        "sha1"
    };
    let context = if flags & 2 == 0 {
        "contactsync-v1"
    } else {
        "other"
    };
    let mut limits = serde_json::Map::new();
    for name in [
        "max_batch",
        "max_body_bytes",
        "daily_new_identifiers",
        "remaining_today",
        "check_interval_s",
        "requests_per_minute",
    ] {
        limits.insert(name.to_owned(), json!(r.u32()));
    }
    if flags & 4 != 0 {
        limits.remove("remaining_today");
    }
    // A server that does not say 16-byte digests is one this client must refuse.
    let digest_bytes = if flags & 8 == 0 { json!(16) } else { json!(32) };
    json!({"key_id": key_id, "key": key, "hash": hash, "context": context, "limits": limits,
           "digest_bytes": digest_bytes, "encodings": ["application/cbor"], "extra": "ignored"})
}

fn batch(r: &mut Reader<'_>, seen: &mut Seen) -> Value {
    let flags = r.byte();
    let (batch_id, key_id) = match (&seen.batch, flags & 1 == 0, flags & 2 == 0) {
        (Some(b), echo_id, echo_key) => (
            if echo_id {
                b.batch_id.clone()
            } else {
                "b_other".to_owned()
            },
            if echo_key {
                b.key_id.clone()
            } else {
                "k_other".to_owned()
            },
        ),
        (None, _, _) => ("b_none".to_owned(), "k1".to_owned()),
    };
    let (added, removed, remaining) = (r.u32(), r.u32(), r.u32());
    let mut matches = Vec::new();
    for _ in 0..r.byte() % 6 {
        let (h, u) = (r.byte(), r.byte());
        matches.push(json!({"hash": seen.hash(h), "user_ref": user_ref(u)}));
    }
    json!({"batch_id": batch_id, "key_id": key_id, "added": added, "removed": removed,
           "matches": matches, "remaining_today": remaining})
}

fn changes(r: &mut Reader<'_>, seen: &mut Seen) -> Value {
    let mut gained = Vec::new();
    for _ in 0..r.byte() % 6 {
        let (h, u) = (r.byte(), r.byte());
        gained.push(json!({"hash": seen.hash(h), "user_ref": user_ref(u)}));
    }
    let mut lost = Vec::new();
    for _ in 0..r.byte() % 6 {
        lost.push(json!(seen.hash(r.byte())));
    }
    let c = r.byte();
    let cursor = seen.cursor(c);
    let more = r.flag();
    json!({"gained": gained, "lost": lost, "cursor": cursor, "more": more})
}

fn error(r: &mut Reader<'_>, seen: &mut Seen) -> Value {
    let code = ERROR_CODES[r.choose(ERROR_CODES.len())];
    let message = if r.flag() {
        "m".repeat(1000)
    } else {
        "for logs".to_owned()
    };
    let flags = r.byte();
    let mut error = json!({"code": code, "message": message});
    if flags & 1 != 0 {
        error["key_id"] = json!(if r.flag() { "k2" } else { "k1" });
    }
    if flags & 2 != 0 {
        error["retry_after_s"] = json!(r.u32());
    }
    if flags & 4 != 0 {
        error["reason"] = json!(["rate", "daily_quota", "other"][r.choose(3)]);
    }
    if flags & 8 != 0 {
        error["max_batch"] = json!(r.u32());
    }
    if flags & 16 != 0 {
        error["max_body_bytes"] = json!(r.u32());
    }
    seen.counter += 1;
    json!({ "error": error })
}

fn one_shot(r: &mut Reader<'_>) -> Value {
    match r.byte() % 4 {
        0 => {
            let u = r.byte();
            json!({"client_id": "c_1", "token": "t_1", "user_ref": user_ref(u)})
        }
        1 => {
            let code = match r.byte() % 4 {
                0 => codes_to_redeem()[0].clone(),
                1 => invite::display(&codes_to_redeem()[1]).to_lowercase(),
                2 => "https://example.org/i/".to_owned() + &codes_to_redeem()[0],
                _ => "NOTACODE".to_owned(),
            };
            json!({"code": code, "link": "https://example.org/i/x", "expires_at": r.u32()})
        }
        2 => {
            let u = r.byte();
            json!({"user_ref": user_ref(u)})
        }
        _ => json!({"receipt_id": "r_1", "client_id": "c_1", "deleted_at": r.u32(),
                    "deleted": {"hashes": r.u32(), "batches": 1, "invites": 0}}),
    }
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

/// Seeds: the protocol's examples and the common paths, scripted.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let hashes_of_first_batch = |w: &mut Writer| {
        // Two matches naming the first hashes sent.
        w.byte(2).byte(0).byte(0).byte(1).byte(6);
    };
    let config = |w: &mut Writer, key: u8| {
        w.byte(0)
            .byte(0)
            .byte(body::CONFIG)
            .byte(0)
            .byte(key)
            .byte(0);
        for v in [2000, 262_144, 100_000, 99_310, 86_400, 120] {
            w.u32(v);
        }
    };
    let head = |w: &mut Writer| {
        w.byte(0)
            .byte(0)
            .byte(body::CHANGES)
            .byte(0)
            .byte(0)
            .byte(1)
            .byte(0);
    };
    let batch_ok = |w: &mut Writer| {
        w.byte(0)
            .byte(0)
            .byte(body::BATCH)
            .byte(0)
            .u32(3)
            .u32(0)
            .u32(99_000);
        hashes_of_first_batch(w);
    };
    // One gained (the last batch's first hash), one lost (a hash nobody sent), a new cursor.
    let changes_done = |w: &mut Writer| {
        w.byte(0).byte(0).byte(body::CHANGES);
        w.byte(1).byte(0).byte(0).byte(1).byte(0xf2).byte(6).byte(0);
    };
    let raw = |w: &mut Writer, status: u8, body: &str| {
        w.byte(status).byte(0).byte(body::RAW).blob(body.as_bytes());
    };
    let mut seeds = Vec::new();
    // A whole first sync: config, first cursor, one batch with matches, the changes.
    let mut w = Writer::new();
    w.byte(0).byte(0xff).byte(0).byte(0);
    config(&mut w, 0);
    head(&mut w);
    batch_ok(&mut w);
    changes_done(&mut w);
    seeds.push(("sync_first".to_owned(), w.finish()));
    // Small batches (max_batch 1), a rotated key, then the same flow.
    let mut w = Writer::new();
    w.byte(4 | 8).byte(0).byte(0x0f).byte(0).byte(0);
    config(&mut w, 0);
    head(&mut w);
    w.byte(7)
        .byte(0)
        .byte(body::ERROR)
        .byte(4)
        .byte(0)
        .byte(1)
        .byte(1);
    config(&mut w, 5);
    batch_ok(&mut w);
    batch_ok(&mut w);
    changes_done(&mut w);
    seeds.push(("sync_rotated_small_batches".to_owned(), w.finish()));
    // The protocol's examples, verbatim, as the answers of a sync.
    let mut w = Writer::new();
    w.byte(0).byte(0x07).byte(0).byte(0);
    raw(
        &mut w,
        0,
        r#"{"key_id":"k_2026_11","key":"3q2-7wAAAAC6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","hash":"hmac-sha256","context":"contactsync-v1","digest_bytes":16,"limits":{"max_batch":2000,"max_body_bytes":262144,"daily_new_identifiers":100000,"remaining_today":99310,"check_interval_s":86400,"requests_per_minute":120}}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"gained":[],"lost":[],"cursor":"8812","more":false}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","added":1999,"removed":1,"matches":[{"hash":"Xq4","user_ref":"u_1042"}],"remaining_today":97311}"#,
    );
    raw(
        &mut w,
        0,
        r#"{"gained":[{"hash":"Xq4","user_ref":"u_1042"}],"lost":["p9V"],"cursor":"8812","more":false}"#,
    );
    seeds.push(("sync_protocol_examples".to_owned(), w.finish()));
    // Every error of the protocol's table, as it documents it.
    for (i, (status, body)) in [
        (3, r#"{"error":{"code":"malformed","message":"m"}}"#),
        (4, r#"{"error":{"code":"unauthorized","message":"m"}}"#),
        (7, r#"{"error":{"code":"key_rotated","message":"the hashing key changed","key_id":"k2"}}"#),
        (7, r#"{"error":{"code":"batch_conflict","message":"m"}}"#),
        (8, r#"{"error":{"code":"too_large","message":"m","max_batch":2000,"max_body_bytes":262144}}"#),
        (9, r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":60,"reason":"rate"}}"#),
        (9, r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":3600,"reason":"daily_quota"}}"#),
        (10, r#"{"error":{"code":"internal","message":"the server failed"}}"#),
        (12, r#"{"error":{"code":"unavailable","message":"m","retry_after_s":1}}"#),
    ]
    .into_iter()
    .enumerate()
    {
        let mut w = Writer::new();
        w.byte(2).byte(0x0f).byte(0).byte(0);
        config(&mut w, 0);
        head(&mut w);
        raw(&mut w, status, body);
        if body.contains("key_rotated") {
            config(&mut w, 5);
        }
        batch_ok(&mut w);
        changes_done(&mut w);
        seeds.push((format!("sync_error_{i}"), w.finish()));
    }
    // The one-shot calls: register, create an invite, redeem one, forget.
    let mut w = Writer::new();
    w.byte(0).byte(0x03).byte(3).byte(1).byte(2).byte(3).byte(4);
    raw(&mut w, 1, r#"{"client_id":"c_5Jx0","token":"t_Yk3"}"#);
    // A valid code (the protocol's example code is made up and fails its check).
    w.byte(1)
        .byte(0)
        .byte(body::ONE_SHOT)
        .byte(1)
        .byte(0)
        .u32(1_796_204_800);
    config(&mut w, 0);
    raw(&mut w, 0, r#"{"user_ref":"u_1042"}"#);
    raw(
        &mut w,
        0,
        r#"{"receipt_id":"r_Uu2","client_id":"c_5Jx0","deleted_at":1795600000,"deleted":{"hashes":1843,"batches":3,"invites":1}}"#,
    );
    seeds.push(("one_shot_calls".to_owned(), w.finish()));
    seeds
}
