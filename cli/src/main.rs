//! `contactsync`: the command line over contactsync-core.
//!
//! Every verb drives the same core the mobile bindings use, with no FFI in between. The verbs
//! over identifiers and files (`normalize`, `hash`, `read`) print one JSON object per line on
//! stdout (easy to pipe into `jq` or the next verb); summaries and errors go to stderr. The verbs
//! over the local database (`import`, `status`, `contacts`, `matches`) and the server (`sync`,
//! `register`, `forget`, `invite`, `business-match`, `admin`) print a readable summary, or JSON
//! with `--json`; their progress goes to stderr. `serve` runs the reference server and `demo` the
//! whole flow on this machine. Exit codes ([`EXIT_CODES`]): 0 success (rejected values are data,
//! not failures), 1 the server refused, 2 unusable arguments or local trouble, 75 retry later.
//!
//! # Layout: what may import what
//!
//! This file only parses the command line and dispatches; the work is in two layers.
//!
//! - **Verbs** (`verbs/`, [`verbs`]): one module per verb family (`device`: register, sync,
//!   forget; `admin/`: the admin verbs; `invite`, `matches`, `status`, `serve`, `demo`, ...). A
//!   verb module may use the shared modules, and a file of a family directory (`verbs/admin/`)
//!   its family's `mod.rs`. It never uses another verb module, a sibling file of its family, or
//!   an item of this file.
//! - **Shared** modules, lowest first; each may use those above it in this list, never a verb:
//!   [`failure`] (why a verb stopped, exit codes), [`output`] (`write_json`, counts, times, the
//!   progress printer), [`identifiers`] (`--region`, identifiers as typed), [`device_db`] (the
//!   device database's path and opening it), [`credentials`] (the device's credential file),
//!   [`transport`] (HTTP), [`remote`] (the server's URL, the credential a request carries, errors
//!   to exit codes), [`logging`] and [`settings`] (`serve`'s log stream and settings).
//!
//! What two verb families both need moves down into a shared module. `tests/layers.rs` fails
//! when a module breaks these rules, or when a new module has no place in them.

mod credentials;
mod device_db;
mod failure;
mod identifiers;
mod logging;
mod output;
mod remote;
mod settings;
mod transport;
mod verbs;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, CommandFactory, Parser, Subcommand, ValueEnum};
use contactsync_core::identifier::IdentifierKind;

use device_db::resolve_db;
use failure::{Failure, UsageError};
use identifiers::resolve_region;
use verbs::{
    admin, backup, business, contacts, demo, device, exclude, invite, matches, pipeline, serve,
    status,
};

/// Private contact discovery: normalise, hash and read contacts; sync them with a discovery
/// server; run one. Start with `contactsync demo`.
#[derive(Debug, Parser)]
#[command(name = "contactsync", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The exit codes, as `--help` ends with them (docs: README.md, "Exit codes").
const EXIT_CODES: &str = "\
Exit codes:
  0   success (values that could not be normalised are data, not failures)
  1   refused: the server refused the request (unknown token, forbidden, not found, ...) or
      answered against the protocol; the same command will be refused again
  2   unusable arguments, an unreadable file, a database error, or a question that needs a
      terminal (`forget` without --yes)
  75  retry later (EX_TEMPFAIL): the server could not be reached, answered 408, 429 or 5xx,
      or a backoff has not run out; the message says until when";

#[derive(Debug, Subcommand)]
enum Command {
    /// Normalise identifiers given as arguments, or one per line on stdin; prints one JSON line
    /// each: {"input","kind","canonical"} or {"input","error"}, and with `--kind auto` a
    /// "guessed" field saying which rule chose the kind (a value taken as a handle gets a note on
    /// stderr too).
    Normalize {
        /// Default region (ISO 3166-1 alpha-2) for national-format phone numbers. Defaults to the
        /// region of the locale (`LC_ALL`, `LC_MESSAGES`, LANG), else US.
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        /// The kind of the values; `auto` guesses it per value.
        #[arg(long, value_enum, default_value_t = KindArg::Auto)]
        kind: KindArg,
        /// Values to normalise; none means read stdin.
        values: Vec<String>,
    },
    /// Add keyed hashes to the JSON lines of `normalize` read from stdin ("hash" and "`key_id`").
    #[command(group(ArgGroup::new("mode").required(true).args(["key_base64", "matrix_pepper"])))]
    Hash {
        /// The hashing key, base64 (standard or URL-safe, padded or not).
        #[arg(long, value_name = "K", requires = "key_id")]
        key_base64: Option<String>,
        /// The key's id, as the server issued it.
        #[arg(long, value_name = "ID", requires = "key_base64")]
        key_id: Option<String>,
        /// Matrix identity-service v2 mode: sha256 of "ADDRESS MEDIUM PEPPER".
        #[arg(long, value_name = "P", conflicts_with_all = ["key_base64", "key_id"])]
        matrix_pepper: Option<String>,
    },
    /// Read vCard or CSV files (format told by content) and print each contact as one JSON line
    /// with its normalised identifiers and rejections; a summary goes to stderr.
    Read {
        /// Default region for national-format phone numbers (see `normalize`).
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        /// The files to read.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Import vCard or CSV files into the database as one full snapshot of the address book:
    /// contacts in none of the files are removed. Every file is opened before anything is
    /// imported; a file that fails mid-way stops the import and removes nothing.
    Import {
        /// Default region for national-format phone numbers (see `normalize`).
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        /// The files, together the whole address book.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// What the database holds (contacts, identifiers and where they stand, matches), which
    /// server it syncs with, and when the next sync reaches it: check interval, backoff, and the
    /// identifiers the server's daily quota deferred. `--json` for the same as keys.
    Status {
        #[command(flatten)]
        db: DbArgs,
    },
    /// List every stored contact with its identifiers, their upload states and its rejected
    /// values (`--json`: one JSON object per contact and line).
    Contacts {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Keep contacts or identifiers out of discovery: their hashes leave the server at the next
    /// sync (an identifier stays excluded whichever contacts hold it, now or later).
    Exclude {
        #[command(flatten)]
        targets: exclude::Targets,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Undo `exclude`: the contacts or identifiers take part in discovery again.
    Include {
        #[command(flatten)]
        targets: exclude::Targets,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run the whole flow on this machine: an embedded server, app users, a sample address
    /// book, two syncs and an invite; prints which contacts were found and through what.
    Demo {
        /// Keep the databases in this directory (else a temporary one, removed at the end).
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Against a server in the private mode (`serve --mode private`): the book leaves the
        /// device only blinded, and the invite is left out (it needs the keyed-hash mode).
        #[arg(long)]
        private: bool,
    },
    /// Sync the database with a server: send the hashes of what changed since the last sync,
    /// receive the matches. Registers this database's device (open registration) the first time;
    /// after that, `--server` defaults to the server it is registered with.
    Sync {
        #[command(flatten)]
        server: OptionalServerArg,
        #[command(flatten)]
        db: DbArgs,
        /// Sync now, even before the server's check interval or a backoff has passed (with
        /// `--matrix-is`: look every identifier up again, whatever the re-lookup interval says).
        #[arg(long)]
        force: bool,
        /// Discover through this Matrix identity server instead (its base URL, e.g.
        /// `https://vector.im`): hashed lookups of the e-mail addresses and phone numbers, the
        /// matches are Matrix user ids, nothing is registered (docs/matrix.md).
        #[arg(long, value_name = "URL")]
        matrix_is: Option<String>,
        /// The identity server's access token (else `$CONTACTSYNC_MATRIX_TOKEN`, which keeps it
        /// out of the process list): what `/_matrix/identity/v2/account/register` gave.
        #[arg(long, value_name = "TOKEN", requires = "matrix_is")]
        matrix_token: Option<String>,
    },
    /// The contacts found on the app, and through which identifier ("invite" for invites).
    Matches {
        #[command(flatten)]
        db: DbArgs,
        /// CSV with a header line (name, via, kind, identifier, `user_ref`, `source_id`,
        /// `matched_at`), quoted as RFC 4180 says: for a spreadsheet.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Register this database's device with a server. With an admin token and a user reference
    /// the app's backend vouches for it (needed for invites); without, open registration.
    Register {
        #[command(flatten)]
        server: ServerArg,
        #[command(flatten)]
        db: DbArgs,
        /// The server's admin token (else `$CONTACTSYNC_ADMIN_TOKEN`).
        #[arg(long, value_name = "TOKEN")]
        admin_token: Option<String>,
        /// The app's reference of the user this device belongs to.
        #[arg(long, value_name = "REF")]
        user_ref: Option<String>,
    },
    /// Withdraw consent: the server deletes everything it holds for this device (its receipt is
    /// printed), then the database is wiped and the credential deleted. Asks first on a
    /// terminal; without one, only `--yes` goes ahead.
    Forget {
        #[command(flatten)]
        server: OptionalServerArg,
        #[command(flatten)]
        db: DbArgs,
        /// Only here, for a server that moved or is gone: drop the credential and the sync state
        /// (key, matches, invites), keep the imported contacts; the server is not asked and keeps
        /// what it held. The next `sync --server URL` registers anew.
        #[arg(long, conflicts_with = "server")]
        local: bool,
        /// Do not ask for confirmation (scripts).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Invites: discovery without a phone number or e-mail (a device vouched for by the app).
    Invite {
        #[command(subcommand)]
        action: InviteCommand,
    },
    /// Match a business's list (vCard or CSV files) against the app's users: normalised and
    /// hashed here, only keyed hashes are sent; prints the entries that are on the app.
    BusinessMatch {
        #[command(flatten)]
        server: ServerArg,
        /// Default region for national-format phone numbers (see `normalize`).
        #[arg(long, value_name = "CC")]
        region: Option<String>,
        /// The server's admin token (else `$CONTACTSYNC_ADMIN_TOKEN`).
        #[arg(long, value_name = "TOKEN")]
        admin_token: Option<String>,
        /// One JSON object per matched entry instead of readable lines.
        #[arg(long)]
        json: bool,
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the reference discovery server until Ctrl-C. The first line on stderr is
    /// `listening on http://ADDR`.
    Serve(Box<serve::ServeOptions>),
    /// Copy a server's SQLite database consistently while it serves (or restore a copy into a
    /// stopped server's path): mode 0600, checked before it is put in place.
    ServerBackup(backup::BackupOptions),
    /// The app backend's side: its users and the hashing keys.
    Admin {
        #[command(subcommand)]
        what: admin::AdminCommand,
    },
    /// Print a shell completion script: `contactsync completions bash >
    /// ~/.local/share/bash-completion/completions/contactsync`, `... zsh > ~/.zfunc/_contactsync`
    /// (with `fpath+=~/.zfunc` before `compinit`), `... fish >
    /// ~/.config/fish/completions/contactsync.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--server` where it is needed.
#[derive(Debug, clap::Args)]
struct ServerArg {
    /// The server's base URL: `https://...`, or `http://` to this machine (loopback).
    #[arg(long, value_name = "URL")]
    server: String,
}

/// `--server` where the stored credential can tell it.
#[derive(Debug, clap::Args)]
struct OptionalServerArg {
    /// The server's base URL (default: the one this database is registered with).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
}

#[derive(Debug, Subcommand)]
enum InviteCommand {
    /// Create an invite code and link; whoever redeems it becomes a match at your next sync.
    Create {
        #[command(flatten)]
        server: OptionalServerArg,
        #[command(flatten)]
        db: DbArgs,
        /// Lifetime in seconds (server default 7 days, at most 30 days).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
    },
    /// Redeem someone's invite (the code as typed, or the link).
    Redeem(InviteCodeArgs),
    /// The invites this device created, newest first: open, expired, or who redeemed them (the
    /// server keeps only their hashes, so the list is this database's).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an invite this device created: the server closes it, and it leaves the list.
    Revoke(InviteCodeArgs),
}

/// The arguments of the verbs over one invite code.
#[derive(Debug, clap::Args)]
struct InviteCodeArgs {
    #[command(flatten)]
    server: OptionalServerArg,
    #[command(flatten)]
    db: DbArgs,
    /// The code as typed (`7K3M-9QX2-R4HV-W8TB-9`, as `invite list` shows it) or its link
    /// (`https://host/i/7K3M9QX2R4HVW8TB9`).
    #[arg(value_name = "CODE_OR_LINK")]
    code: String,
}

/// Options of the verbs over the database.
#[derive(Debug, clap::Args)]
struct DbArgs {
    /// The database file. Resolved as: this option, else the `CONTACTSYNC_DB` environment
    /// variable, else `contactsync.db` in the platform's data directory (Linux:
    /// `$XDG_DATA_HOME/contactsync` or `~/.local/share/contactsync`; macOS: `~/Library/Application
    /// Support/org.contactsync.contactsync`; Windows: `%APPDATA%\contactsync\contactsync\data`).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Print JSON instead of a readable summary.
    #[arg(long)]
    json: bool,
}

/// `--kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KindArg {
    Auto,
    Phone,
    Email,
    Handle,
    Account,
    Invite,
}

impl KindArg {
    fn kind(self) -> Option<IdentifierKind> {
        match self {
            KindArg::Auto => None,
            KindArg::Phone => Some(IdentifierKind::Phone),
            KindArg::Email => Some(IdentifierKind::Email),
            KindArg::Handle => Some(IdentifierKind::Handle),
            KindArg::Account => Some(IdentifierKind::Account),
            KindArg::Invite => Some(IdentifierKind::Invite),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Normalize {
            region,
            kind,
            values,
        } => resolve_region(region.as_deref())
            .and_then(|region| pipeline::normalize(&mut out, region, kind.kind(), &values)),
        Command::Hash {
            key_base64,
            key_id,
            matrix_pepper,
        } => pipeline::hash(
            &mut out,
            key_base64.as_deref(),
            key_id.as_deref(),
            matrix_pepper.as_deref(),
        ),
        Command::Read { region, files } => resolve_region(region.as_deref())
            .and_then(|region| pipeline::read(&mut out, region, &files)),
        Command::Import { region, db, files } => resolve_db(db.db.as_deref(), true)
            .and_then(|path| contacts::import(&mut out, region.as_deref(), &path, &files, db.json)),
        // The region only matters for imports; it is resolved the same way for opening.
        Command::Status { db } => resolve_region(None).and_then(|region| {
            let path = resolve_db(db.db.as_deref(), false)?;
            status::status(&mut out, region, &path, db.json)
        }),
        Command::Contacts { db } => resolve_region(None).and_then(|region| {
            let path = resolve_db(db.db.as_deref(), false)?;
            contacts::contacts(&mut out, region, &path, db.json)
        }),
        command => run_more(&mut out, command),
    };
    let flushed = out.flush();
    failure::exit(result, flushed)
}

/// The verbs over the server, `serve` and `demo`.
/// `sync`: with a discovery server, or with `--matrix-is` through a Matrix identity server.
fn sync(
    out: &mut impl Write,
    server: &OptionalServerArg,
    db: &DbArgs,
    force: bool,
    matrix_is: Option<String>,
    matrix_token: Option<&str>,
) -> Result<ExitCode, Failure> {
    let region = resolve_region(None)?;
    let Some(identity_server) = matrix_is else {
        let path = resolve_db(db.db.as_deref(), false)?;
        return device::sync(out, region, &path, server.server.as_deref(), force, db.json);
    };
    if server.server.is_some() {
        return Err(UsageError(
            "--matrix-is discovers through the identity server: no --server with it".into(),
        )
        .into());
    }
    let path = resolve_db(db.db.as_deref(), true)?;
    let token = device::matrix_token(matrix_token)?;
    let matrix = device::MatrixSync {
        identity_server: &identity_server,
        token: &token,
        force,
    };
    device::sync_matrix(out, region, &path, &matrix, db.json)
}

fn run_more(out: &mut impl Write, command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Demo { keep, private } => demo::demo(out, keep.as_deref(), private),
        Command::Exclude { targets, db } => exclude_verb(out, &targets, &db, true),
        Command::Include { targets, db } => exclude_verb(out, &targets, &db, false),
        Command::Sync {
            server,
            db,
            force,
            matrix_is,
            matrix_token,
        } => sync(out, &server, &db, force, matrix_is, matrix_token.as_deref()),
        Command::Matches { db, csv } => resolve_region(None).and_then(|region| {
            let path = resolve_db(db.db.as_deref(), false)?;
            let format = match (csv, db.json) {
                (true, _) => matches::Format::Csv,
                (false, true) => matches::Format::Json,
                (false, false) => matches::Format::Text,
            };
            matches::matches(out, region, &path, format)
        }),
        Command::Register {
            server,
            db,
            admin_token,
            user_ref,
        } => resolve_region(None).and_then(|region| {
            let path = resolve_db(db.db.as_deref(), true)?;
            device::register(
                out,
                region,
                &path,
                &server.server,
                admin_token.as_deref(),
                user_ref.as_deref(),
                db.json,
            )
        }),
        Command::Forget {
            server,
            db,
            local,
            yes,
        } => resolve_region(None).and_then(|region| {
            let path = resolve_db(db.db.as_deref(), false)?;
            let mode = device::ForgetMode { local, yes };
            device::forget(out, region, &path, server.server.as_deref(), mode, db.json)
        }),
        Command::Invite { action } => resolve_region(None).and_then(|region| match action {
            InviteCommand::Create { server, db, ttl } => {
                let path = resolve_db(db.db.as_deref(), false)?;
                invite::invite_create(out, region, &path, server.server.as_deref(), ttl, db.json)
            }
            InviteCommand::List { db } => {
                let path = resolve_db(db.db.as_deref(), false)?;
                invite::invite_list(out, region, &path, db.json)
            }
            InviteCommand::Revoke(InviteCodeArgs { server, db, code }) => {
                let path = resolve_db(db.db.as_deref(), false)?;
                invite::invite_revoke(out, region, &path, server.server.as_deref(), &code, db.json)
            }
            InviteCommand::Redeem(InviteCodeArgs { server, db, code }) => {
                let path = resolve_db(db.db.as_deref(), false)?;
                invite::invite_redeem(out, region, &path, server.server.as_deref(), &code, db.json)
            }
        }),
        Command::BusinessMatch {
            server,
            region,
            admin_token,
            json,
            files,
        } => resolve_region(region.as_deref()).and_then(|region| {
            business::business_match(
                out,
                region,
                &server.server,
                admin_token.as_deref(),
                &files,
                json,
            )
        }),
        Command::Serve(options) => serve::serve(out, &options),
        Command::ServerBackup(options) => backup::run(out, &options),
        Command::Admin { what } => admin::run(out, what),
        Command::Completions { shell } => {
            // Into memory first: `generate` panics on a failed write (`| head` closing the pipe);
            // ours reports it like every other verb's output.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "contactsync", &mut script);
            out.write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Normalize { .. }
        | Command::Hash { .. }
        | Command::Read { .. }
        | Command::Import { .. }
        | Command::Status { .. }
        | Command::Contacts { .. } => Err(UsageError("unreachable verb".into()).into()),
    }
}

/// `exclude` and `include`.
fn exclude_verb(
    out: &mut impl Write,
    targets: &exclude::Targets,
    db: &DbArgs,
    excluded: bool,
) -> Result<ExitCode, Failure> {
    let region = resolve_region(None)?;
    let path = resolve_db(db.db.as_deref(), false)?;
    exclude::set_excluded(out, region, &path, targets, excluded, db.json)
}
