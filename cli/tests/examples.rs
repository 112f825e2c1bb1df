//! Every invite code shown to a reader — in `--help` texts, README.md, docs/ and the sources' doc
//! comments — is a real one: it passes the same check a typed code does. (They once failed it.)

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::Command;

use contactsync_core::identifier::invite;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `--help` of the binary and of every subcommand, recursively.
fn help_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let output = Command::new(env!("CARGO_BIN_EXE_contactsync"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{path:?} --help");
        let text = String::from_utf8(output.stdout).unwrap();
        let mut in_commands = false;
        for line in text.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
            } else if in_commands && line.starts_with("  ") {
                let name = line.split_whitespace().next().unwrap_or("help");
                if name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_owned());
                    todo.push(sub);
                }
            } else if in_commands && !line.trim().is_empty() {
                in_commands = false;
            }
        }
        out.push((format!("contactsync {} --help", path.join(" ")), text));
    }
    out
}

/// README.md, docs/, the bindings' READMEs, and the Rust sources (doc comments, help strings).
fn documents() -> Vec<(String, String)> {
    let root = repo();
    let mut files = vec![
        root.join("README.md"),
        root.join("bindings/README.md"),
        root.join("bindings/kotlin/README.md"),
        root.join("bindings/swift/README.md"),
    ];
    let mut dirs = vec![
        root.join("docs"),
        root.join("core/src"),
        root.join("cli/src"),
        root.join("server/src"),
        root.join("bindings/src"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md" || e == "rs") {
                files.push(path);
            }
        }
    }
    files
        .into_iter()
        .filter(|f| f.exists())
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            )
        })
        .collect()
}

/// Invite codes in a text: the code of an invite link (`/i/CODE`), a JSON `"code"`, or a code in
/// its grouped display form (`7K3M-9QX2-D`). Placeholders (`CODE`, `XXXX-XXXX-C`) carry no digit
/// and are not codes.
fn codes_in(text: &str) -> Vec<String> {
    let is_code_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let has_digit_and_letter = |t: &str| {
        t.chars().any(|c| c.is_ascii_digit()) && t.chars().any(|c| c.is_ascii_uppercase())
    };
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find(|c: char| c.is_ascii_alphanumeric()) {
        let start = at + offset;
        let tail = &text[start..];
        let end = tail.find(|c| !is_code_char(c)).unwrap_or(tail.len());
        let token = tail[..end].trim_end_matches('-');
        let uppercase = token
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        let before = &text[..start];
        let linked = before.ends_with("/i/") || before.ends_with("\"code\": \"");
        let segments: Vec<&str> = token.split('-').collect();
        let grouped = segments.len() >= 2
            && segments[..segments.len() - 1].iter().all(|s| s.len() == 4)
            && (1..=4).contains(&segments[segments.len() - 1].len());
        if uppercase && has_digit_and_letter(token) && (linked || grouped) {
            out.push(token.to_owned());
        }
        at = start + end.max(1);
    }
    out
}

#[test]
fn every_example_invite_code_is_a_real_one() {
    let mut checked = Vec::new();
    for (source, text) in help_texts().into_iter().chain(documents()) {
        for code in codes_in(&text) {
            if let Err(e) = invite::normalize(&code) {
                panic!(
                    "{source}: the example invite code {code} is refused ({})",
                    e.code()
                );
            }
            checked.push(code);
        }
    }
    // The extraction itself must keep working: the help of `invite redeem` and the protocol's
    // examples are among what was checked.
    for expected in ["7K3M-9QX2-R4HV-W8TB-9", "7K3M9QX2R4HVW8TB9", "7K3M-9QX2-D"] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} not found in {checked:?}"
        );
    }
}

#[test]
fn the_extraction_finds_codes_and_skips_placeholders() {
    let text = r#"redeem `7K3M-9QX2-R4` or https://h/i/7K3M9QX2R4?x; {"code": "AB12CDEF3"}
        placeholders: /i/CODE, XXXX-XXXX-C, 2026-12-06, /i/user"#;
    assert_eq!(codes_in(text), ["7K3M-9QX2-R4", "7K3M9QX2R4", "AB12CDEF3"]);
    // A wrong example is caught.
    assert!(invite::normalize("7K3M-9QX2-R4").is_err());
}
