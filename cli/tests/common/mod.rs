//! What the CLI test files share: the binary, run with a neutral environment.

use std::process::{Command, Output, Stdio};

/// The binary with a neutral environment: no locale region, no database or admin-token override.
pub fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_contactsync"));
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("CONTACTSYNC_DB")
        .env_remove("CONTACTSYNC_ADMIN_TOKEN")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the binary to the end.
pub fn run(args: &[&str]) -> Output {
    cmd().args(args).output().expect("run contactsync")
}
