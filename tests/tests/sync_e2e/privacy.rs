//! What leaves the device and what stays on the server: no payload carries an identifier's raw or
//! canonical text, and consent withdrawal leaves nothing of the device's on the server.

use std::collections::BTreeSet;

use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::upload::{Method, SyncOptions};
use contactsync_core::{Error, IdentifierKind, NoProgress, Region};
use contactsync_tests::net::Faulty;
use contactsync_tests::world::World;

use super::{book, quick, server_dump, sync};
use IdentifierKind::{Account, Email, Handle, Phone};

#[test]
fn nothing_raw_leaves_the_device() {
    let world = World::default();
    world.register_users();
    let (transport, _) = world.device(Some("u_me"));
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    let mut contacts = book();
    // The project's own vCard and CSV fixtures too.
    for path in std::fs::read_dir(contactsync_tests::fixtures_dir().join("vcards"))
        .unwrap()
        .chain(std::fs::read_dir(contactsync_tests::fixtures_dir().join("csv")).unwrap())
    {
        let path = path.unwrap().path();
        let entries = contactsync_core::source::read_path(
            &path,
            &contactsync_core::source::ReadOptions::default(),
        )
        .unwrap();
        contacts.extend(entries.filter_map(|item| match item {
            Ok(contactsync_core::source::SourceItem::Contact(c)) => Some(c.contact),
            _ => None,
        }));
    }
    let report = e.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    assert!(report.normalized > 10);
    let cbor = SyncOptions {
        cbor: true,
        ..quick()
    };
    e.sync(&recording, &cbor, &NoProgress).unwrap();
    // Every other call that reaches the server too.
    let invite = e.create_invite(&recording, None).unwrap();
    world.put_user("u_ana", &[("phone", "+4915123456789")]);
    e.sync(&recording, &cbor, &NoProgress).unwrap();
    e.forget(&recording).unwrap();
    assert!(!invite.code.is_empty());

    // Every raw value, its canonical form, and each name.
    let normalizer = contactsync_core::Normalizer::new(Region::new("DE").unwrap());
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for c in &contacts {
        if c.display_name.len() >= 3 {
            secrets.insert(c.display_name.clone());
        }
        for v in &c.values {
            let raw = v.value.trim();
            if raw.len() >= 4 {
                secrets.insert(raw.to_owned());
            }
            if let Ok(id) = normalizer.normalize(v.kind, &v.value) {
                secrets.insert(id.canonical().to_owned());
                // E.164 without the plus, as some encodings would carry it.
                if v.kind == Phone {
                    secrets.insert(id.canonical().trim_start_matches('+').to_owned());
                }
            }
        }
    }
    let exchanges = recording.exchanges();
    assert!(exchanges.iter().any(|x| x.path == "/v1/batches"));
    let mut hashes = 0;
    let mut cbor_bodies = 0;
    for x in exchanges {
        // Hash lists must hold nothing but 16-byte digests; they are then set aside, since 22
        // random base64 characters can contain a short name by chance, in any case. A CBOR body
        // is decoded whole: its byte strings must be digests, and its text is searched as JSON's.
        let mut body = if Encoding::of_body(None, &x.body) == Encoding::Cbor {
            cbor_bodies += 1;
            let value: ciborium::Value = Encoding::Cbor.decode(&x.body).expect("a CBOR body");
            readable(value, &mut hashes)
        } else {
            serde_json::from_slice(&x.body).unwrap_or(serde_json::Value::Null)
        };
        for list in ["add", "remove"] {
            if let Some(items) = body.get_mut(list).and_then(serde_json::Value::as_array_mut) {
                for item in items.iter().filter(|i| !i.is_null()) {
                    let text = item.as_str().expect("a hash is a string");
                    text.parse::<contactsync_core::Digest>()
                        .expect("a hash list holds only 16-byte digests");
                    hashes += 1;
                }
                items.clear();
            }
        }
        // Random ids (batch and key ids, server-issued invite codes, cursors) are set aside for
        // the same reason; they are not contact data.
        for random in ["batch_id", "key_id", "code"] {
            if let Some(field) = body.get_mut(random) {
                *field = serde_json::Value::Null;
            }
        }
        let path = x.path.split('?').next().unwrap_or_default();
        let payload = format!("{path} {body}").to_lowercase();
        for secret in &secrets {
            assert!(
                !payload.contains(&secret.to_lowercase()),
                "a payload to {} carries contact data",
                x.path
            );
        }
    }
    assert!(hashes > 10);
    assert!(
        cbor_bodies > 0,
        "the batches went as CBOR, and were read here"
    );
}

/// A CBOR value as JSON, for the text search: every byte string must be a 16-byte digest
/// (counted, then set aside as `null`); text, numbers and structure are kept.
fn readable(value: ciborium::Value, hashes: &mut usize) -> serde_json::Value {
    use ciborium::Value as C;
    use serde_json::Value as J;
    match value {
        C::Bytes(bytes) => {
            assert_eq!(bytes.len(), 16, "a byte string that is not a digest");
            *hashes += 1;
            J::Null
        }
        C::Text(text) => J::String(text),
        C::Integer(n) => J::String(i128::from(n).to_string()),
        C::Float(f) => J::String(f.to_string()),
        C::Bool(b) => J::Bool(b),
        C::Tag(_, inner) => readable(*inner, hashes),
        C::Array(items) => J::Array(items.into_iter().map(|v| readable(v, hashes)).collect()),
        C::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match readable(k, hashes) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, readable(v, hashes))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

#[test]
fn consent_withdrawal_leaves_nothing_on_the_server() {
    let world = World::default();
    world.register_users();
    let (transport, registered) = world.device(Some("u_me"));
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync(&e, &recording);
    e.create_invite(&recording, None).unwrap();
    let sent: BTreeSet<String> = recording
        .exchanges()
        .iter()
        .filter(|x| x.path == "/v1/batches")
        .flat_map(|x| {
            let v: serde_json::Value = serde_json::from_slice(&x.body).unwrap();
            // The real adds: the dummies after them were never stored.
            let add = v["add"].as_array().unwrap();
            let real = add.len() - usize::try_from(v["padding"].as_u64().unwrap_or(0)).unwrap();
            add[..real]
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(sent.len() >= 8);
    let dump = server_dump(&world).join("\n");
    assert!(
        dump.contains(&registered.client_id),
        "the dump sees the client"
    );

    let receipt = e.forget(&recording).unwrap();
    assert_eq!(receipt.client_id, registered.client_id);
    assert_eq!(receipt.deleted.hashes, sent.len() as u64);
    assert_eq!(receipt.deleted.invites, 1);

    // Registered users' own hashes are the app's data and stay; every other hash this client
    // sent must be gone, as text or as bytes.
    let config: contactsync_core::protocol::wire::ConfigAnswer =
        contactsync_core::upload::get(&world.admin(), Method::Get, "/v1/config").unwrap();
    let key = contactsync_core::HashKey::from_base64(config.key_id, &config.key).unwrap();
    let users: BTreeSet<String> = [
        (Phone, "+4915123456789"),
        (Email, "clara@example.com"),
        (Account, "google:1078543"),
        (Handle, "eva_k"),
    ]
    .iter()
    .map(|(k, v)| key.hash_parts(*k, v).to_base64url())
    .collect();
    let dump = server_dump(&world).join("\n");
    assert!(
        !dump.contains(&registered.client_id),
        "a row still names the client"
    );
    let mut checked = 0;
    for hash in sent.difference(&users) {
        let digest: contactsync_core::Digest = hash.parse().unwrap();
        let as_blob = format!("{:?}", rusqlite::types::Value::Blob(digest.0.to_vec()));
        assert!(
            !dump.contains(hash.as_str()) && !dump.contains(&as_blob),
            "a hash of the client survived"
        );
        checked += 1;
    }
    assert!(checked >= 4);
    // Locally: nothing left, and the token no longer works.
    assert_eq!(e.status().unwrap().contacts, 0);
    let err = e.sync(&recording, &quick(), &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Server { status: 401, .. }), "{err:?}");
}
