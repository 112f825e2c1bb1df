//! `contactsync invite ...`: invites, discovery without a phone number or e-mail — create,
//! redeem, and the creator's list and revocation.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use contactsync_core::Error;
use contactsync_core::identifier::{IdentifierKind, Normalizer, Region, invite};
use contactsync_core::protocol::wire::{InviteAnswer, codes};
use serde_json::json;

use crate::device_db::{engine_failure, open};
use crate::failure::{Failure, UsageError};
use crate::output::{now, when, write_json};
use crate::remote::{net_failure, required_credential, transport};
use crate::transport::ServerUrl;

fn invite_failure(server: &ServerUrl, db: &Path, e: &Error) -> Failure {
    match e {
        Error::Storage(_) | Error::NewerSchema { .. } => engine_failure(db, e),
        Error::Server { code, .. } if code == codes::USER_REQUIRED => Failure::Refused(format!(
            "invite on {server}: {e} (invites need a device the app's backend vouched for: \
             `contactsync register --admin-token T --user-ref U`)"
        )),
        Error::Server { code, .. } if code == codes::FORBIDDEN => {
            Failure::Refused(format!("invite on {server}: {e}"))
        }
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
    checked_code(region, code)?;
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

/// A code as typed or linked, checked before anything is sent (a typo is a usage error).
fn checked_code(region: Region, code: &str) -> Result<String, Failure> {
    Normalizer::new(region)
        .normalize(IdentifierKind::Invite, code)
        .map(|id| id.canonical().to_owned())
        .map_err(|e| UsageError(format!("invite code {code:?}: {}", e.code())).into())
}

/// `contactsync invite list`.
pub fn invite_list(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let invites = engine.invites().map_err(|e| engine_failure(db, &e))?;
    let now = now();
    for i in &invites {
        let state = match (&i.redeemed_by, i.expires_at > now) {
            (Some(_), _) => "redeemed",
            (None, true) => "open",
            (None, false) => "expired",
        };
        if as_json {
            write_json(
                out,
                &json!({
                    "code": i.code,
                    "display": invite::display(&i.code),
                    "state": state,
                    "created_at": i.created_at,
                    "expires_at": i.expires_at,
                    "redeemed_by": i.redeemed_by,
                }),
            )?;
            continue;
        }
        let detail = match &i.redeemed_by {
            Some(user) => format!("by user {user}"),
            None if state == "open" => format!("expires {}", when(i.expires_at)),
            None => format!("at {}", i.expires_at),
        };
        writeln!(out, "{:<24}{state:<10}{detail}", invite::display(&i.code))?;
    }
    if invites.is_empty() && !as_json {
        writeln!(
            out,
            "no invites created with this database (`contactsync invite create`)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync invite revoke`.
pub fn invite_revoke(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    server: Option<&str>,
    code: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let code = checked_code(region, code)?;
    let (server, c) = required_credential(db, server, "invite revoke")?;
    let engine = open(db, region, true)?;
    let t = transport(&server, Some(&c.token))?;
    engine
        .revoke_invite(&t, &code)
        .map_err(|e| invite_failure(&server, db, &e))?;
    if as_json {
        write_json(out, &json!({"code": code, "revoked": true}))?;
    } else {
        writeln!(
            out,
            "revoked invite {}: it redeems no more",
            invite::display(&code)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
