//! `contactsync business-match`: a business's list against the app's users.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use contactsync_core::identifier::{Identifier, IdentifierKind, Normalizer, Region};
use contactsync_core::protocol::encoding::{self, Encoding};
use contactsync_core::protocol::wire::{ConfigAnswer, MatchAnswer, MatchRequest, WireHash, codes};
use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::upload::{Method, call_in, get};
use contactsync_core::{Error, HashKey, Transport};
use serde::Serialize;

use crate::failure::{Failure, UsageError};
use crate::output::write_json;
use crate::remote::{admin_token, net_failure, server_url, transport};
use crate::transport::ServerUrl;

/// One entry of a business's list.
#[derive(Debug)]
struct ListEntry {
    file: String,
    entry: usize,
    name: String,
    identifiers: Vec<Identifier>,
}

/// A matched entry, as `business-match --json` prints it.
#[derive(Debug, Serialize)]
struct MatchedEntry<'a> {
    file: &'a str,
    entry: usize,
    name: &'a str,
    matches: Vec<MatchedIdentifier<'a>>,
}

#[derive(Debug, Serialize)]
struct MatchedIdentifier<'a> {
    kind: IdentifierKind,
    canonical: &'a str,
    user_ref: &'a str,
}

/// Bytes of a match request around its hashes, and per hash at most (JSON: 22 characters,
/// quotes, comma; CBOR's 17 bytes fit within it).
const MATCH_OVERHEAD: u32 = 128;
const MATCH_PER_HASH: u32 = 25;

/// `contactsync business-match`: the list is read, normalised and hashed here; only keyed hashes
/// are sent, and the server keeps nothing of them.
pub fn business_match(
    out: &mut impl Write,
    region: Region,
    server: &str,
    admin_token_arg: Option<&str>,
    files: &[PathBuf],
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let server = server_url(server)?;
    let token = admin_token(admin_token_arg)?;
    contactsync_core::identifier::phone::warm_up_in_background(region);
    let normalizer = Normalizer::new(region);
    let mut entries = Vec::new();
    let (mut broken, mut rejected) = (0u64, 0u64);
    for path in files {
        let file = path.display().to_string();
        let items = source::read_path(path, &ReadOptions::default())
            .map_err(|e| UsageError(format!("{file}: {e}")))?;
        for item in items {
            match item.map_err(|e| UsageError(format!("{file}: {e}")))? {
                SourceItem::Contact(c) => {
                    let n = normalizer.normalize_contact(&c.contact);
                    rejected += n.rejections.len() as u64;
                    entries.push(ListEntry {
                        file: file.clone(),
                        entry: c.position.entry,
                        name: n.display_name,
                        identifiers: n.identifiers,
                    });
                }
                SourceItem::Broken(_) => broken += 1,
            }
        }
    }
    let t = transport(&server, Some(&token))?;
    let found = match_hashes(&t, &server, &entries)?;

    let mut on_app = 0usize;
    let width = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    for (i, e) in entries.iter().enumerate() {
        let matched: Vec<MatchedIdentifier> = e
            .identifiers
            .iter()
            .enumerate()
            .filter_map(|(j, id)| {
                found.get(&(i, j)).map(|user_ref| MatchedIdentifier {
                    kind: id.kind(),
                    canonical: id.canonical(),
                    user_ref,
                })
            })
            .collect();
        if matched.is_empty() {
            continue;
        }
        on_app += 1;
        if as_json {
            write_json(
                out,
                &MatchedEntry {
                    file: &e.file,
                    entry: e.entry,
                    name: &e.name,
                    matches: matched,
                },
            )?;
        } else {
            let name = if e.name.is_empty() {
                "(no name)"
            } else {
                &e.name
            };
            for (k, m) in matched.iter().enumerate() {
                let shown = if k == 0 { name } else { "" };
                writeln!(
                    out,
                    "{shown:<width$}  {:<8}{:<32}  user {}",
                    m.kind.as_str(),
                    m.canonical,
                    m.user_ref
                )?;
            }
        }
    }
    let identifiers: usize = entries.iter().map(|e| e.identifiers.len()).sum();
    eprintln!(
        "contactsync: {} entries ({identifiers} identifiers, {rejected} rejected values, {broken} \
         broken entries): {on_app} on the app",
        entries.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Hashes every identifier of the list and asks the server which belong to users, in requests
/// within its limits. Answers `(entry, identifier) → user_ref`. A key rotated meanwhile means one
/// fresh start under the new key.
fn match_hashes(
    t: &dyn Transport,
    server: &ServerUrl,
    entries: &[ListEntry],
) -> Result<BTreeMap<(usize, usize), String>, Failure> {
    let mut attempts = 0;
    'again: loop {
        attempts += 1;
        let config: ConfigAnswer = get(t, Method::Get, "/v1/config")
            .map_err(|e| net_failure("business-match on", server, &e))?;
        let key = HashKey::from_base64(config.key_id.clone(), &config.key).map_err(|e| {
            UsageError(format!(
                "business-match on {server}: the server's key is unusable: {e}"
            ))
        })?;
        // The list goes as CBOR (a third of JSON's bytes) to a server that reads it.
        let encoding = if config.encodings.iter().any(|e| e == encoding::CBOR) {
            Encoding::Cbor
        } else {
            Encoding::Json
        };
        // Distinct hashes, each with the identifiers it stands for.
        let mut by_hash: BTreeMap<WireHash, Vec<(usize, usize)>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            for (j, id) in e.identifiers.iter().enumerate() {
                by_hash.entry(key.hash(id).into()).or_default().push((i, j));
            }
        }
        let by_body = config.limits.max_body_bytes.saturating_sub(MATCH_OVERHEAD) / MATCH_PER_HASH;
        let chunk = usize::try_from(config.limits.max_batch.min(by_body).max(1)).unwrap_or(1);
        let hashes: Vec<&WireHash> = by_hash.keys().collect();
        let mut found = BTreeMap::new();
        for part in hashes.chunks(chunk) {
            let request = MatchRequest {
                key_id: key.id().to_owned(),
                hashes: part.iter().map(|h| (*h).clone()).collect(),
            };
            let answer: MatchAnswer =
                match call_in(encoding, t, Method::Post, "/v1/admin/match", Some(&request)) {
                    Ok(a) => a,
                    Err(Error::Server { code, .. })
                        if code == codes::KEY_ROTATED && attempts < 2 =>
                    {
                        continue 'again;
                    }
                    Err(e) => return Err(net_failure("business-match on", server, &e)),
                };
            for m in answer.matches {
                // Hashes that were not asked about are ignored.
                if let Some(ids) = by_hash.get(&m.hash) {
                    for &at in ids {
                        found.insert(at, m.user_ref.clone());
                    }
                }
            }
        }
        return Ok(found);
    }
}
