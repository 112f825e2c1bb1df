//! `contactsync invite ...`: invites, discovery without a phone number or e-mail.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use contactsync_core::Error;
use contactsync_core::identifier::{IdentifierKind, Normalizer, Region, invite};
use contactsync_core::upload::wire::{InviteAnswer, codes};
use serde_json::json;

use crate::UsageError;
use crate::commands::Failure;
use crate::net_commands::{net_failure, required_credential, transport, when};
use crate::store_commands::{engine_failure, open, write_json};
use crate::transport::ServerUrl;

fn invite_failure(server: &ServerUrl, db: &Path, e: &Error) -> Failure {
    match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, e),
        Error::Server { code, .. } if code == codes::FORBIDDEN => Failure::Refused(format!(
            "invite on {server}: {e} (invites need a device the app's backend vouched for: \
             `contactsync register --admin-token T --user-ref U`)"
        )),
        Error::Server { code, .. } if code == codes::NOT_FOUND => Failure::Refused(format!(
            "invite on {server}: {e} (the code is unknown, expired, revoked or used)"
        )),
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
