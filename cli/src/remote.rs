//! The server the CLI talks to (docs/protocol.md): its URL (`--server`), the credential it is
//! called with (the device's token stored beside the database, or the admin token from
//! `--admin-token` or `$CONTACTSYNC_ADMIN_TOKEN`), the HTTP transport ([`crate::transport`]),
//! request paths, and a failed exchange as the [`Failure`] whose exit code tells whether trying
//! again later may help.
//!
//! Shared by every verb that talks to a server, so that they all find the credential, name the
//! server and map errors to exit codes the same way. Errors name the server and the protocol's
//! error code, never a token, a hash or contact data the user did not type.

use std::fmt::Write as _;
use std::path::Path;

use contactsync_core::Error;
use contactsync_core::protocol::wire::codes;

use crate::credentials::{self, Credential};
use crate::failure::{Failure, UsageError};
use crate::output::when;
use crate::transport::{HttpTransport, ServerUrl};

/// The environment variable holding the admin token.
pub const ADMIN_TOKEN_ENV: &str = "CONTACTSYNC_ADMIN_TOKEN";

/// Parses `--server`.
pub fn server_url(text: &str) -> Result<ServerUrl, Failure> {
    ServerUrl::parse(text).map_err(|e| UsageError(e.0).into())
}

/// `--admin-token`, else `$CONTACTSYNC_ADMIN_TOKEN`.
pub fn admin_token(arg: Option<&str>) -> Result<String, Failure> {
    token_arg_or_env(arg, ADMIN_TOKEN_ENV, || {
        format!("this needs the server's admin token: --admin-token TOKEN or ${ADMIN_TOKEN_ENV}")
    })
}

/// A token from its flag, else from the environment variable `env` (which keeps it out of the
/// process list), trimmed; empty is none, a usage error saying `missing()`.
pub fn token_arg_or_env(
    arg: Option<&str>,
    env: &str,
    missing: impl FnOnce() -> String,
) -> Result<String, Failure> {
    arg.map(str::to_owned)
        .or_else(|| std::env::var(env).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UsageError(missing()).into())
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

/// One path segment, percent-encoded (user references and key ids go in paths).
pub fn segment(text: &str) -> String {
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
pub fn credential_for(
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
pub fn required_credential(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("u_1042"), "u_1042");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
