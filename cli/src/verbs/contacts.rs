//! The verbs over the address book in the local database: `import` and `contacts` (`status`:
//! [`super::status`]).
//!
//! They drive the core's [`Engine`](contactsync_core::Engine) the way an app does. Progress goes
//! to stderr (a bar on a terminal, plain lines otherwise); results go to `out`. Error messages
//! name files and the database, never contact data.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contactsync_core::identifier::Region;
use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::{ContactView, Error, ImportReport};
use serde::Serialize;
use serde_json::Value;

use crate::device_db::{engine_failure, open};
use crate::failure::{Failure, UsageError};
use crate::identifiers::resolve_region;
use crate::output::{StderrProgress, write_counts, write_json};

/// Contacts fetched per page by `contacts`.
const PAGE: u64 = 500;

/// `contactsync import`: all files as one full snapshot.
pub fn import(
    out: &mut impl Write,
    region: Option<&str>,
    db: &Path,
    files: &[PathBuf],
    as_json: bool,
) -> Result<ExitCode, Failure> {
    // Open every file before importing anything: a snapshot without one of them would remove
    // that file's contacts.
    let mut opened = Vec::with_capacity(files.len());
    for path in files {
        let entries = source::read_path(path, &ReadOptions::default())
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        opened.push((path.display().to_string(), entries));
    }

    let broken = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let contacts = {
        let (broken, dropped) = (Arc::clone(&broken), Arc::clone(&dropped));
        opened.into_iter().flat_map(move |(file, entries)| {
            let (broken, dropped) = (Arc::clone(&broken), Arc::clone(&dropped));
            entries.filter_map(move |item| match item {
                Ok(SourceItem::Contact(c)) => {
                    dropped.fetch_add(c.dropped.len() as u64, Ordering::Relaxed);
                    Some(Ok(c.contact))
                }
                Ok(SourceItem::Broken(_)) => {
                    broken.fetch_add(1, Ordering::Relaxed);
                    None
                }
                // Ends the import without removing anything: the rest of the file is unread.
                Err(e) => Some(Err(Error::Io(format!("{file}: {e}")))),
            })
        })
    };

    // Parsed on a thread of their own, beside the engine's normalising and writing threads. It
    // starts before the region is checked and the database opened: checking a region loads the
    // phone number library (tens of milliseconds), which the first cards are parsed beside.
    let contacts = source::read_ahead(contacts, || {
        Error::Io("the thread reading the files stopped".into())
    });
    let engine = open(db, resolve_region(region)?, false)?;
    let listener = StderrProgress::new();
    let result = engine.try_import_snapshot(contacts, &listener);
    listener.finish();
    let report = result.map_err(|e| engine_failure(db, &e))?;

    let summary = ImportSummary {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        broken_entries: broken.load(Ordering::Relaxed),
        dropped_fields: dropped.load(Ordering::Relaxed),
        db: db.display().to_string(),
    };
    if as_json {
        let mut value = serde_json::to_value(&report).map_err(io::Error::other)?;
        if let (Value::Object(map), Value::Object(extra)) = (
            &mut value,
            serde_json::to_value(&summary).map_err(io::Error::other)?,
        ) {
            map.extend(extra);
        }
        write_json(out, &value)?;
    } else {
        write_import_summary(out, &report, &summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `import` adds to the engine's report.
#[derive(Debug, Serialize)]
struct ImportSummary {
    files: Vec<String>,
    broken_entries: u64,
    dropped_fields: u64,
    db: String,
}

/// Rejection reasons shown in the readable summary.
const TOP_REASONS: usize = 5;

fn write_import_summary(
    out: &mut impl Write,
    r: &ImportReport,
    s: &ImportSummary,
) -> io::Result<()> {
    let files = if s.files.len() == 1 { "file" } else { "files" };
    writeln!(out, "imported {} {files} into {}", s.files.len(), s.db)?;
    let rows: [(&str, u64); 8] = [
        ("added", r.added),
        ("changed", r.changed),
        ("unchanged", r.unchanged),
        ("removed", r.removed),
        ("duplicates", r.duplicates),
        ("normalized", r.normalized),
        ("queued_add", r.queued_add),
        ("queued_remove", r.queued_remove),
    ];
    write_counts(out, &rows[..6])?;
    writeln!(out, "  {:<15}{:>9}", "rejected", r.rejected)?;
    for (code, n) in top_reasons(&r.rejections) {
        writeln!(out, "    {code:<28}{n:>7}")?;
    }
    write_counts(out, &rows[6..])?;
    writeln!(out, "  {:<15}{:>9}", "broken entries", s.broken_entries)?;
    writeln!(out, "  {:<15}{:>9}", "dropped fields", s.dropped_fields)
}

/// The most frequent rejection reasons (ties by code), then the rest summed as "other".
fn top_reasons(rejections: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut all: Vec<(&String, u64)> = rejections.iter().map(|(c, n)| (c, *n)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut top: Vec<(String, u64)> = all
        .iter()
        .take(TOP_REASONS)
        .map(|(c, n)| ((*c).clone(), *n))
        .collect();
    let rest: u64 = all.iter().skip(TOP_REASONS).map(|(_, n)| n).sum();
    if rest > 0 {
        top.push(("(other reasons)".to_owned(), rest));
    }
    top
}

/// `contactsync contacts`: every stored contact, a page at a time.
pub fn contacts(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let mut after: Option<String> = None;
    loop {
        let page = engine
            .contacts_after(after.as_deref(), PAGE)
            .map_err(|e| engine_failure(db, &e))?;
        for c in &page {
            if as_json {
                write_json(out, c)?;
            } else {
                write_contact(out, c)?;
            }
        }
        match page.last() {
            Some(last) if page.len() as u64 == PAGE => after = Some(last.source_id.clone()),
            _ => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_contact(out: &mut impl Write, c: &ContactView) -> io::Result<()> {
    let name = if c.display_name.is_empty() {
        "(no name)"
    } else {
        &c.display_name
    };
    write!(out, "{name}  [{}]", c.source_id)?;
    if c.excluded {
        write!(out, "  excluded")?;
    }
    if !c.rejected.is_empty() {
        write!(out, "  {} rejected", c.rejected.len())?;
    }
    writeln!(out)?;
    for id in &c.identifiers {
        write!(
            out,
            "    {:<8} {:<40} {}",
            id.kind.as_str(),
            id.canonical,
            id.state.as_str()
        )?;
        if id.excluded {
            write!(out, " excluded")?;
        }
        if id.user_ref.is_some() {
            write!(out, " matched")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
