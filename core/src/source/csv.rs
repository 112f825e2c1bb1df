//! CSV contact exports: Google Contacts (current and legacy layouts) and Outlook.
//!
//! Columns are recognised by their header names, not their positions, so reordered or trimmed
//! exports still read:
//!
//! - names: `Name` / `Display Name`, or `First Name`/`Given Name`, `Middle Name`/`Additional
//!   Name`, `Last Name`/`Family Name`; else the organisation;
//! - e-mails: Google's `E-mail N - Value` (label from `E-mail N - Label` / `- Type`), Outlook's
//!   `E-mail Address`, `E-mail 2 Address`, ...;
//! - phones: Google's `Phone N - Value` (label from `Phone N - Label` / `- Type`), Outlook's named
//!   columns (`Mobile Phone`, `Business Fax`, ...; the label comes from the name);
//! - handles: legacy Google's `IM N - Value` (service from `IM N - Service`).
//!
//! Google joins several values in one cell with ` ::: `; they are split. Records are framed
//! here line by line (a quoted cell may span lines) with every line and record bounded, then
//! split into fields by the `csv` crate. A record over the bound is reported broken.

use std::io::BufRead;

use super::lines::{Line, LineReader};
use super::{
    BrokenEntry, BrokenReason, Position, ReadOptions, SourceContact, SourceError, SourceItem,
};
use crate::contact::RawContact;
use crate::identifier::IdentifierKind;

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    FullName,
    Given,
    Middle,
    Family,
    Organization,
    /// A value column of `kind`; its label comes from the header or from a label column.
    Value {
        kind: IdentifierKind,
        label: Option<String>,
        label_column: Option<usize>,
    },
    Ignored,
}

/// Streams contacts from a CSV export.
#[derive(Debug)]
pub(super) struct CsvReader<R> {
    lines: LineReader<R>,
    options: ReadOptions,
    columns: Vec<Column>,
    delimiter: u8,
    buf: Vec<u8>,
    entries: usize,
}

impl<R: BufRead> CsvReader<R> {
    pub(super) fn new(reader: R, options: ReadOptions) -> Result<Self, SourceError> {
        let mut lines = LineReader::new(reader, options.max_line_bytes).counting(b'"');
        let mut buf = Vec::new();
        let header = loop {
            match lines.next_line(&mut buf)? {
                None | Some(Line::Overlong) => return Err(SourceError::UnknownFormat),
                Some(Line::Text) if buf.trim_ascii().is_empty() => {}
                Some(Line::Text) => break String::from_utf8_lossy(&buf).into_owned(),
            }
        };
        let delimiter = delimiter_of(&header);
        let names = split_record(header.as_bytes(), delimiter).ok_or(SourceError::UnknownFormat)?;
        let columns = classify(&names);
        Ok(CsvReader {
            lines,
            options,
            columns,
            delimiter,
            buf,
            entries: 0,
        })
    }

    pub(super) fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        // Frame one record: lines until the quotes balance.
        let mut record = Vec::new();
        let mut start_line = 0;
        let mut too_large = false;
        let mut open_quotes = 0usize;
        loop {
            let Some(kind) = self.lines.next_line(&mut self.buf)? else {
                if record.is_empty() && !too_large {
                    return Ok(None);
                }
                break;
            };
            if record.is_empty() && !too_large {
                if self.buf.trim_ascii().is_empty() {
                    continue;
                }
                start_line = self.lines.line_no();
            }
            if kind == Line::Overlong
                || record.len() + self.buf.len() > self.options.max_entry_bytes
            {
                too_large = true;
            }
            if !too_large {
                if !record.is_empty() {
                    record.push(b'\n');
                }
                record.extend_from_slice(&self.buf);
            }
            // A record goes on while a quote is open. Quotes are counted over whole lines, so an
            // over-long line that is cut still opens or closes its quotes. Once a record is over
            // the bound (most likely a stray quote), it ends at the first line that is balanced
            // on its own, so that the rows after it still load.
            let line_quotes = self.lines.count();
            open_quotes += line_quotes;
            if open_quotes.is_multiple_of(2) || (too_large && line_quotes.is_multiple_of(2)) {
                break;
            }
        }
        self.entries += 1;
        let position = Position {
            entry: self.entries,
            line: start_line,
        };
        if too_large {
            return Ok(Some(SourceItem::Broken(BrokenEntry {
                position,
                reason: BrokenReason::TooLarge,
            })));
        }
        let Some(fields) = split_record(&record, self.delimiter) else {
            return Ok(Some(SourceItem::Broken(BrokenEntry {
                position,
                reason: BrokenReason::MalformedRecord,
            })));
        };
        Ok(Some(SourceItem::Contact(SourceContact {
            position,
            contact: self.map_row(&fields, position),
            dropped: Vec::new(),
        })))
    }

    fn map_row(&self, fields: &[String], position: Position) -> RawContact {
        let cell = |i: usize| fields.get(i).map_or("", |s| s.trim());
        let mut contact =
            RawContact::new(format!("{}#{}", self.options.id_prefix, position.entry), "");
        let (mut full, mut org) = (String::new(), String::new());
        // Given, middle, family. Prefixes and suffixes are left out: Outlook's "Title" column holds
        // them, and people find a contact by name, not by "Dr.".
        let mut parts: [String; 3] = Default::default();
        for (i, column) in self.columns.iter().enumerate() {
            let value = cell(i);
            if value.is_empty() {
                continue;
            }
            match column {
                Column::FullName => value.clone_into(&mut full),
                Column::Given => value.clone_into(&mut parts[0]),
                Column::Middle => value.clone_into(&mut parts[1]),
                Column::Family => value.clone_into(&mut parts[2]),
                Column::Organization => value.clone_into(&mut org),
                Column::Value {
                    kind,
                    label,
                    label_column,
                } => {
                    let label = label_column
                        .map(|c| cell(c).trim_start_matches("* ").to_lowercase())
                        .filter(|l| !l.is_empty())
                        .or_else(|| label.clone());
                    for v in value.split(":::").map(str::trim).filter(|v| !v.is_empty()) {
                        contact.push(*kind, label.as_deref(), v);
                    }
                }
                Column::Ignored => {}
            }
        }
        let built = super::join_nonempty(parts.iter().map(String::as_str), " ");
        contact.display_name = [full, built, org]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        contact.fill_display_name();
        contact
    }
}

/// `,` unless the header holds more `;` or tabs (locales where Outlook exports with `;`).
fn delimiter_of(header: &str) -> u8 {
    let count = |c| header.matches(c).count();
    let (commas, semis, tabs) = (count(','), count(';'), count('\t'));
    if tabs > commas && tabs > semis {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

/// One record's fields, or `None` if it is not well-formed CSV.
fn split_record(record: &[u8], delimiter: u8) -> Option<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(record);
    let mut out = ::csv::ByteRecord::new();
    match reader.read_byte_record(&mut out) {
        Ok(true) => Some(
            out.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a first line looks like a contacts CSV header.
pub(super) fn looks_like_header(line: &str) -> bool {
    split_record(line.as_bytes(), delimiter_of(line)).is_some_and(|names| {
        classify(&names)
            .iter()
            .any(|c| !matches!(c, Column::Ignored | Column::Organization))
    })
}

/// What each header names.
fn classify(names: &[String]) -> Vec<Column> {
    let lower: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    let find = |name: &str| lower.iter().position(|n| n == name);
    lower
        .iter()
        .map(|h| {
            let h = h.as_str();
            match h {
                "name" | "display name" | "full name" => return Column::FullName,
                "first name" | "given name" => return Column::Given,
                "middle name" | "additional name" => return Column::Middle,
                "last name" | "family name" => return Column::Family,
                "organization name" | "organization 1 - name" | "company" => {
                    return Column::Organization;
                }
                _ => {}
            }
            // Google: "E-mail 1 - Value" with "E-mail 1 - Label" (current) or "- Type" (legacy).
            if let Some(prefix) = h.strip_suffix(" - value") {
                let kind = if prefix.starts_with("e-mail") || prefix.starts_with("email") {
                    IdentifierKind::Email
                } else if prefix.starts_with("phone") {
                    IdentifierKind::Phone
                } else if prefix.starts_with("im ") {
                    IdentifierKind::Handle
                } else {
                    return Column::Ignored;
                };
                let label_column = if kind == IdentifierKind::Handle {
                    find(&format!("{prefix} - service"))
                } else {
                    find(&format!("{prefix} - label")).or_else(|| find(&format!("{prefix} - type")))
                };
                return Column::Value {
                    kind,
                    label: None,
                    label_column,
                };
            }
            // Outlook: "E-mail Address", "E-mail 2 Address".
            if (h.starts_with("e-mail") || h.starts_with("email")) && h.ends_with("address") {
                return Column::Value {
                    kind: IdentifierKind::Email,
                    label: None,
                    label_column: None,
                };
            }
            // Outlook: named phone columns; the label is the name less "phone".
            if (h.ends_with("phone")
                || h.ends_with(" fax")
                || h == "pager"
                || h.ends_with("phone 2"))
                && !h.contains(" - ")
            {
                let label = h
                    .replace("business", "work")
                    .replace(" phone", "")
                    .replace("phone", "")
                    .replace(" 2", "")
                    .trim()
                    .replace(' ', ",");
                let label = if label.is_empty() {
                    "main".to_owned()
                } else {
                    label
                };
                return Column::Value {
                    kind: IdentifierKind::Phone,
                    label: Some(label),
                    label_column: None,
                };
            }
            Column::Ignored
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(text: &str) -> Vec<SourceItem> {
        let options = ReadOptions {
            id_prefix: "c.csv".into(),
            max_line_bytes: 2000,
            max_entry_bytes: 4000,
        };
        crate::source::read(Cursor::new(text.as_bytes().to_vec()), &options)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn pairs(c: &RawContact) -> Vec<(&str, Option<&str>)> {
        c.values
            .iter()
            .map(|v| (v.value.as_str(), v.label.as_deref()))
            .collect()
    }

    fn contact(item: &SourceItem) -> &RawContact {
        match item {
            SourceItem::Contact(c) => &c.contact,
            SourceItem::Broken(b) => panic!("broken: {b:?}"),
        }
    }

    #[test]
    fn google_layout_with_multi_values_and_multiline_cells() {
        let text = "First Name,Middle Name,Last Name,Notes,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value\n\
                    Ada,,Lovelace,\"line one,\nline two\",* Home,ada@example.org ::: ada@example.com,Mobile,+44 20 7946 0958\n\
                    ,,,,,,,\n";
        let items = read_all(text);
        assert_eq!(items.len(), 2);
        let c = contact(&items[0]);
        assert_eq!(c.display_name, "Ada Lovelace");
        assert_eq!(c.source_id, "c.csv#1");
        assert_eq!(
            pairs(c),
            [
                ("ada@example.org", Some("home")),
                ("ada@example.com", Some("home")),
                ("+44 20 7946 0958", Some("mobile"))
            ]
        );
        assert!(contact(&items[1]).values.is_empty());
    }

    #[test]
    fn a_row_without_a_name_shows_its_first_email_like_a_card_does() {
        let text = "First Name,Last Name,E-mail Address,Mobile Phone\n,,nameless@example.org,(202) 555-0173\n";
        assert_eq!(
            contact(&read_all(text)[0]).display_name,
            "nameless@example.org"
        );
    }

    #[test]
    fn outlook_layout() {
        let text = "First Name,Last Name,E-mail Address,Mobile Phone,Business Fax,Home Phone 2\nGrace,Hopper,grace@example.org,(202) 555-0173,,202-555-0199\n";
        let c = contact(&read_all(text)[0]).clone();
        assert_eq!(
            pairs(&c),
            [
                ("grace@example.org", None),
                ("(202) 555-0173", Some("mobile")),
                ("202-555-0199", Some("home"))
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_bounded_and_reported() {
        let mut text = String::from("Name,E-mail 1 - Value\n\"Broken,x@example.org\n");
        for _ in 0..200 {
            text.push_str("filler filler filler filler\n");
        }
        text.push_str("After,after@example.org\n");
        let items = read_all(&text);
        assert!(
            matches!(&items[0], SourceItem::Broken(b) if b.reason == BrokenReason::TooLarge && b.position.line == 2)
        );
        // Reading resynchronises: the last row still loads.
        let last = contact(items.last().unwrap());
        assert_eq!(last.display_name, "After");
        assert_eq!(last.values[0].value, "after@example.org");
    }
}
