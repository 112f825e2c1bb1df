//! The users' filter on the wire: its parts ([`FilterPart`]), each a binary body under what a
//! transport reads, and a download putting them back together ([`FilterDownload`]).

use crate::oprf::filter::{FilterError, FilterHeader, UserFilter, fingerprints_of};

/// Fingerprints per part of a filter download: 2 MiB, so every answer stays well under the
/// 4 MiB a transport reads (the upload stage's `MAX_ANSWER_BYTES`) whatever the number of users.
pub const PART_FINGERPRINTS: usize = 1 << 20;

/// The media type of a [`FilterPart`].
pub const FILTER_MEDIA_TYPE: &str = "application/octet-stream";
const PART_MAGIC: &[u8; 4] = b"csfp";
const PART_HEADER: usize = 4 + 4 + 8 + 4 + 4 + FilterHeader::LEN;

/// How many parts a filter of `count` fingerprints travels in (an empty filter is one part).
pub fn parts_of(count: u32) -> u32 {
    u32::try_from((count as usize).div_ceil(PART_FINGERPRINTS).max(1)).unwrap_or(u32::MAX)
}

/// `GET /v1/private/filter?part=K&version=V` answer (`application/octet-stream`): one part of
/// the users' filter at one version. `"csfp"`, then little endian the epoch (u32), version
/// (u64), part and parts (u32 each) and the filter's header, then this part's fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPart {
    /// The epoch whose PRF values the filter holds.
    pub epoch: u32,
    /// The version it is at.
    pub version: u64,
    /// This part's index, from 0.
    pub part: u32,
    /// How many parts the filter has ([`parts_of`] its count).
    pub parts: u32,
    /// The whole filter's descriptor and count.
    pub header: FilterHeader,
    /// This part's fingerprints: [`PART_FINGERPRINTS`], fewer in the last part.
    pub fingerprints: Vec<u16>,
}

impl FilterPart {
    /// Part `part` of a filter, `None` past its last.
    pub fn of(epoch: u32, version: u64, filter: &UserFilter, part: u32) -> Option<FilterPart> {
        let header = filter.header();
        let parts = parts_of(header.count);
        if part >= parts {
            return None;
        }
        let all = filter.fingerprints();
        let start = (part as usize)
            .saturating_mul(PART_FINGERPRINTS)
            .min(all.len());
        let end = start.saturating_add(PART_FINGERPRINTS).min(all.len());
        Some(FilterPart {
            epoch,
            version,
            part,
            parts,
            header,
            fingerprints: all[start..end].to_vec(),
        })
    }

    /// The body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PART_HEADER + 2 * self.fingerprints.len());
        out.extend_from_slice(PART_MAGIC);
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.part.to_le_bytes());
        out.extend_from_slice(&self.parts.to_le_bytes());
        self.header.write(&mut out);
        for fingerprint in &self.fingerprints {
            out.extend_from_slice(&fingerprint.to_le_bytes());
        }
        out
    }

    /// Reads a body: its sizes must agree with each other; anything else is an error, never a
    /// panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<FilterPart, FilterError> {
        let head = bytes
            .get(..PART_HEADER - FilterHeader::LEN)
            .ok_or(FilterError::Format("truncated part header"))?;
        if &head[..4] != PART_MAGIC {
            return Err(FilterError::Format("wrong part magic"));
        }
        let u32_at = |at: usize| {
            let mut b = [0; 4];
            b.copy_from_slice(&head[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let mut version = [0; 8];
        version.copy_from_slice(&head[8..16]);
        let header = FilterHeader::read(&bytes[PART_HEADER - FilterHeader::LEN..])?;
        let (part, parts) = (u32_at(16), u32_at(20));
        if parts != parts_of(header.count) || part >= parts {
            return Err(FilterError::Format("part numbers do not fit the filter"));
        }
        let start = (part as usize) * PART_FINGERPRINTS;
        let expected = (header.count as usize - start).min(PART_FINGERPRINTS);
        let body = &bytes[PART_HEADER..];
        if body.len() != 2 * expected {
            return Err(FilterError::Format("a part of the wrong length"));
        }
        Ok(FilterPart {
            epoch: u32_at(4),
            version: u64::from_le_bytes(version),
            part,
            parts,
            header,
            fingerprints: fingerprints_of(body),
        })
    }
}

/// A filter download in progress: parts arrive in order and must all describe one filter.
#[derive(Debug)]
pub struct FilterDownload {
    first: FilterPart,
    fingerprints: Vec<u16>,
    next: u32,
}

impl FilterDownload {
    /// Starts with part 0.
    pub fn start(first: FilterPart) -> Result<FilterDownload, FilterError> {
        if first.part != 0 {
            return Err(FilterError::Format("a download starts with part 0"));
        }
        // The count is the server's word until the filter is checked whole: memory grows with
        // the parts that actually arrive, never ahead of them.
        let mut fingerprints = Vec::with_capacity(first.fingerprints.len());
        fingerprints.extend_from_slice(&first.fingerprints);
        Ok(FilterDownload {
            first,
            fingerprints,
            next: 1,
        })
    }

    /// The epoch and version being downloaded.
    pub fn epoch_version(&self) -> (u32, u64) {
        (self.first.epoch, self.first.version)
    }

    /// The next part to ask for, `None` once complete.
    pub fn next_part(&self) -> Option<u32> {
        (self.next < self.first.parts).then_some(self.next)
    }

    /// Adds the next part; it must be of the same filter.
    pub fn push(&mut self, part: FilterPart) -> Result<(), FilterError> {
        let first = &self.first;
        if (part.epoch, part.version, part.header, part.parts)
            != (first.epoch, first.version, first.header, first.parts)
            || part.part != self.next
        {
            return Err(FilterError::Format(
                "a part of another filter or out of order",
            ));
        }
        self.fingerprints.extend(part.fingerprints);
        self.next += 1;
        Ok(())
    }

    /// The whole filter, once every part arrived.
    pub fn finish(self) -> Result<UserFilter, FilterError> {
        if self.next_part().is_some() {
            return Err(FilterError::Format("parts are missing"));
        }
        UserFilter::from_parts(self.first.header, self.fingerprints)
    }
}
