//! Verbs users reach for, against a real server: `exclude` and `include`, and `matches --csv`
//! (RFC 4180 quoting).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::path::Path;

mod common;
use common::{Server, import_samples, ok, ok_json, put_users, run, s, text};

fn put_user(server: &Server, user_ref: &str, id: &str) {
    put_users(server, &[(user_ref, &[id])]);
}

fn sync(db: &Path) -> serde_json::Value {
    ok_json(&["sync", "--json", "--force", "--db", s(db)]).remove(0)
}

fn matched_users(db: &Path) -> Vec<String> {
    ok_json(&["matches", "--json", "--db", s(db)])
        .iter()
        .map(|m| m["user_ref"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn exclude_and_include_take_contacts_and_identifiers_off_the_server_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    put_user(&server, "u_bruno", "(202) 555-0186");
    put_user(&server, "u_dana", "email:dana@example.org");
    let db = dir.path().join("b.db");
    import_samples(&db, &["sample.csv"]);
    ok(&["sync", "--server", &server.url, "--db", s(&db)]);
    assert_eq!(matched_users(&db), ["u_bruno", "u_dana"]);

    // Bruno's contact by its source id, Dana's address by value: both leave the server.
    let out = ok(&[
        "exclude",
        "--db",
        s(&db),
        "--contact",
        "sample.csv#1",
        "email:Dana@Example.org",
    ]);
    assert!(out.contains("excluded contact sample.csv#1"), "{out}");
    // At once, before any sync: neither is listed (Bruno's number not as an "invite" either).
    assert!(matched_users(&db).is_empty(), "{:?}", matched_users(&db));
    let report = sync(&db);
    assert!(report["removed"].as_u64().unwrap() >= 2, "{report}");
    assert!(matched_users(&db).is_empty());
    let status = &ok_json(&["status", "--json", "--db", s(&db)])[0];
    assert_eq!(status["excluded_contacts"], 1, "{status}");

    // An unknown contact or a value that is no identifier changes nothing: usage error.
    for bad in [
        &["exclude", "--db", s(&db), "--contact", "nobody"][..],
        &["include", "--db", s(&db), "phone:12"][..],
        &["include", "--db", s(&db)][..],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }

    let out = ok_json(&[
        "include",
        "--json",
        "--db",
        s(&db),
        "--contact",
        "sample.csv#1",
        "email:dana@example.org",
    ]);
    assert_eq!(out[0]["excluded"], false);
    let report = sync(&db);
    assert!(report["added"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(matched_users(&db), ["u_bruno", "u_dana"]);
}

#[test]
fn matches_csv_quotes_what_needs_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    put_user(&server, "u_jj", "+1 202 555 0199");
    put_user(&server, "u_plain", "plain@example.org");
    let book = dir.path().join("book.vcf");
    std::fs::write(
        &book,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jj\r\nFN:Smith\\, John \"JJ\"\r\nTEL:+1 202 555 0199\r\n\
         END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:plain\r\nFN:Plain Name\r\n\
         EMAIL:plain@example.org\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let db = dir.path().join("b.db");
    ok(&["import", "--region", "US", "--db", s(&db), s(&book)]);
    ok(&["sync", "--server", &server.url, "--db", s(&db)]);
    let csv = ok(&["matches", "--csv", "--db", s(&db)]);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "name,via,kind,identifier,user_ref,source_id,matched_at"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("\"Smith, John \"\"JJ\"\"\",contact,phone,+12025550199,u_jj,jj,")
        ),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Plain Name,contact,email,plain@example.org,u_plain,plain,")),
        "{csv}"
    );
    assert_eq!(
        lines.len(),
        4,
        "header, two rows, the last line's end: {csv}"
    );
    // CSV and JSON are one or the other.
    let both = run(&["matches", "--csv", "--json", "--db", s(&db)]);
    assert_eq!(both.status.code(), Some(2));
}

/// Completes `words` (the last one partial) the way bash does, with the script `completions bash`
/// printed, in a real bash.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = ok(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contactsync.bash");
    std::fs::write(&file, script).unwrap();
    let cword = words.len() - 1;
    let program = format!(
        "source {file}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
         _contactsync contactsync {cur} {prev}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file = s(&file),
        words = words.join(" "),
        cur = words[cword],
        prev = words[cword - 1],
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn completions_complete_verbs_and_options_in_bash() {
    assert_eq!(bash_complete(&["contactsync", "exc"]), ["exclude"]);
    assert_eq!(
        bash_complete(&["contactsync", "forget", "--lo"]),
        ["--local"]
    );
    // Every shell clap_complete knows gets a script; an unknown one is a usage error.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(
            ok(&["completions", shell]).contains("contactsync"),
            "{shell}"
        );
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    // A reader that went away (`| head -1`) is no panic: stdout is a pipe already closed at
    // its other end, so every write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = common::cmd()
        .args(["completions", "bash"])
        .stdout(writer)
        .output()
        .unwrap();
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A device vouched for `user_ref`, its database at `dir/NAME.db`.
fn vouched(server: &Server, dir: &Path, name: &str, user_ref: &str) -> std::path::PathBuf {
    let db = dir.join(format!("{name}.db"));
    import_samples(&db, &["sample.csv"]);
    ok(&[
        "register",
        "--server",
        &server.url,
        "--db",
        s(&db),
        "--admin-token",
        common::ADMIN,
        "--user-ref",
        user_ref,
    ]);
    db
}

#[test]
fn invite_list_and_revoke_on_the_creators_device() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = vouched(&server, dir.path(), "a", "u_a");
    let b = vouched(&server, dir.path(), "b", "u_b");
    assert!(ok(&["invite", "list", "--db", s(&a)]).contains("no invites"));
    let first = ok_json(&["invite", "create", "--json", "--db", s(&a)]).remove(0);
    let second = ok_json(&["invite", "create", "--json", "--db", s(&a)]).remove(0);
    let code = |v: &serde_json::Value| v["code"].as_str().unwrap().replace('-', "");
    let (first, second) = (code(&first), code(&second));
    let listed = ok_json(&["invite", "list", "--json", "--db", s(&a)]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|i| i["state"] == "open"), "{listed:?}");

    // B redeems the first; A's next sync tells who.
    ok(&["invite", "redeem", "--db", s(&b), &first]);
    ok(&["sync", "--force", "--db", s(&a)]);
    // A revokes the second: it redeems no more, and leaves the list.
    let out = ok(&["invite", "revoke", "--db", s(&a), &second]);
    assert!(out.contains("revoked"), "{out}");
    let listed = ok_json(&["invite", "list", "--json", "--db", s(&a)]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["code"], first.as_str());
    assert_eq!(listed[0]["state"], "redeemed");
    assert_eq!(listed[0]["redeemed_by"], "u_b");
    let text_list = ok(&["invite", "list", "--db", s(&a)]);
    assert!(text_list.contains("redeemed  by user u_b"), "{text_list}");
    let redeem = run(&["invite", "redeem", "--db", s(&b), &second]);
    assert_eq!(redeem.status.code(), Some(1), "{}", text(&redeem.stderr));
    // Revoking it again, or someone else's code: the server refuses (exit 1).
    let again = run(&["invite", "revoke", "--db", s(&a), &second]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("not_found"),
        "{}",
        text(&again.stderr)
    );
    // A mistyped code never reaches the server.
    let typo = run(&["invite", "revoke", "--db", s(&a), "7K3M-9QX2-R4HV-W8TB-8"]);
    assert_eq!(typo.status.code(), Some(2));
}

#[test]
fn admin_client_revoke_deletes_a_device_which_can_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let db = vouched(&server, dir.path(), "lost", "u_lost");
    let report = sync(&db);
    let client_id = report["client_id"].as_str().unwrap().to_owned();
    let added = report["added"].as_u64().unwrap();
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "client", "revoke", "--server", &server.url];
        all.extend_from_slice(args);
        all.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>()
    };
    let args = admin(&["--admin-token", common::ADMIN, "--json", &client_id]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let receipt = ok_json(&args).remove(0);
    assert_eq!(receipt["client_id"], client_id.as_str(), "{receipt}");
    assert_eq!(
        receipt["deleted"]["hashes"].as_u64().unwrap(),
        added,
        "{receipt}"
    );
    // Again: the server knows no such client (refused, exit 1).
    let again = run(&args);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("not_found"),
        "{}",
        text(&again.stderr)
    );

    // The device learns at its next sync, and is told the way out.
    let out = run(&["sync", "--force", "--db", s(&db)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("forget --local"),
        "{}",
        text(&out.stderr)
    );
    ok(&["forget", "--local", "--yes", "--db", s(&db)]);
    let report = ok_json(&["sync", "--json", "--server", &server.url, "--db", s(&db)]).remove(0);
    assert_ne!(report["client_id"], client_id.as_str(), "{report}");
    assert_eq!(report["added"].as_u64().unwrap(), added, "{report}");
}
