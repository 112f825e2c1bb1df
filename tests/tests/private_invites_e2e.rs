//! End to end, invites in the private discovery mode: engines in `Discovery::Private` against the
//! real reference server (private discovery on) over loopback HTTP, a real SQLite file each.
//!
//! A creator in the private mode makes two invites; a second device whose book holds one link
//! finds the creator by a private sync (the invite's value is in the users' filter), a third
//! redeems the other code (and keeps the match through its own private syncs), and the creator's
//! next sync lists the redeemer — reading its feed, one small request, only while an invite is
//! pending. Nothing of a book, no invite code and no keyed hash of one leaves any device in a
//! sync; a revoked invite leaves the filter and the link holder's match goes.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;

use contactsync_core::hash::HashKey;
use contactsync_core::identifier::invite;
use contactsync_core::protocol::wire::ConfigAnswer;
use contactsync_core::upload::{Method, get};
use contactsync_core::{Discovery, IdentifierKind, NoProgress};
use contactsync_tests::leaks::assert_private_exchanges;
use contactsync_tests::net::Faulty;
use contactsync_tests::world::World;
use contactsync_tests::{matched, pairs, person, quick};

use IdentifierKind::{Email, Invite, Phone};

fn requests_to(exchanges: &[contactsync_tests::net::Exchange], prefix: &str) -> usize {
    exchanges
        .iter()
        .filter(|x| x.path.starts_with(prefix))
        .count()
}

#[test]
#[allow(clippy::too_many_lines, reason = "one scenario, read in order")]
fn invites_work_in_the_private_mode_and_nothing_raw_leaves() {
    let world = World::private();
    let config: ConfigAnswer = get(&world.admin(), Method::Get, "/v1/config").unwrap();
    let key = HashKey::from_base64(config.key_id.clone(), &config.key).unwrap();
    let buckets = config.private.unwrap().buckets;

    // The creator: a user's device, in the private mode from its first sync.
    let (ana_transport, ana_device) = world.device(Some("u_ana"));
    let ana_wire = Faulty::recording(ana_transport);
    let ana = world.engine("ana");
    ana.import_snapshot(
        vec![person("1", "Dora", &[(Email, "dora@example.org")])],
        &NoProgress,
    )
    .unwrap();
    ana.sync(&ana_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(ana.discovery().unwrap(), Discovery::Private);
    let before = ana.status().unwrap();
    let shared = ana.create_invite(&ana_wire, None).unwrap();
    let redeemed = ana.create_invite(&ana_wire, None).unwrap();
    // No key was installed for the invites: nothing waits for an upload or an evaluation.
    assert_eq!(ana.status().unwrap().pending_add, before.pending_add);
    let quiet = ana.sync(&ana_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(quiet.added, 0, "making invites costs no evaluation");

    // The holder of the link: an openly registered device whose book has it as Ana's contact.
    let (holder_transport, holder) = world.device(None);
    let holder_wire = Faulty::recording(holder_transport);
    let link = shared.link.clone();
    let book = vec![
        person("1", "Ana", &[(Invite, link.as_str())]),
        person("2", "Bernd", &[(Phone, "+49 30 1234567")]),
    ];
    let h = world.engine("holder");
    h.import_snapshot(book.clone(), &NoProgress).unwrap();
    world.wait_for_filter(&holder.token, 0);
    let found = h.sync(&holder_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(h.discovery().unwrap(), Discovery::Private);
    assert_eq!(found.new_matches, 1);
    assert_eq!(matched(&h), pairs(&[("Ana", "u_ana")]));

    // The redeemer: a user's device in the private mode redeems the other code; the match is
    // kept through its private syncs.
    let (bo_transport, _) = world.device(Some("u_bo"));
    let bo = world.engine("bo");
    bo.sync(&bo_transport, &quick(true), &NoProgress).unwrap();
    assert_eq!(bo.discovery().unwrap(), Discovery::Private);
    assert_eq!(
        bo.redeem_invite(&bo_transport, &redeemed.code).unwrap(),
        "u_ana"
    );
    bo.sync(&bo_transport, &quick(true), &NoProgress).unwrap();
    let kept: Vec<(String, String)> = bo
        .matches()
        .unwrap()
        .into_iter()
        .map(|m| (m.canonical, m.user_ref))
        .collect();
    assert_eq!(kept, [(redeemed.code.clone(), "u_ana".to_owned())]);

    // The creator's next sync lists the redeemer: one read of its feed.
    let seen = ana_wire.exchanges().len();
    let report = ana.sync(&ana_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(report.new_matches, 1);
    let listed: BTreeSet<(String, Option<String>)> = ana
        .invites()
        .unwrap()
        .into_iter()
        .map(|i| (i.code, i.redeemed_by))
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            (redeemed.code.clone(), Some("u_bo".to_owned())),
            (shared.code.clone(), None),
        ])
    );
    let this_sync = &ana_wire.exchanges()[seen..];
    assert_eq!(
        requests_to(this_sync, "/v1/changes"),
        1,
        "one small request"
    );

    // Revoked (over a transport the checks below do not see: the code is in its path by
    // design), the shared invite leaves the filter, and the holder's match goes.
    let version = world.wait_for_filter(&holder.token, 0);
    ana.revoke_invite(&world.transport(&ana_device.token), &shared.code)
        .unwrap();
    world.wait_for_filter(&holder.token, version);
    let lost = h.sync(&holder_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(lost.lost_matches, 1);
    assert!(matched(&h).is_empty());
    // Nothing pending any more: the creator's syncs stop reading the feed.
    let seen = ana_wire.exchanges().len();
    ana.sync(&ana_wire, &quick(true), &NoProgress).unwrap();
    assert_eq!(requests_to(&ana_wire.exchanges()[seen..], "/v1/changes"), 0);

    // Nothing raw left any device in a sync: no book value, name or canonical form, no invite
    // code or link, no keyed hash of any of them (the server holds the key).
    let mut texts: BTreeSet<String> = BTreeSet::new();
    let mut digests: Vec<[u8; 16]> = Vec::new();
    for code in [&shared.code, &redeemed.code] {
        texts.insert(code.clone());
        texts.insert(invite::display(code));
        let digest = key.hash_parts(Invite, code);
        texts.insert(digest.to_base64url());
        digests.push(digest.0);
    }
    texts.insert(link);
    for c in book
        .iter()
        .chain(&[person("1", "Dora", &[(Email, "dora@example.org")])])
    {
        texts.insert(c.display_name.clone());
        for v in &c.values {
            texts.insert(v.value.clone());
        }
    }
    texts.insert("+49301234567".to_owned());
    for (wire, also) in [
        (&holder_wire, &[][..]),
        (&ana_wire, &["/v1/invites", "/v1/changes"][..]),
    ] {
        assert_private_exchanges(&wire.exchanges(), &texts, &digests, &buckets, also);
    }
}
