//! Phone numbers: ranges of valid numbers (a region's number plan is a list of them, in
//! [`super::tables::regions`]), a number in a range drawn as a bijection of a key (so distinct
//! contacts get distinct numbers), written the way people write them; and junk.

use super::STREAM_NUMBER;
use super::rng::{Rng, mix, push_digits};
use super::tables::regions::{Country, DE};

/// A range of valid numbers: a fixed national prefix and `free` more digits, the first of them
/// in `first`. `groups` splits the national number for display (`0` = the prefix).
#[derive(Debug)]
pub(crate) struct Range {
    pub(super) prefix: &'static str,
    free: u32,
    first: (u64, u64),
    groups: &'static [usize],
}

/// A mobile range: any digits after the prefix.
pub(crate) const fn m(prefix: &'static str, free: u32, groups: &'static [usize]) -> Range {
    Range {
        prefix,
        free,
        first: (0, 9),
        groups,
    }
}

/// A fixed-line range: subscriber numbers start with 2 to 9.
pub(crate) const fn f(prefix: &'static str, free: u32, groups: &'static [usize]) -> Range {
    Range {
        prefix,
        free,
        first: (2, 9),
        groups,
    }
}

/// A range whose first free digit is in `lo..=hi`.
pub(crate) const fn r(
    prefix: &'static str,
    free: u32,
    lo: u64,
    hi: u64,
    groups: &'static [usize],
) -> Range {
    Range {
        prefix,
        free,
        first: (lo, hi),
        groups,
    }
}

/// A number in a range.
#[derive(Clone, Copy)]
pub(super) struct Number {
    country: &'static Country,
    range: &'static Range,
    mobile: bool,
    nsn: [u8; 16],
    len: usize,
}

impl Number {
    /// The number with `key` in `range`: a bijection of the key (per seed and range), so that
    /// different keys give different numbers (for keys below the range's size).
    pub(super) fn new(
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
    pub(super) fn write(&self, s: &mut String, choice: usize) {
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

/// A value in a phone field that no normaliser accepts.
pub(super) fn junk_phone(rng: &mut Rng) -> String {
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
