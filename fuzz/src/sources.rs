//! The file readers (`contactsync_core::source::read`, what `contactsync import` and `read` use)
//! and their mapping to contacts, with the invariants every read must keep.
//!
//! Each input is read three ways:
//! 1. from a slice with the default limits;
//! 2. through a reader that hands the bytes over in small, uneven pieces (as a pipe does), with
//!    the same limits: the entries must be exactly those of (1), since how bytes arrive must not
//!    change what they mean;
//! 3. with tight limits (short lines, small entries), so the bounds and their reporting run.
//!
//! Every contact read then goes through the normaliser, as an import does.

use std::io::{self, Read};

use contactsync_core::contact::{MAX_DISPLAY_NAME_LEN, MAX_VALUES_PER_CONTACT};
use contactsync_core::source::{self, Format, ReadOptions, SourceError, SourceItem};
use contactsync_core::{IdentifierKind, Normalizer, Region};

/// The prefix of source ids made from positions.
const PREFIX: &str = "fuzz.vcf";

/// Bytes the sniffer sees before the piecewise reader starts cutting: the format is told from
/// the first buffer, as it is for a file.
const SNIFF_BYTES: usize = 4096;

/// The line put before an input that does not start like a vCard.
pub const VCARD_BEGIN: &[u8] = b"BEGIN:VCARD\r\n";

/// The header put before an input whose first line is not a contacts header: Google's layout
/// with a label column for e-mails and phones and a service column for messengers.
pub const CSV_HEADER: &[u8] = b"Name,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,IM 1 - Service,IM 1 - Value\n";

/// Reads `data` as `format`: when the content does not sniff as that format, `prefix` (a line
/// that does) is put first, so that every input reaches the reader under test.
pub fn check(data: &[u8], format: Format, prefix: &[u8]) {
    let owned;
    let data = if matches!(source::sniff(data), Ok(f) if f == format) {
        data
    } else {
        owned = [prefix, data].concat();
        &owned[..]
    };
    let defaults = ReadOptions {
        id_prefix: PREFIX.to_owned(),
        ..ReadOptions::default()
    };
    let whole = read_all(data, &defaults, false);
    let pieces = read_all(data, &defaults, true);
    assert_eq!(
        whole, pieces,
        "reading the same bytes in pieces gave other entries"
    );
    let tight = ReadOptions {
        id_prefix: PREFIX.to_owned(),
        max_line_bytes: 96,
        max_entry_bytes: 512,
    };
    read_all(data, &tight, false);
}

/// Reads every entry and checks each; returns them.
fn read_all(data: &[u8], options: &ReadOptions, in_pieces: bool) -> Vec<SourceItem> {
    let result = if in_pieces {
        source::read(Pieces { data, at: 0 }, options)
    } else {
        source::read(data, options)
    };
    let entries = match result {
        Ok(entries) => entries,
        // A refusal at the start, never later: a header the CSV reader cannot use (an over-long
        // first line), or NULs in the first bytes (UTF-16 without a byte-order mark).
        Err(SourceError::UnknownFormat | SourceError::UnsupportedEncoding) => return Vec::new(),
        Err(e) => panic!("read refused an input that sniffs as its format: {e}"),
    };
    // Every entry takes at least one line, so a reader that yields more than there are lines
    // does not terminate.
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let normalizer = Normalizer::new(Region::default());
    let mut items = Vec::new();
    let mut last_line = 0;
    for item in entries {
        let item = item.unwrap_or_else(|e| panic!("an in-memory read failed: {e}"));
        assert!(
            items.len() < lines,
            "more entries than lines: not terminating"
        );
        let position = match &item {
            SourceItem::Contact(c) => c.position,
            SourceItem::Broken(b) => b.position,
        };
        assert_eq!(
            position.entry,
            items.len() + 1,
            "entries are numbered 1, 2, 3, ... in order"
        );
        assert!(
            position.line > last_line && position.line <= lines,
            "entry {} starts on line {} after line {last_line} (of {lines})",
            position.entry,
            position.line
        );
        last_line = position.line;
        if let SourceItem::Contact(c) = &item {
            check_contact(c, options, lines, normalizer);
        }
        items.push(item);
    }
    items
}

/// What every contact read must be, and what normalising it must give.
fn check_contact(
    c: &source::SourceContact,
    options: &ReadOptions,
    lines: usize,
    normalizer: Normalizer,
) {
    let contact = &c.contact;
    assert!(!contact.source_id.is_empty(), "a contact without source id");
    assert!(
        contact.source_id.len() <= contactsync_core::contact::MAX_SOURCE_ID_LEN
            || contact.source_id.starts_with(PREFIX),
        "a source id over the bound"
    );
    let mut known_empty = false;
    for v in &contact.values {
        if v.value.trim().is_empty() && known_empty_handle(v.kind) {
            known_empty = true;
            continue;
        }
        assert!(
            !v.value.trim().is_empty(),
            "an empty {} value was kept",
            v.kind
        );
        assert!(
            v.value.len() <= options.max_entry_bytes,
            "a value longer than its entry may be"
        );
    }
    if !contact.values.is_empty() && !known_empty {
        assert!(
            !contact.display_name.trim().is_empty(),
            "a contact with values but no display name"
        );
    }
    for d in &c.dropped {
        assert!(
            d.line >= c.position.line && d.line <= lines,
            "a dropped field outside its entry (line {} of an entry at {})",
            d.line,
            c.position.line
        );
    }
    let n = normalizer.normalize_contact(contact);
    assert!(
        n.identifiers.len() + n.rejections.len() <= contact.values.len(),
        "normalising made values up"
    );
    assert!(n.identifiers.windows(2).all(|w| w[0] < w[1]));
    if contact.values.len() <= MAX_VALUES_PER_CONTACT {
        assert!(
            n.rejections
                .iter()
                .all(|r| r.reason.code() != "too_many_values")
        );
    }
    assert!(n.display_name.len() <= MAX_DISPLAY_NAME_LEN);
    assert_eq!(
        n.content_fingerprint,
        contact.content_fingerprint(&normalizer)
    );
}

/// A finding reported and not fixed here (core/src/source/vcard.rs is being edited elsewhere):
/// the vCard mapping keeps the empty user part of a messenger URI (`IMPP:xmpp:` gives an empty
/// handle, and a contact whose display name is then that empty value). Tolerated so that the
/// target goes on finding other things; the minimised input is
/// `fuzz/corpus/vcard/finding_impp_empty_user`. Remove this with the fix.
fn known_empty_handle(kind: IdentifierKind) -> bool {
    kind == IdentifierKind::Handle
}

/// Hands the bytes over in pieces of 1 to 13 bytes after the first [`SNIFF_BYTES`].
struct Pieces<'a> {
    data: &'a [u8],
    at: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.at..];
        let piece = if self.at == 0 {
            SNIFF_BYTES
        } else {
            1 + self.at % 13
        };
        let n = piece.min(rest.len()).min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}
