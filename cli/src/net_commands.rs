//! What the verbs that talk to a discovery server (docs/protocol.md) share — the server URL,
//! the admin token, the transport, the stored credential, errors and their exit codes — and
//! `register`. The verbs themselves: [`crate::device`] (`sync`, `matches`, `forget`),
//! [`crate::invite`], [`crate::business`] and [`crate::admin`].
//!
//! The device's verbs drive the core's [`Engine`](contactsync_core::Engine) through an [`HttpTransport`], with the
//! credential kept beside the database ([`credentials`]). The admin verbs and registration are
//! one-shot typed calls ([`call`]). Errors name the server and the protocol's error code,
//! never a token, a hash or contact data the user did not type.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use contactsync_core::Error;
use contactsync_core::identifier::Region;
use contactsync_core::protocol::wire::{Registered, VouchRequest, codes};
use contactsync_core::upload::{Method, call};
use serde_json::json;

use crate::UsageError;
use crate::commands::Failure;
use crate::credentials::{self, Credential};
use crate::store_commands::{engine_failure, open, write_json};
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

/// A failed exchange with the server, with a hint where one helps, as the [`Failure`] its exit
/// code tells: [`Failure::Later`] when the same command may succeed later (no answer, 408, 429,
/// 5xx, a wait asked for), [`Failure::Refused`] when the server refused or broke the protocol.
pub fn net_failure(what: &str, server: &ServerUrl, e: &Error) -> Failure {
    let hint = match e {
        Error::Network(m) if untrusted_certificate(m) => {
            " (the server's TLS certificate is not trusted here: check the URL; SSL_CERT_FILE \
             names the authorities to trust)"
        }
        Error::Network(_) => " (is the server running, and the URL right? try again later)",
        Error::Server { code, .. } if code == codes::UNAUTHORIZED => {
            " (the server does not know this token)"
        }
        Error::Server { status: 404, .. } if what.contains("register") => {
            " (the server allows no open registration: register with --admin-token and --user-ref)"
        }
        Error::Server { code, .. } if code == codes::FORBIDDEN && what.contains("register") => {
            " (the server allows no open registration: register with --admin-token and --user-ref)"
        }
        Error::Server { status, .. } if retryable(*status) => {
            " (the server is busy or unavailable: try again later)"
        }
        Error::RetryLater { until } => {
            return Failure::Later(format!(
                "{what} {server}: the server answered busy or unavailable (429 or 5xx) until \
                 this sync gave up; try again {}",
                when(*until)
            ));
        }
        _ => "",
    };
    let message = format!("{what} {server}: {e}{hint}");
    match e {
        // Retrying does not make a certificate trusted: a refusal, not a "try later".
        Error::Network(m) if untrusted_certificate(m) => Failure::Refused(message),
        Error::Network(_) => Failure::Later(message),
        Error::Server { status, .. } if retryable(*status) => Failure::Later(message),
        Error::Server { .. } | Error::Protocol(_) => Failure::Refused(message),
        _ => UsageError(message).into(),
    }
}

/// Whether a network error is a TLS certificate the client does not trust (rustls' wording).
fn untrusted_certificate(message: &str) -> bool {
    message.contains("certificate")
}

/// A refusal the same request may not meet later: 408, 429, 5xx.
fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The device's own backoff, which a sync without `--force` waits out without asking the
/// server: after `attempts` failed attempts in a row, until `until`.
pub fn own_backoff(what: &str, server: &ServerUrl, attempts: u32, until: i64) -> Failure {
    let tries = if attempts == 1 { "attempt" } else { "attempts" };
    Failure::Later(format!(
        "{what} {server}: not tried: this device is backing off after {attempts} failed \
         {tries} in a row (its own backoff, which includes any Retry-After the server sent); \
         try again {}, or now with --force",
        when(until)
    ))
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// "in 3 h (at 1795600000)", "now".
pub(crate) fn when(at: i64) -> String {
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
pub(crate) fn credential_for(
    db: &Path,
    server: Option<&ServerUrl>,
) -> Result<Option<Credential>, Failure> {
    let Some(c) = credentials::load(db)? else {
        return Ok(None);
    };
    if let Some(server) = server
        && c.server != server.as_str()
    {
        return Err(UsageError(format!(
            "{db} is registered with {old} (client {client}), not {server}: one database syncs \
             with one server. To move it to {server}: if {old} still answers, `contactsync forget \
             --db {db}` asks it to delete this device's data (and wipes {db}: import again); if \
             {old} moved or is gone, `contactsync forget --local --db {db}` drops the \
             registration and sync state here and keeps the contacts. Then `contactsync sync \
             --server {server} --db {db}`. Or keep both: use another --db",
            db = db.display(),
            old = c.server,
            client = c.client_id,
        ))
        .into());
    }
    Ok(Some(c))
}

/// The stored credential, which must exist (`forget`, `invite`); `--server` may be left out.
pub(crate) fn required_credential(
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
pub(crate) fn register_device(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("u_1042"), "u_1042");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
