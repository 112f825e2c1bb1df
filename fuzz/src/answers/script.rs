//! The scripted server: each answer read from the input (a status, maybe `Retry-After`, and a
//! structured, raw or mutated body), made plausible from what the client sent so far.

use std::collections::HashSet;
use std::sync::Mutex;

use contactsync_core::Transport;
use contactsync_core::identifier::invite;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::{BatchRequest, codes};
use contactsync_core::upload::{Request, Response, TransportError};
use serde_json::{Value, json};

use crate::input::Reader;

use super::{MAX_ANSWERS, NO_ANSWER, RAW_STATUS, STATUSES, body, codes_to_redeem};

/// The error codes an error body picks from (then a made-up one, an empty one, a long one).
const ERROR_CODES: [&str; 14] = [
    codes::MALFORMED,
    codes::UNAUTHORIZED,
    codes::FORBIDDEN,
    codes::USER_REQUIRED,
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
pub(super) struct Seen {
    /// Every hash the client sent in a batch.
    hashes: Vec<String>,
    /// The last batch.
    batch: Option<BatchRequest>,
    /// The `since` of the last changes request.
    since: Option<String>,
    /// A counter for fresh cursors and ids.
    counter: u32,
    /// Every user reference an answer carried.
    pub(super) user_refs: HashSet<String>,
    /// Requests received.
    pub(super) requests: usize,
}

/// Answers requests from a script read from the fuzz input.
pub(super) struct Scripted<'a> {
    pub(super) answers: Mutex<(Reader<'a>, usize)>,
    pub(super) seen: Mutex<Seen>,
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
