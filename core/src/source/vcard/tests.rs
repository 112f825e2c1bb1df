//! The vCard reader's tests: framing, mapping and what is reported, through `source::read`.

use std::io::Cursor;

use crate::contact::RawContact;
use crate::identifier::IdentifierKind;
use crate::source::{BrokenReason, DropReason, DroppedField, Position, ReadOptions, SourceItem};

fn read_all(text: &[u8]) -> Vec<SourceItem> {
    let options = ReadOptions {
        id_prefix: "t.vcf".into(),
        max_line_bytes: 1000,
        max_entry_bytes: 4000,
    };
    crate::source::read(Cursor::new(text.to_vec()), &options)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn contacts(items: &[SourceItem]) -> Vec<&RawContact> {
    items
        .iter()
        .filter_map(|i| match i {
            SourceItem::Contact(c) => Some(&c.contact),
            SourceItem::Broken(_) => None,
        })
        .collect()
}

#[test]
fn v21_quoted_printable_and_types() {
    let card = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=\r\n=C3=BCrgen\r\nTEL;CELL;HOME:+49 30 901820\r\nTEL;WORK;FAX:030 901821\r\nEMAIL;INTERNET:j@example.org\r\nEND:VCARD\r\n";
    let items = read_all(card);
    let c = contacts(&items);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].display_name, "Jürgen Müller");
    assert_eq!(c[0].source_id, "t.vcf#1");
    let phones: Vec<_> = c[0].values_of(IdentifierKind::Phone).collect();
    assert_eq!(phones[0].value, "+49 30 901820");
    assert_eq!(phones[0].label.as_deref(), Some("mobile,home"));
    assert_eq!(phones[1].label.as_deref(), Some("work,fax"));
}

#[test]
fn type_labels_keep_their_spelling_and_repeat_once() {
    // Known types (calcard's enum: `CO-WORKER`, `MAIN-NUMBER`) are labelled without dashes, as
    // they always were; free-text types keep theirs; `pref`, `voice` and repeats are dropped.
    let card = b"BEGIN:VCARD\nVERSION:4.0\nFN:A\nTEL;TYPE=co-worker,CELL,pref:+49 30 901820\nTEL;TYPE=main-number;type=x-Car-Phone;TYPE=voice,cell;TYPE=\"cell\":+49 30 901821\nTEL;TYPE=PREF:+49 30 901822\nSOCIALPROFILE;TYPE=Mastodon,work:https://example.social/@alice\nEND:VCARD\n";
    let items = read_all(card);
    let c = contacts(&items);
    let labels: Vec<_> = c[0]
        .values_of(IdentifierKind::Phone)
        .map(|v| v.label.clone())
        .collect();
    assert_eq!(
        labels,
        [
            Some("coworker,mobile".to_owned()),
            Some("main,x-car-phone,mobile".to_owned()),
            None
        ]
    );
    let handles: Vec<_> = c[0].values_of(IdentifierKind::Handle).collect();
    assert_eq!(handles[0].label.as_deref(), Some("mastodon"));
    assert_eq!(handles[0].value, "alice");
}

#[test]
fn every_known_type_is_labelled_as_its_debug_name_always_was() {
    // Labels of calcard's known types were once made from their `Debug` names; they are now
    // made from the IANA names without dashes. Every known type must give the same label.
    use calcard::common::IanaString;
    use calcard::vcard::VCardType as T;
    let all = [
        T::Work,
        T::Home,
        T::Billing,
        T::Delivery,
        T::Contact,
        T::Acquaintance,
        T::Friend,
        T::Met,
        T::CoWorker,
        T::Colleague,
        T::CoResident,
        T::Neighbor,
        T::Child,
        T::Parent,
        T::Sibling,
        T::Spouse,
        T::Kin,
        T::Muse,
        T::Crush,
        T::Date,
        T::Sweetheart,
        T::Me,
        T::Agent,
        T::Emergency,
        T::Text,
        T::Voice,
        T::Fax,
        T::Cell,
        T::Video,
        T::Pager,
        T::Textphone,
        T::MainNumber,
    ];
    for t in all {
        let card = format!(
            "BEGIN:VCARD\nVERSION:4.0\nFN:A\nTEL;TYPE={}:+49 30 901820\nEND:VCARD\n",
            t.as_str()
        );
        let items = read_all(card.as_bytes());
        let label = contacts(&items)[0]
            .values_of(IdentifierKind::Phone)
            .next()
            .and_then(|v| v.label.clone());
        let expected = match format!("{t:?}").to_ascii_lowercase().as_str() {
            "cell" => Some("mobile".to_owned()),
            "mainnumber" => Some("main".to_owned()),
            "voice" => None,
            other => Some(other.to_owned()),
        };
        assert_eq!(label, expected, "{t:?}");
    }
}

#[test]
fn latin1_bytes_are_decoded() {
    let card = b"BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=ISO-8859-1:Ren\xe9 Lef\xe8vre\nEND:VCARD\n";
    assert_eq!(contacts(&read_all(card))[0].display_name, "René Lefèvre");
}

#[test]
fn photos_dropped_and_oversized_lines_reported() {
    let mut card = b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\n".to_vec();
    for _ in 0..200 {
        card.extend_from_slice(b" QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n");
    }
    card.extend_from_slice(b"NOTE:");
    card.extend(std::iter::repeat_n(b'n', 5000));
    card.extend_from_slice(b"\nTEL:+1 202 555 0173\nEND:VCARD\n");
    let items = read_all(&card);
    let SourceItem::Contact(c) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(c.contact.values.len(), 1);
    assert_eq!(
        c.dropped,
        vec![DroppedField {
            field: "NOTE".into(),
            line: 205,
            reason: DropReason::TooLarge
        }]
    );
}

#[test]
fn broken_cards_are_reported_and_reading_goes_on() {
    let text = b"BEGIN:VCARD\nFN:One\nEND:VCARD\nBEGIN:VCARD\nFN:Two\nBEGIN:VCARD\nFN:Three\nUID:u-3\nEND:VCARD\njunk between cards\nBEGIN:VCARD\nFN:Four\n";
    let items = read_all(text);
    assert_eq!(items.len(), 4);
    assert!(
        matches!(&items[1], SourceItem::Broken(b) if b.position == Position { entry: 2, line: 4 } && b.reason == BrokenReason::Unterminated)
    );
    assert!(
        matches!(&items[3], SourceItem::Broken(b) if b.position.entry == 4 && b.reason == BrokenReason::Unterminated)
    );
    let c = contacts(&items);
    assert_eq!(c[0].display_name, "One");
    assert_eq!(c[1].display_name, "Three");
    assert_eq!(c[1].source_id, "u-3");
}

#[test]
fn agent_cards_nested_in_21_are_skipped() {
    let text = b"BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nAGENT:\nBEGIN:VCARD\nVERSION:2.1\nFN:Assistant\nTEL:+1 202 555 0199\nEND:VCARD\nTEL:+1 202 555 0100\nEND:VCARD\nBEGIN:VCARD\nFN:Next\nEND:VCARD\n";
    let items = read_all(text);
    let c = contacts(&items);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(c[0].display_name, "Boss");
    let phones: Vec<&str> = c[0].values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(phones, ["+1 202 555 0100"]);
    assert_eq!(c[1].display_name, "Next");
}

/// A messenger URI without its user part (`IMPP:xmpp:`) names no one: no handle, and no
/// empty display name taken from it. (Found by the vcard fuzz target.)
#[test]
fn a_messenger_without_a_user_is_no_handle() {
    let items =
        read_all(b"BEGIN:VCARD\nIMPP:xmpp:\nX-JABBER: \nIMPP:xmpp:bo@example.org\nEND:VCARD\n");
    let c = contacts(&items);
    let handles: Vec<_> = c[0].values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(handles, ["bo@example.org"]);
    assert_eq!(c[0].display_name, "bo@example.org");
    let items = read_all(b"BEGIN:VCARD\nIMPP:p:\nEND:VCARD\n");
    assert!(contacts(&items)[0].values.is_empty());
}

#[test]
fn messengers_and_labels() {
    let text = b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nREV:2012-11-20T14:16:51Z\nitem1.TEL:555-0101\nitem1.X-ABLabel:_$!<Mobile>!$_\nIMPP;X-SERVICE-TYPE=Skype:skype:alice.b\nX-JABBER;type=HOME:alice@jabber.example\nX-SOCIALPROFILE;type=twitter:https://twitter.com/alice\nEND:VCARD\n";
    let c = contacts(&read_all(text))[0].clone();
    assert_eq!(c.version.as_deref(), Some("1353421011"));
    let v: Vec<(Option<&str>, &str)> = c
        .values
        .iter()
        .map(|v| (v.label.as_deref(), v.value.as_str()))
        .collect();
    assert_eq!(
        v,
        [
            (Some("mobile"), "555-0101"),
            (Some("skype"), "alice.b"),
            (Some("xmpp"), "alice@jabber.example"),
            (Some("twitter"), "alice"),
        ]
    );
}
