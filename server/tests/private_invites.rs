//! Invites in the private discovery mode (docs/protocol.md, "Private discovery" and "Invites"),
//! on both backends: while an invite is open, the invite identifier's PRF value is its
//! creator's — in the filter (a log entry) and answered by a lookup — as its keyed hash is in the
//! other mode; it leaves the filter (a log entry) when the invite is redeemed, revoked, expires
//! (the sweep), or its creator's user or client is deleted, hides with the creator, and is
//! carried into the next epoch of a rotation. The creator learns the redeemer from its feed.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::private::{ExpectOk, download, evaluate, lookup, private_config, put, server, swept};
use common::{ADMIN, Api, hash};
use contactsync_core::IdentifierKind;
use contactsync_core::oprf::{PrfOutput, Tag};
use contactsync_core::protocol::private::{FilterChanges, PrivateConfig};
use serde_json::json;

const ANA: (IdentifierKind, &str) = (IdentifierKind::Phone, "+4915123456789");

/// A new invite of `token`'s device: its code.
fn invite(api: &Api, token: &str, body: &serde_json::Value) -> String {
    api.post("/v1/invites", Some(token), body).expect(201)["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The invite identifier's value, as a device whose book holds the code evaluates it.
fn value_of(api: &Api, token: &str, config: &PrivateConfig, code: &str) -> PrfOutput {
    let (outputs, _) = evaluate(api, token, config, &[(IdentifierKind::Invite, code)], 16);
    outputs.into_iter().next().unwrap()
}

/// The filter's changes since `since`, and the version they bring it to.
fn changes(api: &Api, token: &str, epoch: u32, since: u64) -> (Vec<Tag>, Vec<Tag>, u64) {
    let c: FilterChanges = api
        .get(
            &format!("/v1/private/filter/changes?epoch={epoch}&since={since}"),
            Some(token),
        )
        .expect_ok();
    (c.added.0, c.removed.0, c.version)
}

/// The filter's version now (each test's server rebuilds it at once).
fn version(api: &Api, token: &str) -> u64 {
    private_config(api, token).0.filter_version
}

on_each_backend! {
    /// An open invite is its creator's: in the filter, found by a lookup; it hides and comes
    /// back with the creator's discoverability, and leaves when revoked.
    fn an_open_invite_is_its_creators_in_the_filter(backend) {
        let t = server(backend);
        put(&t.api, "u_ana", &[ANA], true);
        let (_, ana) = t.api.vouch("u_ana");
        let (_, reader) = t.api.register();
        let (config, _) = private_config(&t.api, &reader);
        let start = version(&t.api, &reader);

        let code = invite(&t.api, &ana, &json!({}));
        // The link as a book holds it: the device canonicalises it as the server does.
        let link = format!("https://example.org/i/{code}");
        let canonical = contactsync_core::identifier::invite::normalize(&link).unwrap();
        assert_eq!(canonical, code);
        let value = value_of(&t.api, &reader, &config, &canonical);
        let (added, removed, v1) = changes(&t.api, &reader, config.epoch, start);
        assert_eq!((added, removed), (vec![value.tag()], vec![]), "the invite entered the filter");
        let (_, filter) = download(&t.api, &reader, config.epoch);
        assert!(filter.contains(value.tag()));
        assert_eq!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16), ["u_ana"]);

        // The creator hides: the invite with them; and back.
        put(&t.api, "u_ana", &[ANA], false);
        let (added, removed, v2) = changes(&t.api, &reader, config.epoch, v1);
        assert!(added.is_empty());
        assert!(removed.contains(&value.tag()));
        assert!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16).is_empty());
        put(&t.api, "u_ana", &[ANA], true);
        let (added, _, v3) = changes(&t.api, &reader, config.epoch, v2);
        assert!(added.contains(&value.tag()));
        assert_eq!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16), ["u_ana"]);

        // Revoked: out.
        t.api.delete(&format!("/v1/invites/{code}"), Some(&ana)).expect(200);
        let (added, removed, _) = changes(&t.api, &reader, config.epoch, v3);
        assert_eq!((added, removed), (vec![], vec![value.tag()]));
        assert!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16).is_empty());
        let (_, filter) = download(&t.api, &reader, config.epoch);
        assert!(!filter.contains(value.tag()));
    }
}

on_each_backend! {
    /// Redeemed: the value leaves the filter, and the creator's feed — which a private-mode
    /// device reads too — lists the redeemer under the invite's keyed hash, addressed to it.
    fn a_redeemed_invite_leaves_and_the_creator_learns_the_redeemer(backend) {
        let t = server(backend);
        // A creator registered with no identifier at all: its invite is still its identifier.
        let (_, ana) = t.api.vouch("u_ana");
        let (_, bo) = t.api.vouch("u_bo");
        let (_, reader) = t.api.register();
        let (config, _) = private_config(&t.api, &reader);
        let cursor = t.api.first_cursor(&ana);
        let code = invite(&t.api, &ana, &json!({}));
        let value = value_of(&t.api, &reader, &config, &code);
        let v1 = version(&t.api, &reader);
        assert_eq!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16), ["u_ana"]);

        let v = t.api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code})).expect(200);
        assert_eq!(v["user_ref"], "u_ana");
        let (added, removed, _) = changes(&t.api, &reader, config.epoch, v1);
        assert_eq!((added, removed), (vec![], vec![value.tag()]));
        assert!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16).is_empty());

        let feed = t.api.get(&format!("/v1/changes?since={cursor}"), Some(&ana)).expect(200);
        let key = t.api.key(&ana);
        assert_eq!(
            feed["gained"],
            json!([{"hash": hash(&key, IdentifierKind::Invite, &code), "user_ref": "u_bo"}])
        );
        // Addressed to the creator's client only.
        let theirs = t.api.get("/v1/changes?since=0", Some(&reader)).expect(200);
        assert_eq!(theirs["gained"], json!([]));
    }
}

on_each_backend! {
    /// A deleted user's and a deleted client's open invites leave the filter.
    fn deletions_take_the_invites_out(backend) {
        let t = server(backend);
        put(&t.api, "u_ana", &[ANA], true);
        let (_, ana) = t.api.vouch("u_ana");
        let (_, bo) = t.api.vouch("u_bo");
        let (_, reader) = t.api.register();
        let (config, _) = private_config(&t.api, &reader);
        let of_ana = invite(&t.api, &ana, &json!({}));
        let of_bo = invite(&t.api, &bo, &json!({}));
        let (ana_value, bo_value) = (
            value_of(&t.api, &reader, &config, &of_ana),
            value_of(&t.api, &reader, &config, &of_bo),
        );
        let (ana_tag, bo_tag) = (ana_value.tag(), bo_value.tag());
        let outputs = [ana_value, bo_value];
        assert_eq!(lookup(&t.api, &reader, config.epoch, &outputs, 16), ["u_ana", "u_bo"]);
        let v1 = version(&t.api, &reader);

        t.api.delete("/v1/admin/users/u_ana", Some(ADMIN)).expect(200);
        let (added, removed, v2) = changes(&t.api, &reader, config.epoch, v1);
        assert!(added.is_empty());
        assert!(removed.contains(&ana_tag) && !removed.contains(&bo_tag));
        assert_eq!(lookup(&t.api, &reader, config.epoch, &outputs, 16), ["u_bo"]);

        // The consent withdrawal of the device that made it.
        t.api.delete("/v1/client", Some(&bo)).expect(200);
        let (added, removed, _) = changes(&t.api, &reader, config.epoch, v2);
        assert_eq!((added, removed), (vec![], vec![bo_tag]));
        assert!(lookup(&t.api, &reader, config.epoch, &outputs, 16).is_empty());
    }
}

on_each_backend! {
    /// The sweep deletes an expired invite: its value leaves the filter with a log entry; a
    /// lookup stops answering it as soon as it expires.
    fn an_expired_invite_leaves_with_the_sweep(backend) {
        let (now, t) = swept(backend, 1_800_000_000);
        let (_, ana) = t.api.vouch("u_ana");
        let (_, reader) = t.api.register();
        let (config, _) = private_config(&t.api, &reader);
        let code = invite(&t.api, &ana, &json!({"ttl_s": 60}));
        let value = value_of(&t.api, &reader, &config, &code);
        let v1 = version(&t.api, &reader);
        assert_eq!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16), ["u_ana"]);

        now.fetch_add(61, Ordering::SeqCst);
        assert!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16).is_empty());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (added, removed, _) = changes(&t.api, &reader, config.epoch, v1);
            if !removed.is_empty() {
                assert_eq!((added, removed), (vec![], vec![value.tag()]));
                break;
            }
            assert!(Instant::now() < deadline, "the sweep never took the invite out");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

on_each_backend! {
    /// An invite made during a rotation is evaluated under the next epoch too: once the next
    /// key is activated, the link still finds its creator.
    fn a_rotation_carries_an_open_invite_over(backend) {
        let t = server(backend);
        let (_, ana) = t.api.vouch("u_ana");
        let (_, reader) = t.api.register();
        t.api.post("/v1/admin/keys", Some(ADMIN), &json!({})).expect(201);
        let code = invite(&t.api, &ana, &json!({}));
        let key_id = t.api.get("/v1/admin/keys", Some(ADMIN)).expect(200)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == "next")
            .unwrap()["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        t.api
            .post(&format!("/v1/admin/keys/{key_id}/activate"), Some(ADMIN), &json!({}))
            .expect(200);
        let (config, _) = private_config(&t.api, &reader);
        let value = value_of(&t.api, &reader, &config, &code);
        let (_, filter) = download(&t.api, &reader, config.epoch);
        assert!(filter.contains(value.tag()));
        assert_eq!(lookup(&t.api, &reader, config.epoch, std::slice::from_ref(&value), 16), ["u_ana"]);
    }
}
