//! `contactsync`: the command line over contactsync-core.
//!
//! Every verb drives the same core the mobile bindings use, with no FFI in between. The verbs
//! over identifiers and files (`normalize`, `hash`, `read`) print one JSON object per line on
//! stdout (easy to pipe into `jq` or the next verb); summaries and errors go to stderr. The verbs
//! over the local database (`import`, `status`, `contacts`) print a readable summary, or JSON with
//! `--json`; their progress goes to stderr. Exit codes: 0 when all input was read (rejected
//! values are data, not failures), 2 for unusable arguments, unreadable files or a database
//! error.

mod commands;
mod store_commands;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use contactsync_core::identifier::{IdentifierKind, Region};

/// Private contact discovery: normalise, hash and read contacts.
#[derive(Debug, Parser)]
#[command(name = "contactsync", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Normalise identifiers given as arguments, or one per line on stdin; prints one JSON line
    /// each: {"input","kind","canonical"} or {"input","error"}.
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
    /// Counts over the database: contacts, identifiers, upload states, matches.
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

/// An error that makes the command exit with 2.
#[derive(Debug)]
struct UsageError(String);

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
            .and_then(|region| commands::normalize(&mut out, region, kind.kind(), &values)),
        Command::Hash {
            key_base64,
            key_id,
            matrix_pepper,
        } => commands::hash(
            &mut out,
            key_base64.as_deref(),
            key_id.as_deref(),
            matrix_pepper.as_deref(),
        ),
        Command::Read { region, files } => resolve_region(region.as_deref())
            .and_then(|region| commands::read(&mut out, region, &files)),
        Command::Import { region, db, files } => {
            resolve_region(region.as_deref()).and_then(|region| {
                let path = store_commands::resolve_db(db.db.as_deref(), true)?;
                store_commands::import(&mut out, region, &path, &files, db.json)
            })
        }
        // The region only matters for imports; it is resolved the same way for opening.
        Command::Status { db } => resolve_region(None).and_then(|region| {
            let path = store_commands::resolve_db(db.db.as_deref(), false)?;
            store_commands::status(&mut out, region, &path, db.json)
        }),
        Command::Contacts { db } => resolve_region(None).and_then(|region| {
            let path = store_commands::resolve_db(db.db.as_deref(), false)?;
            store_commands::contacts(&mut out, region, &path, db.json)
        }),
    };
    let flushed = out.flush();
    match result {
        Ok(code) => match flushed {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                eprintln!("contactsync: {e}");
                ExitCode::from(2)
            }
            _ => code,
        },
        Err(commands::Failure::Usage(UsageError(msg))) => {
            eprintln!("contactsync: {msg}");
            ExitCode::from(2)
        }
        // The reader of our output went away (`| head`): not an error of ours.
        Err(commands::Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(commands::Failure::Io(e)) => {
            eprintln!("contactsync: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--region`, else the locale's region, else US.
fn resolve_region(arg: Option<&str>) -> Result<Region, commands::Failure> {
    if let Some(code) = arg {
        return Region::new(code).map_err(|e| UsageError(format!("--region {code}: {e}")).into());
    }
    Ok(locale_region().unwrap_or_default())
}

/// The region of a POSIX locale such as `de_DE.UTF-8` or `pt_BR`.
fn locale_region() -> Option<Region> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .and_then(|v| {
            let v = v.split(['.', '@']).next()?.to_owned();
            let (_, cc) = v.split_once('_')?;
            Region::new(cc).ok()
        })
}
