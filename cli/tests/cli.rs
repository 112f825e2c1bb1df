//! The `contactsync` binary as a user runs it: JSON lines out, exit codes, files in.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contactsync"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn contactsync");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn normalize_args_and_stdin() {
    let out = run(
        &[
            "normalize",
            "--region",
            "DE",
            "0172 3127130",
            "Alice@Example.com",
            "112",
        ],
        "",
    );
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["kind"], "phone");
    assert_eq!(lines[0]["canonical"], "+491723127130");
    assert_eq!(lines[0]["input"], "0172 3127130");
    assert_eq!(lines[1]["canonical"], "alice@example.com");
    assert_eq!(lines[2]["error"], "phone.unassigned");
    assert!(lines[2].get("canonical").is_none());
    // Key order is the documented one.
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        first.starts_with(r#"{"input":"0172 3127130","kind":"phone","canonical""#),
        "{first}"
    );

    let out = run(&["normalize", "--kind", "handle"], "@Bob\n\n  \nal ice\n");
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "blank lines are skipped");
    assert_eq!(lines[0]["canonical"], "bob");
    assert_eq!(lines[1]["error"], "handle.invalid_character");
}

#[test]
fn normalize_auto_says_what_it_guessed() {
    let out = run(
        &[
            "normalize",
            "--region",
            "US",
            "notaphone",
            "@bob",
            "+1 202 555 0173",
        ],
        "",
    );
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["kind"], "handle");
    let why = lines[0]["guessed"].as_str().unwrap_or_default();
    assert!(why.starts_with("handle: not a phone number"), "{why}");
    assert_eq!(lines[1]["guessed"], "handle: a leading @");
    assert!(
        lines[2]["guessed"]
            .as_str()
            .unwrap_or_default()
            .starts_with("phone:"),
        "{}",
        lines[2]
    );
    // The note on stderr names the value taken as a handle by elimination, and only it.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"notaphone\": guessed a handle"), "{err}");
    assert!(!err.contains("bob"), "{err}");
    // A kind that was given is not a guess.
    let out = run(&["normalize", "--kind", "handle"], "notaphone\n");
    assert!(json_lines(&out)[0].get("guessed").is_none());
    assert!(out.stderr.is_empty());
    // From stdin: one summary line, not one per value.
    let out = run(&["normalize"], "one\ntwo\n");
    assert_eq!(json_lines(&out)[1]["kind"], "handle");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 values guessed as handles"), "{err}");
}

#[test]
fn normalize_bounds_huge_lines() {
    let huge = "9".repeat(1_000_000);
    let out = run(
        &["normalize", "--kind", "phone"],
        &format!("{huge}\n+1 202 555 0173\n"),
    );
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["error"], "input_too_long");
    assert_eq!(lines[1]["canonical"], "+12025550173");
}

#[test]
fn hash_pipeline_and_modes() {
    let norm = run(
        &["normalize", "--region", "US"],
        "(202) 555-0173\nalice@example.com\nnot valid!!\n",
    );
    let stdin = String::from_utf8_lossy(&norm.stdout).into_owned();
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let out = run(&["hash", "--key-base64", key, "--key-id", "k1"], &stdin);
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["key_id"], "k1");
    assert_eq!(lines[0]["hash"].as_str().map(str::len), Some(22));
    assert_ne!(lines[0]["hash"], lines[1]["hash"]);
    assert!(
        lines[2].get("hash").is_none(),
        "rejections pass through unhashed"
    );

    let out = run(
        &["hash", "--matrix-pepper", "matrixrocks"],
        r#"{"kind":"email","canonical":"alice@example.com"}"#,
    );
    assert_eq!(
        json_lines(&out)[0]["hash"],
        "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
    );

    // Only canonical text is hashed.
    let out = run(
        &["hash", "--key-base64", key, "--key-id", "k1"],
        "{\"kind\":\"email\",\"canonical\":\"Alice@Example.com\"}\nnot json\n",
    );
    let lines = json_lines(&out);
    assert_eq!(lines[0]["error"], "not_canonical");
    assert_eq!(lines[1]["error"], "malformed_line");
}

#[test]
fn unusable_arguments_exit_2() {
    for args in [
        &["normalize", "--region", "XX", "1"][..],
        &["hash"][..],
        &["hash", "--key-base64", "!!", "--key-id", "k"][..],
        &["hash", "--key-base64", "AAAA", "--key-id", "k"][..],
        &["read", "/nonexistent/file.vcf"][..],
        &["frobnicate"][..],
    ] {
        let out = run(args, "");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn read_vcard_and_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vcf = dir.path().join("book.vcf");
    std::fs::write(
        &vcf,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nUID:ada-1\r\nTEL;TYPE=CELL:+44 20 7946 0958\r\nTEL:12\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:Cut\r\n",
    )
    .expect("write vcf");
    let csv = dir.path().join("export.csv");
    std::fs::write(&csv, "First Name,Last Name,E-mail Address,Mobile Phone\nGrace,Hopper,grace@example.org,(202) 555-0173\n")
        .expect("write csv");
    let out = run(
        &[
            "read",
            "--region",
            "US",
            vcf.to_str().unwrap_or_default(),
            csv.to_str().unwrap_or_default(),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["source_id"], "ada-1");
    assert_eq!(lines[0]["identifiers"][0]["canonical"], "+442079460958");
    assert_eq!(lines[0]["rejections"][0]["error"], "phone.too_short");
    assert_eq!(lines[1]["broken"], "unterminated");
    assert_eq!(lines[1]["line"], 8);
    assert_eq!(lines[2]["display_name"], "Grace Hopper");
    assert_eq!(lines[2]["source_id"], "export.csv#1");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("2 contacts") && summary.contains("1 broken"),
        "{summary}"
    );
}
