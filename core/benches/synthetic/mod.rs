//! A deterministic synthetic address book, for the import benchmark (`benches/import.rs`) and
//! checked by `tests/synthetic_book.rs`.
//!
//! **Streaming**: contact `i` is a function of `(seed, i)` alone (a splitmix64 stream keyed by
//! both), so a book of any size is generated one contact at a time and never held in memory.
//!
//! **What a book looks like**, for a user whose default region is [`DEFAULT_REGION`] (the shares
//! are measured by the test on the first 20,000 contacts of `Book { seed: 1, size: 100_000 }`):
//!
//! - contacts from 15 regions (about 70% German, the rest from neighbouring and immigration
//!   countries and a few far away), named from per-culture first- and last-name lists, with
//!   nicknames, businesses and family names ("Mama") here and there;
//! - 0–3 phone numbers (about 9% of contacts have none): German numbers mostly in national format
//!   (`0151 23456789`, `(030) 1234567`, `0171/1234567`), the rest international (`+44 7723 456789`,
//!   `0044 ...`, `+1 (415) 555-0134`, `+33 (0)6 ...`), all in ranges libphonenumber calls valid;
//!   now and then the same number twice in two formats, as merged address books have it;
//! - e-mail addresses on about 55% of contacts (some with two, a personal and a work one), in mixed
//!   case, a few with internationalised domains (`müller-bau.de`) or local parts;
//! - messenger handles on about 5% (the service as label) and linked accounts on about 3%;
//! - shared identifiers: about 1% of contacts come in pairs sharing a family landline;
//! - about 5% of all raw values invalid on purpose: numbers too short, too long or with a digit
//!   missing, short codes, text in a phone field, malformed e-mails, handles and accounts;
//! - Android-like source ids (increasing numbers with gaps) and last-updated stamps (Unix ms).
//!
//! [`Book::edited`] and [`Book::edit_feed`] describe the same book after a deterministic edit, as a
//! full snapshot and as a change feed.

#![allow(
    dead_code,
    reason = "shared by the import benchmark and tests/synthetic_book.rs, which use different parts"
)]

use contactsync_core::{IdentifierKind, LinkedAccount, RawContact};

/// The region the engine is configured with for the benchmark: national-format numbers in the
/// book are German.
pub const DEFAULT_REGION: &str = "DE";

/// A synthetic address book: `size` contacts, all derived from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Book {
    /// Seed of every random choice; two books with the same seed and size are identical.
    pub seed: u64,
    /// Number of contacts (indices `0..size`).
    pub size: usize,
}

impl Book {
    /// Contact `i` (any `i`: indices past `size` are the contacts an edit adds).
    pub fn contact(&self, i: usize) -> RawContact {
        self.generate(i).contact
    }

    /// Contact `i` and which of its values were made invalid on purpose: bit `k` of the mask is
    /// set when `values[k]` should be rejected by the normaliser (region [`DEFAULT_REGION`]).
    pub fn contact_annotated(&self, i: usize) -> (RawContact, u64) {
        let g = self.generate(i);
        (g.contact, g.invalid)
    }

    /// Contacts `0..size`, generated as they are consumed.
    pub fn contacts(&self) -> impl Iterator<Item = RawContact> + Send + '_ {
        (0..self.size).map(move |i| self.contact(i))
    }

    /// The same book after an edit: `changed` contacts edited (a phone number or e-mail address
    /// replaced by a new one, so their identifiers change, and the version stamp moved), `added`
    /// new contacts (indices `size..size + added`), `removed` contacts gone. The edited and removed
    /// contacts are spread evenly over the book, chosen by the seed. `removed` is capped at `size`
    /// and `changed` at what remains. Yields the full edited snapshot in source-id order.
    pub fn edited(
        &self,
        changed: usize,
        added: usize,
        removed: usize,
    ) -> impl Iterator<Item = RawContact> + Send + '_ {
        let plan = EditPlan::new(self.seed, self.size, changed, removed);
        (0..self.size)
            .filter_map(move |i| match plan.fate(i) {
                Fate::Keep => Some(self.contact(i)),
                Fate::Change => Some(self.changed_contact(i)),
                Fate::Remove => None,
            })
            .chain((self.size..self.size.saturating_add(added)).map(move |i| self.contact(i)))
    }

    /// The same edit as [`Book::edited`], as a change feed: the upserts (the `changed` contacts
    /// as edited, then the `added` new ones, each in index order) and the source ids of the
    /// `removed` contacts (in index order).
    pub fn edit_feed(
        &self,
        changed: usize,
        added: usize,
        removed: usize,
    ) -> (Vec<RawContact>, Vec<String>) {
        let plan = EditPlan::new(self.seed, self.size, changed, removed);
        let mut changed_ix: Vec<usize> = (plan.removed..plan.removed + plan.changed)
            .map(|j| plan.index(j))
            .collect();
        changed_ix.sort_unstable();
        let mut removed_ix: Vec<usize> = (0..plan.removed).map(|j| plan.index(j)).collect();
        removed_ix.sort_unstable();
        let upserts = changed_ix
            .into_iter()
            .map(|i| self.changed_contact(i))
            .chain((self.size..self.size.saturating_add(added)).map(|i| self.contact(i)))
            .collect();
        let deleted = removed_ix
            .into_iter()
            .map(|i| source_id(self.seed, i))
            .collect();
        (upserts, deleted)
    }

    /// Phone numbers from every number range of every region in every format the book writes
    /// them in, a few numbers each: all must be valid for libphonenumber (read in
    /// [`DEFAULT_REGION`]). Lets a test catch a metadata update that retires a range.
    pub fn phone_samples(&self) -> Vec<String> {
        let mut out = Vec::new();
        for country in COUNTRIES {
            for (mobile, ranges) in [(true, country.mobile), (false, country.fixed)] {
                for range in ranges {
                    for key in 0..2 {
                        let number = Number::new(self.seed, country, range, mobile, key);
                        for choice in (0..1000).step_by(10) {
                            let mut s = String::new();
                            number.write(&mut s, choice);
                            out.push(s);
                        }
                    }
                }
            }
        }
        out
    }

    /// Contact `i` as edited (see [`Book::edited`]).
    fn changed_contact(&self, i: usize) -> RawContact {
        let Generated {
            mut contact,
            invalid,
            home,
            first,
            last,
        } = self.generate(i);
        let mut rng = Rng::new(self.seed, i, STREAM_EDIT);
        let valid = |kind: IdentifierKind| {
            contact
                .values
                .iter()
                .enumerate()
                .position(|(k, v)| v.kind == kind && invalid & (1 << k) == 0)
        };
        let phone = valid(IdentifierKind::Phone);
        let email = valid(IdentifierKind::Email);
        // A number or address the generator never hands out for `i` otherwise: key slot 3 of
        // the contact's own number space, or an address ending in `.` and four digits.
        let new_phone = |rng: &mut Rng| {
            let country = if rng.chance(700) { home } else { &DE };
            let range = rng.pick_ref(country.mobile);
            let mut s = String::with_capacity(20);
            Number::new(self.seed, country, range, true, key(i, 3)).write(&mut s, rng.per_mille());
            s
        };
        let prefer_phone = email.is_none() || rng.chance(700);
        if let Some(k) = phone.filter(|_| prefer_phone) {
            contact.values[k].value = new_phone(&mut rng);
        } else if let Some(k) = email {
            let mut s = String::with_capacity(40);
            push_ascii_lower(&mut s, first);
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('.');
            push_padded(&mut s, (i % 10_000) as u64, 4);
            s.push('@');
            s.push_str(rng.weighted(PERSONAL_DOMAINS));
            contact.values[k].value = s;
        } else {
            // Neither a valid number nor a valid address to replace: add a number.
            let value = new_phone(&mut rng);
            contact.push(IdentifierKind::Phone, Some("mobile"), value);
        }
        let mut stamp = String::with_capacity(13);
        push_u64(&mut stamp, EDIT_STAMP + rng.below(30 * DAY_MS));
        contact.version = Some(stamp);
        contact
    }

    /// Contact `i` with what an edit needs to know about it.
    fn generate(&self, i: usize) -> Generated {
        let seed = self.seed;
        let mut rng = Rng::new(seed, i, STREAM_CONTACT);
        let home = rng.weighted_country(COUNTRIES);
        // Germany's address books are multilingual: some German numbers belong to people whose
        // names come from elsewhere.
        let culture = if home.iso == "DE" && rng.chance(120) {
            rng.weighted_country(&COUNTRIES[1..])
        } else {
            home
        };
        let family = family_pair(seed, i);
        let first = split_name(rng.pick(culture.names.first));
        let last = match family {
            // A family shares its last name as well as its landline.
            Some(pair) => split_name(Rng::new(seed, pair, STREAM_FAMILY).pick(culture.names.last)),
            None => split_name(rng.pick(culture.names.last)),
        };
        let (display_name, business) = display_name(&mut rng, culture, first, last);
        let mut stamp = String::with_capacity(13);
        push_u64(&mut stamp, FIRST_STAMP + rng.below(STAMP_SPAN));
        let mut g = Generated {
            contact: RawContact {
                source_id: source_id(seed, i),
                display_name,
                values: Vec::with_capacity(6),
                version: Some(stamp),
            },
            invalid: 0,
            home,
            first: first.1,
            last: last.1,
        };
        g.phones(seed, i, &mut rng, family);
        g.emails(&mut rng, first, last, business);
        if rng.chance(HANDLE_PER_MILLE) {
            g.handle(&mut rng);
        }
        if rng.chance(ACCOUNT_PER_MILLE) {
            g.account(&mut rng);
        }
        g
    }
}

// ---------------------------------------------------------------------------------------------
// Shares, in per mille.

/// Contacts with 0, 1, 2 and 3 phone numbers (cumulative thresholds).
const PHONE_COUNT: [usize; 3] = [90, 610, 900];
/// A phone value that is junk.
const PHONE_INVALID: usize = 55;
/// A German contact's number that is foreign (the rest are German).
const DE_FOREIGN_NUMBER: usize = 40;
/// A foreign contact's number that is German (they live here).
const FOREIGN_DE_NUMBER: usize = 420;
/// Contacts with their first number again in another format.
const DUPLICATE_FORMAT: usize = 30;
/// Pairs of contacts (`i`, `i ^ FAMILY_XOR`) sharing a family landline.
const FAMILY_PER_MILLE: usize = 10;
const FAMILY_XOR: usize = 0b10_0101;
/// Contacts with at least one e-mail address, and of those with a second.
const EMAIL_PER_MILLE: usize = 550;
const SECOND_EMAIL: usize = 150;
const EMAIL_INVALID: usize = 45;
const HANDLE_PER_MILLE: usize = 50;
const HANDLE_INVALID: usize = 40;
const ACCOUNT_PER_MILLE: usize = 30;
const ACCOUNT_INVALID: usize = 30;

/// Last-updated stamps (Unix ms): 2015-01-01 plus up to ~10.8 years; edits from 2025-12-01.
const FIRST_STAMP: u64 = 1_420_070_400_000;
const STAMP_SPAN: u64 = 340_000_000_000;
const EDIT_STAMP: u64 = 1_764_547_200_000;
const DAY_MS: u64 = 86_400_000;

const STREAM_CONTACT: u64 = 0x636f_6e74_6163_7473;
const STREAM_FAMILY: u64 = 0x6661_6d69_6c79_0000;
const STREAM_EDIT: u64 = 0x6564_6974_0000_0000;
const STREAM_PLAN: u64 = 0x706c_616e_0000_0000;
const STREAM_NUMBER: u64 = 0x6e75_6d62_6572_0000;
const STREAM_ID: u64 = 0x6964_0000_0000_0000;

// ---------------------------------------------------------------------------------------------
// The generator.

struct Generated {
    contact: RawContact,
    /// Bit `k`: `contact.values[k]` is junk on purpose.
    invalid: u64,
    home: &'static Country,
    /// ASCII forms of the names, for addresses.
    first: &'static str,
    last: &'static str,
}

impl Generated {
    fn push(&mut self, kind: IdentifierKind, label: Option<&str>, value: String, junk: bool) {
        if junk && self.contact.values.len() < 64 {
            self.invalid |= 1 << self.contact.values.len();
        }
        self.contact.push(kind, label, value);
    }

    fn phones(&mut self, seed: u64, i: usize, rng: &mut Rng, family: Option<usize>) {
        let draw = rng.per_mille();
        let count = PHONE_COUNT.iter().filter(|&&t| draw >= t).count();
        let mut first_valid: Option<Number> = None;
        for slot in 0..count {
            if rng.chance(PHONE_INVALID) {
                let value = junk_phone(rng);
                self.push(IdentifierKind::Phone, Some("mobile"), value, true);
                continue;
            }
            let country = if self.home.iso == "DE" {
                if rng.chance(DE_FOREIGN_NUMBER) {
                    rng.weighted_country(&COUNTRIES[1..])
                } else {
                    &DE
                }
            } else if rng.chance(FOREIGN_DE_NUMBER) {
                &DE
            } else {
                self.home
            };
            let mobile = rng.chance([850, 550, 500][slot]) || country.fixed.is_empty();
            let range = rng.pick_ref(if mobile {
                country.mobile
            } else {
                country.fixed
            });
            let number = Number::new(seed, country, range, mobile, key(i, slot));
            let label = if mobile {
                rng.weighted(MOBILE_LABELS)
            } else {
                rng.weighted(FIXED_LABELS)
            };
            let mut value = String::with_capacity(20);
            number.write(&mut value, rng.per_mille());
            self.push(IdentifierKind::Phone, label, value, false);
            if first_valid.is_none() {
                first_valid = Some(number);
            }
        }
        if let Some(pair) = family {
            let range = Rng::new(seed, pair, STREAM_FAMILY ^ 2).pick_ref(DE.fixed);
            let number = Number::new(seed, &DE, range, false, key(pair, 3));
            let mut value = String::with_capacity(20);
            number.write(&mut value, rng.per_mille());
            self.push(IdentifierKind::Phone, Some("home"), value, false);
        }
        if let Some(number) = first_valid
            && rng.chance(DUPLICATE_FORMAT)
        {
            let mut value = String::with_capacity(20);
            number.write(&mut value, rng.per_mille());
            self.push(IdentifierKind::Phone, None, value, false);
        }
    }

    fn emails(&mut self, rng: &mut Rng, first: Name, last: Name, business: Option<Name>) {
        if !rng.chance(EMAIL_PER_MILLE) {
            return;
        }
        let count = if rng.chance(SECOND_EMAIL) { 2 } else { 1 };
        for n in 0..count {
            if rng.chance(EMAIL_INVALID) {
                let value = junk_email(rng, first.1, last.1);
                self.push(IdentifierKind::Email, Some("home"), value, true);
                continue;
            }
            let mut s = String::with_capacity(40);
            let label = if let Some(kind) = business {
                business_address(rng, &mut s, kind, last);
                Some("work")
            } else if n == 1 && rng.chance(600) {
                work_address(rng, &mut s, first.1, last.1);
                Some("work")
            } else {
                personal_address(rng, &mut s, self.home, first, last);
                rng.pick(&[Some("home"), Some("home"), Some("other"), None])
            };
            vary_case(rng, &mut s);
            self.push(IdentifierKind::Email, label, s, false);
        }
    }

    fn handle(&mut self, rng: &mut Rng) {
        let (first, last) = (self.first, self.last);
        let service = rng.weighted(HANDLE_SERVICES);
        let mut s = String::with_capacity(32);
        let junk = rng.chance(HANDLE_INVALID);
        if junk {
            match rng.below(4) {
                0 => {
                    push_ascii_lower(&mut s, first);
                    s.push(' ');
                    push_ascii_lower(&mut s, last);
                }
                1 => {
                    s.push_str("live:");
                    push_ascii_lower(&mut s, first);
                    s.push('.');
                    push_ascii_lower(&mut s, last);
                }
                2 => {
                    push_ascii_lower(&mut s, first);
                    s.push_str(" 🙂");
                }
                _ => s.push_str("---"),
            }
        } else {
            match service {
                "telegram" => {
                    s.push('@');
                    push_ascii_lower(&mut s, first);
                    s.push('_');
                    push_ascii_lower(&mut s, last);
                }
                "xmpp" => {
                    push_ascii_lower(&mut s, first);
                    s.push('.');
                    push_ascii_lower(&mut s, last);
                    s.push('@');
                    s.push_str(rng.pick(&["jabber.de", "conversations.im", "xmpp.jp"]));
                }
                "threema" => {
                    for _ in 0..8 {
                        s.push(char::from(rng.pick(b"ABCDEFGHJKMNPQRSTUVWXYZ0123456789")));
                    }
                }
                "signal" => {
                    push_ascii_lower(&mut s, first);
                    s.push('.');
                    push_padded(&mut s, rng.below(100), 2);
                }
                _ => {
                    push_ascii_lower(&mut s, first);
                    s.push(rng.pick(&['.', '_', '.']));
                    push_ascii_lower(&mut s, last);
                }
            }
            if rng.chance(400) {
                push_u64(&mut s, 1 + rng.below(99));
            }
        }
        self.push(IdentifierKind::Handle, Some(service), s, junk);
    }

    fn account(&mut self, rng: &mut Rng) {
        if rng.chance(ACCOUNT_INVALID) {
            let mut s = String::with_capacity(32);
            match rng.below(3) {
                0 => s.push_str("gogle:"),
                1 => s.push_str("google "),
                _ => s.push_str("myspace:"),
            }
            push_digits(rng, &mut s, 21);
            self.push(IdentifierKind::Account, None, s, true);
            return;
        }
        let provider = rng.weighted(ACCOUNT_PROVIDERS);
        let mut subject = String::with_capacity(48);
        match provider {
            "google" => {
                subject.push('1');
                push_digits(rng, &mut subject, 20);
            }
            "facebook" => {
                subject.push_str("1000");
                push_digits(rng, &mut subject, 11);
            }
            "github" => push_u64(&mut subject, 100_000 + rng.below(150_000_000)),
            "apple" => {
                subject.push_str("000");
                push_digits(rng, &mut subject, 3);
                subject.push('.');
                for _ in 0..32 {
                    subject.push(char::from(rng.pick(b"0123456789abcdef")));
                }
                subject.push('.');
                push_digits(rng, &mut subject, 4);
            }
            "microsoft" => {
                subject.push_str("AAAAAAAAAAAAAAAAAAAAA");
                for _ in 0..22 {
                    subject.push(char::from(rng.pick(BASE64URL)));
                }
            }
            _ => push_u64(&mut subject, 100_000_000 + rng.below(7_000_000_000)),
        }
        self.contact.push_account(&LinkedAccount {
            provider: provider.to_owned(),
            subject,
        });
    }
}

/// Source ids like Android's `_ID`: increasing with the index, with gaps.
fn source_id(seed: u64, i: usize) -> String {
    let mut s = String::with_capacity(8);
    push_u64(
        &mut s,
        1 + 2 * i as u64 + (mix(seed ^ mix(i as u64 ^ STREAM_ID)) & 1),
    );
    s
}

/// The family pair contact `i` belongs to (the smaller index of the pair), if its pair shares a
/// landline.
fn family_pair(seed: u64, i: usize) -> Option<usize> {
    let pair = i.min(i ^ FAMILY_XOR);
    Rng::new(seed, pair, STREAM_FAMILY ^ 1)
        .chance(FAMILY_PER_MILLE)
        .then_some(pair)
}

/// The number-space key of contact `i`'s phone in `slot` (0..=2; 3 is kept for family lines and
/// edits).
fn key(i: usize, slot: usize) -> u64 {
    (i as u64) * 4 + slot as u64
}

/// A display name and, for a business, its kind.
fn display_name(
    rng: &mut Rng,
    culture: &Country,
    first: Name,
    last: Name,
) -> (String, Option<Name>) {
    let mut s = String::with_capacity(first.0.len() + last.0.len() + 16);
    let draw = rng.per_mille();
    let german = culture.iso == "DE";
    let mut business = None;
    if draw < 790 || (!german && draw < 900) {
        s.push_str(first.0);
        s.push(' ');
        s.push_str(last.0);
    } else if draw < 850 {
        s.push_str(first.0);
    } else if draw < 870 {
        s.push_str(last.0);
        s.push_str(", ");
        s.push_str(first.0);
    } else if draw < 900 {
        s.push_str("Dr. ");
        s.push_str(first.0);
        s.push(' ');
        s.push_str(last.0);
    } else if draw < 940 {
        s.push_str(first.0);
        s.push(' ');
        s.push_str(last.0);
        s.push_str(rng.pick(&[
            " (Arbeit)",
            " (Büro)",
            " (Kita)",
            " (Verein)",
            " Nachbarin",
            " Handwerker",
        ]));
    } else if draw < 975 {
        let kind = split_name(rng.pick(BUSINESSES));
        s.push_str(kind.0);
        s.push(' ');
        s.push_str(last.0);
        business = Some(kind);
    } else {
        let family = rng.pick(FAMILY);
        s.push_str(family);
        if family.ends_with(' ') {
            s.push_str(first.0);
        }
    }
    (s, business)
}

/// `display|ascii` (or just `ascii-display`) as a pair.
type Name = (&'static str, &'static str);

fn split_name(entry: &'static str) -> Name {
    match entry.bytes().position(|b| b == b'|') {
        Some(k) => (&entry[..k], &entry[k + 1..]),
        None => (entry, entry),
    }
}

fn personal_address(rng: &mut Rng, s: &mut String, home: &Country, first: Name, last: Name) {
    let (f, l) = (first.1, last.1);
    let draw = rng.per_mille();
    if draw < 20 && home.iso == "DE" && !last.0.contains(' ') {
        // A family's own (possibly internationalised) domain: `anna@müller.de`.
        push_ascii_lower(s, f);
        s.push('@');
        s.push_str(&last.0.to_lowercase());
        s.push_str(".de");
        return;
    }
    let domain = if rng.per_mille() < home.local_domains_per_mille {
        rng.pick(home.domains)
    } else {
        rng.weighted(PERSONAL_DOMAINS)
    };
    let mut digits = false;
    if draw < 30 && !first.0.is_ascii() {
        // A non-ASCII local part, as some providers allow.
        s.push_str(&first.0.to_lowercase());
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 300 {
        push_ascii_lower(s, f);
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 390 {
        push_ascii_lower(s, f);
        push_ascii_lower(s, l);
    } else if draw < 470 {
        push_ascii_lower(s, &f[..1]);
        s.push('.');
        push_ascii_lower(s, l);
    } else if draw < 520 {
        push_ascii_lower(s, f);
        s.push('_');
        push_ascii_lower(s, l);
    } else if draw < 690 {
        push_ascii_lower(s, f);
        s.push('.');
        push_ascii_lower(s, l);
        digits = true;
    } else if draw < 770 {
        push_ascii_lower(s, f);
        push_ascii_lower(s, &l[..1]);
        push_u64(s, 1955 + rng.below(55));
    } else if draw < 830 {
        push_ascii_lower(s, l);
        s.push('.');
        push_ascii_lower(s, f);
    } else if draw < 880 {
        push_ascii_lower(s, l);
        digits = true;
    } else if draw < 930 {
        push_ascii_lower(s, &f[..1]);
        push_ascii_lower(s, l);
    } else {
        push_ascii_lower(s, f);
        digits = true;
    }
    // Providers hand out an address once: common names get numbers.
    if digits || rng.chance(600) {
        if rng.chance(500) {
            push_u64(s, 1 + rng.below(99));
        } else {
            push_u64(s, 100 + rng.below(9_900));
        }
    }
    s.push('@');
    s.push_str(domain);
}

fn work_address(rng: &mut Rng, s: &mut String, first: &str, last: &str) {
    let draw = rng.per_mille();
    if draw < 700 {
        push_ascii_lower(s, first);
        s.push('.');
        push_ascii_lower(s, last);
    } else if draw < 950 {
        push_ascii_lower(s, &first[..1]);
        s.push('.');
        push_ascii_lower(s, last);
    } else {
        push_ascii_lower(s, last);
    }
    s.push('@');
    s.push_str(rng.weighted(WORK_DOMAINS));
}

fn business_address(rng: &mut Rng, s: &mut String, kind: Name, last: Name) {
    s.push_str(rng.pick(&["info", "info", "kontakt", "termine", "post"]));
    s.push('@');
    s.push_str(kind.1);
    s.push('-');
    if last.0.is_ascii() || rng.chance(500) {
        push_ascii_lower(s, last.1);
    } else {
        // `bäckerei-müller.de`: an internationalised domain.
        s.push_str(&last.0.to_lowercase());
    }
    if rng.chance(600) {
        s.push('-');
        s.push_str(rng.pick(TOWNS));
    }
    s.push_str(".de");
}

/// Address books keep e-mail addresses as typed: some capitalised, a few shouted.
fn vary_case(rng: &mut Rng, s: &mut String) {
    let draw = rng.per_mille();
    if draw < 120 {
        // `Anna.Mueller@gmx.de` (ASCII local parts only).
        let at = s.rfind('@').unwrap_or(s.len());
        if s[..at].is_ascii() {
            let mut up = true;
            for k in 0..at {
                let b = s.as_bytes()[k];
                if up {
                    s[k..=k].make_ascii_uppercase();
                }
                up = b == b'.' || b == b'_';
            }
        }
    } else if draw < 150 {
        s.make_ascii_uppercase();
    } else if draw < 180 {
        // `anna@GMX.de`
        if let Some(at) = s.rfind('@') {
            let dot = s.rfind('.').unwrap_or(s.len()).max(at);
            s[at..dot].make_ascii_uppercase();
        }
    }
}

fn junk_phone(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(20);
    match rng.below(10) {
        // A digit missing: `0151 2345678`, `0170 123456` (016x and 017x numbers have 7 or 8
        // digits after the prefix, 015x numbers 8).
        0 | 1 => {
            let range = rng.pick_ref(DE.mobile);
            s.push('0');
            s.push_str(range.prefix);
            s.push(' ');
            push_digits(
                rng,
                &mut s,
                if range.prefix.starts_with("15") { 7 } else { 6 },
            );
        }
        // Cut short: `0151 234`.
        2 => {
            s.push('0');
            s.push_str(rng.pick_ref(DE.mobile).prefix);
            s.push(' ');
            push_digits(rng, &mut s, 3);
        }
        // Too long: two numbers run together.
        3 => {
            s.push_str("+49 ");
            s.push_str(rng.pick_ref(DE.mobile).prefix);
            s.push(' ');
            push_digits(rng, &mut s, 14);
        }
        4 => s.push_str(rng.pick(&["112", "110", "0800", "123", "1234", "12345", "0000"])),
        5 | 6 => s.push_str(rng.pick(&[
            "n/a",
            "unbekannt",
            "-",
            "?",
            "keine",
            "neu",
            "Büro",
            "siehe Notiz",
            "xxx",
            "0",
        ])),
        // An unassigned country code.
        7 => {
            s.push_str("+999 ");
            push_digits(rng, &mut s, 8);
        }
        // A local number without its area code.
        8 => push_digits(rng, &mut s, 3),
        _ => {
            s.push_str("0049 ");
            push_digits(rng, &mut s, 3);
        }
    }
    s
}

fn junk_email(rng: &mut Rng, first: &str, last: &str) -> String {
    let mut s = String::with_capacity(40);
    push_ascii_lower(&mut s, first);
    let domain = rng.weighted(PERSONAL_DOMAINS);
    match rng.below(8) {
        0 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push_str("(at)");
            s.push_str(domain);
        }
        1 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('.');
            s.push_str(domain);
        }
        2 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain.split('.').next().unwrap_or(domain));
        }
        3 => {
            s.push(' ');
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain);
        }
        4 => {
            s.push('.');
            push_ascii_lower(&mut s, last);
            s.push('@');
        }
        5 => {
            s.push_str("..");
            push_ascii_lower(&mut s, last);
            s.push('@');
            s.push_str(domain);
        }
        6 => {
            s.push('@');
            s.push_str(&domain.replace('.', ","));
        }
        _ => {
            s.push('@');
            s.push_str(domain);
            s.push('@');
            s.push_str(domain);
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Phone numbers.

/// A range of valid numbers: a fixed national prefix and `free` more digits, the first of them
/// in `first`. `groups` splits the national number for display (`0` = the prefix).
#[derive(Debug)]
struct Range {
    prefix: &'static str,
    free: u32,
    first: (u64, u64),
    groups: &'static [usize],
}

/// A mobile range: any digits after the prefix.
const fn m(prefix: &'static str, free: u32, groups: &'static [usize]) -> Range {
    Range {
        prefix,
        free,
        first: (0, 9),
        groups,
    }
}

/// A fixed-line range: subscriber numbers start with 2 to 9.
const fn f(prefix: &'static str, free: u32, groups: &'static [usize]) -> Range {
    Range {
        prefix,
        free,
        first: (2, 9),
        groups,
    }
}

/// A range whose first free digit is in `lo..=hi`.
const fn r(prefix: &'static str, free: u32, lo: u64, hi: u64, groups: &'static [usize]) -> Range {
    Range {
        prefix,
        free,
        first: (lo, hi),
        groups,
    }
}

/// A number in a range.
#[derive(Clone, Copy)]
struct Number {
    country: &'static Country,
    range: &'static Range,
    mobile: bool,
    nsn: [u8; 16],
    len: usize,
}

impl Number {
    /// The number with `key` in `range`: a bijection of the key (per seed and range), so that
    /// different keys give different numbers (for keys below the range's size).
    fn new(
        seed: u64,
        country: &'static Country,
        range: &'static Range,
        mobile: bool,
        key: u64,
    ) -> Number {
        const PRIME: u64 = 2_147_483_647; // above every range size
        let rest = POW10[range.free as usize - 1];
        let (lo, hi) = range.first;
        let size = (hi + 1 - lo) * rest;
        let salt = mix(seed
            ^ STREAM_NUMBER
            ^ (country.id << 56)
            ^ (u64::from(mobile) << 48)
            ^ range.prefix.bytes().fold(0, |h, b| (h << 8) | u64::from(b)));
        // `k ↦ (k·PRIME + salt) mod size` is a bijection of `0..size` (PRIME is coprime to every
        // size); sizes are below 2^30, so nothing overflows for keys below 2^30.
        let v = key.wrapping_mul(PRIME).wrapping_add(salt >> 2) % size;
        let mut nsn = [0u8; 16];
        let p = range.prefix.len();
        nsn[..p].copy_from_slice(range.prefix.as_bytes());
        let mut tail = lo * rest + v;
        let len = p + range.free as usize;
        for d in nsn[p..len].iter_mut().rev() {
            #[allow(clippy::cast_possible_truncation, reason = "a digit")]
            let digit = (tail % 10) as u8;
            *d = b'0' + digit;
            tail /= 10;
        }
        Number {
            country,
            range,
            mobile,
            nsn,
            len,
        }
    }

    fn digits(&self) -> &str {
        std::str::from_utf8(&self.nsn[..self.len]).unwrap_or("")
    }

    /// The number as people write it; `choice` (0..1000) picks the format.
    fn write(&self, s: &mut String, choice: usize) {
        let c = self.country;
        let digits = self.digits();
        let p = self.range.prefix.len();
        if c.iso == "DE" {
            // German numbers as Germans store them: mostly national, with `0`.
            let formats: &[(usize, &str, &str)] = if self.mobile {
                &[
                    (330, "0", " "),
                    (470, "0", ""),
                    (540, "0", "/"),
                    (580, "0", "-"),
                    (610, "(0", ") "),
                    (770, "+49 ", " "),
                    (890, "+49", ""),
                    (930, "0049 ", " "),
                    (970, "+49 (0)", " "),
                    (1000, "+49-", "-"),
                ]
            } else {
                &[
                    (250, "(0", ") "),
                    (500, "0", " "),
                    (600, "0", "/"),
                    (650, "0", "-"),
                    (700, "0", ""),
                    (850, "+49 ", " "),
                    (920, "+49", ""),
                    (960, "+49 (0)", " "),
                    (1000, "0049 ", " "),
                ]
            };
            let (_, lead, sep) = formats
                .iter()
                .find(|(t, ..)| choice < *t)
                .copied()
                .unwrap_or(formats[0]);
            s.push_str(lead);
            s.push_str(&digits[..p]);
            s.push_str(sep);
            s.push_str(&digits[p..]);
            return;
        }
        if c.iso == "US" {
            let (area, exchange, line) = (&digits[..3], &digits[3..6], &digits[6..]);
            let (lead, open, close, sep) = match choice {
                0..350 => ("+1 ", "(", ") ", "-"),
                350..600 => ("+1 ", "", "-", "-"),
                600..750 => ("+1 ", "", " ", " "),
                750..900 => ("+1", "", "", ""),
                900..950 => ("001 ", "", " ", " "),
                _ => ("+1.", "", ".", "."),
            };
            for part in [lead, open, area, close, exchange, sep, line] {
                s.push_str(part);
            }
            return;
        }
        // Foreign numbers, international: `+44 7723 456789`, `0044...`, `+33 (0)6 12 34 56 78`.
        let (lead, after_cc, sep) = match choice {
            450..650 => ("+", "", None),
            650..780 => ("00", " ", Some(" ")),
            780..840 => ("+", "-", Some("-")),
            840..920 if c.trunk_zero => ("+", " (0)", Some(" ")),
            0..450 | 840..920 => ("+", " ", Some(" ")),
            920..960 => ("00", "", None),
            _ => ("+", " ", Some(".")),
        };
        s.push_str(lead);
        s.push_str(c.cc);
        s.push_str(after_cc);
        match sep {
            Some(sep) => push_grouped(s, digits, self.range.groups, p, sep),
            None => s.push_str(digits),
        }
    }
}

const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

fn push_grouped(s: &mut String, digits: &str, groups: &[usize], prefix: usize, sep: &str) {
    let mut pos = 0;
    for &g in groups {
        let g = if g == 0 { prefix } else { g };
        if pos + g >= digits.len() {
            break;
        }
        s.push_str(&digits[pos..pos + g]);
        s.push_str(sep);
        pos += g;
    }
    s.push_str(&digits[pos..]);
}

// ---------------------------------------------------------------------------------------------
// Regions.

#[derive(Debug)]
struct Country {
    id: u64,
    iso: &'static str,
    cc: &'static str,
    /// Whether numbers are written `+CC (0)...` there.
    trunk_zero: bool,
    /// Per mille of contacts from here.
    weight: usize,
    mobile: &'static [Range],
    fixed: &'static [Range],
    names: &'static Names,
    /// Local mail providers, and how often people from here use them rather than the big ones.
    domains: &'static [&'static str],
    local_domains_per_mille: usize,
}

#[derive(Debug)]
struct Names {
    first: &'static [&'static str],
    last: &'static [&'static str],
}

const P: &[usize] = &[0];
const P3: &[usize] = &[0, 3];
const G232: &[usize] = &[2, 3, 2];
const G1222: &[usize] = &[1, 2, 2, 2];
const G24: &[usize] = &[2, 4];
const G33: &[usize] = &[3, 3];
const G332: &[usize] = &[3, 3, 2];
const G23: &[usize] = &[2, 3];
const G25: &[usize] = &[2, 5];
const G5: &[usize] = &[5];
const G4: &[usize] = &[4];
const G34: &[usize] = &[3, 4];

#[rustfmt::skip]
static DE: Country = Country {
    id: 0,
    iso: "DE",
    cc: "49",
    trunk_zero: true,
    weight: 700,
    mobile: &[
        m("151", 8, P), m("152", 8, P), m("157", 8, P), m("159", 8, P), m("160", 7, P),
        m("162", 7, P), m("163", 7, P), m("170", 7, P), m("171", 7, P), m("172", 7, P),
        m("173", 7, P), m("174", 7, P), m("175", 7, P), m("176", 8, P), m("177", 8, P),
        m("178", 8, P), m("179", 7, P),
    ],
    fixed: &[
        f("30", 8, P), f("40", 8, P), f("89", 8, P), f("69", 8, P), f("221", 7, P), f("211", 7, P),
        f("711", 7, P), f("341", 7, P), f("351", 7, P), f("511", 7, P), f("911", 7, P),
        f("421", 7, P), f("231", 7, P), f("201", 7, P), f("228", 6, P), f("6221", 6, P),
        f("761", 6, P),
    ],
    names: &GERMAN,
    domains: &[
        "gmx.de", "gmx.de", "web.de", "web.de", "t-online.de", "gmx.net", "yahoo.de", "hotmail.de",
        "outlook.de", "googlemail.com", "freenet.de", "posteo.de", "mailbox.org", "arcor.de",
    ],
    local_domains_per_mille: 550,
};

#[rustfmt::skip]
static COUNTRIES: &[&Country] = &[
    &DE,
    &Country {
        id: 1,
        iso: "AT",
        cc: "43",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("650", 7, P), m("660", 7, P), m("664", 7, P), m("676", 7, P), m("680", 7, P),
            m("699", 8, P),
        ],
        fixed: &[f("1", 7, P), f("316", 6, P), f("662", 6, P), f("512", 6, P)],
        names: &GERMAN,
        domains: &["gmx.at", "aon.at", "chello.at", "a1.net"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 2,
        iso: "CH",
        cc: "41",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("76", 7, G232), m("77", 7, G232), m("78", 7, G232), m("79", 7, G232),
        ],
        fixed: &[
            f("44", 7, G232), f("31", 7, G232), f("22", 7, G232), f("61", 7, G232),
        ],
        names: &GERMAN,
        domains: &["bluewin.ch", "gmx.ch", "sunrise.ch", "hispeed.ch"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 3,
        iso: "GB",
        cc: "44",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("7400", 6, G4), m("7412", 6, G4), m("7711", 6, G4), m("7723", 6, G4),
            m("7735", 6, G4), m("7796", 6, G4), m("7852", 6, G4), m("7903", 6, G4),
            m("7949", 6, G4), m("7984", 6, G4),
        ],
        fixed: &[
            f("207", 7, G24), f("208", 7, G24), f("161", 7, P3), r("121", 7, 2, 7, P3),
        ],
        names: &ENGLISH,
        domains: &[
            "btinternet.com", "yahoo.co.uk", "sky.com", "virginmedia.com",
        ],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 4,
        iso: "FR",
        cc: "33",
        trunk_zero: true,
        weight: 20,
        mobile: &[
            m("61", 7, G1222), m("62", 7, G1222), m("64", 7, G1222), m("65", 7, G1222),
            m("66", 7, G1222), m("67", 7, G1222), m("68", 7, G1222), m("75", 7, G1222),
            m("76", 7, G1222), m("77", 7, G1222), m("78", 7, G1222),
        ],
        fixed: &[
            f("14", 7, G1222), f("153", 6, G1222), f("491", 6, G1222), f("478", 6, G1222),
        ],
        names: &FRENCH,
        domains: &[
            "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr",
        ],
        local_domains_per_mille: 450,
    },
    &Country {
        id: 5,
        iso: "NL",
        cc: "31",
        trunk_zero: true,
        weight: 20,
        mobile: &[
            m("61", 7, &[1]), m("62", 7, &[1]), m("63", 7, &[1]), m("64", 7, &[1]),
            m("65", 7, &[1]),
        ],
        fixed: &[f("20", 7, G23), f("10", 7, G23), f("30", 7, G23)],
        names: &DUTCH,
        domains: &["ziggo.nl", "kpnmail.nl", "planet.nl", "home.nl"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 6,
        iso: "IT",
        cc: "39",
        trunk_zero: false,
        weight: 25,
        mobile: &[
            m("320", 7, G33), m("328", 7, G33), m("333", 7, G33), m("338", 7, G33),
            m("340", 7, G33), m("347", 7, G33), m("348", 7, G33), m("349", 7, G33),
            m("366", 7, G33), m("380", 7, G33), m("389", 7, G33), m("392", 7, G33),
        ],
        fixed: &[f("06", 8, G24), f("02", 8, G24), f("011", 7, G34)],
        names: &ITALIAN,
        domains: &["libero.it", "alice.it", "tiscali.it", "virgilio.it"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 7,
        iso: "ES",
        cc: "34",
        trunk_zero: false,
        weight: 20,
        mobile: &[
            m("61", 7, G33), m("62", 7, G33), m("63", 7, G33), m("64", 7, G33), m("65", 7, G33),
            m("66", 7, G33), m("67", 7, G33), m("68", 7, G33), m("69", 7, G33),
        ],
        fixed: &[f("91", 7, G232), f("93", 7, G232), f("96", 7, G232)],
        names: &SPANISH,
        domains: &["telefonica.net", "yahoo.es", "hotmail.es"],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 8,
        iso: "PL",
        cc: "48",
        trunk_zero: false,
        weight: 30,
        mobile: &[
            m("50", 7, G33), m("51", 7, G33), m("53", 7, G33), m("57", 7, G33), m("60", 7, G33),
            m("66", 7, G33), m("69", 7, G33), m("72", 7, G33), m("73", 7, G33), m("78", 7, G33),
            m("79", 7, G33), m("88", 7, G33),
        ],
        fixed: &[f("22", 7, G232), f("12", 7, G232)],
        names: &POLISH,
        domains: &["wp.pl", "onet.pl", "o2.pl", "interia.pl"],
        local_domains_per_mille: 500,
    },
    &Country {
        id: 9,
        iso: "TR",
        cc: "90",
        trunk_zero: false,
        weight: 35,
        mobile: &[
            m("505", 7, G332), m("532", 7, G332), m("533", 7, G332), m("535", 7, G332),
            m("536", 7, G332), m("542", 7, G332), m("543", 7, G332), m("544", 7, G332),
            m("552", 7, G332), m("555", 7, G332),
        ],
        fixed: &[f("212", 7, G332), f("216", 7, G332), f("312", 7, G332)],
        names: &TURKISH,
        domains: &["hotmail.com", "yandex.com.tr", "mynet.com"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 10,
        iso: "US",
        cc: "1",
        trunk_zero: false,
        weight: 25,
        mobile: &[
            f("415", 7, G33), f("212", 7, G33), f("646", 7, G33), f("310", 7, G33),
            f("617", 7, G33), f("312", 7, G33), f("206", 7, G33), f("512", 7, G33),
            f("305", 7, G33), f("702", 7, G33), f("404", 7, G33),
        ],
        fixed: &[],
        names: &ENGLISH,
        domains: &["comcast.net", "aol.com", "att.net", "verizon.net"],
        local_domains_per_mille: 250,
    },
    &Country {
        id: 11,
        iso: "IN",
        cc: "91",
        trunk_zero: false,
        weight: 10,
        mobile: &[
            m("98", 8, G5), m("99", 8, G5), m("97", 8, G5), m("94", 8, G5), m("93", 8, G5),
            m("90", 8, G5), m("70", 8, G5), m("80", 8, G5), m("81", 8, G5), m("88", 8, G5),
        ],
        fixed: &[r("11", 8, 2, 7, G24), r("22", 8, 2, 7, G24)],
        names: &INDIAN,
        domains: &["rediffmail.com", "yahoo.co.in"],
        local_domains_per_mille: 200,
    },
    &Country {
        id: 12,
        iso: "BR",
        cc: "55",
        trunk_zero: false,
        weight: 10,
        mobile: &[
            m("119", 8, G25), m("219", 8, G25), m("319", 8, G25), m("419", 8, G25),
            m("519", 8, G25), m("619", 8, G25),
        ],
        fixed: &[r("11", 8, 2, 5, G24), r("21", 8, 2, 5, G24)],
        names: &PORTUGUESE,
        domains: &["uol.com.br", "bol.com.br", "terra.com.br"],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 13,
        iso: "PT",
        cc: "351",
        trunk_zero: false,
        weight: 8,
        mobile: &[
            m("91", 7, G23), m("92", 7, G23), m("93", 7, G23), m("96", 7, G23),
        ],
        fixed: &[f("21", 7, G23), f("22", 7, G23)],
        names: &PORTUGUESE,
        domains: &["sapo.pt", "netcabo.pt"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 14,
        iso: "RU",
        cc: "7",
        trunk_zero: false,
        weight: 7,
        mobile: &[
            m("903", 7, G332), m("905", 7, G332), m("915", 7, G332), m("916", 7, G332),
            m("926", 7, G332), m("977", 7, G332), m("985", 7, G332),
        ],
        fixed: &[f("495", 7, G332), f("812", 7, G332)],
        names: &RUSSIAN,
        domains: &["yandex.ru", "mail.ru", "rambler.ru"],
        local_domains_per_mille: 600,
    },
];

const MOBILE_LABELS: &[(Option<&str>, usize)] = &[
    (Some("mobile"), 850),
    (None, 50),
    (Some("other"), 40),
    (Some("work"), 30),
    (Some("Handy privat"), 30),
];
const FIXED_LABELS: &[(Option<&str>, usize)] = &[
    (Some("home"), 580),
    (Some("work"), 330),
    (Some("main"), 40),
    (Some("Büro"), 30),
    (None, 20),
];

/// The big providers, by rough popularity.
const PERSONAL_DOMAINS: &[(&str, usize)] = &[
    ("gmail.com", 400),
    ("outlook.com", 90),
    ("hotmail.com", 90),
    ("yahoo.com", 80),
    ("icloud.com", 120),
    ("me.com", 20),
    ("gmx.de", 100),
    ("web.de", 80),
    ("aol.com", 20),
];

/// Employers: some large, some small with internationalised domains.
const WORK_DOMAINS: &[(&str, usize)] = &[
    ("siemens.com", 60),
    ("bosch.com", 50),
    ("sap.com", 40),
    ("telekom.de", 40),
    ("deutschebahn.com", 40),
    ("allianz.de", 30),
    ("uni-hamburg.de", 30),
    ("tum.de", 30),
    ("charite.de", 20),
    ("stadt-koeln.de", 20),
    ("example-consulting.com", 30),
    ("müller-bau.de", 25),
    ("bäckerei-schäfer.de", 15),
    ("zahnärzte-köln.de", 15),
    ("autohaus-böhm.de", 15),
    ("gärtnerei-grün.de", 10),
    ("straßenbau-nord.de", 10),
];

const HANDLE_SERVICES: &[(&str, usize)] = &[
    ("telegram", 350),
    ("skype", 250),
    ("xmpp", 120),
    ("threema", 100),
    ("instagram", 100),
    ("signal", 80),
];

const ACCOUNT_PROVIDERS: &[(&str, usize)] = &[
    ("google", 450),
    ("facebook", 200),
    ("github", 100),
    ("apple", 100),
    ("microsoft", 100),
    ("telegram", 50),
];

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[rustfmt::skip]
const BUSINESSES: &[&str] = &[
    "Bäckerei|baeckerei", "Praxis Dr.|praxis", "Autohaus|autohaus", "Kanzlei|kanzlei",
    "Friseur|friseur", "Physiotherapie|physio", "Fahrschule|fahrschule", "Blumen|blumen",
    "Malerbetrieb|maler", "Elektro|elektro",
];

#[rustfmt::skip]
const TOWNS: &[&str] = &[
    "berlin", "hamburg", "muenchen", "koeln", "frankfurt", "stuttgart", "duesseldorf", "leipzig",
    "dresden", "hannover", "nuernberg", "bremen", "essen", "bonn", "freiburg", "heidelberg",
    "potsdam", "kiel", "luebeck", "rostock", "mainz", "kassel",
];

#[rustfmt::skip]
const FAMILY: &[&str] = &[
    "Mama", "Papa", "Oma", "Opa", "Schatz", "Tante ", "Onkel ", "Cousine ", "Mutti",
];

#[rustfmt::skip]
static GERMAN: Names = Names {
    first: &[
        "Anna", "Maria", "Laura", "Julia", "Lena", "Sarah", "Lisa", "Katharina", "Sophie",
        "Hannah", "Lea", "Johanna", "Sabine", "Petra", "Monika", "Ursula", "Claudia", "Susanne",
        "Andrea", "Stefanie", "Nicole", "Heike", "Birgit", "Kerstin", "Anja", "Jana", "Franziska",
        "Charlotte", "Emma", "Mia", "Käthe|kaethe", "Jürgen|juergen", "Jörg|joerg", "Björn|bjoern",
        "Günter|guenter", "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus",
        "Martin", "Frank", "Tobias", "Daniel", "Alexander", "Jan", "Lukas", "Leon", "Felix",
        "Jonas", "Maximilian", "Paul", "Niklas", "Sebastian", "Matthias", "Uwe", "Klaus",
        "Wolfgang", "Helmut", "Dieter", "Karl", "Ben", "Finn", "Elias", "Noah",
    ],
    last: &[
        "Müller|mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer|schaefer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
        "Schröder|schroeder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger|krueger",
        "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
        "Lehmann", "Schmid", "Schulze", "Maier", "Köhler|koehler", "Herrmann", "König|koenig",
        "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz",
        "Möller|moeller", "Weiß|weiss", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller",
        "Günther|guenther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
        "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm|boehm", "Winter", "Kraus",
        "Martin", "Schumacher", "Krämer|kraemer", "Vogt", "Stein", "Jäger|jaeger", "Otto",
        "Sommer", "Groß|gross", "Seidel", "Heinrich", "Brandt", "Haas",
    ],
};

#[rustfmt::skip]
static ENGLISH: Names = Names {
    first: &[
        "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
        "Charles", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
        "Jessica", "Sarah", "Karen", "Emily", "Olivia", "Oliver", "Harry", "George", "Jack",
        "Amelia", "Isla", "Chloe", "Sophie",
    ],
    last: &[
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
        "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Walker",
        "Robinson", "Wright", "Evans", "Roberts", "Green", "Hall", "Wood", "Clarke",
        "O'Brien|obrien",
    ],
};

#[rustfmt::skip]
static FRENCH: Names = Names {
    first: &[
        "Camille", "Léa|lea", "Manon", "Chloé|chloe", "Inès|ines", "Emma", "Louise", "Jade",
        "Hugo", "Lucas", "Louis", "Gabriel", "Arthur", "Jules", "Théo|theo", "Nicolas", "Julien",
        "Pierre", "Antoine", "François|francois", "Élodie|elodie",
    ],
    last: &[
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre|lefevre", "Michel", "Garcia", "David", "Bertrand",
        "Roux", "Vincent", "Fournier", "Girard", "Bonnet", "Lambert", "Fontaine", "Rousseau",
    ],
};

#[rustfmt::skip]
static DUTCH: Names = Names {
    first: &[
        "Daan", "Sem", "Lucas", "Levi", "Finn", "Bram", "Jesse", "Sanne", "Lotte", "Femke",
        "Anouk", "Fleur", "Eva", "Sophie", "Thijs", "Ruben", "Maarten", "Joost", "Pieter",
        "Willem",
    ],
    last: &[
        "de Jong|dejong", "Jansen", "de Vries|devries", "van den Berg|vandenberg",
        "van Dijk|vandijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "de Boer|deboer",
        "Mulder", "de Groot|degroot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen|vanleeuwen",
        "Dekker", "Brouwer",
    ],
};

#[rustfmt::skip]
static ITALIAN: Names = Names {
    first: &[
        "Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Marco", "Alessandro",
        "Andrea", "Matteo", "Lorenzo", "Giulia", "Francesca", "Chiara", "Sara", "Martina",
        "Federica", "Valentina", "Alessia", "Elena", "Niccolò|niccolo",
    ],
    last: &[
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
        "Greco", "Bruno", "Gallo", "Conti", "De Luca|deluca", "Mancini", "Costa", "Giordano",
        "Rizzo", "Lombardi", "Moretti",
    ],
};

#[rustfmt::skip]
static SPANISH: Names = Names {
    first: &[
        "María|maria", "José|jose", "Antonio", "Manuel", "Francisco", "David", "Juan", "Javier",
        "Carmen", "Ana", "Isabel", "Laura", "Lucía|lucia", "Sofía|sofia", "Pablo", "Alejandro",
        "Sergio", "Marta", "Elena", "Raúl|raul",
    ],
    last: &[
        "García|garcia", "Rodríguez|rodriguez", "González|gonzalez", "Fernández|fernandez",
        "López|lopez", "Martínez|martinez", "Sánchez|sanchez", "Pérez|perez", "Gómez|gomez",
        "Martín|martin", "Jiménez|jimenez", "Ruiz", "Hernández|hernandez", "Díaz|diaz", "Moreno",
        "Muñoz|munoz", "Álvarez|alvarez", "Romero", "Alonso", "Gutiérrez|gutierrez",
    ],
};

#[rustfmt::skip]
static POLISH: Names = Names {
    first: &[
        "Anna", "Katarzyna", "Małgorzata|malgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna",
        "Magdalena", "Joanna", "Aleksandra", "Piotr", "Krzysztof", "Andrzej", "Tomasz",
        "Paweł|pawel", "Michał|michal", "Marcin", "Łukasz|lukasz", "Jakub", "Grzegorz",
    ],
    last: &[
        "Nowak", "Kowalski", "Wiśniewski|wisniewski", "Wójcik|wojcik", "Kowalczyk",
        "Kamiński|kaminski", "Lewandowski", "Zieliński|zielinski", "Szymański|szymanski",
        "Woźniak|wozniak", "Dąbrowski|dabrowski", "Kozłowski|kozlowski", "Jankowski", "Mazur",
        "Wojciechowski", "Kwiatkowski", "Krawczyk", "Kaczmarek", "Piotrowski", "Grabowski",
    ],
};

#[rustfmt::skip]
static TURKISH: Names = Names {
    first: &[
        "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin|huseyin", "Hasan", "İbrahim|ibrahim",
        "Murat", "Emre", "Can", "Ayşe|ayse", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Merve",
        "Özlem|ozlem", "Selin", "Deniz",
    ],
    last: &[
        "Yılmaz|yilmaz", "Kaya", "Demir", "Şahin|sahin", "Çelik|celik", "Yıldız|yildiz",
        "Yıldırım|yildirim", "Öztürk|ozturk", "Aydın|aydin", "Özdemir|ozdemir", "Arslan",
        "Doğan|dogan", "Kılıç|kilic", "Aslan", "Çetin|cetin", "Kara", "Koç|koc", "Kurt",
        "Özkan|ozkan", "Şimşek|simsek",
    ],
};

#[rustfmt::skip]
static INDIAN: Names = Names {
    first: &[
        "Aarav", "Vivaan", "Aditya", "Arjun", "Rohan", "Rahul", "Amit", "Priya", "Ananya", "Diya",
        "Kavya", "Neha", "Pooja", "Sneha", "Vikram", "Sanjay", "Deepak", "Anjali", "Ravi",
        "Sunita",
    ],
    last: &[
        "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Reddy", "Iyer", "Nair", "Rao",
        "Mehta", "Shah", "Joshi", "Das", "Chopra", "Malhotra", "Bose", "Pillai", "Agarwal",
        "Banerjee",
    ],
};

#[rustfmt::skip]
static PORTUGUESE: Names = Names {
    first: &[
        "João|joao", "Pedro", "Lucas", "Gabriel", "Rafael", "Miguel", "Tiago", "André|andre",
        "Ana", "Beatriz", "Mariana", "Inês|ines", "Sofia", "Juliana", "Camila", "Larissa",
        "Fernanda", "Luísa|luisa", "Gonçalo|goncalo", "Thiago",
    ],
    last: &[
        "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Ferreira", "Rodrigues",
        "Almeida", "Carvalho", "Gomes", "Martins", "Ribeiro", "Lima", "Araújo|araujo", "Sousa",
        "Fernandes", "Barbosa", "Rocha", "Nunes",
    ],
};

#[rustfmt::skip]
static RUSSIAN: Names = Names {
    first: &[
        "Ольга|olga", "Татьяна|tatiana", "Наталья|natalia", "Елена|elena", "Ирина|irina",
        "Светлана|svetlana", "Анна|anna", "Мария|maria", "Екатерина|ekaterina", "Юлия|yulia",
        "Александр|alexander", "Сергей|sergey", "Дмитрий|dmitry", "Андрей|andrey",
        "Алексей|alexey", "Максим|maxim", "Иван|ivan", "Михаил|mikhail", "Николай|nikolay",
        "Владимир|vladimir",
    ],
    last: &[
        "Иванов|ivanov", "Смирнов|smirnov", "Кузнецов|kuznetsov", "Попов|popov",
        "Васильев|vasiliev", "Петров|petrov", "Соколов|sokolov", "Михайлов|mikhailov",
        "Новиков|novikov", "Фёдоров|fedorov", "Морозов|morozov", "Волков|volkov",
        "Алексеев|alekseev", "Лебедев|lebedev", "Семёнов|semenov", "Егоров|egorov",
        "Павлов|pavlov", "Козлов|kozlov", "Степанов|stepanov", "Николаев|nikolaev",
    ],
};

// ---------------------------------------------------------------------------------------------
// The edit.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Change,
    Remove,
}

/// Which contacts an edit removes and changes: the first `removed` positions of a permutation
/// of the book, `j ↦ (j·step + offset) mod size` with `step ≈ size/φ` coprime to `size` (a
/// Kronecker sequence, so the picks are spread evenly), then the next `changed`.
#[derive(Debug, Clone, Copy)]
struct EditPlan {
    size: usize,
    step: u64,
    step_inv: u64,
    offset: u64,
    removed: usize,
    changed: usize,
}

impl EditPlan {
    fn new(seed: u64, size: usize, changed: usize, removed: usize) -> Self {
        let removed = removed.min(size);
        let changed = changed.min(size - removed);
        let n = size as u64;
        if n == 0 {
            return EditPlan {
                size,
                step: 0,
                step_inv: 0,
                offset: 0,
                removed,
                changed,
            };
        }
        #[allow(clippy::cast_possible_truncation, reason = "n·(1/φ) < n, a u64")]
        let mut step = ((u128::from(n) * 0x9E37_79B9_7F4A_7C15) >> 64) as u64;
        step = step.max(1);
        // Stops at n - 1 at the latest, which is coprime to n.
        while gcd(step, n) != 1 {
            step += 1;
        }
        EditPlan {
            size,
            step,
            step_inv: mod_inverse(step, n),
            offset: mix(seed ^ STREAM_PLAN) % n,
            removed,
            changed,
        }
    }

    /// The index at position `j` of the permutation.
    fn index(&self, j: usize) -> usize {
        to_usize(
            mul_mod(j as u64, self.step, self.size as u64) + self.offset,
            self.size,
        )
    }

    /// The position of index `i` in the permutation.
    fn position(&self, i: usize) -> usize {
        let n = self.size as u64;
        let shifted = (i as u64 + n - self.offset) % n;
        to_usize(mul_mod(shifted, self.step_inv, n), self.size)
    }

    fn fate(&self, i: usize) -> Fate {
        let j = self.position(i);
        if j < self.removed {
            Fate::Remove
        } else if j < self.removed + self.changed {
            Fate::Change
        } else {
            Fate::Keep
        }
    }
}

/// `a·b mod n` for `a, b < n`, in 64 bits when that cannot overflow (books below 2^32).
fn mul_mod(a: u64, b: u64, n: u64) -> u64 {
    if let Some(p) = a.checked_mul(b) {
        p % n
    } else {
        let p = u128::from(a) * u128::from(b) % u128::from(n);
        u64::try_from(p).unwrap_or(0)
    }
}

/// `x mod size` as an index.
fn to_usize(x: u64, size: usize) -> usize {
    usize::try_from(x % size as u64).unwrap_or(0)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `a` modulo `n` (`a` coprime to `n`).
fn mod_inverse(a: u64, n: u64) -> u64 {
    let (mut r0, mut r1) = (i128::from(n), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    let inv = t0.rem_euclid(i128::from(n));
    u64::try_from(inv).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Randomness and text.

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
struct Rng(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream for item `i` of kind `stream` in the book `seed`.
    fn new(seed: u64, i: usize, stream: u64) -> Rng {
        Rng(mix(seed ^ mix((i as u64).wrapping_mul(GAMMA) ^ stream)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (multiply-shift; the bias, below n/2⁶⁴, does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        #[allow(clippy::cast_possible_truncation, reason = "below n, a u64")]
        let v = ((u128::from(self.next()) * u128::from(n)) >> 64) as u64;
        v
    }

    /// Uniform in `0..n`.
    fn index(&mut self, n: usize) -> usize {
        #[allow(clippy::cast_possible_truncation, reason = "below n, a usize")]
        let v = ((u128::from(self.next()) * n as u128) >> 64) as usize;
        v
    }

    /// Uniform in `0..1000`.
    fn per_mille(&mut self) -> usize {
        self.index(1000)
    }

    fn chance(&mut self, per_mille: usize) -> bool {
        self.per_mille() < per_mille
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, usize)]) -> T {
        let total: usize = items.iter().map(|(_, w)| w).sum();
        let mut draw = self.index(total);
        for (item, w) in items {
            if draw < *w {
                return *item;
            }
            draw -= w;
        }
        items[0].0
    }

    fn weighted_country(&mut self, countries: &'static [&'static Country]) -> &'static Country {
        let total: usize = countries.iter().map(|c| c.weight).sum();
        let mut draw = self.index(total);
        for c in countries {
            if draw < c.weight {
                return c;
            }
            draw -= c.weight;
        }
        countries[0]
    }
}

fn push_ascii_lower(s: &mut String, text: &str) {
    let start = s.len();
    s.push_str(text);
    s[start..].make_ascii_lowercase();
}

fn push_u64(s: &mut String, n: u64) {
    use std::fmt::Write as _;
    // Writing to a `String` cannot fail.
    let _ = write!(s, "{n}");
}

/// `n` with leading zeros to `width` digits.
fn push_padded(s: &mut String, n: u64, width: usize) {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    for _ in digits..width {
        s.push('0');
    }
    push_u64(s, n);
}

fn push_digits(rng: &mut Rng, s: &mut String, count: usize) {
    for _ in 0..count {
        s.push(char::from(rng.pick(b"0123456789")));
    }
}
