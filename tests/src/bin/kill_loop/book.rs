//! The address book the loops import: deterministic from the seed, and changed every round.
//!
//! Round 0 is `size` contacts out of a universe of `1.5 * size`; each later round removes
//! `churn` contacts, adds as many (new ones while the universe has some, else, and for a third
//! of them anyway, contacts removed earlier: their hashes come back after their removal), and
//! edits `edits` (a new variant: another name, and another second phone or work e-mail for those
//! that have one). The universe is bounded so that the app's users, registered once among it,
//! keep being found in every round. Contacts are made from `(seed, uid, variant)` alone, so
//! round `r` of a seed is the same book on every machine, whatever happened to the processes in
//! between.
//!
//! The random numbers come from splitmix64, written here: a seed printed by a run must give the
//! same books with every future build, which a crate's generator does not promise across
//! versions, and the loops need nothing more.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

/// splitmix64: small, fast, and stable forever for a given seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalize(self.0)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift: no modulo bias worth a thought here.
    pub fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        // The high half of a 64x64 product is below `n`.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// An index into a non-empty slice of `len` elements.
    pub fn index(&mut self, len: usize) -> usize {
        let n = u64::try_from(len).unwrap_or(u64::MAX);
        usize::try_from(self.below(n)).unwrap_or(0)
    }
}

/// splitmix64's output function.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A well-mixed function of two numbers (per-contact and per-round streams).
pub fn mix(a: u64, b: u64) -> u64 {
    finalize(finalize(a ^ 0x5851_F42D_4C95_7F2D).wrapping_add(b))
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kenji",
    "Lea", "Mateo", "Noor", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Almeida", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova",
    "Jensen", "Kowalski", "López", "Müller", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi",
    "Silva", "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang",
];
/// Real US area codes: a national-format number in one of them normalises under region US.
const AREA: &[u32] = &[
    201, 202, 206, 212, 213, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 718, 773, 917,
];

/// A phone number as a person types it, and its canonical E.164 form.
fn phone(x: u64) -> (String, String) {
    let digits = |n: u64, width: usize| format!("{n:0width$}");
    match x % 10 {
        // US, national format (the import's region is US).
        0..=5 => {
            let area = AREA[usize::try_from((x >> 8) % AREA.len() as u64).unwrap_or(0)];
            let exchange = 200 + (x >> 16) % 800;
            let line = (x >> 28) % 10_000;
            (
                format!("({area}) {exchange}-{}", digits(line, 4)),
                format!("+1{area}{exchange}{}", digits(line, 4)),
            )
        }
        // US, typed with the country code.
        6 => {
            let area = AREA[usize::try_from((x >> 8) % AREA.len() as u64).unwrap_or(0)];
            let rest = (x >> 16) % 8_000_000 + 2_000_000;
            let rest = digits(rest, 7);
            (
                format!("+1 {area} {} {}", &rest[..3], &rest[3..]),
                format!("+1{area}{rest}"),
            )
        }
        // German mobile.
        7 | 8 => {
            let rest = digits((x >> 8) % 100_000_000, 8);
            (
                format!("+49 151 {} {}", &rest[..4], &rest[4..]),
                format!("+49151{rest}"),
            )
        }
        // French mobile (06 ..., avoiding 069 and 0639, which are not assigned).
        _ => {
            let lead = [0, 1, 2, 4, 5, 6, 7, 8][usize::try_from((x >> 8) % 8).unwrap_or(0)];
            let rest = format!("{lead}{}", digits((x >> 16) % 10_000_000, 7));
            let pairs: Vec<&str> = (0..4).map(|i| &rest[i * 2..i * 2 + 2]).collect();
            (format!("+33 6 {}", pairs.join(" ")), format!("+336{rest}"))
        }
    }
}

/// One contact's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub uid: u64,
    pub name: String,
    /// Phones as typed, with their canonical forms.
    pub phones: Vec<(String, String)>,
    /// E-mail addresses as typed, with their canonical forms.
    pub emails: Vec<(String, String)>,
}

/// Contact `uid` at `variant`, from the seed alone.
pub fn card(seed: u64, uid: u64, variant: u32) -> Card {
    let h = mix(seed, uid);
    let hv = mix(h, u64::from(variant) + 1);
    let first = FIRST[usize::try_from(h % FIRST.len() as u64).unwrap_or(0)];
    let last = LAST[usize::try_from((h >> 20) % LAST.len() as u64).unwrap_or(0)];
    let name = if variant == 0 {
        format!("{first} {last}")
    } else {
        format!("{first} {last} ({variant})")
    };
    let ascii = |s: &str| -> String {
        s.chars()
            .filter_map(|c| match c {
                'é' | 'ë' => Some('e'),
                'ü' => Some('u'),
                'í' => Some('i'),
                'ó' => Some('o'),
                c if c.is_ascii_alphabetic() => Some(c),
                _ => None,
            })
            .collect()
    };
    // The stable phone: what other contacts share (a household line) and users register.
    let mut phones = vec![phone(mix(h, 1))];
    if hv % 100 < 35 {
        phones.push(phone(mix(hv, 2)));
    }
    // One contact in 40 also holds the stable phone of the contact before it: identifiers held
    // by two contacts, whose hash stays while either holds it.
    if uid > 0 && (h >> 40).is_multiple_of(40) {
        phones.push(phone(mix(mix(seed, uid - 1), 1)));
    }
    let mut emails = Vec::new();
    if (h >> 8) % 100 < 60 {
        // Typed with capitals sometimes; the canonical form is lower case.
        let typed = if (h >> 12).is_multiple_of(3) {
            format!("{}.{}{uid}@Example.COM", ascii(first), ascii(last))
        } else {
            format!("{}.{}{uid}@example.com", ascii(first), ascii(last))
        };
        let canonical = typed.to_ascii_lowercase();
        emails.push((typed, canonical));
    }
    if hv % 100 >= 80 {
        let typed = format!("{}{variant}.{uid}@work{}.example.org", ascii(first), hv % 7);
        let canonical = typed.to_ascii_lowercase();
        emails.push((typed, canonical));
    }
    phones.dedup_by(|a, b| a.1 == b.1);
    Card {
        uid,
        name,
        phones,
        emails,
    }
}

/// The book as it stands at one round.
#[derive(Debug, Clone)]
pub struct Book {
    seed: u64,
    pub round: u64,
    /// Contacts in the book, in a deterministic order.
    present: Vec<u64>,
    /// Variant of every contact ever made (removed ones keep theirs for a comeback).
    variant: HashMap<u64, u32>,
    /// Contacts removed and not (yet) back.
    removed: Vec<u64>,
    next_uid: u64,
    universe: u64,
    churn: usize,
    edits: usize,
}

impl Book {
    /// Round 0: contacts `0..size`.
    pub fn new(seed: u64, size: usize, churn: usize, edits: usize) -> Self {
        let n = u64::try_from(size).unwrap_or(u64::MAX);
        Book {
            universe: Self::universe(size),
            seed,
            round: 0,
            present: (0..n).collect(),
            variant: (0..n).map(|u| (u, 0)).collect(),
            removed: Vec::new(),
            next_uid: n,
            churn,
            edits,
        }
    }

    /// The next round's book.
    pub fn advance(&mut self) {
        self.round += 1;
        let mut rng = Rng::new(mix(self.seed ^ 0xB00C, self.round));
        for _ in 0..self.churn.min(self.present.len()) {
            let i = rng.index(self.present.len());
            let uid = self.present.swap_remove(i);
            self.removed.push(uid);
        }
        for _ in 0..self.churn {
            let comeback = self.next_uid >= self.universe || rng.below(3) == 0;
            let uid = if comeback && !self.removed.is_empty() {
                let i = rng.index(self.removed.len());
                self.removed.swap_remove(i)
            } else {
                let uid = self.next_uid;
                self.next_uid += 1;
                self.variant.insert(uid, 0);
                uid
            };
            self.present.push(uid);
        }
        for _ in 0..self.edits.min(self.present.len()) {
            let uid = self.present[rng.index(self.present.len())];
            if let Some(v) = self.variant.get_mut(&uid) {
                *v += 1;
            }
        }
    }

    /// The cards of this round.
    pub fn cards(&self) -> impl Iterator<Item = Card> + '_ {
        self.present
            .iter()
            .map(|&uid| card(self.seed, uid, self.variant.get(&uid).copied().unwrap_or(0)))
    }

    /// How many contacts ever appear in a book of `size`: uids `0..universe(size)`.
    pub fn universe(size: usize) -> u64 {
        u64::try_from(size + size / 2).unwrap_or(u64::MAX)
    }

    /// Writes this round as a vCard 3.0 file; `UID` is the source id, so a re-import is a true
    /// delta (added, removed and edited contacts only).
    pub fn write_vcard(&self, path: &Path) -> io::Result<()> {
        let mut text = String::with_capacity(self.present.len() * 160);
        for c in self.cards() {
            let _ = write!(
                text,
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:kl-{}\r\nFN:{}\r\n",
                c.uid, c.name
            );
            for (typed, _) in &c.phones {
                let _ = write!(text, "TEL;TYPE=CELL:{typed}\r\n");
            }
            for (typed, _) in &c.emails {
                let _ = write!(text, "EMAIL;TYPE=INTERNET:{typed}\r\n");
            }
            text.push_str("END:VCARD\r\n");
        }
        // Written whole, then renamed: an import never reads a half-written book.
        let tmp = path.with_extension("vcf.tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The app's users: one contact in `one_in` among uids `0..pool` (some in the first book, some
/// arriving later), registered with their stable phone and, for half, their
/// e-mail address. `(user_ref, canonical identifiers)`.
pub fn users(seed: u64, pool: u64, one_in: u64) -> Vec<(String, Vec<String>)> {
    (0..pool)
        .filter(|&uid| mix(seed ^ 0x05E5, uid).is_multiple_of(one_in))
        .map(|uid| {
            let c = card(seed, uid, 0);
            let mut ids = vec![c.phones[0].1.clone()];
            if uid % 2 == 0
                && let Some((_, email)) = c.emails.first()
            {
                ids.push(email.clone());
            }
            (format!("u_{uid}"), ids)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_books() {
        let mut a = Book::new(7, 300, 20, 10);
        let mut b = Book::new(7, 300, 20, 10);
        for _ in 0..5 {
            a.advance();
            b.advance();
        }
        assert_eq!(a.cards().collect::<Vec<_>>(), b.cards().collect::<Vec<_>>());
        assert_eq!(a.present.len(), 300);
        let mut c = Book::new(8, 300, 20, 10);
        c.advance();
        assert_ne!(
            Book::new(7, 300, 20, 10).cards().next(),
            c.cards().next(),
            "another seed, other contacts"
        );
    }

    #[test]
    fn rounds_add_remove_edit_and_bring_back() {
        let mut book = Book::new(1, 1000, 100, 50);
        let before: HashMap<u64, Card> = book.cards().map(|c| (c.uid, c)).collect();
        for _ in 0..10 {
            book.advance();
        }
        let after: HashMap<u64, Card> = book.cards().map(|c| (c.uid, c)).collect();
        assert!(after.keys().any(|u| !before.contains_key(u)), "added");
        assert!(before.keys().any(|u| !after.contains_key(u)), "removed");
        assert!(
            after
                .iter()
                .any(|(u, c)| before.get(u).is_some_and(|b| b != c)),
            "edited"
        );
        assert!(
            book.next_uid < 1000 + 10 * 100,
            "some of the 1000 added were removed ones coming back"
        );
        for _ in 0..100 {
            book.advance();
        }
        assert_eq!(book.next_uid, Book::universe(1000), "a bounded universe");
        assert_eq!(book.present.len(), 1000);
    }

    /// Every value the book holds is accepted, and its canonical form is the one the users are
    /// registered with: a rejected or differently normalised value would make fewer matches
    /// than the loops claim to exercise.
    #[test]
    fn every_value_normalises_to_its_canonical_form() {
        use contactsync_core::{IdentifierKind, Normalizer, Region};
        let normalizer = Normalizer::new(Region::new("US").unwrap());
        for c in Book::new(11, 3000, 0, 0).cards() {
            for (typed, canonical) in &c.phones {
                let id = normalizer.normalize(IdentifierKind::Phone, typed).unwrap();
                assert_eq!(id.canonical(), canonical, "{typed}");
            }
            for (typed, canonical) in &c.emails {
                let id = normalizer.normalize(IdentifierKind::Email, typed).unwrap();
                assert_eq!(id.canonical(), canonical, "{typed}");
            }
        }
    }
}
