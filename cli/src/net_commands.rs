//! The verbs that talk to a discovery server (docs/protocol.md): `register`, `sync`, `matches`,
//! `forget`, `invite`, `business-match` and `admin`.
//!
//! The device's verbs drive the core's [`Engine`](contactsync_core::Engine) through an [`HttpTransport`], with the
//! credential kept beside the database ([`credentials`]). The admin verbs and registration are
//! one-shot typed calls ([`call`], [`get`]). Errors name the server and the protocol's error code,
//! never a token, a hash or contact data the user did not type.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use contactsync_core::identifier::{Identifier, IdentifierKind, Normalizer, Region, invite};
use contactsync_core::protocol::encoding::{self, Encoding};
use contactsync_core::protocol::wire::{
    ConfigAnswer, DeleteReceipt, InviteAnswer, MatchAnswer, MatchRequest, Registered, VouchRequest,
    WireHash, codes,
};
use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::upload::{Method, call, call_in, get};
use contactsync_core::{Error, HashKey, Match, SyncOptions, SyncReport, Transport};
use serde::Serialize;
use serde_json::{Value, json};

use crate::UsageError;
use crate::commands::{Failure, write_counts};
use crate::credentials::{self, Credential};
use crate::store_commands::{StderrProgress, engine_failure, open, write_json};
use crate::transport::{HttpTransport, ServerUrl};

/// The environment variable holding the admin token.
pub const ADMIN_TOKEN_ENV: &str = "CONTACTSYNC_ADMIN_TOKEN";

/// Parses `--server`.
pub fn server_url(text: &str) -> Result<ServerUrl, Failure> {
    ServerUrl::parse(text).map_err(|e| UsageError(e.0).into())
}

/// `--admin-token`, else `$CONTACTSYNC_ADMIN_TOKEN`.
pub fn admin_token(arg: Option<&str>) -> Result<String, Failure> {
    arg.map(str::to_owned)
        .or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "this needs the server's admin token: --admin-token TOKEN or ${ADMIN_TOKEN_ENV}"
            ))
            .into()
        })
}

/// A transport, or a usage error (no root certificates, say).
pub fn transport(server: &ServerUrl, token: Option<&str>) -> Result<HttpTransport, Failure> {
    HttpTransport::new(server, token).map_err(|e| UsageError(e.0).into())
}

/// A failed exchange with the server, with a hint where one helps.
pub fn net_failure(what: &str, server: &ServerUrl, e: &Error) -> Failure {
    let hint = match e {
        Error::Network(_) => " (is the server running, and the URL right?)",
        Error::Server { code, .. } if code == codes::UNAUTHORIZED => {
            " (the server does not know this token)"
        }
        Error::Server { status: 404, .. } if what.contains("register") => {
            " (the server allows no open registration: register with --admin-token and --user-ref)"
        }
        Error::Server { code, .. } if code == codes::FORBIDDEN && what.contains("register") => {
            " (the server allows no open registration: register with --admin-token and --user-ref)"
        }
        Error::RetryLater { until } => {
            return UsageError(format!(
                "{what} {server}: the server asked to wait; try again {}",
                when(*until)
            ))
            .into();
        }
        _ => "",
    };
    UsageError(format!("{what} {server}: {e}{hint}")).into()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// "in 3 h (at 1795600000)", "now".
fn when(at: i64) -> String {
    let left = at - now();
    if left <= 0 {
        return "now".to_owned();
    }
    let rough = match left {
        0..60 => format!("{left} s"),
        60..3600 => format!("{} min", left / 60),
        3600..86400 => format!("{} h", left / 3600),
        _ => format!("{} d", left / 86400),
    };
    format!("in {rough} (at {at})")
}

/// One path segment, percent-encoded (user references and key ids go in paths).
pub(crate) fn segment(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// The stored credential for `server`; an error when the database belongs to another server.
fn credential_for(db: &Path, server: Option<&ServerUrl>) -> Result<Option<Credential>, Failure> {
    let Some(c) = credentials::load(db)? else {
        return Ok(None);
    };
    if let Some(server) = server
        && c.server != server.as_str()
    {
        return Err(UsageError(format!(
            "{} is registered with {} (client {}), not {server}: one database syncs with one \
             server; use another --db, or `contactsync forget --server {}` first",
            db.display(),
            c.server,
            c.client_id,
            c.server
        ))
        .into());
    }
    Ok(Some(c))
}

/// The stored credential, which must exist (`forget`, `invite`); `--server` may be left out.
fn required_credential(
    db: &Path,
    server: Option<&str>,
    verb: &str,
) -> Result<(ServerUrl, Credential), Failure> {
    let server = server.map(server_url).transpose()?;
    let Some(c) = credential_for(db, server.as_ref())? else {
        return Err(UsageError(format!(
            "{} is not registered with a server (no {}): run `contactsync register --server URL \
             ...` or `contactsync sync --server URL` before `{verb}`",
            db.display(),
            credentials::path_for(db).display()
        ))
        .into());
    };
    let server = match server {
        Some(s) => s,
        None => server_url(&c.server)?,
    };
    Ok((server, c))
}

/// Registers this database's device: vouched (admin token and user reference) or open.
fn register_device(
    db: &Path,
    server: &ServerUrl,
    vouch: Option<(&str, &str)>,
) -> Result<(Credential, PathBuf), Failure> {
    let registered: Registered = if let Some((admin_token, user_ref)) = vouch {
        let t = transport(server, Some(admin_token))?;
        call(
            &t,
            Method::Post,
            "/v1/admin/clients",
            Some(&VouchRequest {
                user_ref: user_ref.to_owned(),
            }),
        )
    } else {
        let t = transport(server, None)?;
        call(&t, Method::Post, "/v1/clients", Some(&json!({})))
    }
    .map_err(|e| net_failure("register with", server, &e))?;
    let credential = Credential {
        server: server.as_str().to_owned(),
        client_id: registered.client_id,
        token: registered.token,
        user_ref: registered
            .user_ref
            .or_else(|| vouch.map(|(_, u)| u.to_owned())),
    };
    let path = credentials::save(db, &credential)?;
    Ok((credential, path))
}

/// `contactsync register`.
pub fn register(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: &str,
    admin_token_arg: Option<&str>,
    user_ref: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let server = server_url(server)?;
    if admin_token_arg.is_some() && user_ref.is_none() {
        return Err(UsageError(
            "--admin-token registers a device for a user: give --user-ref too".into(),
        )
        .into());
    }
    if let Some(c) = credentials::load(db)? {
        return Err(UsageError(format!(
            "{} is already registered with {} as client {}: use another --db, or \
             `contactsync forget` first",
            db.display(),
            c.server,
            c.client_id
        ))
        .into());
    }
    let token = user_ref.map(|_| admin_token(admin_token_arg)).transpose()?;
    let vouch = token.as_deref().zip(user_ref);
    let (c, path) = register_device(db, &server, vouch)?;
    if db.exists() {
        // A new client starts with an empty set on the server: everything goes again, in full.
        let engine = open(db, region, true)?;
        engine.reset_sync().map_err(|e| engine_failure(db, &e))?;
    }
    if as_json {
        write_json(
            out,
            &json!({
                "server": c.server,
                "client_id": c.client_id,
                "user_ref": c.user_ref,
                "credentials": path.display().to_string(),
            }),
        )?;
    } else {
        write!(
            out,
            "registered with {} as client {}",
            c.server, c.client_id
        )?;
        if let Some(u) = &c.user_ref {
            write!(out, " for user {u}")?;
        }
        writeln!(out)?;
        writeln!(out, "  credentials    {} (keep it private)", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync sync`.
pub fn sync(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: &str,
    force: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let server = server_url(server)?;
    let engine = open(db, region, true)?;
    let credential = if let Some(c) = credential_for(db, Some(&server))? {
        c
    } else {
        let (c, path) = register_device(db, &server, None)?;
        eprintln!(
            "contactsync: registered with {server} as client {} ({})",
            c.client_id,
            path.display()
        );
        // A new client starts with an empty set on the server: everything goes again, in full.
        engine.reset_sync().map_err(|e| engine_failure(db, &e))?;
        c
    };
    let t = transport(&server, Some(&credential.token))?;
    let options = SyncOptions {
        force,
        ..SyncOptions::default()
    };
    let listener = StderrProgress::new();
    let result = engine.sync(&t, &options, &listener);
    listener.finish();
    let report = result.map_err(|e| match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, &e),
        Error::Server { ref code, .. } if code == codes::UNAUTHORIZED => UsageError(format!(
            "sync with {server}: {e}: the server no longer knows this device (deleted, or a new \
             server database); delete {} and sync again to register anew",
            credentials::path_for(db).display()
        ))
        .into(),
        _ => net_failure("sync with", &server, &e),
    })?;
    let matches = engine.matches().map_err(|e| engine_failure(db, &e))?.len();
    if as_json {
        let mut value = serde_json::to_value(&report).map_err(io::Error::other)?;
        if let Value::Object(map) = &mut value {
            map.insert("server".into(), server.as_str().into());
            map.insert("client_id".into(), credential.client_id.clone().into());
            map.insert("db".into(), db.display().to_string().into());
            map.insert("matches".into(), matches.into());
        }
        write_json(out, &value)?;
    } else {
        writeln!(
            out,
            "synced {} with {server} (client {})",
            db.display(),
            credential.client_id
        )?;
        write_sync_report(out, &report)?;
        writeln!(
            out,
            "  {:<15}{matches:>9}   (`contactsync matches` lists them)",
            "matches"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The figures of a sync report, one per line.
pub fn write_sync_report(out: &mut impl Write, r: &SyncReport) -> io::Result<()> {
    if r.skipped {
        writeln!(
            out,
            "  nothing sent: the server's check interval has not passed (--force to sync now)"
        )?;
    }
    write_counts(
        out,
        &[
            ("batches_sent", r.batches_sent),
            ("batches_retried", r.batches_retried),
            ("batches_split", r.batches_split),
            ("added", r.added),
            ("removed", r.removed),
            ("new_matches", r.new_matches),
            ("lost_matches", r.lost_matches),
            ("deferred", r.deferred),
            ("rejected", r.rejected),
        ],
    )?;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "  {:<15}{:>9}", "key_rotated", yes_no(r.key_rotated))?;
    writeln!(out, "  {:<15}{}", "next sync", when(r.next_sync_at))
}

/// What a match is found through, for people: the contact's name, or "(invite)".
pub fn match_name(m: &Match) -> &str {
    match (&m.source_id, m.display_name.is_empty()) {
        (None, _) => "(invite)",
        (Some(_), true) => "(no name)",
        (Some(_), false) => &m.display_name,
    }
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
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let all = engine.matches().map_err(|e| engine_failure(db, &e))?;
    if as_json {
        for m in &all {
            let mut value = serde_json::to_value(m).map_err(io::Error::other)?;
            if let Value::Object(map) = &mut value {
                let via = if m.source_id.is_none() {
                    "invite"
                } else {
                    "contact"
                };
                map.insert("via".into(), via.into());
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

/// `contactsync forget`: the server deletes everything it holds for this device, then the local
/// store is wiped and the credential deleted.
pub fn forget(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let (server, c) = required_credential(db, server, "forget")?;
    let engine = open(db, region, false)?;
    let t = transport(&server, Some(&c.token))?;
    let receipt: DeleteReceipt = engine.forget(&t).map_err(|e| match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, &e),
        Error::Server { ref code, .. } if code == codes::UNAUTHORIZED => UsageError(format!(
            "forget on {server}: {e}: the server no longer knows this device; delete {} and the \
             database to start over",
            credentials::path_for(db).display()
        ))
        .into(),
        _ => net_failure("forget on", &server, &e),
    })?;
    credentials::remove(db)?;
    if as_json {
        write_json(out, &receipt)?;
    } else {
        writeln!(
            out,
            "forgotten: {server} deleted client {} (receipt {}, at {})",
            receipt.client_id, receipt.receipt_id, receipt.deleted_at
        )?;
        let d = receipt.deleted;
        writeln!(
            out,
            "  deleted        hashes {}, batch answers {}, invites {}",
            d.hashes, d.batches, d.invites
        )?;
        writeln!(
            out,
            "  local data     wiped ({}); credentials deleted",
            db.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn invite_failure(server: &ServerUrl, db: &Path, e: &Error) -> Failure {
    match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, e),
        Error::Server { code, .. } if code == codes::FORBIDDEN => UsageError(format!(
            "invite on {server}: {e} (invites need a device the app's backend vouched for: \
             `contactsync register --admin-token T --user-ref U`)"
        ))
        .into(),
        Error::Server { code, .. } if code == codes::NOT_FOUND => UsageError(format!(
            "invite on {server}: {e} (the code is unknown, expired, revoked or used)"
        ))
        .into(),
        _ => net_failure("invite on", server, e),
    }
}

/// `contactsync invite create`.
pub fn invite_create(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    ttl_s: Option<u32>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let (server, c) = required_credential(db, server, "invite create")?;
    let engine = open(db, region, false)?;
    let t = transport(&server, Some(&c.token))?;
    let answer: InviteAnswer = engine
        .create_invite(&t, ttl_s)
        .map_err(|e| invite_failure(&server, db, &e))?;
    if as_json {
        write_json(out, &answer)?;
    } else {
        writeln!(out, "invite code    {}", invite::display(&answer.code))?;
        writeln!(out, "link           {}", answer.link)?;
        writeln!(out, "expires        {}", when(answer.expires_at))?;
        writeln!(
            out,
            "whoever redeems it shows up in `contactsync matches` after your next sync"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync invite redeem`.
pub fn invite_redeem(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    code: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    // A mistyped code is refused here, before anything is sent.
    let normalizer = Normalizer::new(region);
    normalizer
        .normalize(IdentifierKind::Invite, code)
        .map_err(|e| UsageError(format!("invite code {code:?}: {}", e.code())))?;
    let (server, c) = required_credential(db, server, "invite redeem")?;
    let engine = open(db, region, false)?;
    let t = transport(&server, Some(&c.token))?;
    let user_ref = engine
        .redeem_invite(&t, code)
        .map_err(|e| invite_failure(&server, db, &e))?;
    if as_json {
        write_json(out, &json!({"user_ref": user_ref}))?;
    } else {
        writeln!(out, "redeemed: you and user {user_ref} are now matched")?;
    }
    Ok(ExitCode::SUCCESS)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("u_1042"), "u_1042");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
