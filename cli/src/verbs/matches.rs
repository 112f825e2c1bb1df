//! `contactsync matches`: the contacts found on the app, and through what — readable lines,
//! JSON lines (`--json`) or CSV (`--csv`, RFC 4180 quoting) for a spreadsheet.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use contactsync_core::Match;
use contactsync_core::identifier::{IdentifierKind, Region, invite};
use serde_json::Value;

use crate::device_db::{engine_failure, open};
use crate::failure::Failure;
use crate::output::{match_name, write_json};

/// How `matches` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable lines.
    Text,
    /// One JSON object per match and line.
    Json,
    /// CSV with a header line.
    Csv,
}

/// One match as a readable line; `continued` leaves the name out (the line above has it).
fn write_match(
    out: &mut impl Write,
    m: &Match,
    name_width: usize,
    continued: bool,
) -> io::Result<()> {
    let via = if m.source_id.is_none() {
        "invite".to_owned()
    } else if m.kind == IdentifierKind::Invite {
        format!("invite {}", invite::display(&m.canonical))
    } else {
        format!("{:<8}{}", m.kind.as_str(), m.canonical)
    };
    let name = if continued { "" } else { match_name(m) };
    writeln!(out, "{name:<name_width$}  {via:<40}  user {}", m.user_ref)
}

/// `contactsync matches`.
pub fn matches(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    format: Format,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let all = engine.matches().map_err(|e| engine_failure(db, &e))?;
    if format == Format::Csv {
        write_csv(out, &all)?;
    } else if format == Format::Json {
        for m in &all {
            let mut value = serde_json::to_value(m).map_err(io::Error::other)?;
            if let Value::Object(map) = &mut value {
                map.insert("via".into(), via(m).into());
            }
            write_json(out, &value)?;
        }
    } else if all.is_empty() {
        writeln!(
            out,
            "no matches yet (`contactsync sync --server URL` asks the server)"
        )?;
    } else {
        let width = all
            .iter()
            .map(|m| match_name(m).chars().count())
            .max()
            .unwrap_or(0)
            .min(32);
        let mut previous: Option<&str> = None;
        for m in &all {
            // A contact found through several identifiers is named once.
            let same = m.source_id.is_some() && m.source_id.as_deref() == previous;
            write_match(out, m, width, same)?;
            previous = m.source_id.as_deref();
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "invite" for a match no contact holds, else "contact" (the `via` of JSON and CSV).
fn via(m: &Match) -> &'static str {
    if m.source_id.is_none() {
        "invite"
    } else {
        "contact"
    }
}

/// The matches as CSV: a header, then one row per match, every field quoted when it holds a
/// comma, a quote or a line break (RFC 4180).
fn write_csv(out: &mut impl Write, all: &[Match]) -> io::Result<()> {
    out.write_all(b"name,via,kind,identifier,user_ref,source_id,matched_at\r\n")?;
    for m in all {
        let matched_at = m.matched_at.to_string();
        let fields = [
            m.display_name.as_str(),
            via(m),
            m.kind.as_str(),
            m.canonical.as_str(),
            m.user_ref.as_str(),
            m.source_id.as_deref().unwrap_or(""),
            matched_at.as_str(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_csv_field(out, field)?;
        }
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

fn write_csv_field(out: &mut impl Write, field: &str) -> io::Result<()> {
    if field.contains([',', '"', '\r', '\n']) {
        write!(out, "\"{}\"", field.replace('"', "\"\""))
    } else {
        out.write_all(field.as_bytes())
    }
}
