//! One contact of the book: its name, source id and stamp, and its values drawn in order (phone
//! numbers, e-mail addresses, a handle, an account), with which of them are junk on purpose and
//! what an edit needs to know to change it. The order of the draws is the book: reordering them
//! changes every contact after the first.

use contactsync_core::{IdentifierKind, LinkedAccount, RawContact};

use super::email::{business_address, junk_email, personal_address, vary_case, work_address};
use super::phone::{Number, junk_phone};
use super::rng::{Rng, mix, push_ascii_lower, push_digits, push_padded, push_u64};
use super::tables::names::{BUSINESSES, FAMILY, Name, split_name};
use super::tables::regions::{COUNTRIES, Country, DE};
use super::tables::values::{
    ACCOUNT_PROVIDERS, BASE64URL, FIXED_LABELS, HANDLE_SERVICES, MOBILE_LABELS,
};
use super::{
    ACCOUNT_INVALID, ACCOUNT_PER_MILLE, Book, DE_FOREIGN_NUMBER, DUPLICATE_FORMAT, EMAIL_INVALID,
    EMAIL_PER_MILLE, FAMILY_PER_MILLE, FAMILY_XOR, FIRST_STAMP, FOREIGN_DE_NUMBER, HANDLE_INVALID,
    HANDLE_PER_MILLE, PHONE_COUNT, PHONE_INVALID, SECOND_EMAIL, STAMP_SPAN, STREAM_CONTACT,
    STREAM_FAMILY, STREAM_ID,
};

/// A contact and what an edit needs to know about it.
pub(super) struct Generated {
    pub(super) contact: RawContact,
    /// Bit `k`: `contact.values[k]` is junk on purpose.
    pub(super) invalid: u64,
    pub(super) home: &'static Country,
    /// ASCII forms of the names, for addresses.
    pub(super) first: &'static str,
    pub(super) last: &'static str,
}

impl Book {
    /// Contact `i` with what an edit needs to know about it.
    pub(super) fn generate(&self, i: usize) -> Generated {
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
pub(super) fn source_id(seed: u64, i: usize) -> String {
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
pub(super) fn key(i: usize, slot: usize) -> u64 {
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
