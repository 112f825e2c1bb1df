//! Dropping an over-long line changes nothing else: over generated cards, inserting a line over
//! the bound at any property boundary yields exactly the cards read without that line, plus one
//! `dropped` entry naming it.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]
#![cfg(feature = "files")]

use std::io::Cursor;

use contactsync_core::source::{self, DropReason, DroppedField, ReadOptions, SourceItem};
use proptest::prelude::*;

const MAX_LINE: usize = 200;

fn options() -> ReadOptions {
    ReadOptions {
        id_prefix: "p.vcf".into(),
        max_line_bytes: MAX_LINE,
        max_entry_bytes: 64 * 1024,
    }
}

fn read(text: &[u8]) -> Vec<SourceItem> {
    source::read(Cursor::new(text.to_vec()), &options())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// One property as physical lines: the property line, then folded continuation lines.
fn property() -> impl Strategy<Value = Vec<String>> {
    let value = "[a-zA-Z0-9 .@+()-]{1,30}";
    let folded = prop::collection::vec(" [a-z0-9]{1,20}", 0..3);
    prop_oneof![
        (value, folded.clone()).prop_map(|(v, f)| lines(format!("FN:{v}"), f)),
        ("[A-Z][a-z]{1,8}", "[A-Z][a-z]{1,8}").prop_map(|(a, b)| vec![format!("N:{a};{b};;;")]),
        (
            "[0-9 ]{7,14}",
            prop::sample::select(vec!["CELL", "HOME", "WORK"])
        )
            .prop_map(|(n, t)| vec![format!("TEL;TYPE={t}:+1 202 {n}")]),
        ("[a-z]{1,10}", "[a-z]{1,8}").prop_map(|(u, d)| vec![format!("EMAIL:{u}@{d}.org")]),
        ("[a-z]{1,10}", folded.clone()).prop_map(|(u, f)| lines(
            format!("item1.IMPP;X-SERVICE-TYPE=Signal:xmpp:{u}@example.org"),
            f
        )),
        (value, folded).prop_map(|(v, f)| lines(format!("NOTE:{v}"), f)),
        "[a-z0-9-]{4,20}".prop_map(|u| vec![format!("UID:{u}")]),
        "[A-Za-z ]{1,20}".prop_map(|o| vec![format!("ORG:{o}")]),
        prop::collection::vec(" [A-Za-z0-9+/]{8,40}", 0..4)
            .prop_map(|f| lines("PHOTO;ENCODING=b;TYPE=JPEG:QUJD".to_owned(), f)),
    ]
}

fn lines(first: String, mut rest: Vec<String>) -> Vec<String> {
    rest.insert(0, first);
    rest
}

/// A card: its properties, each a group of lines.
fn card() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(property(), 0..8).prop_map(|mut props| {
        props.insert(0, vec!["VERSION:3.0".to_owned()]);
        props
    })
}

/// An over-long line that is not a continuation: a property of any name, or no property at all.
fn oversized() -> impl Strategy<Value = (String, String)> {
    let len = MAX_LINE + 1..MAX_LINE * 6;
    prop_oneof![
        (
            "(NOTE|X-[A-Z]{1,6}|TEL|EMAIL|item2\\.X-ABLABEL)",
            len.clone()
        )
            .prop_map(|(name, n)| {
                let field = name.rsplit('.').next().unwrap().to_ascii_uppercase();
                (format!("{name}:{}", "n".repeat(n)), field)
            }),
        len.prop_map(|n| ("x".repeat(n), String::new())),
    ]
}

/// The file's text, and the 1-based line of the inserted line (if any).
fn render(
    cards: &[Vec<Vec<String>>],
    insert: Option<(usize, usize, &str)>,
    crlf: bool,
) -> (String, usize) {
    let end = if crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    let mut line_no = 0;
    let mut at = 0;
    let mut push = |out: &mut String, line: &str| {
        out.push_str(line);
        out.push_str(end);
        line_no += 1;
        line_no
    };
    for (c, card) in cards.iter().enumerate() {
        push(&mut out, "BEGIN:VCARD");
        for p in 0..=card.len() {
            if let Some((ic, ip, line)) = insert
                && ic == c
                && ip == p
            {
                at = push(&mut out, line);
            }
            if let Some(prop) = card.get(p) {
                for l in prop {
                    push(&mut out, l);
                }
            }
        }
        push(&mut out, "END:VCARD");
    }
    (out, at)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_oversized_line_changes_nothing_else(
        cards in prop::collection::vec(card(), 1..4),
        which in any::<prop::sample::Index>(),
        place in any::<prop::sample::Index>(),
        (line, field) in oversized(),
        crlf in any::<bool>(),
    ) {
        let c = which.index(cards.len());
        let p = place.index(cards[c].len() + 1);
        let (plain, _) = render(&cards, None, crlf);
        let (with, at) = render(&cards, Some((c, p, &line)), crlf);
        let expected = read(plain.as_bytes());
        let got = read(with.as_bytes());
        prop_assert_eq!(expected.len(), got.len());
        for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
            let (SourceItem::Contact(e), SourceItem::Contact(g)) = (e, g) else {
                panic!("a generated card did not read: {e:?} / {g:?}");
            };
            prop_assert_eq!(&e.contact, &g.contact);
            prop_assert!(e.dropped.is_empty(), "{:?}", e.dropped);
            if i == c {
                prop_assert_eq!(
                    &g.dropped,
                    &vec![DroppedField { field: field.clone(), line: at, reason: DropReason::TooLarge }]
                );
            } else {
                prop_assert!(g.dropped.is_empty(), "{:?}", g.dropped);
            }
        }
    }
}

/// The reported case: `FN`, `TEL`, `EMAIL`, then a 1 MB `NOTE`, with the default bounds.
#[test]
fn the_property_before_a_one_megabyte_line_stays() {
    let mut card =
        b"BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL:+4915123456789\nEMAIL:ana@example.org\nNOTE:"
            .to_vec();
    card.extend(std::iter::repeat_n(b'n', 1 << 20));
    card.extend_from_slice(b"\nEND:VCARD\n");
    let items: Vec<_> = source::read(Cursor::new(card), &ReadOptions::default())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let SourceItem::Contact(c) = &items[0] else {
        panic!("{items:?}")
    };
    let values: Vec<_> = c.contact.values.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(values, ["+4915123456789", "ana@example.org"]);
    assert_eq!(
        c.dropped,
        vec![DroppedField {
            field: "NOTE".into(),
            line: 6,
            reason: DropReason::TooLarge
        }]
    );
}
