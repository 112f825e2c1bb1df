//! The device's verbs over its server: `register`, `sync` and `forget` — the registration this
//! database holds (its credential, [`crate::credentials`]), what it sends and receives, and
//! withdrawing from the server; and `sync --matrix-is`, the same sync through a Matrix identity
//! server, which needs no registration.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use contactsync_core::identifier::Region;
use contactsync_core::protocol::wire::{DeleteReceipt, Registered, VouchRequest, codes};
use contactsync_core::upload::{Method, call};
use contactsync_core::{Error, MatrixOptions, SyncOptions, SyncReport};
use serde_json::{Value, json};

use crate::credentials::{self, Credential};
use crate::device_db::{engine_failure, open};
use crate::failure::{Failure, UsageError};
use crate::output::{StderrProgress, now, when, write_counts, write_json};
use crate::remote::{
    admin_token, credential_for, net_failure, required_credential, server_url, token_arg_or_env,
    transport,
};
use crate::transport::ServerUrl;

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

/// `contactsync sync`. `server` may be left out once the database is registered: its
/// credential names the server.
pub fn sync(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    force: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let server = server.map(server_url).transpose()?;
    let engine = open(db, region, true)?;
    let (server, credential) = match (credential_for(db, server.as_ref())?, server) {
        (Some(c), Some(server)) => (server, c),
        (Some(c), None) => (server_url(&c.server)?, c),
        (None, Some(server)) => {
            let (c, path) = register_device(db, &server, None)?;
            eprintln!(
                "contactsync: registered with {server} as client {} ({})",
                c.client_id,
                path.display()
            );
            // A new client starts with an empty set on the server: everything goes again, in full.
            engine.reset_sync().map_err(|e| engine_failure(db, &e))?;
            (server, c)
        }
        (None, None) => {
            return Err(UsageError(format!(
                "{} is not registered with a server yet: the first sync needs --server URL",
                db.display()
            ))
            .into());
        }
    };
    // A backoff of the device's own is waited out without asking the server: say so, rather
    // than "the server asked to wait".
    let schedule = engine.sync_schedule().map_err(|e| engine_failure(db, &e))?;
    if let Some(until) = schedule.backoff_until.filter(|&u| !force && u > now()) {
        return Err(own_backoff(
            "sync with",
            &server,
            schedule.backoff_attempts,
            until,
        ));
    }
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
        Error::Server { ref code, .. } if code == codes::UNAUTHORIZED => Failure::Refused(format!(
            "sync with {server}: {e}: the server no longer knows this device (deleted, or a new \
             server database); `contactsync forget --local --db {}` keeps the contacts and \
             drops the registration, then sync again to register anew",
            db.display()
        )),
        _ => net_failure("sync with", &server, &e),
    })?;
    let matches = engine.matches().map_err(|e| engine_failure(db, &e))?.len();
    if as_json {
        let fields = [
            ("server", server.as_str().into()),
            ("client_id", credential.client_id.clone().into()),
        ];
        write_report_json(out, &report, db, matches, fields)?;
    } else {
        writeln!(
            out,
            "synced {} with {server} (client {})",
            db.display(),
            credential.client_id
        )?;
        write_sync_report(out, &report, SERVER_CHECK)?;
        writeln!(
            out,
            "  {:<15}{matches:>9}   (`contactsync matches` lists them)",
            "matches"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the token of `--matrix-is` comes from when `--matrix-token` is not given.
const MATRIX_TOKEN_ENV: &str = "CONTACTSYNC_MATRIX_TOKEN";

/// `--matrix-token`, else `$CONTACTSYNC_MATRIX_TOKEN`.
pub fn matrix_token(arg: Option<&str>) -> Result<String, Failure> {
    token_arg_or_env(arg, MATRIX_TOKEN_ENV, || {
        format!(
            "--matrix-is needs the identity server's access token: --matrix-token TOKEN or \
             ${MATRIX_TOKEN_ENV}"
        )
    })
}

/// What `sync --matrix-is` was given.
#[derive(Debug)]
pub struct MatrixSync<'a> {
    /// The identity server's base URL, as typed.
    pub identity_server: &'a str,
    /// Its access token.
    pub token: &'a str,
    /// Look every identifier up now, whatever the re-lookup interval says.
    pub force: bool,
}

/// `contactsync sync --matrix-is URL`: the Matrix identity-service mode (docs/matrix.md). The
/// database's registration with a discovery server, if any, is not used: the identity server
/// needs none, and the engine leaves the other mode's state (and matches) when it switches.
pub fn sync_matrix(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    matrix: &MatrixSync<'_>,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let server = server_url(matrix.identity_server)?;
    let engine = open(db, region, true)?;
    // The core sends the token itself (MatrixOptions), not the transport.
    let t = transport(&server, None)?;
    let options = SyncOptions {
        force: matrix.force,
        matrix: Some(MatrixOptions::new(matrix.token)),
        ..SyncOptions::default()
    };
    let listener = StderrProgress::new();
    let result = engine.sync(&t, &options, &listener);
    listener.finish();
    let report = result.map_err(|e| match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, &e),
        _ => net_failure("sync with the identity server", &server, &e),
    })?;
    let matches = engine.matches().map_err(|e| engine_failure(db, &e))?.len();
    if as_json {
        let fields = [("identity_server", server.as_str().into())];
        write_report_json(out, &report, db, matches, fields)?;
    } else {
        writeln!(
            out,
            "synced {} with the Matrix identity server {server}",
            db.display()
        )?;
        write_sync_report(out, &report, MATRIX_RELOOKUP)?;
        writeln!(
            out,
            "  {:<15}{:>9}   (e-mail addresses and phone numbers only: handles, linked \
             accounts and invites have no medium there)",
            "left out", report.unsupported
        )?;
        writeln!(
            out,
            "  {:<15}{matches:>9}   (`contactsync matches` lists them: Matrix user ids)",
            "matches"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A sync report as one JSON object, with the database, the matches now and `fields`.
fn write_report_json<const N: usize>(
    out: &mut impl Write,
    report: &SyncReport,
    db: &Path,
    matches: usize,
    fields: [(&str, Value); N],
) -> io::Result<()> {
    let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
    if let Value::Object(map) = &mut value {
        for (name, field) in fields {
            map.insert(name.into(), field);
        }
        map.insert("db".into(), db.display().to_string().into());
        map.insert("matches".into(), matches.into());
    }
    write_json(out, &value)
}

/// Why a sync with a discovery server sent nothing (`report.skipped`).
const SERVER_CHECK: &str =
    "nothing sent: the server's check interval has not passed (--force to sync now)";

/// Why a sync in the Matrix mode sent nothing: it has no server-set interval; it looks up what is
/// new at once, and everything again once the re-lookup interval has passed since the last full
/// lookup (`MatrixOptions::relookup_interval`, a day).
const MATRIX_RELOOKUP: &str = "nothing sent: no new identifier, and the re-lookup interval (a \
     day since the last full lookup) has not passed (--force looks everything up now)";

/// The figures of a sync report, one per line; `skipped` says why nothing was sent when nothing
/// was (the mode's interval).
pub fn write_sync_report(out: &mut impl Write, r: &SyncReport, skipped: &str) -> io::Result<()> {
    if r.skipped {
        writeln!(out, "  {skipped}")?;
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

/// The device's own backoff, which a sync without `--force` waits out without asking the
/// server: after `attempts` failed attempts in a row, until `until`.
fn own_backoff(what: &str, server: &ServerUrl, attempts: u32, until: i64) -> Failure {
    let tries = if attempts == 1 { "attempt" } else { "attempts" };
    Failure::Later(format!(
        "{what} {server}: not tried: this device is backing off after {attempts} failed \
         {tries} in a row (its own backoff, which includes any Retry-After the server sent); \
         try again {}, or now with --force",
        when(until)
    ))
}

/// How `forget` goes.
#[derive(Debug, Clone, Copy)]
pub struct ForgetMode {
    /// Only here: drop the registration and sync state, keep the contacts; the server is not
    /// asked (it moved, or is gone).
    pub local: bool,
    /// Do not ask for confirmation.
    pub yes: bool,
}

/// Asks on the terminal whether to go ahead; without a terminal, only `--yes` goes ahead (a
/// script that forgot it stops with a usage error rather than hanging on a question).
fn confirm(question: &str, yes: bool) -> Result<bool, Failure> {
    if yes {
        return Ok(true);
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(UsageError(format!(
            "{question}: not asked, standard input is not a terminal; add --yes to go ahead"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

/// `contactsync forget`: the server deletes everything it holds for this device, then the local
/// store is wiped and the credential deleted. With `--local`, see [`forget_local`].
pub fn forget(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    mode: ForgetMode,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    if mode.local {
        return forget_local(out, region, db, mode.yes, as_json);
    }
    let (server, c) = required_credential(db, server, "forget")?;
    let question = format!(
        "forget this device: {server} deletes everything it holds for client {}, and {} is wiped",
        c.client_id,
        db.display()
    );
    if !confirm(&question, mode.yes)? {
        eprintln!("contactsync: nothing done");
        return Ok(ExitCode::SUCCESS);
    }
    let engine = open(db, region, false)?;
    let t = transport(&server, Some(&c.token))?;
    let receipt: DeleteReceipt = engine.forget(&t).map_err(|e| match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, &e),
        Error::Server { ref code, .. } if code == codes::UNAUTHORIZED => Failure::Refused(format!(
            "forget on {server}: {e}: the server no longer knows this device; `contactsync \
             forget --local --db {}` drops the registration here",
            db.display()
        )),
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

/// `contactsync forget --local`: for a device whose server moved or is gone. The credential and
/// everything the server gave (key, sync state, matches, invites) are dropped here; the imported
/// contacts and exclusions stay, and the next `sync --server URL` registers anew and sends them
/// in full. The old server is not asked and keeps what it held.
fn forget_local(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    yes: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let credential = credentials::load(db)?;
    let from = credential.as_ref().map_or_else(
        || "no server".to_owned(),
        |c| format!("{} (client {})", c.server, c.client_id),
    );
    let question = format!(
        "leave {from} without telling it: its registration and sync state are dropped from {}, \
         the contacts kept",
        db.display()
    );
    if !confirm(&question, yes)? {
        eprintln!("contactsync: nothing done");
        return Ok(ExitCode::SUCCESS);
    }
    let engine = open(db, region, true)?;
    engine.leave_server().map_err(|e| engine_failure(db, &e))?;
    credentials::remove(db)?;
    let contacts = engine
        .status()
        .map_err(|e| engine_failure(db, &e))?
        .contacts;
    if as_json {
        write_json(
            out,
            &json!({
                "local": true,
                "server": credential.as_ref().map(|c| &c.server),
                "client_id": credential.as_ref().map(|c| &c.client_id),
                "contacts": contacts,
                "db": db.display().to_string(),
            }),
        )?;
    } else {
        writeln!(out, "left {from} without telling it")?;
        writeln!(
            out,
            "  kept           {contacts} contacts in {}",
            db.display()
        )?;
        writeln!(
            out,
            "  dropped        credentials, key, sync state, matches, invites"
        )?;
        writeln!(
            out,
            "  next           `contactsync sync --server URL` registers anew and sends everything"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
