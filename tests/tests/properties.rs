//! Property tests: normalisation never panics, and is idempotent (normalising a canonical form
//! gives it back), on arbitrary and on identifier-shaped input, for every kind. File readers never
//! panic on arbitrary bytes either.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use contactsync_core::identifier::{IdentifierKind, Normalizer, Region, guess_kind};
use contactsync_core::source::{self, ReadOptions};
use proptest::prelude::*;

fn kinds() -> impl Strategy<Value = IdentifierKind> {
    prop::sample::select(IdentifierKind::ALL.to_vec())
}

fn regions() -> impl Strategy<Value = Region> {
    prop::sample::select(
        [
            "US", "DE", "GB", "IN", "BR", "JP", "RU", "FR", "NG", "AU", "CN", "AR", "IT", "MX",
        ]
        .iter()
        .map(|r| Region::new(r).expect("region"))
        .collect::<Vec<_>>(),
    )
}

/// Text shaped like identifiers: digits (ASCII, fullwidth, Arabic-Indic), phone punctuation,
/// letters, `@`, dots, colons, URL bits, invisible and bidi characters.
fn identifierish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "(tel:|mailto:|https://x.example/i/|google:|@|\\+|00|011)?[0-9０-９٠-٩ ()+./\\-a-zA-ZäßΣ@:_\u{200d}\u{202e}#x]{0,40}",
    )
    .expect("regex")
}

fn assert_idempotent(
    n: Normalizer,
    kind: IdentifierKind,
    input: &str,
) -> Result<(), TestCaseError> {
    if let Ok(id) = n.normalize(kind, input) {
        let again = n.normalize(kind, id.canonical());
        prop_assert_eq!(
            again.as_ref().map(contactsync_core::Identifier::canonical),
            Ok(id.canonical()),
            "{} {:?} -> {:?}",
            kind,
            input,
            id.canonical()
        );
        // A canonical form reads the same in any region (E.164 carries its country).
        let elsewhere =
            Normalizer::new(Region::new("JP").expect("JP")).normalize(kind, id.canonical());
        prop_assert_eq!(
            elsewhere
                .as_ref()
                .map(contactsync_core::Identifier::canonical),
            Ok(id.canonical())
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_is_idempotent(kind in kinds(), region in regions(), input in any::<String>()) {
        let n = Normalizer::new(region);
        assert_idempotent(n, kind, &input)?;
        let _ = guess_kind(&input);
        let _ = n.normalize_auto(&input);
    }

    #[test]
    fn identifier_shaped_text_is_idempotent(kind in kinds(), region in regions(), input in identifierish()) {
        assert_idempotent(Normalizer::new(region), kind, &input)?;
    }

    #[test]
    fn invite_codes_made_from_any_entropy_validate(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let code = contactsync_core::identifier::invite::from_entropy(&bytes);
        prop_assert_eq!(contactsync_core::identifier::invite::normalize(&code), Ok(code.clone()));
    }

    #[test]
    fn readers_never_panic_on_arbitrary_bytes(head in prop::sample::select(vec![&b"BEGIN:VCARD\n"[..], &b"Name,E-mail 1 - Value,Phone 1 - Value\n"[..]]), body in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = head.to_vec();
        bytes.extend(body);
        if let Ok(entries) = source::read(std::io::Cursor::new(bytes), &ReadOptions::default()) {
            for item in entries {
                let _ = item;
            }
        }
    }
}
