//! Who is found: a first sync finds users by every kind of identifier, a delta sync sends only
//! the edits, contacts joining and leaving are reported, invites match two users, and hidden or
//! departed users are not found through them.

use contactsync_core::protocol::wire::codes;
use contactsync_core::{Error, IdentifierKind, NoProgress, RawContact};
use contactsync_tests::net::{Faulty, put_user};
use contactsync_tests::world::World;

use super::{book, imported, matched, pairs, person, sync};
use IdentifierKind::Email;

#[test]
fn first_sync_finds_users_by_every_kind_of_identifier() {
    let (_world, transport, _, e) = imported();
    let report = sync(&e, &transport);
    assert!(report.batches_sent >= 1);
    assert_eq!(report.new_matches, 4, "{report:?}");
    assert_eq!(report.added, e.status().unwrap().acknowledged);
    assert_eq!(
        matched(&e),
        pairs(&[
            ("Ana", "u_ana"),
            ("Clara", "u_clara"),
            ("Dario", "u_dario"),
            ("Eva", "u_eva"),
        ])
    );
    let s = e.status().unwrap();
    assert_eq!((s.pending_add, s.pending_remove, s.in_flight), (0, 0, 0));
    assert!(!s.full_resync);
    // Nothing changed: the next sync sends no batch.
    let again = sync(&e, &transport);
    assert_eq!((again.batches_sent, again.new_matches), (0, 0));
}

#[test]
fn delta_sync_sends_only_the_edits() {
    let (_world, transport, _, e) = imported();
    sync(&e, &transport);
    let mut edited = book();
    // Frank drops his number and gains Clara's address; Hiro is gone.
    edited[5] = person(
        "6",
        "Frank",
        &[(Email, "frank@nowhere.test"), (Email, "clara@example.com")],
    );
    edited.pop();
    e.import_snapshot(edited, &NoProgress).unwrap();
    let recording = Faulty::recording(transport);
    let report = sync(&e, &recording);
    assert_eq!((report.added, report.removed), (0, 1), "{report:?}");
    let batches: Vec<_> = recording
        .exchanges()
        .into_iter()
        .filter(|x| x.path == "/v1/batches")
        .collect();
    assert_eq!(batches.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&batches[0].body).unwrap();
    assert_eq!(body["mode"], "delta");
    // Padded to the smallest bucket with dummies after the real adds.
    let padding = usize::try_from(body["padding"].as_u64().unwrap()).unwrap();
    assert_eq!(
        body["add"].as_array().unwrap().len() - padding,
        0,
        "clara@ is already on the server"
    );
    assert_eq!(body["remove"].as_array().unwrap().len(), 1);
    assert_eq!(padding, 15, "one removal in a bucket of 16");
    // Clara's address is now held by two contacts: one hash, two matched contacts.
    let names = matched(&e);
    assert!(names.contains(&("Frank".to_owned(), "u_clara".to_owned())));
    assert!(names.contains(&("Clara".to_owned(), "u_clara".to_owned())));
}

#[test]
fn a_contact_joining_and_leaving_is_reported() {
    let (world, transport, _, e) = imported();
    sync(&e, &transport);
    assert!(!matched(&e).iter().any(|(n, _)| n == "Bernd"));

    world.put_user("u_bernd", &[("phone", "+49301234567")]);
    let joined = sync(&e, &transport);
    assert_eq!(
        (joined.new_matches, joined.batches_sent),
        (1, 0),
        "{joined:?}"
    );
    // Bernd and Gül share the landline: both show up.
    let names = matched(&e);
    assert!(names.contains(&("Bernd".to_owned(), "u_bernd".to_owned())));
    assert!(names.contains(&("Gül".to_owned(), "u_bernd".to_owned())));

    world.delete_user("u_bernd");
    world.put_user("u_eva", &[]);
    let left = sync(&e, &transport);
    assert_eq!(left.lost_matches, 2, "{left:?}");
    assert_eq!(
        matched(&e),
        pairs(&[("Ana", "u_ana"), ("Clara", "u_clara"), ("Dario", "u_dario")])
    );
}

#[test]
fn an_invite_makes_two_users_matched_contacts() {
    let world = World::default();
    let (ta, _) = world.device(Some("u_alice"));
    let (tb, _) = world.device(Some("u_bob"));
    let alice = world.engine("alice");
    let bob = world.engine("bob");
    sync(&alice, &ta);
    sync(&bob, &tb);
    let invite = alice.create_invite(&ta, Some(3600)).unwrap();
    // Bob opens the link without the app: the server's page, with the code to type.
    let mut page = ureq::get(&invite.link).call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(
        html.contains(&contactsync_core::identifier::invite::display(&invite.code)),
        "{html}"
    );
    // A link that is no invite link, or no URL at all, never leaves the device.
    for bad in [
        "https://example.org/profile/alice",
        "https://[::1/i/x",
        "http://",
    ] {
        let err = bob.redeem_invite(&tb, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err:?}");
    }
    // A device registered openly has no user to give Alice: `user_required`, typed, nothing
    // recorded, and the code stays open.
    let (to, _) = world.device(None);
    let open = world.engine("open");
    let err = open.redeem_invite(&to, &invite.link).unwrap_err();
    assert!(
        matches!(&err, Error::Server { status: 403, code, .. } if code == codes::USER_REQUIRED),
        "{err:?}"
    );
    assert!(open.matches().unwrap().is_empty());
    // Then with the app: it is opened with the link (a trailing slash and a query added on the
    // way), which works as well as the code.
    let inviter = bob
        .redeem_invite(&tb, &format!("{}/?utm_source=qr", invite.link))
        .unwrap();
    assert_eq!(inviter, "u_alice");
    let bob_sees: Vec<_> = bob.matches().unwrap();
    assert_eq!(bob_sees.len(), 1);
    assert_eq!(
        (bob_sees[0].source_id.as_deref(), bob_sees[0].kind),
        (None, IdentifierKind::Invite)
    );
    // Alice learns at her next sync.
    let report = sync(&alice, &ta);
    assert_eq!(report.new_matches, 1, "{report:?}");
    let alice_sees = alice.matches().unwrap();
    assert_eq!(alice_sees[0].user_ref, "u_bob");
    // Used once: a second redeem fails with a typed error.
    let err = bob.redeem_invite(&tb, &invite.code).unwrap_err();
    assert!(matches!(err, Error::Server { status: 404, .. }), "{err:?}");
    let err = bob.redeem_invite(&tb, "7K3M-9QX2-R4HV-W8TB-Z").unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(_)),
        "a mistyped code never leaves: {err:?}"
    );
}

#[test]
fn a_hidden_or_departed_user_is_not_found_through_their_invites() {
    let world = World::default();
    let (ta, _) = world.device(Some("u_alice"));
    let alice = world.engine("alice");
    let invite = alice.create_invite(&ta, None).unwrap();
    // Bob keeps Alice's invite link on her card: an ordinary sync finds her through it.
    let (tb, _) = world.device(None);
    let bob = world.engine("bob");
    let card = RawContact::new("alice", "Alice").with(IdentifierKind::Invite, None, invite.link);
    bob.import_snapshot(vec![card], &NoProgress).unwrap();
    assert_eq!(sync(&bob, &tb).new_matches, 1);
    assert_eq!(matched(&bob), pairs(&[("Alice", "u_alice")]));

    // Alice turns discoverability off: her invites hide with her, and come back with her.
    put_user(&world.admin(), "u_alice", false, &[]).unwrap();
    assert_eq!(sync(&bob, &tb).lost_matches, 1);
    assert!(matched(&bob).is_empty());
    world.put_user("u_alice", &[]);
    assert_eq!(sync(&bob, &tb).new_matches, 1);

    // Alice leaves the app: lost again, and the code no longer redeems.
    world.delete_user("u_alice");
    assert_eq!(sync(&bob, &tb).lost_matches, 1);
    let (tc, _) = world.device(Some("u_carol"));
    let carol = world.engine("carol");
    let err = carol.redeem_invite(&tc, &invite.code).unwrap_err();
    assert!(matches!(err, Error::Server { status: 404, .. }), "{err:?}");
}
