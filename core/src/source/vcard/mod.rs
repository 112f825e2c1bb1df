//! vCard files: framing here, parsing by `calcard`, and the mapping from cards to contacts.
//!
//! `calcard` (Stalwart's parser) reads 2.1, 3.0 and 4.0 as real address books write them:
//! folding, quoted-printable with soft breaks and `CHARSET`, grouped properties, `TYPE` in every
//! spelling. Our code does two things around it:
//!
//! - **Framing** (streaming, bounded): split the file into cards on `BEGIN:VCARD` / `END:VCARD`,
//!   drop binary properties (`PHOTO`, `LOGO`, `SOUND`, `KEY`: we never need them, and they are
//!   most of a file's bytes), drop over-long lines, and decode lines that are not UTF-8 with
//!   their `CHARSET` (or Windows-1252, the usual culprit). A card without `END:VCARD` or over the
//!   size bound is reported broken and the next card is read.
//! - **Mapping**: `FN` (else `N`, else `ORG`) to the display name, `UID` to the source id, `REV`
//!   to the version, `TEL` to phones, `EMAIL` to e-mails, `IMPP` and the `X-JABBER`-style
//!   properties and social profiles to handles with their service as label.
//!
//! This file frames; `mapping.rs` maps a parsed card to a contact.

mod mapping;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::io::BufRead;

use calcard::vcard::VCard;

use super::lines::{Line, LineReader};
use super::{
    BrokenEntry, BrokenReason, DropReason, DroppedField, Position, ReadOptions, SourceContact,
    SourceError, SourceItem,
};
use mapping::map_card;

/// Properties holding binary data that discovery never needs.
const BINARY_PROPERTIES: &[&str] = &["PHOTO", "LOGO", "SOUND", "KEY"];

/// Streams cards from a vCard file.
#[derive(Debug)]
pub(super) struct VCardReader<R> {
    lines: LineReader<R>,
    options: ReadOptions,
    buf: Vec<u8>,
    entries: usize,
    /// A `BEGIN:VCARD` seen while finishing the previous (unterminated) card.
    pending_begin: Option<usize>,
    /// The last card's text buffer, kept for the next card: a book's cards are framed into one
    /// allocation instead of one that grows line by line per card.
    spare: String,
}

/// What a line did to the card being framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The card goes on.
    More,
    /// `END:VCARD`.
    End,
    /// A `BEGIN:VCARD` before this card's end (it starts the next card).
    Unterminated,
}

/// The card being framed.
#[derive(Debug)]
struct CardText {
    position: Position,
    text: String,
    dropped: Vec<DroppedField>,
    too_large: bool,
    /// Inside a dropped property: skip its continuation lines.
    skipping: bool,
    /// The current property is quoted-printable and its last line ended with a soft break.
    qp_soft_break: bool,
    /// `CHARSET` of the current property, for lines that are not UTF-8.
    charset: Option<String>,
    /// Depth of vCards nested in a 2.1 `AGENT` property (skipped whole).
    nested: usize,
    /// Upper-case name of the current property (empty before the first), and where its text
    /// starts in `text`.
    property: String,
    property_start: usize,
}

impl<R: BufRead> VCardReader<R> {
    pub(super) fn new(reader: R, options: ReadOptions) -> Self {
        VCardReader {
            lines: LineReader::new(reader, options.max_line_bytes),
            options,
            buf: Vec::new(),
            entries: 0,
            pending_begin: None,
            spare: String::new(),
        }
    }

    fn start_card(&mut self, line: usize) -> CardText {
        self.entries += 1;
        let mut text = std::mem::take(&mut self.spare);
        text.clear();
        text.push_str("BEGIN:VCARD\n");
        CardText {
            position: Position {
                entry: self.entries,
                line,
            },
            property_start: text.len(),
            text,
            dropped: Vec::new(),
            too_large: false,
            skipping: false,
            qp_soft_break: false,
            charset: None,
            nested: 0,
            property: String::new(),
        }
    }

    /// Frames and maps the next card.
    pub(super) fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        // Find the start of a card.
        let mut card = if let Some(line) = self.pending_begin.take() {
            self.start_card(line)
        } else {
            loop {
                match self.lines.next_line(&mut self.buf)? {
                    None => return Ok(None),
                    Some(Line::Overlong) => {}
                    Some(Line::Text) => {
                        if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                            break self.start_card(self.lines.line_no());
                        }
                    }
                }
            }
        };
        loop {
            let Some(kind) = self.lines.next_line(&mut self.buf)? else {
                return Ok(Some(broken(card.position, BrokenReason::Unterminated)));
            };
            match self.feed(&mut card, kind) {
                Step::More => {}
                Step::End => break,
                Step::Unterminated => {
                    return Ok(Some(broken(card.position, BrokenReason::Unterminated)));
                }
            }
        }
        if card.too_large {
            return Ok(Some(broken(card.position, BrokenReason::TooLarge)));
        }
        card.text.push_str("END:VCARD\n");
        let item = match VCard::parse(&card.text) {
            Ok(vcard) => SourceItem::Contact(SourceContact {
                position: card.position,
                contact: map_card(&vcard, card.position, &self.options.id_prefix),
                dropped: card.dropped,
            }),
            Err(_) => broken(card.position, BrokenReason::Unparsable),
        };
        self.spare = card.text;
        Ok(Some(item))
    }

    /// Takes one line of the card being framed.
    fn feed(&mut self, card: &mut CardText, kind: Line) -> Step {
        let continuation = card.qp_soft_break
            || matches!(self.buf.first(), Some(b' ' | b'\t'))
            || (card.skipping && self.buf.is_empty());
        if kind == Line::Overlong {
            if !continuation {
                // An over-long line that starts a property: the property before it is complete
                // and stays; this one (with any continuation lines) is left out.
                set_property(&mut card.property, &self.buf);
                card.property_start = card.text.len();
                card.charset = None;
                card.dropped.push(DroppedField {
                    field: card.property.clone(),
                    line: self.lines.line_no(),
                    reason: DropReason::TooLarge,
                });
            } else if !card.skipping {
                // An over-long continuation: the whole property goes, including its lines
                // already kept (and nothing before them).
                card.text.truncate(card.property_start);
                card.dropped.push(DroppedField {
                    field: card.property.clone(),
                    line: self.lines.line_no(),
                    reason: DropReason::TooLarge,
                });
            }
            card.skipping = true;
            card.qp_soft_break = false;
            return Step::More;
        }
        // vCard 2.1 may embed a whole card in an `AGENT` property: skip it, nesting and all.
        if card.nested > 0
            || (card.property == "AGENT" && is_keyword_line(&self.buf, b"BEGIN:VCARD"))
        {
            if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                card.nested += 1;
            } else if is_keyword_line(&self.buf, b"END:VCARD") {
                card.nested -= 1;
            }
            return Step::More;
        }
        // A line that is not a property: inside a dropped binary property it is more of its
        // data (2.1 base64 without indentation); elsewhere it is reported and left out, and
        // the rest of the card is kept.
        if !continuation
            && !is_property_line(&self.buf)
            && !is_keyword_line(&self.buf, b"END:VCARD")
        {
            if !card.skipping && !self.buf.trim_ascii().is_empty() {
                card.dropped.push(DroppedField {
                    field: property_name(&self.buf)
                        .map(str::to_ascii_uppercase)
                        .unwrap_or_default(),
                    line: self.lines.line_no(),
                    reason: DropReason::Malformed,
                });
            }
            return Step::More;
        }
        if !continuation {
            if is_keyword_line(&self.buf, b"END:VCARD") {
                return Step::End;
            }
            if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                self.pending_begin = Some(self.lines.line_no());
                return Step::Unterminated;
            }
            set_property(&mut card.property, &self.buf);
            card.property_start = card.text.len();
            card.skipping = BINARY_PROPERTIES.contains(&card.property.as_str());
            card.charset = param_value(&self.buf, b"CHARSET");
            card.qp_soft_break = false;
        }
        if card.skipping || card.too_large {
            return Step::More;
        }
        let is_qp = card.qp_soft_break || is_quoted_printable(&self.buf);
        let line = decode_line(&self.buf, card.charset.as_deref());
        card.qp_soft_break = is_qp && line.ends_with('=');
        if card.text.len() + line.len() + 1 > self.options.max_entry_bytes {
            card.too_large = true;
            return Step::More;
        }
        card.text.push_str(&line);
        card.text.push('\n');
        Step::More
    }
}

fn broken(position: Position, reason: BrokenReason) -> SourceItem {
    SourceItem::Broken(BrokenEntry { position, reason })
}

/// `BEGIN:VCARD` / `END:VCARD` alone on a line, any case, surrounding blanks allowed.
fn is_keyword_line(line: &[u8], keyword: &[u8]) -> bool {
    line.trim_ascii().eq_ignore_ascii_case(keyword)
}

/// Whether a line is `[group.]NAME[;params]:value` with a name of letters, digits and dashes.
fn is_property_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let head = &line[..colon];
    let name_end = head.iter().position(|&b| b == b';').unwrap_or(head.len());
    let name = &head[..name_end];
    let mut parts = name.split(|&b| b == b'.');
    let valid =
        |p: &[u8]| !p.is_empty() && p.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(n), None, None) => valid(n),
        (Some(g), Some(n), None) => valid(g) && valid(n),
        _ => false,
    }
}

/// The property name of a property line as written, without its group (`item1.tel` → `tel`).
fn property_name(line: &[u8]) -> Option<&str> {
    let end = line.iter().position(|&b| b == b':' || b == b';')?;
    let name = &line[..end];
    let name = name.rsplit(|&b| b == b'.').next().unwrap_or(name);
    let name = std::str::from_utf8(name).ok()?.trim();
    (!name.is_empty()).then_some(name)
}

/// Makes `property` the upper-case [`property_name`] of `line` (empty when it has none),
/// reusing its allocation: this runs for every property of a book.
fn set_property(property: &mut String, line: &[u8]) {
    property.clear();
    if let Some(name) = property_name(line) {
        property.push_str(name);
        property.make_ascii_uppercase();
    }
}

/// The value of a parameter on a property line (`CHARSET=UTF-8`), before the value's colon.
fn param_value(line: &[u8], param: &[u8]) -> Option<String> {
    let head = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
    head.split(|&b| b == b';').skip(1).find_map(|p| {
        let (k, v) = p.split_at(p.iter().position(|&b| b == b'=')?);
        k.trim_ascii().eq_ignore_ascii_case(param).then(|| {
            String::from_utf8_lossy(&v[1..])
                .trim_matches('"')
                .to_owned()
        })
    })
}

/// Whether a property line declares quoted-printable (`ENCODING=QUOTED-PRINTABLE` or the bare
/// 2.1 `;QUOTED-PRINTABLE`).
fn is_quoted_printable(line: &[u8]) -> bool {
    let head = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
    head.split(|&b| b == b';').skip(1).any(|p| {
        let v = p.rsplit(|&b| b == b'=').next().unwrap_or(p);
        v.trim_ascii().eq_ignore_ascii_case(b"QUOTED-PRINTABLE")
    })
}

/// A line as text: UTF-8 as is (borrowed); otherwise decoded with the property's `CHARSET`, or
/// Windows-1252 (a superset of Latin-1 that never fails).
fn decode_line<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8)
        .unwrap_or(encoding_rs::WINDOWS_1252);
    Cow::Owned(encoding.decode_without_bom_handling(bytes).0.into_owned())
}
