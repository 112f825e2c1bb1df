//! Why a verb stopped, and the exit code each reason gives (README.md, "Exit codes"; the text of
//! `--help` is `EXIT_CODES` in main.rs).
//!
//! The bottom of the crate: every other module reports through [`Failure`], and this one imports
//! nothing of the crate.

use std::io;
use std::process::ExitCode;

/// An error that makes the command exit with 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Why a verb stopped; each kind has its exit code ([`Failure::exit_code`]).
#[derive(Debug)]
pub enum Failure {
    /// Unusable arguments, an unreadable file, a database error: exit 2.
    Usage(UsageError),
    /// Writing the output (or reading stdin) failed: exit 2.
    Io(io::Error),
    /// The server refused the request, or answered against the protocol; the same request
    /// will be refused again: exit 1.
    Refused(String),
    /// Not now: the server could not be reached, answered 408, 429 or 5xx, or a backoff (the
    /// server's `Retry-After` or the device's own after failures) has not run out. The same
    /// command later may succeed: exit 75 (`EX_TEMPFAIL` of sysexits.h).
    Later(String),
}

/// Exit code of [`Failure::Refused`].
pub const EXIT_REFUSED: u8 = 1;
/// Exit code of [`Failure::Usage`] (clap's own for arguments it cannot parse).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of [`Failure::Later`]: `EX_TEMPFAIL`.
pub const EXIT_LATER: u8 = 75;

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) | Failure::Io(_) => EXIT_USAGE,
            Failure::Refused(_) => EXIT_REFUSED,
            Failure::Later(_) => EXIT_LATER,
        }
    }
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Self {
        Failure::Usage(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// The process's exit code for a verb's result and the flush of its output; a failure's message
/// goes to stderr.
pub fn exit(result: Result<ExitCode, Failure>, flushed: io::Result<()>) -> ExitCode {
    match result {
        Ok(code) => match flushed {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                eprintln!("contactsync: {e}");
                ExitCode::from(EXIT_USAGE)
            }
            _ => code,
        },
        // The reader of our output went away (`| head`): not an error of ours.
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            match &failure {
                Failure::Usage(UsageError(msg)) | Failure::Refused(msg) | Failure::Later(msg) => {
                    eprintln!("contactsync: {msg}");
                }
                Failure::Io(e) => eprintln!("contactsync: {e}"),
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
