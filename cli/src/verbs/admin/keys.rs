//! `contactsync admin key ...`: the two-step rotation of the hashing key — `rotate`, register
//! every user again, `activate` — and the list with the counts that tell whether the
//! re-registration is complete.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use contactsync_core::protocol::wire::{ActivateAnswer, ActivateRequest, KeyInfo, KeysAnswer};
use contactsync_core::upload::Method;
use serde_json::json;

use super::{Admin, AdminArgs};
use crate::failure::Failure;
use crate::output::write_json;
use crate::remote::segment;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create the next key (registrations are then hashed under both).
    Rotate {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Make the next key current; devices re-sync in full. Refused while users have fewer
    /// identifiers under the next key than under the current one (they would be found by
    /// nobody), unless `--force`.
    Activate {
        #[command(flatten)]
        admin: AdminArgs,
        /// The key's id, as `rotate` printed it.
        key_id: String,
        /// Activate even though users not registered again are lost.
        #[arg(long)]
        force: bool,
    },
    /// List the keys, their states and the users and identifiers under each (never secrets).
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// `contactsync admin key ...`.
pub fn run(out: &mut impl Write, action: KeyCommand) -> Result<ExitCode, Failure> {
    match action {
        KeyCommand::Rotate { admin } => key_rotate(out, &Admin::connect(&admin)?, admin.json),
        KeyCommand::Activate {
            admin,
            key_id,
            force,
        } => key_activate(out, &Admin::connect(&admin)?, &key_id, force, admin.json),
        KeyCommand::List { admin } => key_list(out, &Admin::connect(&admin)?, admin.json),
    }
}

/// `contactsync admin key rotate`.
fn key_rotate(out: &mut impl Write, admin: &Admin, as_json: bool) -> Result<ExitCode, Failure> {
    let key: KeyInfo = admin.call(Method::Post, "/v1/admin/keys", Some(&json!({})))?;
    if as_json {
        write_json(out, &key)?;
    } else {
        writeln!(out, "key {} created ({})", key.key_id, key.state)?;
        writeln!(
            out,
            "next: register every user again (`contactsync admin user import` or `user put`), \
             check with `contactsync admin key list`, then `contactsync admin key activate {}`",
            key.key_id
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync admin key activate`.
fn key_activate(
    out: &mut impl Write,
    admin: &Admin,
    key_id: &str,
    force: bool,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let answer: ActivateAnswer = admin.call(
        Method::Post,
        &format!("/v1/admin/keys/{}/activate", segment(key_id)),
        Some(&ActivateRequest { force }),
    )?;
    if as_json {
        write_json(out, &answer)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = answer.coverage;
    match &answer.retired {
        None => writeln!(out, "key {} is current already", answer.key_id)?,
        Some(retired) => {
            writeln!(
                out,
                "key {} is now current; key {retired} retired",
                answer.key_id
            )?;
            writeln!(
                out,
                "  users        {} of {} registered under it",
                c.users_next, c.users_current
            )?;
            writeln!(
                out,
                "  identifiers  {} of {}",
                c.identifiers_next, c.identifiers_current
            )?;
            if answer.forced {
                writeln!(
                    out,
                    "  forced: {} users with fewer identifiers under the new key are lost until \
                     registered again",
                    c.users_short
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync admin key list`.
fn key_list(out: &mut impl Write, admin: &Admin, as_json: bool) -> Result<ExitCode, Failure> {
    let keys: KeysAnswer = admin.call(Method::Get, "/v1/admin/keys", None::<&()>)?;
    if as_json {
        write_json(out, &keys)?;
    } else {
        writeln!(
            out,
            "{:<24}{:<9}{:>10}{:>13}",
            "key", "state", "users", "identifiers"
        )?;
        for k in &keys.keys {
            writeln!(
                out,
                "{:<24}{:<9}{:>10}{:>13}",
                k.key_id,
                k.state,
                k.users.unwrap_or(0),
                k.identifiers.unwrap_or(0)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
