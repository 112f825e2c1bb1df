//! The pipeline verbs, over identifiers and files with no database and no server: `normalize`,
//! `hash` (which reads what `normalize` prints) and `read`. Each writes JSON lines to `out` (for
//! `jq` or the next verb) and returns the exit code, or a [`Failure`].

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use contactsync_core::identifier::{Identifier, IdentifierKind, Normalizer, Region, guess_kind};
use contactsync_core::source::{self, Line, LineReader, ReadOptions, SourceItem};
use contactsync_core::{HashKey, MatrixHasher};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::failure::{EXIT_USAGE, Failure, UsageError};
use crate::output::write_json;

/// Longest stdin line read, in bytes; longer lines are reported, not held.
const MAX_STDIN_LINE: usize = 64 * 1024;

/// Calls `each` for every line of stdin (without its end); over-long lines come as `Err(())`.
fn for_each_stdin_line(mut each: impl FnMut(Result<&str, ()>) -> io::Result<()>) -> io::Result<()> {
    let mut lines = LineReader::new(io::stdin().lock(), MAX_STDIN_LINE);
    let mut buf = Vec::new();
    while let Some(line) = lines.next_line(&mut buf)? {
        match line {
            Line::Text => each(Ok(&String::from_utf8_lossy(&buf)))?,
            Line::Overlong => each(Err(()))?,
        }
    }
    Ok(())
}

/// One line of `normalize` output, fields in the documented order. Written straight from this
/// struct (not through a JSON map): the per-line cost matters on large files.
#[derive(Debug, Serialize)]
struct NormalizeLine<'a> {
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<IdentifierKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canonical: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// With `--kind auto`: the rule that chose the kind (`core::identifier::guess_kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    guessed: Option<&'static str>,
}

/// Why `guess_kind` chose a kind: its rules are tried in order, so the kind tells the rule.
fn guess_reason(kind: IdentifierKind, input: &str) -> &'static str {
    match kind {
        IdentifierKind::Handle if input.trim_start().starts_with('@') => "handle: a leading @",
        IdentifierKind::Phone => "phone: only phone characters, with at least three digits",
        IdentifierKind::Email => "email: an @ with text on both sides",
        IdentifierKind::Account => "account: provider:subject with a known provider",
        IdentifierKind::Invite => "invite: an invite link, or a grouped code whose check holds",
        IdentifierKind::Handle => {
            "handle: not a phone number, e-mail address, linked account or invite code, so \
             taken as a username"
        }
    }
}

/// `contactsync normalize`.
pub fn normalize(
    out: &mut impl Write,
    region: Region,
    kind: Option<IdentifierKind>,
    values: &[String],
) -> Result<ExitCode, Failure> {
    contactsync_core::identifier::phone::warm_up_in_background(region);
    let normalizer = Normalizer::new(region);
    let guessing = kind.is_none();
    let mut handles = 0u64;
    let mut one = |out: &mut dyn Write, input: &str, typed: bool| -> io::Result<()> {
        let kind = kind.or_else(|| guess_kind(input));
        let result = kind.map(|k| normalizer.normalize(k, input));
        let guessed = kind.filter(|_| guessing).map(|k| guess_reason(k, input));
        // A username by elimination, not by a leading @: the one guess worth a note.
        if guessed.is_some_and(|g| g.starts_with("handle: not")) {
            handles += 1;
            // A value typed as an argument gets its note; stdin's are counted at the end.
            if typed {
                eprintln!(
                    "contactsync: {input:?}: guessed a handle (not a phone number, e-mail \
                     address, linked account or invite code); --kind says otherwise"
                );
            }
        }
        let line = NormalizeLine {
            input,
            kind,
            guessed,
            canonical: match &result {
                Some(Ok(id)) => Some(id.canonical()),
                _ => None,
            },
            error: match &result {
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(e.code()),
                None => Some("unknown_kind".to_owned()),
            },
        };
        write_json(out, &line)
    };
    if values.is_empty() {
        for_each_stdin_line(|line| match line {
            Ok(input) if input.trim().is_empty() => Ok(()),
            Ok(input) => one(&mut *out, input, false),
            Err(()) => write_json(&mut *out, &json!({"error": "input_too_long"})),
        })?;
        if handles > 0 {
            eprintln!(
                "contactsync: {handles} values guessed as handles (not a phone number, e-mail \
                 address, linked account or invite code: see each line's \"guessed\"); --kind \
                 says otherwise"
            );
        }
    } else {
        for v in values {
            one(&mut *out, v, true)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The fields of a `normalize` line that `hash` needs.
#[derive(Debug, Deserialize)]
struct CanonicalLine {
    kind: Option<String>,
    canonical: Option<String>,
}

/// `contactsync hash`.
pub fn hash(
    out: &mut impl Write,
    key_base64: Option<&str>,
    key_id: Option<&str>,
    matrix_pepper: Option<&str>,
) -> Result<ExitCode, Failure> {
    let key = match (key_base64, key_id) {
        (Some(k), Some(id)) => Some(
            HashKey::from_base64(id, k)
                .map_err(|e| UsageError(format!("--key-base64/--key-id: {e}")))?,
        ),
        _ => None,
    };
    let matrix = matrix_pepper.map(MatrixHasher::new);
    // E.164 needs no region, and other kinds ignore it: any region re-checks canonical text.
    let normalizer = Normalizer::new(Region::default());
    for_each_stdin_line(|line| {
        let line = match line {
            Ok(l) if l.trim().is_empty() => return Ok(()),
            Ok(l) => l,
            Err(()) => return write_json(&mut *out, &json!({"error": "input_too_long"})),
        };
        let Ok(mut value) = serde_json::from_str::<Value>(line) else {
            return write_json(&mut *out, &json!({"error": "malformed_line"}));
        };
        let parsed = CanonicalLine::deserialize(&value).ok();
        let (Some(kind), Some(canonical)) = parsed.map_or((None, None), |p| (p.kind, p.canonical))
        else {
            // Lines without a canonical identifier (rejections) pass through unchanged.
            return write_json(&mut *out, &value);
        };
        let result = canonical_identifier(normalizer, &kind, &canonical).and_then(|id| {
            if let Some(m) = &matrix {
                m.hash(&id)
                    .map(|h| (h, None))
                    .map_err(|_| "unsupported_medium")
            } else if let Some(k) = &key {
                Ok((k.hash(&id).to_base64url(), Some(k.id().to_owned())))
            } else {
                Err("no_key")
            }
        });
        if let Value::Object(map) = &mut value {
            match result {
                Ok((hash, key_id)) => {
                    map.insert("hash".into(), hash.into());
                    if let Some(id) = key_id {
                        map.insert("key_id".into(), id.into());
                    } else {
                        map.insert("algorithm".into(), "sha256".into());
                    }
                }
                Err(code) => {
                    map.insert("error".into(), code.into());
                }
            }
        }
        write_json(&mut *out, &value)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The identifier a line names, if its text is canonical for its kind (normalising canonical text
/// must give it back unchanged): nothing but canonical text is ever hashed.
fn canonical_identifier(
    normalizer: Normalizer,
    kind: &str,
    canonical: &str,
) -> Result<Identifier, &'static str> {
    let kind: IdentifierKind = kind.parse().map_err(|_| "unknown_kind")?;
    match normalizer.normalize(kind, canonical) {
        Ok(id) if id.canonical() == canonical => Ok(id),
        _ => Err("not_canonical"),
    }
}

/// `contactsync read`.
pub fn read(out: &mut impl Write, region: Region, files: &[PathBuf]) -> Result<ExitCode, Failure> {
    contactsync_core::identifier::phone::warm_up_in_background(region);
    let normalizer = Normalizer::new(region);
    let mut unreadable = 0usize;
    let (mut contacts, mut identifiers, mut rejected, mut broken, mut dropped) = (0, 0, 0, 0, 0);
    for path in files {
        let file = path.display().to_string();
        let entries = match source::read_path(path, &ReadOptions::default()) {
            Ok(entries) => entries,
            Err(e) => {
                eprintln!("contactsync: {file}: {e}");
                unreadable += 1;
                continue;
            }
        };
        for item in entries {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    eprintln!("contactsync: {file}: {e}");
                    unreadable += 1;
                    break;
                }
            };
            let line = match item {
                SourceItem::Contact(c) => {
                    let n = normalizer.normalize_contact(&c.contact);
                    contacts += 1;
                    identifiers += n.identifiers.len();
                    rejected += n.rejections.len();
                    dropped += c.dropped.len();
                    json!({
                        "file": file,
                        "entry": c.position.entry,
                        "line": c.position.line,
                        "source_id": n.source_id,
                        "display_name": n.display_name,
                        "identifiers": n.identifiers.iter()
                            .map(|id| json!({"kind": id.kind(), "canonical": id.canonical()}))
                            .collect::<Vec<_>>(),
                        "rejections": n.rejections.iter()
                            .map(|r| json!({"kind": r.kind, "label": r.label, "value": r.value, "error": r.reason.code()}))
                            .collect::<Vec<_>>(),
                        "dropped": c.dropped.iter()
                            .map(|d| json!({"field": d.field, "line": d.line, "reason": d.reason.code()}))
                            .collect::<Vec<_>>(),
                        "fingerprint": n.content_fingerprint.to_hex(),
                    })
                }
                SourceItem::Broken(b) => {
                    broken += 1;
                    json!({"file": file, "entry": b.position.entry, "line": b.position.line, "broken": b.reason.code()})
                }
            };
            write_json(&mut *out, &line)?;
        }
    }
    eprintln!(
        "read {contacts} contacts from {} of {} files: {identifiers} identifiers, {rejected} rejected values, {broken} broken entries, {dropped} dropped fields",
        files.len() - unreadable.min(files.len()),
        files.len(),
    );
    Ok(if unreadable > 0 {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    })
}
