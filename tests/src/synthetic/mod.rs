//! A deterministic synthetic address book, for the import and sync benchmarks (`benches/import/`,
//! `benches/sync.rs`) and the wire-size measurement (`src/bin/wire_size.rs`), checked by
//! `tests/synthetic_book.rs`. Its figures in docs/performance.md depend on every contact it makes:
//! a change to a table or a draw here changes the book, and those figures need measuring again.
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
//!
//! The parts: this file (the book, its shares and random streams), `contact.rs` (one contact),
//! `email.rs` and `phone.rs` (the values), `edit.rs` (which contacts an edit touches), `rng.rs`
//! (the random streams and text helpers), and `tables/` (the data: regions and their number plans,
//! names, labels and domains; no logic).

mod contact;
mod edit;
mod email;
mod phone;
mod rng;
mod tables;

use contactsync_core::{IdentifierKind, RawContact};

use contact::{Generated, key, source_id};
use edit::{EditPlan, Fate};
use phone::Number;
use rng::{Rng, push_ascii_lower, push_padded, push_u64};
use tables::regions::{COUNTRIES, DE};
use tables::values::PERSONAL_DOMAINS;

/// The region the engine is configured with for the benchmark: national-format numbers in the
/// book are German.
pub const DEFAULT_REGION: &str = "DE";

/// The seed of the measured books (the import, sync and discovery benchmarks, the wire size and
/// the whole-process book): the figures in docs/performance.md are of the books it makes.
pub const SEED: u64 = 20_261_125;

/// A synthetic address book: `size` contacts, all derived from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Book {
    /// Seed of every random choice; two books with the same seed and size are identical.
    pub seed: u64,
    /// Number of contacts (indices `0..size`).
    pub size: usize,
}

impl Book {
    /// A book from `seed` of the size a measuring run was given on its command line
    /// (`--contacts N`), else of 100,000 contacts.
    ///
    /// # Panics
    /// When `--contacts` is not followed by a number (the run stops on a broken setup).
    #[allow(clippy::expect_used, reason = "a measuring run's setup")]
    pub fn from_args(seed: u64) -> Book {
        let args: Vec<String> = std::env::args().collect();
        let size = match args.iter().position(|a| a == "--contacts") {
            Some(i) => args
                .get(i + 1)
                .and_then(|n| n.parse().ok())
                .expect("--contacts N"),
            None => 100_000,
        };
        Book { seed, size }
    }

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
