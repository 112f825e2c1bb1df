//! The book's randomness (splitmix64 streams keyed by seed, index and purpose) and the text
//! helpers every part writes values with.

use super::tables::regions::Country;

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function: a bijective mix of 64 bits.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream for item `i` of kind `stream` in the book `seed`.
    pub(super) fn new(seed: u64, i: usize, stream: u64) -> Rng {
        Rng(mix(seed ^ mix((i as u64).wrapping_mul(GAMMA) ^ stream)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (multiply-shift; the bias, below n/2⁶⁴, does not matter here).
    pub(super) fn below(&mut self, n: u64) -> u64 {
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
    pub(super) fn per_mille(&mut self) -> usize {
        self.index(1000)
    }

    pub(super) fn chance(&mut self, per_mille: usize) -> bool {
        self.per_mille() < per_mille
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    pub(super) fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    pub(super) fn weighted<T: Copy>(&mut self, items: &[(T, usize)]) -> T {
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

    pub(super) fn weighted_country(
        &mut self,
        countries: &'static [&'static Country],
    ) -> &'static Country {
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

pub(super) fn push_ascii_lower(s: &mut String, text: &str) {
    let start = s.len();
    s.push_str(text);
    s[start..].make_ascii_lowercase();
}

pub(super) fn push_u64(s: &mut String, n: u64) {
    use std::fmt::Write as _;
    // Writing to a `String` cannot fail.
    let _ = write!(s, "{n}");
}

/// `n` with leading zeros to `width` digits.
pub(super) fn push_padded(s: &mut String, n: u64, width: usize) {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    for _ in digits..width {
        s.push('0');
    }
    push_u64(s, n);
}

pub(super) fn push_digits(rng: &mut Rng, s: &mut String, count: usize) {
    for _ in 0..count {
        s.push(char::from(rng.pick(b"0123456789")));
    }
}
