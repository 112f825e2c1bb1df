//! Compact encodings of a contact's identifier list and rejected values, stored inline in its
//! row. Inline, because a first import's cost is the rows it writes: one row per contact plus
//! one per distinct identifier, with no link table (see docs/performance.md).
//!
//! Format: a sequence of entries; each starts with the kind code (one byte) followed by
//! length-prefixed strings (u32 little-endian length, UTF-8 bytes). Decoding never panics: a
//! damaged blob yields the entries before the damage.

use super::{kind_code, kind_from_code};
use crate::contact::{Fingerprint, RejectedValue, Rejection};
use crate::identifier::{Identifier, IdentifierKind};

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn kind_byte(kind: IdentifierKind) -> u8 {
    u8::try_from(kind_code(kind)).unwrap_or(0)
}

/// The first 16 bytes of a key as one integer, ordered as the key is: `head` (a kind's code, or
/// nothing), then `text`, zero-padded. Sorting on it and on the text only where it is equal costs
/// an integer comparison per step instead of a text comparison (the writer sorts each window).
pub(crate) fn order_prefix(head: &[u8], text: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(head.iter().chain(text)) {
        *to = *from;
    }
    u128::from_be_bytes(bytes)
}

/// Sorts `(prefix, index)` pairs into key order: by [`order_prefix`], then by `text(index)` where
/// prefixes agree, then by index, so that equal keys keep their order as in a stable sort. One
/// function for both sorts of a window (contacts, identifiers): one copy of the sort in a library
/// kept under 5 MiB.
pub(crate) fn sort_by_key<'t>(order: &mut [(u128, usize)], text: &dyn Fn(usize) -> &'t [u8]) {
    order.sort_unstable_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| text(a.1).cmp(text(b.1)))
            .then(a.1.cmp(&b.1))
    });
}

/// Encodes identifiers (kind + canonical text each).
pub(crate) fn encode_identifiers(ids: &[Identifier]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.iter().map(|i| 5 + i.canonical().len()).sum());
    for id in ids {
        out.push(kind_byte(id.kind()));
        put_str(&mut out, id.canonical());
    }
    out
}

/// Encodes (kind, canonical text) pairs, in the same format as [`encode_identifiers`].
pub(crate) fn encode_keys<'a>(
    keys: impl IntoIterator<Item = (IdentifierKind, &'a str)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, canonical) in keys {
        out.push(kind_byte(kind));
        put_str(&mut out, canonical);
    }
    out
}

/// Encodes rejections (kind, label or none, value, reason code).
pub(crate) fn encode_rejections(rejections: &[Rejection]) -> Option<Vec<u8>> {
    if rejections.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for r in rejections {
        out.push(kind_byte(r.kind));
        match &r.label {
            Some(label) => {
                out.push(1);
                put_str(&mut out, label);
            }
            None => out.push(0),
        }
        put_str(&mut out, &r.value);
        put_str(&mut out, &r.reason.code());
    }
    Some(out)
}

/// The fingerprint column as stored; `None` for a damaged value.
pub(crate) fn fingerprint_from(bytes: &[u8]) -> Option<Fingerprint> {
    <[u8; 16]>::try_from(bytes).ok().map(Fingerprint)
}

/// A cursor over an encoded blob.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn kind(&mut self) -> Option<IdentifierKind> {
        kind_from_code(i64::from(self.byte()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len_bytes: [u8; 4] = self.0.get(..4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let bytes = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        std::str::from_utf8(bytes).ok()
    }
}

/// Decodes an identifier list into (kind, canonical) pairs.
pub(crate) fn decode_identifiers(blob: &[u8]) -> Vec<(IdentifierKind, &str)> {
    let mut r = Reader(blob);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let Some(entry) = r.kind().and_then(|k| Some((k, r.str()?))) else {
            break;
        };
        out.push(entry);
    }
    out
}

/// Decodes rejections.
pub(crate) fn decode_rejections(blob: &[u8]) -> Vec<RejectedValue> {
    let mut r = Reader(blob);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let entry = (|| {
            let kind = r.kind()?;
            let label = match r.byte()? {
                0 => None,
                _ => Some(r.str()?.to_owned()),
            };
            Some(RejectedValue {
                kind,
                label,
                value: r.str()?.to_owned(),
                reason: r.str()?.to_owned(),
            })
        })();
        let Some(entry) = entry else { break };
        out.push(entry);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::RejectReason;
    use crate::identifier::{NormalizeError, Normalizer, Region};

    #[test]
    fn round_trips_and_survives_damage() {
        let n = Normalizer::new(Region::new("DE").unwrap());
        let ids = vec![
            n.normalize(IdentifierKind::Phone, "+49 151 23456789")
                .unwrap(),
            n.normalize(IdentifierKind::Email, "Ä@bücher.example")
                .unwrap(),
        ];
        let blob = encode_identifiers(&ids);
        let back = decode_identifiers(&blob);
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], (IdentifierKind::Email, ids[1].canonical()));
        // Truncated anywhere: a prefix of the entries, never a panic.
        for cut in 0..blob.len() {
            assert!(decode_identifiers(&blob[..cut]).len() <= 1);
        }
        let rejections = vec![Rejection {
            kind: IdentifierKind::Phone,
            label: Some("fax".into()),
            value: "12".into(),
            reason: RejectReason::Invalid(NormalizeError::UnknownKind),
        }];
        let blob = encode_rejections(&rejections).unwrap();
        let back = decode_rejections(&blob);
        assert_eq!(back[0].label.as_deref(), Some("fax"));
        assert_eq!(back[0].value, "12");
        assert_eq!(back[0].reason, rejections[0].reason.code());
        for cut in 0..blob.len() {
            assert!(decode_rejections(&blob[..cut]).is_empty());
        }
        assert!(encode_rejections(&[]).is_none());
    }
}
