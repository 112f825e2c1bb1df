//! `contactsync admin token rotate`: a new admin token, the old one revoked on every instance.
//!
//! Two ways, for two moments: on the server's machine, straight on its database (`--db` or the
//! `--config` file `serve` reads) — the first token, or a lost one; or through the API of a
//! running server with the current token (`--server`), from wherever the backend runs. The token
//! is printed once, alone on stdout (so `> file` keeps it), or written to a new file of mode
//! 0600 with `--to`; the server keeps only its SHA-256.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use contactsync_core::upload::{Method, call};
use contactsync_server::Database;
use serde::Deserialize;

use crate::failure::{Failure, UsageError};
use crate::remote::{admin_token, net_failure, server_url, transport};
use crate::settings;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a new admin token and revoke the old one, on the server's database (`--db`, or
    /// `--config`: the file `serve` reads) or through a running server (`--server`, with the
    /// current token). Prints the new token once.
    #[command(group(clap::ArgGroup::new("where").required(true).args(["db", "config", "server"])))]
    Rotate {
        /// The server's database, as `serve --db` takes it.
        #[arg(long, value_name = "PATH|URL", env = "CONTACTSYNC_SERVER_DB")]
        db: Option<String>,
        /// The server's config file: its `db` is used.
        #[arg(long, value_name = "FILE", conflicts_with = "db")]
        config: Option<PathBuf>,
        /// A running server's base URL (the current token: --admin-token or
        /// `$CONTACTSYNC_ADMIN_TOKEN`).
        #[arg(long, value_name = "URL", conflicts_with_all = ["db", "config"])]
        server: Option<String>,
        /// The current admin token (with --server).
        #[arg(long, value_name = "TOKEN", requires = "server")]
        admin_token: Option<String>,
        /// Write the new token to this file (created, mode 0600; an existing file is refused)
        /// instead of stdout.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
}

#[derive(Deserialize)]
struct TokenAnswer {
    admin_token: String,
}

/// `contactsync admin token ...`.
pub fn run(out: &mut impl Write, what: TokenCommand) -> Result<ExitCode, Failure> {
    let TokenCommand::Rotate {
        db,
        config,
        server,
        admin_token: current,
        to,
    } = what;
    // The file first: a rotation whose token cannot be kept would lock the backend out.
    let mut file = to.as_deref().map(create_private).transpose()?;
    let rotated = rotate(server, db, config, current.as_deref());
    let token = match rotated {
        Ok(token) => token,
        Err(e) => {
            if let Some(path) = &to {
                drop(file.take());
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    if let (Some(mut file), Some(path)) = (file, to) {
        writeln!(file, "{token}")
            .and_then(|()| file.sync_all())
            .map_err(|e| UsageError(format!("writing {}: {e}", path.display())))?;
        eprintln!(
            "contactsync: a new admin token is in {}; the old one no longer works",
            path.display()
        );
    } else {
        writeln!(out, "{token}")?;
        eprintln!("contactsync: the new admin token is shown once; the old one no longer works");
    }
    Ok(ExitCode::SUCCESS)
}

/// Rotates where the arguments say.
fn rotate(
    server: Option<String>,
    db: Option<String>,
    config: Option<PathBuf>,
    current: Option<&str>,
) -> Result<String, Failure> {
    Ok(match (server, db, config) {
        (Some(server), _, _) => {
            let server = server_url(&server)?;
            let current = admin_token(current)?;
            let answer: TokenAnswer = call(
                &transport(&server, Some(&current))?,
                Method::Post,
                "/v1/admin/token",
                None::<&()>,
            )
            .map_err(|e| net_failure("rotating the admin token at", &server, &e))?;
            answer.admin_token
        }
        (None, Some(db), _) => rotate_in(&Database::parse(&db))?,
        (None, None, Some(config)) => {
            let db = settings::read_file(&config)?.db.ok_or_else(|| {
                UsageError(format!("the config file {} sets no db", config.display()))
            })?;
            rotate_in(&Database::parse(&db))?
        }
        (None, None, None) => {
            return Err(UsageError("say where: --db, --config or --server".into()).into());
        }
    })
}

/// Rotates on the database itself (migrating it first, as a server would).
fn rotate_in(db: &Database) -> Result<String, Failure> {
    let storage = db
        .open()
        .map_err(|e| UsageError(format!("opening {db}: {e}")))?;
    let now = contactsync_server::Clock::system().now();
    contactsync_server::rotate_admin_token(storage.as_ref(), now)
        .map_err(|e| UsageError(format!("storing the admin token in {db}: {e}")).into())
}

/// A new file only its owner can read (an existing one is an error).
fn create_private(path: &Path) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| UsageError(format!("creating {}: {e}", path.display())).into())
}
