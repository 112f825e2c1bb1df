//! `contactsync sync --matrix-is URL`: the Matrix identity-service mode from the command line,
//! against a real Sydent on loopback (scripts/sydent-for-tests; skipped visibly without it,
//! never on CI): the bound contacts are found as Matrix ids, the token comes from the flag or
//! `$CONTACTSYNC_MATRIX_TOKEN`, and a missing or wrong token is a usage error or a refusal.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeSet;

mod common;
#[path = "../../tests/src/sydent.rs"]
mod sydent;

use common::{cmd, ok_json, s, succeed, text};
use sydent::Sydent;

#[test]
fn sync_with_an_identity_server_finds_the_bound_contacts() {
    let Some(mut sydent) = Sydent::start(10_000) else {
        return;
    };
    let token = sydent.create_token("@app:sydent.test");
    // From cli/demo/sample.csv: Bruno's e-mail, Dana's work phone (US numbers).
    sydent.bind_all(&[
        ("email", "bruno.costa@example.net", "@bruno:sydent.test"),
        ("msisdn", "12025550110", "@dana:sydent.test"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    common::import_samples(&db, &["sample.csv"]);
    let url = sydent.base_url();

    // No token: a usage error, before anything is sent.
    let out = cmd()
        .args(["sync", "--db", s(&db), "--matrix-is", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("CONTACTSYNC_MATRIX_TOKEN"));

    // A wrong token: refused (exit 1), with the server's code.
    let out = cmd()
        .args(["sync", "--db", s(&db), "--matrix-is", &url])
        .args(["--matrix-token", "wrong"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("M_UNAUTHORIZED"),
        "{}",
        text(&out.stderr)
    );

    // The token from the environment.
    let stdout = succeed(
        cmd().env("CONTACTSYNC_MATRIX_TOKEN", &token),
        &["sync", "--db", s(&db), "--matrix-is", &url, "--json"],
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["new_matches"], 2, "{report}");
    assert_eq!(report["matches"], 2);
    assert_eq!(
        report["identity_server"]
            .as_str()
            .unwrap()
            .trim_end_matches('/'),
        url
    );
    let users: BTreeSet<String> = ok_json(&["matches", "--db", s(&db), "--json"])
        .into_iter()
        .map(|m| m["user_ref"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        users,
        BTreeSet::from([
            "@bruno:sydent.test".to_owned(),
            "@dana:sydent.test".to_owned()
        ])
    );

    // Text output, the token as a flag: nothing new within the day, so nothing sent.
    let stdout = succeed(
        &mut cmd(),
        &[
            "sync",
            "--db",
            s(&db),
            "--matrix-is",
            &url,
            "--matrix-token",
            &token,
        ],
    );
    assert!(stdout.contains("Matrix identity server"), "{stdout}");
    assert!(stdout.contains("nothing sent"), "{stdout}");
    // The Matrix mode's own interval, not a discovery server's.
    assert!(stdout.contains("re-lookup interval"), "{stdout}");
    assert!(!stdout.contains("check interval"), "{stdout}");

    // `status` says the mode is the device's choice, not a server's.
    let stdout = succeed(&mut cmd(), &["status", "--db", s(&db)]);
    assert!(stdout.contains("discovery       matrix"), "{stdout}");
    assert!(stdout.contains("sync --matrix-is"), "{stdout}");
    assert!(!stdout.contains("the server's mode"), "{stdout}");
}
