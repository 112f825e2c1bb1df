//! Identifier normalisation of every kind, in every region, with its invariants.
//!
//! Input: one byte picks the kind (the five kinds, and `auto`: the kind guessed as `contactsync
//! normalize --kind auto` does), two `u16`s pick the default region and a second region from
//! every region with phone metadata, and the rest is the raw value. Checked:
//!
//! - normalisation never panics and its canonical form is non-empty, without surrounding
//!   blanks or control characters;
//! - idempotence: the canonical form normalises to itself, in its region and, since a canonical
//!   phone number is E.164, in any other region too;
//! - an error's code names its kind, and its message never repeats the value;
//! - a contact holding the value normalises to the same identifier or a rejection.

use std::sync::OnceLock;

use contactsync_core::identifier::guess_kind;
use contactsync_core::{
    Identifier, IdentifierKind, NormalizeError, Normalizer, RawContact, Region,
};

use crate::input::{Reader, Writer};

/// Every region, in the stable order the input's indices refer to.
fn regions() -> &'static [Region] {
    static ALL: OnceLock<Vec<Region>> = OnceLock::new();
    ALL.get_or_init(Region::all)
}

/// The kind byte of `auto`.
const AUTO: u8 = 5;

/// One input: `None` as the kind is `auto`.
#[derive(Debug)]
pub struct Case {
    /// The kind, or `None` for a guess.
    pub kind: Option<IdentifierKind>,
    /// The default region.
    pub region: Region,
    /// Another region, for phone idempotence across regions.
    pub other: Region,
    /// The raw value.
    pub raw: String,
}

impl Case {
    /// Reads a case from a fuzz input.
    pub fn read(data: &[u8]) -> Case {
        let mut r = Reader::new(data);
        let kind = IdentifierKind::ALL.get(r.choose(6)).copied();
        let all = regions();
        let region = all[usize::from(r.u16()) % all.len()];
        let other = all[usize::from(r.u16()) % all.len()];
        let rest = data.get(5..).unwrap_or_default();
        Case {
            kind,
            region,
            other,
            raw: String::from_utf8_lossy(rest).into_owned(),
        }
    }

    /// Writes a case as a fuzz input (the seeds).
    pub fn write(kind: Option<IdentifierKind>, region: &str, other: &str, raw: &str) -> Vec<u8> {
        let index = |code: &str| {
            let code = Region::new(code).expect("a seed's region");
            let i = regions()
                .iter()
                .position(|r| *r == code)
                .expect("a listed region");
            u16::try_from(i).expect("fewer than 65536 regions")
        };
        let kind = kind.map_or(AUTO, |k| {
            let i = IdentifierKind::ALL
                .iter()
                .position(|a| *a == k)
                .unwrap_or(0);
            u8::try_from(i).unwrap_or(0)
        });
        let mut w = Writer::new();
        w.byte(kind).u16(index(region)).u16(index(other));
        let mut out = w.finish();
        out.extend_from_slice(raw.as_bytes());
        out
    }
}

/// Runs one case.
pub fn check(data: &[u8]) {
    let case = Case::read(data);
    let normalizer = Normalizer::new(case.region);
    let (kind, result) = match case.kind {
        Some(kind) => (Some(kind), Identifier::parse(kind, &case.raw, case.region)),
        None => (guess_kind(&case.raw), normalizer.normalize_auto(&case.raw)),
    };
    match &result {
        Ok(id) => check_identifier(id, &case),
        Err(e) => check_error(e, kind, &case.raw),
    }
    if let Some(kind) = kind {
        let contact = RawContact::new("fuzz", "Fuzz").with(kind, None, case.raw.as_str());
        let n = normalizer.normalize_contact(&contact);
        match &result {
            Ok(id) => {
                assert_eq!(n.identifiers, std::slice::from_ref(id));
                assert!(n.rejections.is_empty());
            }
            Err(e) => {
                assert!(n.identifiers.is_empty());
                assert_eq!(n.rejections.len(), 1);
                assert_eq!(n.rejections[0].reason.code(), e.code());
            }
        }
    }
}

fn check_identifier(id: &Identifier, case: &Case) {
    let canonical = id.canonical();
    assert!(!canonical.is_empty(), "an empty canonical form");
    assert_eq!(
        canonical.trim(),
        canonical,
        "blanks around a canonical form"
    );
    assert!(
        !canonical.chars().any(char::is_control),
        "a control character in a canonical form"
    );
    assert_eq!(id.to_string(), format!("{}:{canonical}", id.kind()));
    let again = Identifier::parse(id.kind(), canonical, case.region);
    assert_eq!(
        again.as_ref(),
        Ok(id),
        "{} {canonical:?} (from {:?} in {}) does not normalise to itself",
        id.kind(),
        case.raw,
        case.region
    );
    if id.kind() == IdentifierKind::Phone {
        let elsewhere = Identifier::parse(id.kind(), canonical, case.other);
        assert_eq!(
            elsewhere.as_ref(),
            Ok(id),
            "E.164 {canonical:?} reads differently in {}",
            case.other
        );
    }
}

fn check_error(e: &NormalizeError, kind: Option<IdentifierKind>, raw: &str) {
    let code = e.code();
    match kind {
        Some(kind) => assert!(
            code.starts_with(&format!("{kind}.")),
            "error {code} for a {kind} value"
        ),
        None => assert_eq!(code, "unknown_kind"),
    }
    // The fixed messages hold no digit: a value with one cannot be part of a message unless the
    // message repeats it. (Not `@`: "missing @ or an empty part" holds one.)
    if raw.trim().len() >= 3 && raw.chars().any(|c| c.is_ascii_digit()) {
        assert!(
            !e.to_string().contains(raw.trim()),
            "an error message repeats the value"
        );
    }
}
