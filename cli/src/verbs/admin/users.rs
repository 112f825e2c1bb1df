//! `contactsync admin user ...`: register, replace, look up, list and delete the app's users.
//!
//! Identifiers are normalised here, on the operator's machine, and sent in canonical form; the
//! server hashes them on receipt and keeps only the hashes.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use contactsync_core::identifier::{Normalizer, Region};
use contactsync_core::protocol::wire::{
    ConfigAnswer, UserAnswer, UserEntry, UserInfo, UserListAnswer, UserRequest, UsersAnswer,
    UsersRequest,
};
use contactsync_core::upload::Method;
use serde::Deserialize;
use serde_json::json;

use super::{Admin, AdminArgs};
use crate::failure::{Failure, UsageError};
use crate::identifiers::{admin_identifier, canonical, resolve_region};
use crate::output::write_json;
use crate::remote::segment;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Register a user with these identifiers (replacing any registered before). Each is
    /// `kind:value` (`phone:`, `email:`, `handle:`, `account:`, `invite:`) or a value whose kind
    /// is guessed (`+4915123456789`, `ana@example.org`, `google:1078543`, `@ana`).
    Put {
        #[command(flatten)]
        admin: AdminArgs,
        /// The app's opaque reference of the user.
        #[arg(long, value_name = "REF")]
        user_ref: String,
        /// Keep the user but let nobody find them.
        #[arg(long)]
        hidden: bool,
        /// Default region for national-format phone numbers (see `normalize`).
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        /// The identifiers.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Register or replace many users from a file (`-`: standard input), one JSON object per
    /// line: `{"user_ref": "u_1", "identifiers": ["+4915123456789", "email:ana@example.org"]}`
    /// (`"discoverable": false` hides a user). Sent in bulk requests of up to the server's
    /// `max_batch`; each request is one transaction. This is the re-registration of a rotation.
    Import {
        #[command(flatten)]
        admin: AdminArgs,
        /// Default region for national-format phone numbers (see `normalize`).
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// What the server holds of a user: discoverable or not, and per key how many identifiers
    /// of which kinds (never a value).
    Get {
        #[command(flatten)]
        admin: AdminArgs,
        /// The app's opaque reference of the user.
        #[arg(long, value_name = "REF")]
        user_ref: String,
    },
    /// Every user the server holds, a page at a time: the reference and whether it is
    /// discoverable (never an identifier). `--json`: one object per user and line.
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// Start after this reference (where an earlier listing stopped).
        #[arg(long, value_name = "REF")]
        after: Option<String>,
        /// Users fetched per request (the server allows up to 1000).
        #[arg(long, value_name = "N", default_value_t = 500)]
        page: u32,
    },
    /// Delete a user (they are lost to every device that had found them).
    Delete {
        #[command(flatten)]
        admin: AdminArgs,
        /// The app's opaque reference of the user.
        #[arg(long, value_name = "REF")]
        user_ref: String,
    },
}

/// `contactsync admin user ...`.
pub fn run(out: &mut impl Write, action: UserCommand) -> Result<ExitCode, Failure> {
    match action {
        UserCommand::Put {
            admin,
            user_ref,
            hidden,
            region,
            ids,
        } => {
            let region = resolve_region(region.as_deref())?;
            user_put(
                out,
                &Admin::connect(&admin)?,
                region,
                &user_ref,
                hidden,
                &ids,
                admin.json,
            )
        }
        UserCommand::Import {
            admin,
            region,
            file,
        } => {
            let region = resolve_region(region.as_deref())?;
            user_import(out, &Admin::connect(&admin)?, region, &file, admin.json)
        }
        UserCommand::Get { admin, user_ref } => {
            user_get(out, &Admin::connect(&admin)?, &user_ref, admin.json)
        }
        UserCommand::List { admin, after, page } => {
            user_list(out, &Admin::connect(&admin)?, after, page, admin.json)
        }
        UserCommand::Delete { admin, user_ref } => {
            user_delete(out, &Admin::connect(&admin)?, &user_ref, admin.json)
        }
    }
}

/// `contactsync admin user put`.
fn user_put(
    out: &mut impl Write,
    admin: &Admin,
    region: Region,
    user_ref: &str,
    hidden: bool,
    ids: &[String],
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let normalizer = Normalizer::new(region);
    let identifiers = ids
        .iter()
        .map(|raw| admin_identifier(normalizer, raw))
        .collect::<Result<Vec<_>, _>>()?;
    let request = UserRequest {
        discoverable: !hidden,
        identifiers,
    };
    let answer: UserAnswer = admin.call(
        Method::Put,
        &format!("/v1/admin/users/{}", segment(user_ref)),
        Some(&request),
    )?;
    if as_json {
        write_json(out, &answer)?;
    } else {
        writeln!(
            out,
            "user {}: {} identifiers registered ({})",
            answer.user_ref,
            answer.identifiers,
            if hidden { "hidden" } else { "discoverable" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of an import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    user_ref: String,
    #[serde(default = "yes")]
    discoverable: bool,
    identifiers: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Room a request leaves for its users: the server's body limit less its envelope.
const BODY_OVERHEAD: usize = 64;

/// `contactsync admin user import`: the file's users in bulk requests that fit the server's
/// limits. A bad line stops the import before anything of its request is sent; the requests
/// before it were applied (registering a user again is idempotent: fix the line and run again).
fn user_import(
    out: &mut impl Write,
    admin: &Admin,
    region: Region,
    file: &Path,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let config: ConfigAnswer = admin.call(Method::Get, "/v1/config", None::<&()>)?;
    let max = usize::try_from(config.limits.max_batch).unwrap_or(usize::MAX);
    let max_body = usize::try_from(config.limits.max_body_bytes)
        .unwrap_or(usize::MAX)
        .saturating_sub(BODY_OVERHEAD);
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let normalizer = Normalizer::new(region);
    let mut total = UsersAnswer {
        users: 0,
        identifiers: 0,
    };
    let mut requests = 0u32;
    let mut chunk = Chunk::default();
    for (n, line) in reader.lines().enumerate() {
        let at = || format!("{} line {}", file.display(), n + 1);
        let line = line.map_err(|e| UsageError(format!("{}: {e}", at())))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ImportLine = serde_json::from_str(&line)
            .map_err(|e| UsageError(format!("{}: not a user line ({e})", at())))?;
        let identifiers = parsed
            .identifiers
            .iter()
            .map(|raw| canonical(normalizer, raw))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| UsageError(format!("{}: {e}", at())))?;
        let entry = UserEntry {
            user_ref: parsed.user_ref,
            discoverable: parsed.discoverable,
            identifiers,
        };
        let size = serde_json::to_vec(&entry).map_or(0, |v| v.len() + 1);
        if entry.identifiers.len() > max || size > max_body {
            return Err(
                UsageError(format!("{}: the user is over the server's limits", at())).into(),
            );
        }
        if !chunk.fits(&entry, size, max, max_body) {
            send(admin, &mut chunk, &mut total, &mut requests)?;
        }
        chunk.push(entry, size);
    }
    if !chunk.users.is_empty() {
        send(admin, &mut chunk, &mut total, &mut requests)?;
    }
    if as_json {
        write_json(
            out,
            &json!({"users": total.users, "identifiers": total.identifiers,
                                "requests": requests}),
        )?;
    } else {
        writeln!(
            out,
            "{} users, {} identifiers registered ({requests} requests)",
            total.users, total.identifiers
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The users of the next bulk request.
#[derive(Debug, Default)]
struct Chunk {
    users: Vec<UserEntry>,
    identifiers: usize,
    bytes: usize,
}

impl Chunk {
    /// Whether `entry` fits in this request: users, identifiers and bytes within the limits, and
    /// a `user_ref` at most once per request (a repeated user goes to the next one, where it
    /// replaces the earlier line, as the file's order says).
    fn fits(&self, entry: &UserEntry, size: usize, max: usize, max_body: usize) -> bool {
        self.users.len() < max
            && self.identifiers + entry.identifiers.len() <= max
            && self.bytes + size <= max_body
            && !self.users.iter().any(|u| u.user_ref == entry.user_ref)
    }

    fn push(&mut self, entry: UserEntry, size: usize) {
        self.identifiers += entry.identifiers.len();
        self.bytes += size;
        self.users.push(entry);
    }
}

fn send(
    admin: &Admin,
    chunk: &mut Chunk,
    total: &mut UsersAnswer,
    requests: &mut u32,
) -> Result<(), Failure> {
    let request = UsersRequest {
        users: std::mem::take(&mut chunk.users),
    };
    *chunk = Chunk::default();
    let answer: UsersAnswer = admin.call(Method::Post, "/v1/admin/users", Some(&request))?;
    total.users += answer.users;
    total.identifiers += answer.identifiers;
    *requests += 1;
    Ok(())
}

/// `contactsync admin user get`.
fn user_get(
    out: &mut impl Write,
    admin: &Admin,
    user_ref: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let user: UserInfo = admin.user(Method::Get, user_ref)?;
    if as_json {
        write_json(out, &user)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "user {} ({})",
        user.user_ref,
        if user.discoverable {
            "discoverable"
        } else {
            "hidden"
        }
    )?;
    for key in &user.keys {
        let kinds: Vec<String> = key.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "  {:<24}{:<9}{:>4} identifiers  {}",
            key.key_id,
            key.state,
            key.identifiers,
            kinds.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync admin user list`: page after page until the server says it was the last.
fn user_list(
    out: &mut impl Write,
    admin: &Admin,
    mut after: Option<String>,
    page: u32,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let (mut users, mut hidden) = (0u64, 0u64);
    loop {
        let mut path = format!("/v1/admin/users?limit={}", page.max(1));
        if let Some(a) = &after {
            path.push_str("&after=");
            path.push_str(&segment(a));
        }
        let answer: UserListAnswer = admin.call(Method::Get, &path, None::<&()>)?;
        for u in &answer.users {
            users += 1;
            if as_json {
                write_json(out, u)?;
            } else {
                let state = if u.discoverable {
                    "discoverable"
                } else {
                    hidden += 1;
                    "hidden"
                };
                writeln!(out, "{:<40} {state}", u.user_ref)?;
            }
        }
        match answer.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if !as_json {
        eprintln!("contactsync: {users} users ({hidden} hidden)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `contactsync admin user delete`.
fn user_delete(
    out: &mut impl Write,
    admin: &Admin,
    user_ref: &str,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let answer: UserAnswer = admin.user(Method::Delete, user_ref)?;
    if as_json {
        write_json(out, &answer)?;
    } else {
        writeln!(
            out,
            "user {} deleted ({} identifiers)",
            answer.user_ref, answer.identifiers
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use contactsync_core::protocol::wire::UserIdentifier;

    use super::*;

    #[test]
    fn chunks_fit_the_limits_and_hold_a_user_once() {
        let user = |r: &str, n: usize| UserEntry {
            user_ref: r.to_owned(),
            discoverable: true,
            identifiers: vec![
                UserIdentifier {
                    kind: "handle".into(),
                    value: "a".into()
                };
                n
            ],
        };
        let mut chunk = Chunk::default();
        chunk.push(user("u_1", 2), 10);
        assert!(chunk.fits(&user("u_2", 1), 10, 3, 100));
        assert!(!chunk.fits(&user("u_2", 2), 10, 3, 100), "identifiers");
        assert!(!chunk.fits(&user("u_2", 1), 91, 3, 100), "bytes");
        assert!(!chunk.fits(&user("u_1", 1), 10, 3, 100), "the same user");
        chunk.push(user("u_2", 0), 10);
        chunk.push(user("u_3", 0), 10);
        assert!(!chunk.fits(&user("u_4", 0), 10, 3, 100), "users");
    }
}
