//! Contact sources for files: vCard (2.1, 3.0, 4.0) and CSV (Google Contacts, Outlook).
//!
//! Stage: owns the file readers. May import `contact` and `identifier`; never the protocol, the
//! store or anything above: a source hands contacts over and knows nothing of where they go.
//!
//! Readers stream: they hold one card (or one CSV record) at a time, never the whole file, and
//! every line and field is bounded ([`ReadOptions`]), so a 10 MB name or a line without end
//! costs a bounded buffer and a counted, reported drop, not the process's memory.
//!
//! Bad input is data: a broken card is yielded as [`SourceItem::Broken`] with its position and
//! the reader carries on with the next one. Only I/O failures end a read early.

mod ahead;
mod csv;
mod lines;
mod vcard;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use thiserror::Error;

use crate::contact::RawContact;
pub use ahead::{ReadAhead, read_ahead};
pub use lines::{Line, LineReader};

/// File formats the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// vCard 2.1, 3.0 or 4.0, one or many cards.
    VCard,
    /// A CSV export with a header row (Google Contacts, Outlook, or similar column names).
    Csv,
}

/// Limits and naming for a read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Prefix of the source id of entries that carry no id of their own (a vCard without `UID`,
    /// every CSV row): `"{prefix}#{entry}"`. Use something stable per file, such as its name.
    pub id_prefix: String,
    /// Longest physical line kept, in bytes. Longer lines are dropped (and reported) without
    /// ever being held whole.
    pub max_line_bytes: usize,
    /// Largest card or CSV record kept, in bytes, after dropping photos and other binary data.
    pub max_entry_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            id_prefix: String::new(),
            max_line_bytes: 64 * 1024,
            max_entry_bytes: 256 * 1024,
        }
    }
}

/// Where an entry sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based index of the entry (card or CSV data row) in the file.
    pub entry: usize,
    /// 1-based line on which the entry begins.
    pub line: usize,
}

/// One thing read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceItem {
    /// A contact, possibly with some fields dropped.
    Contact(SourceContact),
    /// An entry that could not be read; the reader goes on after it.
    Broken(BrokenEntry),
}

/// A contact read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceContact {
    /// Where it was.
    pub position: Position,
    /// The contact.
    pub contact: RawContact,
    /// Fields left out (over a size bound, undecodable), by property or column name.
    pub dropped: Vec<DroppedField>,
}

/// A field of an entry that was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedField {
    /// The vCard property or CSV column name (empty when the line has none).
    pub field: String,
    /// The 1-based line where it was.
    pub line: usize,
    /// Why.
    pub reason: DropReason,
}

/// Why a field was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DropReason {
    /// Over [`ReadOptions::max_line_bytes`].
    #[error("over the size bound")]
    TooLarge,
    /// A line inside a card that is not a property (no colon, or no valid name).
    #[error("not a vCard property line")]
    Malformed,
}

impl DropReason {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            DropReason::TooLarge => "too_large",
            DropReason::Malformed => "malformed",
        }
    }
}

/// An entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenEntry {
    /// Where it began.
    pub position: Position,
    /// Why it is broken.
    pub reason: BrokenReason,
}

/// Why an entry could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BrokenReason {
    /// A card with no `END:VCARD` before the next `BEGIN:VCARD` or the end of the file.
    #[error("card not terminated (no END:VCARD)")]
    Unterminated,
    /// A card or record over [`ReadOptions::max_entry_bytes`].
    #[error("entry over the size bound")]
    TooLarge,
    /// The vCard parser could not make sense of the card.
    #[error("card could not be parsed")]
    Unparsable,
    /// A CSV record that the CSV reader could not split into fields.
    #[error("malformed CSV record")]
    MalformedRecord,
}

impl BrokenReason {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            BrokenReason::Unterminated => "unterminated",
            BrokenReason::TooLarge => "too_large",
            BrokenReason::Unparsable => "unparsable",
            BrokenReason::MalformedRecord => "malformed_record",
        }
    }
}

/// Errors that stop a read.
#[derive(Debug, Error)]
pub enum SourceError {
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// Neither a vCard nor a CSV file with a recognisable header.
    #[error("not a vCard or CSV contacts file")]
    UnknownFormat,
    /// A text encoding the readers do not handle (UTF-16 or UTF-32 files).
    #[error("unsupported text encoding (expected UTF-8 or an 8-bit charset)")]
    UnsupportedEncoding,
}

/// A stream of entries from one file.
pub type Entries<'a> = Box<dyn Iterator<Item = Result<SourceItem, SourceError>> + Send + 'a>;

/// Reads contacts from `reader`, telling the format by content.
pub fn read<'a, R: Read + Send + 'a>(
    reader: R,
    options: &ReadOptions,
) -> Result<Entries<'a>, SourceError> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let format = sniff(reader.fill_buf()?)?;
    Ok(match format {
        Format::VCard => {
            let mut r = vcard::VCardReader::new(reader, options.clone());
            entries(move || r.next_item())
        }
        Format::Csv => {
            let mut r = csv::CsvReader::new(reader, options.clone())?;
            entries(move || r.next_item())
        }
    })
}

/// The entries a reader's `next_item` yields, ending at the end of input or after the first
/// error (an I/O error leaves the reader's position unknown, so nothing after it is trusted).
fn entries<'a>(
    mut next_item: impl FnMut() -> Result<Option<SourceItem>, SourceError> + Send + 'a,
) -> Entries<'a> {
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let item = next_item().transpose();
        failed = matches!(item, Some(Err(_)));
        item
    }))
}

/// Opens and reads a file; the source-id prefix defaults to the file name.
pub fn read_path(path: &Path, options: &ReadOptions) -> Result<Entries<'static>, SourceError> {
    let mut options = options.clone();
    if options.id_prefix.is_empty() {
        options.id_prefix = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    read(File::open(path)?, &options)
}

/// The non-empty parts joined by `sep` (names built from their components).
fn join_nonempty<'a>(parts: impl IntoIterator<Item = &'a str>, sep: &str) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Tells the format from the first bytes of a file.
pub fn sniff(head: &[u8]) -> Result<Format, SourceError> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(SourceError::UnsupportedEncoding);
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // A NUL in the first bytes means UTF-16 without a BOM (or a binary file).
    if head.iter().take(512).any(|&b| b == 0) {
        return Err(SourceError::UnsupportedEncoding);
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or(SourceError::UnknownFormat)?;
    if first.len() >= 11
        && first.is_char_boundary(11)
        && first[..11].eq_ignore_ascii_case("BEGIN:VCARD")
    {
        return Ok(Format::VCard);
    }
    if csv::looks_like_header(first) {
        return Ok(Format::Csv);
    }
    Err(SourceError::UnknownFormat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        assert_eq!(
            sniff(b"\xEF\xBB\xBFBEGIN:VCARD\r\n").unwrap(),
            Format::VCard
        );
        assert_eq!(sniff(b"\n\nbegin:vcard\n").unwrap(), Format::VCard);
        assert_eq!(
            sniff(b"First Name,Last Name,E-mail Address\n").unwrap(),
            Format::Csv
        );
        assert!(matches!(
            sniff(b"\xFF\xFEB\0E\0"),
            Err(SourceError::UnsupportedEncoding)
        ));
        assert!(matches!(
            sniff(b"hello world\n"),
            Err(SourceError::UnknownFormat)
        ));
        assert!(matches!(sniff(b""), Err(SourceError::UnknownFormat)));
    }
}
