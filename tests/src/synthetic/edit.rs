//! Which contacts an edit of the book removes and changes, spread evenly over the book and
//! chosen by the seed; computed per index without holding the book.

use super::STREAM_PLAN;
use super::rng::mix;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Keep,
    Change,
    Remove,
}

/// Which contacts an edit removes and changes: the first `removed` positions of a permutation
/// of the book, `j ↦ (j·step + offset) mod size` with `step ≈ size/φ` coprime to `size` (a
/// Kronecker sequence, so the picks are spread evenly), then the next `changed`.
#[derive(Debug, Clone, Copy)]
pub(super) struct EditPlan {
    size: usize,
    step: u64,
    step_inv: u64,
    offset: u64,
    pub(super) removed: usize,
    pub(super) changed: usize,
}

impl EditPlan {
    pub(super) fn new(seed: u64, size: usize, changed: usize, removed: usize) -> Self {
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
    pub(super) fn index(&self, j: usize) -> usize {
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

    pub(super) fn fate(&self, i: usize) -> Fate {
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
