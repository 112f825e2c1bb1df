//! The deployment files the project ships (docs/deploy/) are the ones docs/deployment.md shows,
//! verbatim, and the systemd unit passes `systemd-analyze verify` (with the built binary in place
//! of `/usr/local/bin/contactsync`, which verify requires to exist). `nginx.conf` itself is run
//! by `tests/behind_nginx.rs`.
//!
//! Without `systemd-analyze` the unit's check says `skipped: systemd-analyze not installed`,
//! except on CI (`CONTACTSYNC_CI` set), where it fails.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_docs_show_the_shipped_files_verbatim() {
    let docs = repo_file("docs/deployment.md");
    for (file, fence) in [
        ("docs/deploy/nginx.conf", "```nginx\n"),
        ("docs/deploy/contactsync.service", "```ini\n"),
    ] {
        let shipped = repo_file(file);
        assert!(
            docs.contains(&format!("{fence}{shipped}```\n")),
            "docs/deployment.md does not show {file} as it is: copy it in again"
        );
    }
}

fn systemd_analyze() -> Option<PathBuf> {
    ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

#[test]
fn the_systemd_unit_verifies() {
    let Some(analyze) = systemd_analyze() else {
        return common::skip_without("systemd-analyze", "Debian: systemd");
    };
    let unit = repo_file("docs/deploy/contactsync.service");
    assert_eq!(unit.matches("/usr/local/bin/contactsync ").count(), 1);
    let dir = tempfile::tempdir().unwrap();
    // verify wants the unit's file name to say what it is.
    let path = dir.path().join("contactsync.service");
    let binary = env!("CARGO_BIN_EXE_contactsync");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/contactsync ", &format!("{binary} ")),
    )
    .unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!("{}{}", common::text(&out.stdout), common::text(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    // verify exits 0 on some warnings (an unknown key is "ignoring"): none is accepted.
    assert!(said.trim().is_empty(), "systemd-analyze verify: {said}");
}
