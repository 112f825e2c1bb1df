//! The verbs over a discovery server, as a user runs them: `demo`; `serve` as a child process on
//! a free port, with `admin`, `register`, `sync`, `matches`, `invite`, `forget` and
//! `business-match` against it; and what an unreachable or unusable server URL gives.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{ADMIN, Server, cmd, ok, ok_json, put_users, run, s, sample, text};

fn import_samples(db: &Path) {
    common::import_samples(db, &["sample.vcf", "sample.csv"]);
}

fn names(matches: &[Value]) -> Vec<String> {
    matches
        .iter()
        .map(|m| m["display_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn demo_finds_the_sample_contacts() {
    let out = ok(&["demo"]);
    for name in [
        "Amara Okafor",   // phone (vCard)
        "Bruno Costa",    // phone (CSV)
        "Wei Chen",       // e-mail (vCard, second address)
        "Dana Whitfield", // e-mail (CSV, second value of a ::: cell)
        "Eli Navarro",    // linked account (generated book)
        "Farah Khan",     // handle (X-SOCIALPROFILE)
        "Gustavo Lima",   // joined between the syncs
        "(invite)",       // the friend who redeemed the invite
    ] {
        assert!(out.contains(name), "{name} not found in:\n{out}");
    }
    // Hidden on the app, not a user, or an invalid number: never listed.
    for name in ["Hugo Martin", "Ivan Petrov", "Kofi Mensah", "Corner Bakery"] {
        assert!(!out.contains(name), "{name} listed in:\n{out}");
    }
    assert!(out.contains("u_zoe"), "{out}");
    assert!(out.lines().count() < 40, "too long:\n{out}");
}

#[test]
fn demo_private_finds_the_sample_contacts_blind() {
    let out = ok(&["demo", "--private"]);
    assert!(out.contains("private mode"), "{out}");
    for name in [
        "Amara Okafor",   // phone
        "Dana Whitfield", // e-mail
        "Eli Navarro",    // linked account
        "Farah Khan",     // handle
        "Gustavo Lima",   // joined between the syncs: the filter's changes
    ] {
        assert!(out.contains(name), "{name} not found in:\n{out}");
    }
    for name in ["Hugo Martin", "Ivan Petrov", "Kofi Mensah", "(invite)"] {
        assert!(!out.contains(name), "{name} listed in:\n{out}");
    }
    assert!(out.contains("through the filter's changes"), "{out}");
    assert!(out.contains("blinded elements"), "{out}");
    assert!(!out.contains("keyed hashes"), "{out}");
}

#[test]
fn serve_in_the_private_mode_and_sync_blind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let server = Server::on(
        s(&db),
        &["--mode", "private", "--private-filter-rebuild-s", "1"],
    );
    put_users(
        &server,
        &[
            ("u_amara", &["+44 7911 123456"]),
            ("u_dana", &["email:dana@example.org"]),
            ("u_farah", &["handle:farah_k"]),
        ],
    );
    let a = dir.path().join("a.db");
    import_samples(&a);
    let report = &ok_json(&["sync", "--json", "--server", &server.url, "--db", s(&a)])[0];
    assert_eq!(report["new_matches"], 3, "{report}");
    let found = names(&ok_json(&["matches", "--json", "--db", s(&a)]));
    for name in ["Amara Okafor", "Dana Whitfield", "Farah Khan"] {
        assert!(found.iter().any(|n| n == name), "{name}: {found:?}");
    }
    assert_eq!(found.len(), 3, "{found:?}");
    let status = &ok_json(&["status", "--json", "--db", s(&a)])[0];
    assert_eq!(status["discovery"], "private", "{status}");
    assert!(ok(&["status", "--db", s(&a)]).contains("discovery       private"));
}

#[test]
fn demo_keep_leaves_a_usable_database() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept");
    ok(&["demo", "--keep", s(&kept)]);
    let db = kept.join("contactsync.db");
    assert!(kept.join("contactsync.db.client.json").exists());
    let matches = ok_json(&["matches", "--json", "--db", s(&db)]);
    assert!(names(&matches).iter().any(|n| n == "Amara Okafor"));
    // A second run into the same directory is refused, not mixed in.
    let again = run(&["demo", "--keep", s(&kept)]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn serve_register_sync_matches_invite_forget() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = server.url.clone();
    put_users(
        &server,
        &[
            ("u_amara", &["+44 7911 123456"]),
            ("u_bruno", &["(202) 555-0186"]),
            ("u_dana", &["email:dana@example.org"]),
            ("u_hugo", &["+33 6 12 34 56 78"]),
        ],
    );
    // Hugo is hidden: registered, never found.
    ok(&[
        "admin",
        "user",
        "put",
        "--server",
        &url,
        "--admin-token",
        ADMIN,
        "--user-ref",
        "u_hugo",
        "--hidden",
        "+33612345678",
    ]);

    // Device A: the sample book, vouched for as u_alice.
    let a = dir.path().join("a.db");
    import_samples(&a);
    let out = ok(&[
        "register",
        "--server",
        &url,
        "--db",
        s(&a),
        "--admin-token",
        ADMIN,
        "--user-ref",
        "u_alice",
    ]);
    assert!(out.contains("u_alice"), "{out}");
    let cred = dir.path().join("a.db.client.json");
    assert!(cred.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cred).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Registering twice is refused.
    let twice = run(&["register", "--server", &url, "--db", s(&a)]);
    assert_eq!(twice.status.code(), Some(2));

    let report = &ok_json(&["sync", "--json", "--server", &url, "--db", s(&a)])[0];
    assert!(report["batches_sent"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["new_matches"], 3, "{report}");
    let matches = ok_json(&["matches", "--json", "--db", s(&a)]);
    let found = names(&matches);
    for name in ["Amara Okafor", "Bruno Costa", "Dana Whitfield"] {
        assert!(found.iter().any(|n| n == name), "{name}: {found:?}");
    }
    assert!(!found.iter().any(|n| n == "Hugo Martin"), "{found:?}");
    let readable = ok(&["matches", "--db", s(&a)]);
    assert!(readable.contains("Amara Okafor") && readable.contains("+447911123456"));

    invite_between(&url, dir.path(), &a);

    // Device C: open registration on its first sync.
    let c = dir.path().join("c.db");
    import_samples(&c);
    let report = &ok_json(&["sync", "--json", "--server", &url, "--db", s(&c)])[0];
    assert_eq!(report["new_matches"], 3, "{report}");
    let first_added = report["added"].as_u64().unwrap();
    assert!(first_added > 0, "{report}");
    // Registered anew (its credential lost): everything is sent again to the new client.
    std::fs::remove_file(dir.path().join("c.db.client.json")).unwrap();
    let report = &ok_json(&["sync", "--json", "--server", &url, "--db", s(&c)])[0];
    assert_eq!(report["added"].as_u64().unwrap(), first_added, "{report}");
    // A device without a user cannot invite.
    let no_user = run(&["invite", "create", "--db", s(&c)]);
    assert_eq!(no_user.status.code(), Some(1));
    assert!(
        text(&no_user.stderr).contains("user_required"),
        "{}",
        text(&no_user.stderr)
    );

    // Forget: the receipt, the credential gone, the book wiped.
    let out = ok(&["forget", "--yes", "--server", &url, "--db", s(&a)]);
    assert!(out.contains("receipt"), "{out}");
    assert!(!cred.exists());
    let status = &ok_json(&["status", "--json", "--db", s(&a)])[0];
    assert_eq!(status["contacts"], 0, "{status}");
    let again = run(&["forget", "--db", s(&a)]);
    assert_eq!(again.status.code(), Some(2));
}

/// Device B (`u_bob`) creates an invite; A (`u_alice`) redeems it; B learns of it at its next sync.
fn invite_between(url: &str, dir: &Path, a: &Path) {
    let url = url.to_owned();
    let b = dir.join("b.db");
    ok(&[
        "import",
        "--region",
        "US",
        "--db",
        s(&b),
        s(&sample("sample.csv")),
    ]);
    ok(&[
        "register",
        "--server",
        &url,
        "--db",
        s(&b),
        "--admin-token",
        ADMIN,
        "--user-ref",
        "u_bob",
    ]);
    ok(&["sync", "--server", &url, "--db", s(&b)]);
    let invite = &ok_json(&["invite", "create", "--json", "--db", s(&b), "--ttl", "600"])[0];
    let link = invite["link"].as_str().unwrap().to_owned();
    let redeemed = &ok_json(&["invite", "redeem", "--json", "--db", s(a), &link])[0];
    assert_eq!(redeemed["user_ref"], "u_bob");
    let report = &ok_json(&["sync", "--json", "--force", "--server", &url, "--db", s(&b)])[0];
    assert!(report["new_matches"].as_u64().unwrap() >= 1, "{report}");
    let b_matches = ok_json(&["matches", "--json", "--db", s(&b)]);
    assert!(
        b_matches
            .iter()
            .any(|m| m["via"] == "invite" && m["user_ref"] == "u_alice"),
        "{b_matches:?}"
    );
    assert!(ok(&["matches", "--db", s(&b)]).contains("(invite)"));
    // A mistyped code never reaches the server.
    let bad = run(&["invite", "redeem", "--db", s(a), "7K3M-9QX2-R4HV-W8TB-8"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn business_match_finds_entries() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    put_users(
        &server,
        &[
            ("u_amara", &["+44 7911 123456"]),
            ("u_dana", &["dana@example.org"]),
            ("u_farah", &["handle:farah_k"]),
        ],
    );
    let lines = ok_json(&[
        "business-match",
        "--json",
        "--region",
        "US",
        "--server",
        &server.url,
        "--admin-token",
        ADMIN,
        s(&sample("sample.vcf")),
        s(&sample("sample.csv")),
    ]);
    let found: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["matches"][0]["user_ref"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Amara Okafor", "u_amara"),
            ("Farah Khan", "u_farah"),
            ("Dana Whitfield", "u_dana")
        ]
    );
    assert_eq!(lines[0]["matches"][0]["kind"], "phone");
    // The token from the environment works too; readable output names the identifier.
    let out = cmd()
        .env("CONTACTSYNC_ADMIN_TOKEN", ADMIN)
        .args([
            "business-match",
            "--server",
            &server.url,
            s(&sample("sample.csv")),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Dana Whitfield") && stdout.contains("dana@example.org"));
    // A wrong admin token is refused, typed.
    let bad = run(&[
        "business-match",
        "--server",
        &server.url,
        "--admin-token",
        "wrong-token-wrong-token",
        s(&sample("sample.csv")),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("unauthorized"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn bad_server_urls_exit_2_and_unreachable_ones_75_with_a_typed_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("book.db");
    import_samples(&db);
    let cases: [(&[&str], &str); 5] = [
        // Nothing listens on port 1.
        (&["sync", "--server", "http://127.0.0.1:1"], "network"),
        (&["sync", "--server", "ftp://127.0.0.1"], "scheme"),
        (&["sync", "--server", "http://example.org"], "https://"),
        (&["sync", "--server", "not a url"], "server URL"),
        (
            &[
                "business-match",
                "--admin-token",
                "x",
                "--server",
                "http://127.0.0.1:1",
            ],
            "network",
        ),
    ];
    let csv = sample("sample.csv");
    for (args, expected) in cases {
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "business-match" {
            all.push(s(&csv));
        } else {
            all.extend(["--db", s(&db)]);
        }
        let out = run(&all);
        let err = text(&out.stderr);
        // Unreachable: retry later (75); unusable: usage (2).
        let code = if expected == "network" { 75 } else { 2 };
        assert_eq!(out.status.code(), Some(code), "{all:?}: {err}");
        assert!(err.starts_with("contactsync: "), "{all:?}: {err}");
        assert!(err.contains(expected), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{all:?}: {err}");
    }
    // No credential was written for the unreachable server.
    assert!(!dir.path().join("book.db.client.json").exists());
    // No admin token at all: a usage error before any request.
    let out = run(&["admin", "key", "list", "--server", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("CONTACTSYNC_ADMIN_TOKEN"));
}
