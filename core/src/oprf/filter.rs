//! The users' filter: a binary fuse filter (xorf's `BinaryFuse16`) of the [`Tag`]s of every
//! registered identifier's PRF value, which a client downloads and queries on the device.
//!
//! **Why this filter.** A 16-bit binary fuse filter takes about 18 bits per entry (1.125 × 16)
//! and answers "maybe present" for an absent tag with probability 2^-16: a million users cost
//! about 2.3 MB, and a 1,000-contact book sends about 0.015 false hits. It is static, so changes
//! travel as deltas (lists of tags added and removed) beside the last full filter.
//!
//! **The wire form** is ours, not xorf's in-memory layout (which is native-endian and trusts its
//! descriptor): `"csf1"`, then little-endian the seed (u64), segment length, segment length
//! mask, segment count length and fingerprint count (u32 each), then the fingerprints (u16
//! each). [`UserFilter::from_bytes`] checks the descriptor against the fingerprint count, so a
//! hostile or truncated filter is an error and a lookup can never index past the array.

use thiserror::Error;
use xorf::{BinaryFuse16, Filter as _};

use super::Tag;

/// The first bytes of a filter on the wire (and its format version).
pub const MAGIC: &[u8; 4] = b"csf1";
/// Bytes before the fingerprints.
pub const HEADER_LEN: usize = 4 + FilterHeader::LEN;
/// The most fingerprints a filter may hold: what 100 million tags need, with room. A client
/// refuses a larger one before allocating it.
pub const MAX_FINGERPRINTS: u32 = 1 << 28;

/// Why a filter could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// The bytes are not a filter of this format: wrong magic, truncated, trailing bytes, or a
    /// descriptor that does not fit its fingerprints.
    #[error("not a users' filter (format csf1): {0}")]
    Format(&'static str),
    /// Building failed (xorf gives up after many seeds; with distinct tags this does not
    /// happen in practice).
    #[error("the users' filter could not be built")]
    Build,
}

/// A filter of users' tags: no false negatives, false positives at about 2^-16.
#[derive(Debug, Clone)]
pub struct UserFilter {
    /// `None` for a filter of no tags (xorf needs at least one key).
    inner: Option<BinaryFuse16>,
}

impl UserFilter {
    /// A filter of `tags` (duplicates allowed; they count once).
    pub fn build(tags: &[Tag]) -> Result<UserFilter, FilterError> {
        let mut keys: Vec<u64> = tags.iter().map(|t| t.0).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(UserFilter { inner: None });
        }
        let inner = BinaryFuse16::try_from(&keys).map_err(|_| FilterError::Build)?;
        Ok(UserFilter { inner: Some(inner) })
    }

    /// Whether `tag` may be a user's: always for a user's tag, at about 2^-16 for another.
    pub fn contains(&self, tag: Tag) -> bool {
        self.inner.as_ref().is_some_and(|f| f.contains(&tag.0))
    }

    /// Bytes of the wire form.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + 2 * self.fingerprints().len()
    }

    /// The descriptor and the fingerprint count: what a part of a download repeats.
    pub fn header(&self) -> FilterHeader {
        match &self.inner {
            Some(f) => FilterHeader {
                seed: f.descriptor.seed,
                segment_length: f.descriptor.segment_length,
                segment_length_mask: f.descriptor.segment_length_mask,
                segment_count_length: f.descriptor.segment_count_length,
                count: u32::try_from(f.fingerprints.len()).unwrap_or(u32::MAX),
            },
            None => FilterHeader::default(),
        }
    }

    /// The fingerprints.
    pub fn fingerprints(&self) -> &[u16] {
        self.inner.as_ref().map_or(&[], |f| &f.fingerprints)
    }

    /// The wire form (module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        out.extend_from_slice(MAGIC);
        self.header().write(&mut out);
        for fingerprint in self.fingerprints() {
            out.extend_from_slice(&fingerprint.to_le_bytes());
        }
        out
    }

    /// Reads the wire form, checking that every lookup stays inside the fingerprints.
    pub fn from_bytes(bytes: &[u8]) -> Result<UserFilter, FilterError> {
        let magic = bytes
            .get(..4)
            .ok_or(FilterError::Format("truncated header"))?;
        if magic != MAGIC {
            return Err(FilterError::Format("wrong magic"));
        }
        let header = FilterHeader::read(&bytes[4..])?;
        let body = &bytes[HEADER_LEN..];
        if body.len() != 2 * header.count as usize {
            return Err(FilterError::Format(
                "fingerprint count does not match the length",
            ));
        }
        UserFilter::from_parts(header, fingerprints_of(body))
    }

    /// A filter from its header and all its fingerprints (a download's parts put together),
    /// checking that every lookup stays inside the fingerprints.
    pub fn from_parts(
        header: FilterHeader,
        fingerprints: Vec<u16>,
    ) -> Result<UserFilter, FilterError> {
        header.check()?;
        if fingerprints.len() != header.count as usize {
            return Err(FilterError::Format(
                "fingerprint count does not match the header",
            ));
        }
        if header.count == 0 {
            return Ok(UserFilter { inner: None });
        }
        Ok(UserFilter {
            inner: Some(BinaryFuse16 {
                descriptor: xorf::Descriptor {
                    seed: header.seed,
                    segment_length: header.segment_length,
                    segment_length_mask: header.segment_length_mask,
                    segment_count_length: header.segment_count_length,
                },
                fingerprints: fingerprints.into_boxed_slice(),
            }),
        })
    }
}

/// Fingerprints from their little-endian bytes (an even count of bytes).
pub fn fingerprints_of(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

/// A filter's descriptor and fingerprint count: 24 bytes on the wire, little endian.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterHeader {
    /// The hashing seed.
    pub seed: u64,
    /// The segment length (a power of two).
    pub segment_length: u32,
    /// The segment length minus one.
    pub segment_length_mask: u32,
    /// The length the first positions range over (whole segments).
    pub segment_count_length: u32,
    /// Fingerprints in the whole filter.
    pub count: u32,
}

impl FilterHeader {
    /// Bytes of a header on the wire.
    pub const LEN: usize = 8 + 4 * 4;

    /// Appends the wire form.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.segment_length.to_le_bytes());
        out.extend_from_slice(&self.segment_length_mask.to_le_bytes());
        out.extend_from_slice(&self.segment_count_length.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
    }

    /// Reads the wire form from the start of `bytes` (the rest is left).
    pub fn read(bytes: &[u8]) -> Result<FilterHeader, FilterError> {
        let header = bytes
            .get(..Self::LEN)
            .ok_or(FilterError::Format("truncated header"))?;
        let u32_at = |at: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let mut seed = [0; 8];
        seed.copy_from_slice(&header[..8]);
        let header = FilterHeader {
            seed: u64::from_le_bytes(seed),
            segment_length: u32_at(8),
            segment_length_mask: u32_at(12),
            segment_count_length: u32_at(16),
            count: u32_at(20),
        };
        if header.count > MAX_FINGERPRINTS {
            return Err(FilterError::Format("too many fingerprints"));
        }
        Ok(header)
    }

    /// Whether every lookup through this descriptor stays inside `count` fingerprints.
    fn check(&self) -> Result<(), FilterError> {
        let (length, mask, count_length) = (
            self.segment_length,
            self.segment_length_mask,
            self.segment_count_length,
        );
        if self.count > MAX_FINGERPRINTS {
            return Err(FilterError::Format("too many fingerprints"));
        }
        if self.count == 0 {
            return if (self.seed, length, mask, count_length) == (0, 0, 0, 0) {
                Ok(())
            } else {
                Err(FilterError::Format("a descriptor without fingerprints"))
            };
        }
        // xorf's lookup reads indexes below `count_length + 2 · length`: the first position is
        // below `count_length`, each next one a segment on, its low bits flipped within its
        // segment. That holds when the segment length is a power of two, the mask its low bits
        // and `count_length` whole segments; the sum must not overflow u32 either.
        let reach = length
            .checked_mul(2)
            .and_then(|twice| count_length.checked_add(twice))
            .ok_or(FilterError::Format("segment lengths overflow"))?;
        if !length.is_power_of_two()
            || mask != length - 1
            || count_length == 0
            || !count_length.is_multiple_of(length)
            || reach > self.count
        {
            return Err(FilterError::Format(
                "descriptor does not fit the fingerprints",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::cast_precision_loss
    )]

    use super::*;

    fn tags(n: u64, salt: u64) -> Vec<Tag> {
        // A cheap, well-spread sequence (splitmix64's finaliser).
        (0..n)
            .map(|i| {
                let mut z = (i + (salt << 40)).wrapping_add(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                Tag(z ^ (z >> 31))
            })
            .collect()
    }

    #[test]
    fn every_member_is_found_after_a_round_trip_and_strangers_rarely() {
        for n in [1, 2, 3, 7, 100, 10_000] {
            let members = tags(n, 1);
            let filter = UserFilter::build(&members).unwrap();
            let bytes = filter.to_bytes();
            assert_eq!(bytes.len(), filter.wire_len());
            let read = UserFilter::from_bytes(&bytes).unwrap();
            assert!(members.iter().all(|t| read.contains(*t)), "n = {n}");
            assert_eq!(read.to_bytes(), bytes);
        }
        let members = tags(100_000, 2);
        let filter = UserFilter::build(&members).unwrap();
        let strangers = tags(1_000_000, 3);
        let hits = strangers.iter().filter(|t| filter.contains(**t)).count();
        // 2^-16 of a million is about 15; 60 would be four times the expected rate. (19.0 bits
        // per entry at this size: 18 and the segments' rounding.)
        assert!(hits < 60, "{hits} false positives in a million");
        let bits_per_entry = 8.0 * filter.wire_len() as f64 / 100_000.0;
        assert!(bits_per_entry < 20.0, "{bits_per_entry} bits per entry");
    }

    #[test]
    fn an_empty_filter_holds_nothing_and_duplicates_count_once() {
        let empty = UserFilter::build(&[]).unwrap();
        assert!(!empty.contains(Tag(0)));
        let read = UserFilter::from_bytes(&empty.to_bytes()).unwrap();
        assert!(!read.contains(Tag(7)));
        let twice = UserFilter::build(&[Tag(5), Tag(5), Tag(9)]).unwrap();
        assert!(twice.contains(Tag(5)) && twice.contains(Tag(9)));
    }

    #[test]
    fn hostile_bytes_are_errors_never_panics() {
        let good = UserFilter::build(&tags(1000, 4)).unwrap().to_bytes();
        assert!(UserFilter::from_bytes(&good[..HEADER_LEN - 1]).is_err());
        assert!(UserFilter::from_bytes(&good[..good.len() - 2]).is_err());
        let mut longer = good.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(UserFilter::from_bytes(&longer).is_err());
        let mut magic = good.clone();
        magic[0] = b'x';
        assert!(UserFilter::from_bytes(&magic).is_err());
        // Every descriptor field pushed out of range, one at a time.
        for (at, value) in [
            (12, u32::MAX),
            (12, 3),
            (16, 0),
            (20, u32::MAX),
            (20, 0),
            (20, 1),
            (24, u32::MAX),
        ] {
            let mut bad = good.clone();
            bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
            assert!(
                UserFilter::from_bytes(&bad).is_err(),
                "field at {at} = {value}"
            );
        }
        // Every descriptor the checks let through keeps lookups inside the fingerprints.
        let count = u32::try_from((good.len() - HEADER_LEN) / 2).unwrap();
        for shift in 0..12 {
            let length = 1u32 << shift;
            for segments in 1..=(count / length).saturating_sub(2).min(40) {
                let mut bytes = good.clone();
                bytes[12..16].copy_from_slice(&length.to_le_bytes());
                bytes[16..20].copy_from_slice(&(length - 1).to_le_bytes());
                bytes[20..24].copy_from_slice(&(segments * length).to_le_bytes());
                let filter = UserFilter::from_bytes(&bytes).unwrap();
                for t in tags(300, u64::from(segments)) {
                    let _ = filter.contains(t);
                }
            }
        }
        // Arbitrary seeds too.
        for seed in 0..200u64 {
            let mut bytes = good.clone();
            bytes[4..12].copy_from_slice(&seed.to_le_bytes());
            let filter = UserFilter::from_bytes(&bytes).unwrap();
            for t in tags(200, seed) {
                let _ = filter.contains(t);
            }
        }
    }
}
