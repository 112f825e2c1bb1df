// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]
//! Checks the synthetic address book of the import benchmark (`src/synthetic`): that it is
//! deterministic, that it looks like the book the benchmark claims to import (shares of invalid
//! values, regions, e-mails, handles, accounts, shared numbers), and that its edits are what
//! they say.
//!
//! Two ignored tests print figures: `report` (the measured shares) and `generation_time` (use
//! `--release`): `cargo test -p contactsync-tests --release --test synthetic_book -- --ignored
//! --nocapture`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use contactsync_core::{IdentifierKind, Normalizer, RawContact, Region};
use contactsync_tests::synthetic::{Book, DEFAULT_REGION};

const BOOK: Book = Book {
    seed: 1,
    size: 100_000,
};
/// Contacts the share checks look at.
const SAMPLE: usize = 20_000;

fn normalizer() -> Normalizer {
    Normalizer::new(Region::new(DEFAULT_REGION).unwrap())
}

/// What the first `n` contacts of a book hold.
#[derive(Debug, Default)]
struct Stats {
    contacts: usize,
    values: usize,
    rejected: usize,
    /// Per kind: raw values, rejected values, contacts with at least one value.
    kinds: BTreeMap<&'static str, (usize, usize, usize)>,
    /// Accepted phone numbers per country calling code.
    country_codes: BTreeMap<i32, usize>,
    /// Contacts by number of phone values (3 = three or more).
    phone_counts: [usize; 4],
    two_emails: usize,
    idn_emails: usize,
    mixed_case_emails: usize,
    national_de_phones: usize,
    /// Contacts sharing an identifier with another contact.
    sharing: usize,
    /// Identifiers held by more than one contact, per kind.
    shared_by_kind: BTreeMap<String, usize>,
    /// Values whose verdict differs from the generator's intent (must be none).
    surprises: Vec<String>,
}

fn stats(book: &Book, n: usize) -> Stats {
    let normalizer = normalizer();
    let mut s = Stats::default();
    let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let (c, junk) = book.contact_annotated(i);
        s.contacts += 1;
        let mut seen_kinds = HashSet::new();
        let mut ids = HashSet::new();
        let mut emails = 0;
        for (k, v) in c.values.iter().enumerate() {
            s.values += 1;
            let entry = s.kinds.entry(v.kind.as_str()).or_default();
            entry.0 += 1;
            if seen_kinds.insert(v.kind) {
                entry.2 += 1;
            }
            let result = normalizer.normalize(v.kind, &v.value);
            let meant_junk = junk & (1 << k) != 0;
            if result.is_ok() == meant_junk {
                s.surprises
                    .push(format!("{} {:?}: {result:?}", v.kind, v.value));
            }
            let Ok(id) = result else {
                s.rejected += 1;
                entry.1 += 1;
                continue;
            };
            if v.kind == IdentifierKind::Phone {
                let number: rlibphonenumber::PhoneNumber = id.canonical().parse().unwrap();
                *s.country_codes.entry(number.country_code).or_default() += 1;
                if v.value.starts_with('0') && !v.value.starts_with("00")
                    || v.value.starts_with("(0")
                {
                    s.national_de_phones += 1;
                }
            }
            if v.kind == IdentifierKind::Email {
                emails += 1;
                if id.canonical().contains("xn--") {
                    s.idn_emails += 1;
                }
                if v.value.chars().any(char::is_uppercase) {
                    s.mixed_case_emails += 1;
                }
            }
            ids.insert(id.to_string());
        }
        if emails >= 2 {
            s.two_emails += 1;
        }
        let phones = c.values_of(IdentifierKind::Phone).count();
        s.phone_counts[phones.min(3)] += 1;
        for id in ids {
            owners.entry(id).or_default().push(i);
        }
    }
    let sharing: HashSet<usize> = owners
        .values()
        .filter(|o| o.len() > 1)
        .flatten()
        .copied()
        .collect();
    s.sharing = sharing.len();
    for (id, o) in &owners {
        if o.len() > 1 {
            *s.shared_by_kind
                .entry(id.split(':').next().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    s
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

fn contacts_with(s: &Stats, kind: &str) -> f64 {
    share(s.kinds.get(kind).map_or(0, |k| k.2), s.contacts)
}

#[test]
fn deterministic() {
    for i in [0, 1, 17, 4_242, 99_999, 100_000, 1 << 30] {
        assert_eq!(BOOK.contact(i), BOOK.contact(i), "contact {i}");
        let again = Book {
            seed: 1,
            size: 100_000,
        };
        assert_eq!(again.contact(i), BOOK.contact(i), "contact {i}");
    }
    let streamed: Vec<RawContact> = BOOK.contacts().take(200).collect();
    let direct: Vec<RawContact> = (0..200).map(|i| BOOK.contact(i)).collect();
    assert_eq!(streamed, direct);
    assert_eq!(BOOK.contacts().count(), BOOK.size);
    // Another seed, another book; the size changes nothing about a contact.
    let other = Book { seed: 2, ..BOOK };
    assert!(
        (0..100)
            .filter(|&i| other.contact(i) == BOOK.contact(i))
            .count()
            < 5
    );
    let small = Book { size: 10, ..BOOK };
    assert_eq!(small.contact(7), BOOK.contact(7));
    // Source ids: Android-like, increasing, unique; every contact has a version stamp.
    let ids: Vec<u64> = direct
        .iter()
        .map(|c| c.source_id.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(direct.iter().all(|c| c.version.is_some()));
    assert!(direct.iter().all(|c| !c.display_name.is_empty()));
}

#[test]
fn realistic_shares() {
    let s = stats(&BOOK, SAMPLE);
    assert!(
        s.surprises.is_empty(),
        "values not judged as meant ({}): {:?}",
        s.surprises.len(),
        &s.surprises[..s.surprises.len().min(20)]
    );
    let rejected = share(s.rejected, s.values);
    assert!((0.03..=0.07).contains(&rejected), "rejected {rejected}");
    // Every kind of value has junk among it.
    for kind in ["phone", "email", "handle", "account"] {
        assert!(s.kinds[kind].1 > 0, "no rejected {kind}");
    }
    assert!(s.country_codes.len() >= 10, "{:?}", s.country_codes);
    // Mostly German numbers, mostly written nationally.
    let phones: usize = s.country_codes.values().sum();
    assert!(share(s.country_codes[&49], phones) > 0.7);
    assert!(share(s.national_de_phones, phones) > 0.4);
    let email = contacts_with(&s, "email");
    assert!((0.50..=0.60).contains(&email), "e-mail {email}");
    assert!(share(s.two_emails, s.contacts) > 0.04);
    assert!(s.idn_emails > 0 && s.mixed_case_emails > 0);
    let handle = contacts_with(&s, "handle");
    assert!((0.04..=0.06).contains(&handle), "handles {handle}");
    let account = contacts_with(&s, "account");
    assert!((0.02..=0.04).contains(&account), "accounts {account}");
    let no_phone = share(s.phone_counts[0], s.contacts);
    assert!((0.05..=0.15).contains(&no_phone), "no phone {no_phone}");
    assert!(
        share(
            s.phone_counts[1] + s.phone_counts[2] + s.phone_counts[3],
            s.contacts
        ) > 0.8
    );
    let sharing = share(s.sharing, s.contacts);
    assert!((0.005..=0.02).contains(&sharing), "sharing {sharing}");
}

#[test]
fn phone_ranges_are_valid() {
    let normalizer = normalizer();
    let samples = BOOK.phone_samples();
    assert!(samples.len() > 10_000);
    let bad: Vec<&String> = samples
        .iter()
        .filter(|s| normalizer.normalize(IdentifierKind::Phone, s).is_err())
        .collect();
    assert!(
        bad.is_empty(),
        "{} invalid: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}

/// The identifiers of a contact, as text.
fn identifiers(normalizer: Normalizer, c: &RawContact) -> Vec<String> {
    let n = normalizer.normalize_contact(c);
    n.identifiers.iter().map(ToString::to_string).collect()
}

#[test]
fn edits() {
    let (changed, added, removed) = (1_000, 500, 700);
    let normalizer = normalizer();
    let original: HashMap<String, (usize, RawContact)> = BOOK
        .contacts()
        .enumerate()
        .map(|(i, c)| (c.source_id.clone(), (i, c)))
        .collect();
    let edited: Vec<RawContact> = BOOK.edited(changed, added, removed).collect();
    assert_eq!(edited.len(), BOOK.size - removed + added);
    let mut differ = Vec::new();
    let mut new = 0;
    let mut kept = HashSet::new();
    for c in &edited {
        match original.get(&c.source_id) {
            Some((i, before)) => {
                kept.insert(*i);
                if before != c {
                    assert_ne!(before.version, c.version);
                    assert_ne!(
                        identifiers(normalizer, before),
                        identifiers(normalizer, c),
                        "identifiers of edited contact {i} unchanged"
                    );
                    differ.push(*i);
                }
            }
            None => new += 1,
        }
    }
    assert_eq!(differ.len(), changed);
    assert_eq!(new, added);
    let gone: Vec<usize> = (0..BOOK.size).filter(|i| !kept.contains(i)).collect();
    assert_eq!(gone.len(), removed);
    // Spread over the book: every tenth of it has its share of edits.
    for picked in [&differ, &gone] {
        let mut tenths = [0usize; 10];
        for &i in picked {
            tenths[i * 10 / BOOK.size] += 1;
        }
        let even = picked.len() / 10;
        assert!(
            tenths.iter().all(|&t| t > even / 2 && t < even * 2),
            "{tenths:?}"
        );
    }
    // The edit is deterministic.
    let again: Vec<RawContact> = BOOK.edited(changed, added, removed).collect();
    assert_eq!(again, edited);

    // The change feed says the same.
    let (upserts, deleted) = BOOK.edit_feed(changed, added, removed);
    assert_eq!(upserts.len(), changed + added);
    assert_eq!(deleted.len(), removed);
    let mut applied: HashMap<String, RawContact> =
        original.into_iter().map(|(id, (_, c))| (id, c)).collect();
    for id in &deleted {
        assert!(applied.remove(id).is_some(), "deleted {id} was not there");
    }
    for c in upserts {
        applied.insert(c.source_id.clone(), c);
    }
    let snapshot: HashMap<String, RawContact> = edited
        .into_iter()
        .map(|c| (c.source_id.clone(), c))
        .collect();
    assert!(applied == snapshot, "edit_feed and edited() disagree");
}

#[test]
fn edits_at_the_edges() {
    let small = Book { seed: 9, size: 10 };
    assert_eq!(small.edited(3, 2, 4).count(), 8);
    // More than the book holds: everything removed, nothing left to change.
    assert_eq!(small.edited(20, 0, 20).count(), 0);
    assert_eq!(small.edited(20, 1, 5).count(), 6);
    let (upserts, deleted) = small.edit_feed(20, 1, 5);
    assert_eq!((upserts.len(), deleted.len()), (6, 5));
    let empty = Book { seed: 9, size: 0 };
    assert_eq!(empty.edited(1, 3, 1).count(), 3);
    assert_eq!(empty.edit_feed(1, 3, 1).0.len(), 3);
    assert_eq!(
        small.edited(0, 0, 0).collect::<Vec<_>>(),
        small.contacts().collect::<Vec<_>>()
    );
}

/// Prints how long generating the whole book takes (median of 7 runs; use `--release`).
#[test]
#[ignore = "a measurement, not a check"]
fn generation_time() {
    let mut runs: Vec<_> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let values: usize = BOOK.contacts().map(|c| c.values.len()).sum();
            (start.elapsed(), values)
        })
        .collect();
    runs.sort();
    let (median, values) = runs[runs.len() / 2];
    println!(
        "generated {} contacts ({values} values) in {median:?} (median of {}; fastest {:?})",
        BOOK.size,
        runs.len(),
        runs[0].0
    );
}

/// Prints what the book holds.
#[test]
#[ignore = "a report, not a check"]
fn report() {
    let s = stats(&BOOK, SAMPLE);
    println!(
        "first {} contacts: {} values, {:.2}% rejected",
        s.contacts,
        s.values,
        100.0 * share(s.rejected, s.values)
    );
    for (kind, (values, rejected, contacts)) in &s.kinds {
        println!(
            "  {kind}: {values} values, {rejected} rejected ({:.2}%), on {:.2}% of contacts",
            100.0 * share(*rejected, *values),
            100.0 * share(*contacts, s.contacts)
        );
    }
    println!(
        "  phone country codes ({}): {:?}",
        s.country_codes.len(),
        s.country_codes
    );
    println!("  contacts by phone count: {:?}", s.phone_counts);
    println!(
        "  two e-mails {:.2}%, IDN e-mails {}, mixed-case e-mails {}, national DE phones {:.1}%",
        100.0 * share(s.two_emails, s.contacts),
        s.idn_emails,
        s.mixed_case_emails,
        100.0 * share(s.national_de_phones, s.country_codes.values().sum())
    );
    println!(
        "  contacts sharing an identifier: {:.2}%",
        100.0 * share(s.sharing, s.contacts)
    );
    println!("  shared identifiers by kind: {:?}", s.shared_by_kind);
    println!(
        "  surprises: {:?}",
        &s.surprises[..s.surprises.len().min(40)]
    );
    for i in 0..12 {
        println!("  {:?}", BOOK.contact(i));
    }
}
