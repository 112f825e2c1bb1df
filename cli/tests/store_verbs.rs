//! The verbs over the database (`import`, `status`, `contacts`) as a user runs them: JSON out,
//! exit codes, what a re-import, an edit, an unreadable file and a killed import leave behind.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{cmd, run};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a verb that must succeed and print exactly one JSON object.
fn run_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{args:?}: one object expected");
    lines.into_iter().next().unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut files = Vec::new();
    for dir in ["vcards", "csv"] {
        let mut in_dir: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("fixture dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        in_dir.sort();
        files.extend(in_dir);
    }
    assert!(files.len() >= 6, "fixtures missing: {files:?}");
    files
}

fn import_json(db: &Path, files: &[PathBuf]) -> Value {
    let mut args = vec!["import", "--json", "--region", "US", "--db", s(db)];
    args.extend(files.iter().map(|f| s(f)));
    run_json(&args)
}

fn status_json(db: &Path) -> Value {
    run_json(&["status", "--json", "--db", s(db)])
}

fn contacts_json(db: &Path) -> Vec<Value> {
    let out = run(&["contacts", "--json", "--db", s(db)]);
    assert!(out.status.success(), "{}", stderr(&out));
    json_lines(&out)
}

fn n(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// Status without the path of its database, for comparing two databases.
fn counts(mut status: Value) -> Value {
    status.as_object_mut().expect("object").remove("db");
    status
}

#[test]
fn import_status_and_contacts_agree_and_reimport_costs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("book.db");
    let files = fixtures();

    // What the files hold, as `read` sees them.
    let mut args = vec!["read", "--region", "US"];
    args.extend(files.iter().map(|f| s(f)));
    let read = json_lines(&run(&args));
    let read_contacts: Vec<&Value> = read.iter().filter(|l| l.get("broken").is_none()).collect();
    let read_broken = read.len() - read_contacts.len();
    let mut ids: Vec<&str> = read_contacts
        .iter()
        .map(|l| l["source_id"].as_str().expect("source_id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let read_dropped: usize = read_contacts
        .iter()
        .map(|l| l["dropped"].as_array().map_or(0, Vec::len))
        .sum();

    let first = import_json(&db, &files);
    assert_eq!(n(&first, "added"), ids.len() as u64, "{first}");
    assert_eq!(
        n(&first, "added") + n(&first, "duplicates"),
        read_contacts.len() as u64
    );
    assert_eq!(n(&first, "changed"), 0);
    assert_eq!(n(&first, "unchanged"), 0);
    assert_eq!(n(&first, "removed"), 0);
    assert_eq!(n(&first, "normalized"), read_contacts.len() as u64);
    assert_eq!(n(&first, "broken_entries"), read_broken as u64);
    assert_eq!(n(&first, "dropped_fields"), read_dropped as u64);
    assert!(
        n(&first, "rejected") > 0,
        "the fixtures hold invalid values"
    );
    let by_reason: u64 = first["rejections"]
        .as_object()
        .expect("rejections")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(by_reason, n(&first, "rejected"));
    assert_eq!(first["files"].as_array().map(Vec::len), Some(files.len()));
    assert_eq!(first["db"], s(&db));

    let status = status_json(&db);
    assert_eq!(n(&status, "contacts"), n(&first, "added"), "{status}");
    assert!(n(&status, "identifiers") > 0);
    assert_eq!(n(&status, "pending_add"), n(&first, "queued_add"));
    assert_eq!(n(&status, "pending_add"), n(&status, "identifiers"));
    assert_eq!(n(&status, "pending_remove"), 0);
    assert_eq!(n(&status, "matches"), 0);
    assert_eq!(n(&status, "rejected"), n(&first, "rejected"));
    assert!(n(&status, "schema_version") >= 1);
    assert_eq!(status["db"], s(&db));

    let listed = contacts_json(&db);
    assert_eq!(listed.len() as u64, n(&status, "contacts"));
    let mut listed_ids: Vec<&str> = listed
        .iter()
        .map(|c| c["source_id"].as_str().expect("source_id"))
        .collect();
    listed_ids.sort_unstable();
    assert_eq!(listed_ids, ids);
    let mut distinct: Vec<(String, String)> = listed
        .iter()
        .flat_map(|c| c["identifiers"].as_array().expect("identifiers").iter())
        .map(|i| (i["kind"].to_string(), i["canonical"].to_string()))
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len() as u64, n(&status, "identifiers"));
    let rejected: usize = listed
        .iter()
        .map(|c| c["rejected"].as_array().expect("rejected").len())
        .sum();
    assert_eq!(rejected as u64, n(&status, "rejected"));

    // The same files again: nothing changed, nothing normalised.
    let again = import_json(&db, &files);
    assert_eq!(n(&again, "added"), 0, "{again}");
    assert_eq!(n(&again, "changed"), 0);
    assert_eq!(n(&again, "removed"), 0);
    assert_eq!(n(&again, "normalized"), 0);
    assert_eq!(n(&again, "unchanged"), n(&first, "added"));
    assert_eq!(n(&again, "queued_add"), 0);
    assert_eq!(n(&again, "queued_remove"), 0);
    assert_eq!(status_json(&db), status);
    assert_eq!(contacts_json(&db), listed);
}

#[test]
fn readable_output_without_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("book.db");
    let files = fixtures();
    let mut args = vec!["import", "--region", "US", "--db", s(&db)];
    args.extend(files.iter().map(|f| s(f)));
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "added",
        "changed",
        "unchanged",
        "removed",
        "duplicates",
        "normalized",
        "rejected",
        "phone.",
        "queued_add",
        "queued_remove",
        "broken entries",
        "dropped fields",
    ] {
        assert!(text.contains(word), "{word} missing in:\n{text}");
    }
    // Not a terminal: plain progress lines, ending with the total.
    assert!(stderr(&out).contains("contacts"), "{}", stderr(&out));

    let out = run(&["status", "--db", s(&db)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("waiting to be sent"));

    let out = run(&["contacts", "--db", s(&db)]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pending_add") && text.contains("rejected"),
        "{text}"
    );
}

fn card(uid: &str, name: &str, phone: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nTEL;TYPE=CELL:{phone}\r\nEMAIL:{uid}@example.org\r\nEND:VCARD\r\n"
    )
}

#[test]
fn an_edit_costs_what_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("book.db");
    let vcf = dir.path().join("book.vcf");
    let book = |cards: &[(&str, &str, &str)]| {
        let text: String = cards.iter().map(|(u, n, p)| card(u, n, p)).collect();
        std::fs::write(&vcf, text).expect("write vcf");
    };
    book(&[
        ("u1", "Ada", "+49 151 1234 5601"),
        ("u2", "Bea", "+49 151 1234 5602"),
        ("u3", "Cem", "+49 151 1234 5603"),
        ("u4", "Dov", "+49 151 1234 5604"),
    ]);
    let first = import_json(&db, std::slice::from_ref(&vcf));
    assert_eq!(n(&first, "added"), 4, "{first}");

    // u2's phone changes, u3 goes, u5 arrives.
    book(&[
        ("u1", "Ada", "+49 151 1234 5601"),
        ("u2", "Bea", "+49 151 1234 5699"),
        ("u4", "Dov", "+49 151 1234 5604"),
        ("u5", "Eli", "+49 151 1234 5605"),
    ]);
    let edit = import_json(&db, std::slice::from_ref(&vcf));
    assert_eq!(n(&edit, "changed"), 1, "{edit}");
    assert_eq!(n(&edit, "removed"), 1);
    assert_eq!(n(&edit, "added"), 1);
    assert_eq!(n(&edit, "unchanged"), 2);
    assert_eq!(n(&edit, "normalized"), 2);

    let listed = contacts_json(&db);
    let ids: Vec<&str> = listed
        .iter()
        .map(|c| c["source_id"].as_str().expect("source_id"))
        .collect();
    assert_eq!(ids, ["u1", "u2", "u4", "u5"]);
    let bea_phones: Vec<&str> = listed[1]["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .filter(|i| i["kind"] == "phone")
        .map(|i| i["canonical"].as_str().expect("canonical"))
        .collect();
    assert_eq!(bea_phones, ["+4915112345699"]);
    assert_eq!(n(&status_json(&db), "contacts"), 4);
}

#[test]
fn unreadable_file_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("book.db");
    let files = fixtures();
    import_json(&db, &files);
    let before = status_json(&db);
    let listed = contacts_json(&db);

    let not_contacts = dir.path().join("notes.txt");
    std::fs::write(&not_contacts, "hello world\n").expect("write");
    for bad in [dir.path().join("missing.vcf"), not_contacts] {
        // The bad file last: the good ones before it must not be imported alone either.
        let mut args = vec!["import", "--json", "--db", s(&db), s(&files[0])];
        args.push(s(&bad));
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert!(stderr(&out).contains(s(&bad)), "{}", stderr(&out));
        assert_eq!(status_json(&db), before);
        assert_eq!(contacts_json(&db), listed);
    }

    // The read-only verbs do not create a database.
    let absent = dir.path().join("absent.db");
    for verb in ["status", "contacts"] {
        let out = run(&[verb, "--db", s(&absent)]);
        assert_eq!(out.status.code(), Some(2), "{verb}");
        assert!(!absent.exists());
    }
    // Unusable arguments.
    let out = run(&["import", "--region", "XX", "--db", s(&db), s(&files[0])]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["import", "--db", s(&db)]);
    assert_eq!(out.status.code(), Some(2), "files are required");
}

#[cfg(target_os = "linux")]
#[test]
fn database_path_resolution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let vcf = dir.path().join("one.vcf");
    std::fs::write(&vcf, card("u1", "Ada", "+49 151 1234 5601")).expect("write");
    let import = |env: &[(&str, &Path)], db: Option<&Path>| {
        let mut c = cmd();
        c.env("HOME", &home).env_remove("XDG_DATA_HOME");
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(["import", "--json"]);
        if let Some(db) = db {
            c.args(["--db", s(db)]);
        }
        let out = c.arg(&vcf).output().expect("run");
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out)[0]["db"].as_str().expect("db").to_owned()
    };

    // The platform's data directory, created on first use.
    let default = home.join(".local/share/contactsync/contactsync.db");
    assert_eq!(import(&[], None), s(&default));
    assert!(default.exists());
    let xdg = dir.path().join("xdg");
    assert_eq!(
        import(&[("XDG_DATA_HOME", &xdg)], None),
        s(&xdg.join("contactsync/contactsync.db"))
    );
    // CONTACTSYNC_DB overrides the default; --db overrides both.
    let env_db = dir.path().join("env.db");
    assert_eq!(import(&[("CONTACTSYNC_DB", &env_db)], None), s(&env_db));
    let arg_db = dir.path().join("arg.db");
    assert_eq!(
        import(&[("CONTACTSYNC_DB", &env_db)], Some(&arg_db)),
        s(&arg_db)
    );
    assert!(env_db.exists() && arg_db.exists());
}

/// A vCard book of `count` cards with UIDs, German mobile numbers and e-mail addresses.
fn big_book(count: u32) -> String {
    let mut text = String::with_capacity(count as usize * 130);
    for i in 0..count {
        write!(
            text,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big-{i:06}\r\nFN:Person {i}\r\nTEL;TYPE=CELL:+49 151 {:04} {:04}\r\nEMAIL:person.{i}@example.org\r\nEND:VCARD\r\n",
            1000 + i / 10_000,
            i % 10_000,
        )
        .expect("write");
    }
    text
}

#[test]
fn killed_import_then_reimport_equals_a_clean_import() {
    const CARDS: u32 = 60_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let vcf = dir.path().join("big.vcf");
    std::fs::write(&vcf, big_book(CARDS)).expect("write big.vcf");
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");

    let mut child = cmd()
        .args(["import", "--region", "US", "--db", s(&a), s(&vcf)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn import");
    // Wait until some chunks are committed, then kill the importer without warning.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut committed = 0;
    let mut finished = false;
    while Instant::now() < deadline {
        if child.try_wait().expect("try_wait").is_some() {
            finished = true;
            break;
        }
        if a.exists() {
            let out = run(&["status", "--json", "--db", s(&a)]);
            if out.status.success() {
                committed = n(&json_lines(&out)[0], "contacts");
                if committed > 0 {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !finished {
        child.kill().expect("kill");
    }
    let exit = child.wait().expect("wait");
    if finished || exit.success() {
        assert!(exit.success(), "the import failed: {exit}");
        println!("note: the import finished before it could be killed; checking re-import only");
    } else {
        assert!(committed > 0, "no chunk committed within the deadline");
        assert!(committed < u64::from(CARDS), "killed after it finished?");
    }

    // The killed import left a consistent database that the next import completes; meanwhile
    // the same file goes into a fresh database.
    let (resumed, clean) = std::thread::scope(|scope| {
        let clean = scope.spawn(|| import_json(&b, std::slice::from_ref(&vcf)));
        let resumed = import_json(&a, std::slice::from_ref(&vcf));
        (resumed, clean.join().expect("clean import"))
    });
    assert_eq!(n(&resumed, "removed"), 0, "{resumed}");
    assert_eq!(n(&resumed, "changed"), 0, "{resumed}");
    assert_eq!(
        n(&resumed, "added") + n(&resumed, "unchanged"),
        u64::from(CARDS),
        "{resumed}"
    );
    assert!(n(&resumed, "unchanged") >= committed, "{resumed}");
    assert_eq!(n(&resumed, "rejected"), 0);
    assert_eq!(n(&clean, "added"), u64::from(CARDS), "{clean}");

    let (status_a, status_b) = (status_json(&a), status_json(&b));
    assert_eq!(n(&status_a, "contacts"), u64::from(CARDS));
    assert_eq!(n(&status_a, "identifiers"), 2 * u64::from(CARDS));
    assert_eq!(counts(status_a), counts(status_b));
    let list = |db: &Path| {
        let out = run(&["contacts", "--json", "--db", s(db)]);
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let (list_a, list_b) = std::thread::scope(|scope| {
        let list_b = scope.spawn(|| list(&b));
        (list(&a), list_b.join().expect("list b"))
    });
    assert_eq!(
        list_a.iter().filter(|&&c| c == b'\n').count(),
        CARDS as usize
    );
    assert!(list_a == list_b, "contacts of A and B differ");
}
