//! The file readers against hand-checked expectations: the project's own fixtures
//! (`tests/fixtures/`) always, and the real exports in `../shared/testdata/vcards/` when present.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeMap;
use std::path::Path;

use contactsync_core::identifier::IdentifierKind;
use contactsync_core::source::{self, DropReason, ReadOptions, SourceItem};
use contactsync_tests::{fixtures_dir, shared_testdata_dir};
use serde::Deserialize;

/// One expected card (see tests/fixtures/README.md).
#[derive(Debug, Deserialize)]
struct Card {
    name: Option<String>,
    uid: Option<String>,
    phones: Vec<String>,
    emails: Vec<String>,
    impp: Vec<String>,
    #[serde(default)]
    dropped_lines: Vec<usize>,
}

#[derive(Debug, Deserialize)]
struct Broken {
    line: usize,
}

#[derive(Debug, Deserialize)]
struct FileExpectation {
    cards: Vec<Card>,
    broken: Vec<Broken>,
}

/// A messenger value as written (`xmpp:alice@example.com`) → the handle we keep (`alice@...`).
fn without_scheme(v: &str) -> &str {
    match v.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            rest.split('?').next().unwrap_or(rest)
        }
        _ => v,
    }
}

/// Reads `path` and checks it against `expected`; returns a list of differences.
fn check_file(path: &Path, label: &str, expected: &FileExpectation) -> Vec<String> {
    let mut problems = Vec::new();
    let entries =
        source::read_path(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{label}: {e}"));
    let mut contacts = Vec::new();
    let mut broken_lines = Vec::new();
    for item in entries {
        match item.unwrap_or_else(|e| panic!("{label}: {e}")) {
            SourceItem::Contact(c) => contacts.push(c),
            SourceItem::Broken(b) => broken_lines.push(b.position.line),
        }
    }
    let want_broken: Vec<usize> = expected.broken.iter().map(|b| b.line).collect();
    if broken_lines != want_broken {
        problems.push(format!(
            "{label}: broken at lines {broken_lines:?}, expected {want_broken:?}"
        ));
    }
    if contacts.len() != expected.cards.len() {
        problems.push(format!(
            "{label}: {} contacts, expected {}",
            contacts.len(),
            expected.cards.len()
        ));
        return problems;
    }
    for (i, (got, want)) in contacts.iter().zip(&expected.cards).enumerate() {
        let c = &got.contact;
        let at = format!("{label} card {}", i + 1);
        let values = |kind| -> Vec<String> {
            c.values_of(kind)
                .map(|v| {
                    let t = v.value.trim();
                    t.strip_prefix("tel:").unwrap_or(t).to_owned()
                })
                .collect()
        };
        if values(IdentifierKind::Phone) != want.phones {
            problems.push(format!(
                "{at}: phones {:?}, expected {:?}",
                values(IdentifierKind::Phone),
                want.phones
            ));
        }
        if values(IdentifierKind::Email) != want.emails {
            problems.push(format!(
                "{at}: emails {:?}, expected {:?}",
                values(IdentifierKind::Email),
                want.emails
            ));
        }
        let handles = values(IdentifierKind::Handle);
        for h in &want.impp {
            if !handles.iter().any(|g| g == without_scheme(h)) {
                problems.push(format!("{at}: handle {h:?} missing from {handles:?}"));
            }
        }
        match &want.name {
            Some(name) if &c.display_name != name => {
                problems.push(format!(
                    "{at}: name {:?}, expected {name:?}",
                    c.display_name
                ));
            }
            // A card without any name shows its first e-mail, else its first phone.
            None => {
                let fallback = want.emails.first().or(want.phones.first());
                if fallback.is_some_and(|f| f != &c.display_name) {
                    problems.push(format!("{at}: unnamed card shown as {:?}", c.display_name));
                }
            }
            _ => {}
        }
        match &want.uid {
            Some(uid) if &c.source_id != uid => {
                problems.push(format!(
                    "{at}: source id {:?}, expected UID {uid:?}",
                    c.source_id
                ));
            }
            None if !c.source_id.ends_with(&format!("#{}", got.position.entry)) => {
                problems.push(format!(
                    "{at}: source id {:?} is not positional",
                    c.source_id
                ));
            }
            _ => {}
        }
        let dropped: Vec<usize> = got
            .dropped
            .iter()
            .filter(|d| d.reason == DropReason::Malformed)
            .map(|d| d.line)
            .collect();
        if dropped != want.dropped_lines {
            problems.push(format!(
                "{at}: dropped lines {dropped:?}, expected {:?}",
                want.dropped_lines
            ));
        }
    }
    problems
}

fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn own_fixtures_read_as_expected() {
    let dir = fixtures_dir();
    let expected: BTreeMap<String, FileExpectation> = load(&dir.join("expected.json"));
    assert!(expected.len() >= 9, "fixtures missing");
    let problems: Vec<String> = expected
        .iter()
        .flat_map(|(file, want)| check_file(&dir.join(file), file, want))
        .collect();
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn shared_real_world_vcards_read_as_expected() {
    let Some(dir) = shared_testdata_dir() else {
        return;
    };
    let expected: BTreeMap<String, Vec<Card>> =
        load(&fixtures_dir().join("shared_vcards_expected.json"));
    let files: Vec<_> = std::fs::read_dir(dir.join("vcards"))
        .expect("shared vcards dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "vcf"))
        .collect();
    assert_eq!(
        files.len(),
        expected.len(),
        "every shared vCard has expectations"
    );
    let mut problems = Vec::new();
    for (file, cards) in expected {
        let want = FileExpectation {
            cards,
            broken: Vec::new(),
        };
        problems.extend(check_file(&dir.join("vcards").join(&file), &file, &want));
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A reader that yields `len` bytes of `fill` without ever holding them: hostile input of any
/// size costs nothing to make.
struct Endless {
    prefix: Vec<u8>,
    fill: u8,
    left: usize,
    suffix: Vec<u8>,
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            return Ok(n);
        }
        if self.left > 0 {
            let n = self.left.min(buf.len());
            buf[..n].fill(self.fill);
            self.left -= n;
            return Ok(n);
        }
        let n = self.suffix.len().min(buf.len());
        buf[..n].copy_from_slice(&self.suffix[..n]);
        self.suffix.drain(..n);
        Ok(n)
    }
}

fn read_items(input: Endless) -> Vec<SourceItem> {
    source::read(input, &ReadOptions::default())
        .expect("format")
        .collect::<Result<_, _>>()
        .expect("no I/O error")
}

#[test]
fn a_ten_megabyte_name_is_dropped_not_held() {
    let items = read_items(Endless {
        prefix: b"BEGIN:VCARD\nVERSION:3.0\nFN:".to_vec(),
        fill: b'a',
        left: 10 * 1024 * 1024,
        suffix: b"\nTEL:+1 202 555 0173\nEMAIL:big@example.org\nEND:VCARD\nBEGIN:VCARD\nFN:Next\nEND:VCARD\n".to_vec(),
    });
    assert_eq!(items.len(), 2);
    let SourceItem::Contact(c) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(c.dropped.len(), 1);
    assert_eq!(c.dropped[0].field, "FN");
    assert_eq!(c.dropped[0].reason, DropReason::TooLarge);
    assert_eq!(c.contact.values.len(), 2, "the other values are kept");
    assert_eq!(c.contact.display_name, "big@example.org");
}

#[test]
fn a_line_without_end_ends_the_card_not_the_process() {
    // 200 MB without a line break after an opened card, then end of file.
    let items = read_items(Endless {
        prefix: b"BEGIN:VCARD\nFN:Ok\nEND:VCARD\nBEGIN:VCARD\nNOTE:".to_vec(),
        fill: b'x',
        left: 200 * 1024 * 1024,
        suffix: Vec::new(),
    });
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[1], SourceItem::Broken(b) if b.position.line == 4));
}

#[test]
fn a_huge_csv_cell_is_reported_and_the_next_row_loads() {
    let items = read_items(Endless {
        prefix: b"Name,E-mail 1 - Value\nBig,\"".to_vec(),
        fill: b'y',
        left: 20 * 1024 * 1024,
        suffix: b"\"\nSmall,small@example.org\n".to_vec(),
    });
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[0], SourceItem::Broken(b) if b.position.line == 2));
    let SourceItem::Contact(c) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(c.contact.display_name, "Small");
}
