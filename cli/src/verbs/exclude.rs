//! `contactsync exclude` and `include`: keep a contact, or one identifier whichever contacts hold
//! it, out of discovery (its hash leaves the server at the next sync), or bring it back.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use contactsync_core::identifier::{IdentifierKind, Region, guess_kind};
use serde_json::json;

use crate::device_db::{engine_failure, open};
use crate::failure::{Failure, UsageError};
use crate::output::write_json;

/// What to exclude or include.
#[derive(Debug, clap::Args)]
pub struct Targets {
    /// A contact, by its source id (`contactsync contacts` shows them in brackets).
    #[arg(long = "contact", value_name = "SOURCE_ID")]
    contacts: Vec<String>,
    /// Identifiers: `kind:value` (`phone:`, `email:`, `handle:`, `account:`, `invite:`) or a value
    /// whose kind is guessed (see `normalize`), read like a contact's value (a phone number in
    /// any format, in the database's region).
    #[arg(value_name = "ID")]
    ids: Vec<String>,
}

/// `contactsync exclude` (`excluded`) and `contactsync include` (`!excluded`).
pub fn set_excluded(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    targets: &Targets,
    excluded: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    if targets.contacts.is_empty() && targets.ids.is_empty() {
        return Err(UsageError("name a --contact SOURCE_ID or an identifier".into()).into());
    }
    // Every identifier is read before anything changes: a typo changes nothing.
    let ids = targets
        .ids
        .iter()
        .map(|raw| parse(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = open(db, region, true)?;
    for source_id in &targets.contacts {
        if engine
            .contact(source_id)
            .map_err(|e| engine_failure(db, &e))?
            .is_none()
        {
            return Err(UsageError(format!(
                "no contact {source_id:?} in {} (`contactsync contacts` lists them)",
                db.display()
            ))
            .into());
        }
    }
    let verb = if excluded { "excluded" } else { "included" };
    for source_id in &targets.contacts {
        engine
            .set_contact_excluded(source_id, excluded)
            .map_err(|e| engine_failure(db, &e))?;
        if as_json {
            write_json(out, &json!({"contact": source_id, "excluded": excluded}))?;
        } else {
            writeln!(out, "{verb} contact {source_id}")?;
        }
    }
    for (kind, value) in ids {
        engine
            .set_identifier_excluded(kind, value, excluded)
            .map_err(|e| UsageError(format!("{}:{value}: {e}", kind.as_str())))?;
        if as_json {
            write_json(
                out,
                &json!({"kind": kind, "value": value, "excluded": excluded}),
            )?;
        } else {
            writeln!(out, "{verb} {} {value}", kind.as_str())?;
        }
    }
    if !as_json {
        let effect = if excluded {
            "leave the server"
        } else {
            "go to the server again"
        };
        writeln!(out, "their hashes {effect} at the next `contactsync sync`")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `kind:value`, or a value whose kind is guessed.
fn parse(raw: &str) -> Result<(IdentifierKind, &str), Failure> {
    let explicit = raw
        .split_once(':')
        .and_then(|(k, v)| k.parse::<IdentifierKind>().ok().map(|k| (k, v)));
    explicit
        .or_else(|| guess_kind(raw).map(|k| (k, raw)))
        .ok_or_else(|| UsageError(format!("{raw:?}: not an identifier")).into())
}
