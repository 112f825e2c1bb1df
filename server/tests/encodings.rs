//! Body encodings (docs/protocol.md, "Encodings") against a real server on loopback: CBOR
//! requests and answers negotiated by `Content-Type` and `Accept`, JSON unchanged, unknown media
//! types and broken CBOR as typed errors, and the 32-byte hashes of clients from before digests
//! were truncated.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN, Reply, TestServer, hash};
use contactsync_core::IdentifierKind::{Email, Phone};
use contactsync_core::protocol::encoding::{CBOR, Encoding, JSON};
use contactsync_core::protocol::wire::{
    BatchAnswer, BatchRequest, ChangesAnswer, ConfigAnswer, MatchAnswer, MatchRequest, Mode,
    WireHash,
};
use contactsync_core::{Digest, HashKey, IdentifierKind};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const ANA_PHONE: &str = "+4915123456789";
const ANA_MAIL: &str = "ana@example.org";

fn cbor_of(reply: &Reply) -> Vec<u8> {
    assert_eq!(
        reply.content_type.as_deref(),
        Some(CBOR),
        "{}",
        reply.text()
    );
    reply.body.clone()
}

fn digest(key: &HashKey, kind: IdentifierKind, canonical: &str) -> WireHash {
    key.hash_parts(kind, canonical).into()
}

fn batch(batch_id: &str, key: &HashKey, add: Vec<WireHash>) -> BatchRequest {
    BatchRequest {
        batch_id: batch_id.to_owned(),
        key_id: key.id().to_owned(),
        mode: Mode::Delta,
        add,
        remove: Vec::new(),
        padding: None,
    }
}

/// A delta batch adding Ana's phone number, in `encoding`.
fn ana_batch(encoding: Encoding, key: &HashKey) -> Vec<u8> {
    encoding
        .encode(&batch("b_1", key, vec![digest(key, Phone, ANA_PHONE)]))
        .unwrap()
}

#[test]
fn config_says_digest_length_and_encodings() {
    let t = TestServer::new();
    let (_, token) = t.api.register();
    let config: ConfigAnswer = t.api.get("/v1/config", Some(&token)).parse();
    assert_eq!(config.digest_bytes, Some(16));
    assert_eq!(config.encodings, [CBOR]);
    // Asked for in CBOR, it comes in CBOR, the same answer.
    let reply = t
        .api
        .send_as("/v1/config", Some(&token), None, Some(CBOR), None);
    let again: ConfigAnswer = Encoding::Cbor.decode(&cbor_of(&reply)).unwrap();
    assert_eq!(again, config);
}

#[test]
#[allow(clippy::similar_names, reason = "a reply and its replay")]
fn a_cbor_batch_gets_a_cbor_answer_with_byte_string_hashes() {
    let t = TestServer::new();
    t.api
        .put_user("u_ana", &[("phone", ANA_PHONE), ("email", ANA_MAIL)], true);
    let (_, token) = t.api.register();
    let key = t.api.key(&token);
    let ana = digest(&key, Phone, ANA_PHONE);
    let stranger = digest(&key, Phone, "+4915199999999");
    let request = batch("b_cbor", &key, vec![ana.clone(), stranger]);
    let body = Encoding::Cbor.encode(&request).unwrap();
    // One more hash costs 17 bytes in CBOR (a 16-byte byte string), 25 in JSON (22 characters,
    // quotes, comma).
    let json_body = Encoding::Json.encode(&request).unwrap();
    let mut longer = request.clone();
    longer.add.push(WireHash::from_bytes(&[7; 16]).unwrap());
    assert_eq!(
        Encoding::Cbor.encode(&longer).unwrap().len() - body.len(),
        17
    );
    assert_eq!(
        Encoding::Json.encode(&longer).unwrap().len() - json_body.len(),
        25
    );
    let reply = t.api.send_as(
        "/v1/batches",
        Some(&token),
        Some(CBOR),
        Some(CBOR),
        Some(&body),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.cache_control.as_deref(), Some("no-store"));
    let raw = cbor_of(&reply);
    let answer: BatchAnswer = Encoding::Cbor.decode(&raw).unwrap();
    assert_eq!((answer.added, answer.removed), (2, 0));
    assert_eq!(answer.matches.len(), 1);
    assert_eq!(answer.matches[0].hash, ana);
    assert_eq!(answer.matches[0].user_ref, "u_ana");
    // On the wire, the hash is a CBOR byte string of 16 bytes (major type 2, length 16).
    let mut needle = vec![0x50];
    needle.extend_from_slice(ana.as_bytes());
    assert!(raw.windows(17).any(|w| w == needle.as_slice()));

    // The replay gets the same answer, in the encoding it asks for now.
    let replay = t.api.send_as(
        "/v1/batches",
        Some(&token),
        Some(CBOR),
        Some(CBOR),
        Some(&body),
    );
    assert_eq!(cbor_of(&replay), raw);
    let as_json = t.api.send_as(
        "/v1/batches",
        Some(&token),
        Some(CBOR),
        Some(JSON),
        Some(&body),
    );
    assert_eq!(as_json.content_type.as_deref(), Some(JSON));
    assert_eq!(as_json.parse::<BatchAnswer>(), answer);
    // The same batch id with the same content in JSON is another body: a conflict, as for any
    // other difference in bytes (a client resends its stored bytes with their content type).
    t.api
        .send_as(
            "/v1/batches",
            Some(&token),
            Some(JSON),
            None,
            Some(&json_body),
        )
        .expect_error(409, "batch_conflict");

    // The changes feed in CBOR: Ana drops her e-mail and phone; the phone is lost here.
    let cursor = t.api.first_cursor(&token);
    t.api.put_user("u_ana", &[("email", ANA_MAIL)], true);
    let path = format!("/v1/changes?since={cursor}");
    let reply = t.api.send_as(&path, Some(&token), None, Some(CBOR), None);
    let changes: ChangesAnswer = Encoding::Cbor.decode(&cbor_of(&reply)).unwrap();
    assert_eq!(changes.lost, [ana]);
    let json_changes: ChangesAnswer = t.api.get(&path, Some(&token)).parse();
    assert_eq!(json_changes, changes);
}

#[test]
fn json_stays_the_default_and_readable() {
    let t = TestServer::new();
    t.api.put_user("u_ana", &[("phone", ANA_PHONE)], true);
    let (_, token) = t.api.register();
    let key = t.api.key(&token);
    let ana = hash(&key, Phone, ANA_PHONE);
    assert_eq!(ana.len(), 22);
    let body = serde_json::to_vec(&json!({"batch_id": "b_1", "key_id": key.id(),
                                         "mode": "delta", "add": [ana]}))
    .unwrap();
    // No Accept, no Content-Type (clients before encodings sent none): JSON both ways.
    for (batch_id, content_type, accept) in [
        ("b_1", None, None),
        ("b_2", Some("application/json; charset=utf-8"), Some("*/*")),
        (
            "b_3",
            Some(JSON),
            Some("application/json, application/cbor;q=0.5"),
        ),
    ] {
        let body = String::from_utf8(body.clone())
            .unwrap()
            .replace("b_1", batch_id);
        let reply = t.api.send_as(
            "/v1/batches",
            Some(&token),
            content_type,
            accept,
            Some(body.as_bytes()),
        );
        assert_eq!(
            reply.content_type.as_deref(),
            Some(JSON),
            "{}",
            reply.text()
        );
        let v: Value = reply.expect(200);
        assert_eq!(v["batch_id"], batch_id);
        assert_eq!(pairs_of(&v["matches"]), [(ana.clone(), "u_ana".to_owned())]);
    }
}

fn pairs_of(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["hash"].as_str().unwrap().to_owned(),
                m["user_ref"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn other_media_types_are_refused_with_415() {
    let t = TestServer::new();
    let (_, token) = t.api.register();
    let key = t.api.key(&token);
    let body = ana_batch(Encoding::Json, &key);
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/cbor-seq",
        "application/jsonx",
    ] {
        t.api
            .send_as(
                "/v1/batches",
                Some(&token),
                Some(content_type),
                None,
                Some(&body),
            )
            .expect_error(415, "unsupported_media_type");
    }
    // Every endpoint that takes a body, admin ones too; the error is JSON even when CBOR is
    // accepted.
    let reply = t.api.send_as(
        "/v1/admin/match",
        Some(ADMIN),
        Some("text/csv"),
        Some(CBOR),
        Some(b"a,b"),
    );
    reply.expect_error(415, "unsupported_media_type");
    // Nothing was applied.
    let ok = t
        .api
        .send_as("/v1/batches", Some(&token), Some(JSON), None, Some(&body))
        .expect(200);
    assert_eq!(ok["added"], 1);
}

#[test]
fn broken_cbor_is_malformed_never_a_panic() {
    let t = TestServer::new();
    let (_, token) = t.api.register();
    let key = t.api.key(&token);
    let good = ana_batch(Encoding::Cbor, &key);
    let mut trailing = good.clone();
    trailing.push(0x00);
    let text_hash = Encoding::Cbor
        .encode(
            &json!({"batch_id": "b_1", "key_id": key.id(), "mode": "delta",
                        "add": [hash(&key, Phone, ANA_PHONE)]}),
        )
        .unwrap();
    let short_hash = Encoding::Cbor
        .encode(&batch(
            "b_1",
            &key,
            vec![WireHash::from_bytes(&[1; 15]).unwrap()],
        ))
        .unwrap();
    let unknown_field = Encoding::Cbor
        .encode(&json!({"batch_id": "b_1", "key_id": key.id(), "mode": "delta", "extra": 1}))
        .unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 3].to_vec()),
        ("trailing bytes", trailing),
        ("not CBOR", vec![0xff, 0xff]),
        (
            "a JSON text sent as CBOR",
            b"{\"batch_id\":\"b_1\"}".to_vec(),
        ),
        ("an array, not a map", vec![0x80]),
        ("nested too deep", vec![0x81; 10_000]),
        (
            "a huge declared length",
            vec![0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        ("a hash as text", text_hash),
        ("a 15-byte hash", short_hash),
        ("an unknown field", unknown_field),
    ];
    for (what, body) in cases {
        let reply = t.api.send_as(
            "/v1/batches",
            Some(&token),
            Some(CBOR),
            Some(CBOR),
            Some(&body),
        );
        let error = reply.expect_error(400, "malformed");
        let message = error["message"].as_str().unwrap();
        assert!(!message.contains(ANA_PHONE), "{what}: {message}");
    }
    // The server still answers, and the good body is applied once.
    let reply = t.api.send_as(
        "/v1/batches",
        Some(&token),
        Some(CBOR),
        Some(CBOR),
        Some(&good),
    );
    let answer: BatchAnswer = Encoding::Cbor.decode(&cbor_of(&reply)).unwrap();
    assert_eq!(answer.added, 1);
}

/// The full HMAC-SHA-256 a client made before digests were truncated.
fn legacy_hash(secret: &[u8], kind: IdentifierKind, canonical: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    for part in [
        contactsync_core::hash::CONTEXT.as_bytes(),
        &[0],
        kind.as_str().as_bytes(),
        &[0],
        canonical.as_bytes(),
    ] {
        mac.update(part);
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[test]
fn a_client_from_before_truncation_is_taken_and_answered_as_it_sent() {
    let t = TestServer::new();
    t.api.put_user("u_ana", &[("phone", ANA_PHONE)], true);
    let (_, token) = t.api.register();
    let config: ConfigAnswer = t.api.get("/v1/config", Some(&token)).parse();
    let secret = URL_SAFE_NO_PAD.decode(&config.key).unwrap();
    let key = t.api.key(&token);
    let old = legacy_hash(&secret, Phone, ANA_PHONE);
    assert_eq!(old.len(), 43);
    // The prefix of the full HMAC is the digest of today.
    let full = URL_SAFE_NO_PAD.decode(&old).unwrap();
    assert_eq!(
        Digest::from_wire(&full),
        Some(key.hash_parts(Phone, ANA_PHONE))
    );
    let v = t
        .api
        .post(
            "/v1/batches",
            Some(&token),
            &json!({"batch_id": "b_old", "key_id": key.id(), "mode": "delta", "add": [old]}),
        )
        .expect(200);
    assert_eq!(v["added"], 1);
    // Answered with the hash as it was sent, which is what that client looks for.
    assert_eq!(pairs_of(&v["matches"]), [(old.clone(), "u_ana".to_owned())]);
    // The set holds the truncated digest: the 16-byte hash of the same number is held already,
    // and removing it by its new form empties the set.
    let now = hash(&key, Phone, ANA_PHONE);
    let again = t
        .api
        .post(
            "/v1/batches",
            Some(&token),
            &json!({"batch_id": "b_new", "key_id": key.id(), "mode": "delta", "add": [now]}),
        )
        .expect(200);
    assert_eq!(
        (
            again["added"].as_u64(),
            again["matches"].as_array().map(Vec::len)
        ),
        (Some(0), Some(1))
    );
    // Both forms of one hash in one batch are one hash twice.
    t.api
        .post(
            "/v1/batches",
            Some(&token),
            &json!({"batch_id": "b_both", "key_id": key.id(), "mode": "delta",
                    "add": [hash(&key, Email, ANA_MAIL)],
                    "remove": [old, hash(&key, Phone, ANA_PHONE)]}),
        )
        .expect_error(400, "malformed");
}

#[test]
fn admin_match_in_cbor() {
    let t = TestServer::new();
    t.api.put_user("u_ana", &[("email", ANA_MAIL)], true);
    let (_, token) = t.api.register();
    let key = t.api.key(&token);
    let ana = digest(&key, Email, ANA_MAIL);
    let request = MatchRequest {
        key_id: key.id().to_owned(),
        hashes: vec![digest(&key, Email, "bo@example.org"), ana.clone()],
    };
    let body = Encoding::Cbor.encode(&request).unwrap();
    let reply = t.api.send_as(
        "/v1/admin/match",
        Some(ADMIN),
        Some(CBOR),
        Some(CBOR),
        Some(&body),
    );
    let answer: MatchAnswer = Encoding::Cbor.decode(&cbor_of(&reply)).unwrap();
    assert_eq!(answer.matches.len(), 1);
    assert_eq!(answer.matches[0].hash, ana);
}
