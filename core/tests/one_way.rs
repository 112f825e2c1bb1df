//! The core flows one way (issue 17): each stage may use the stages below it, never one above,
//! so that contacts go read → normalised → hashed → stored and diffed → uploaded, and the engine
//! façade sits on top of all of it. This test reads `src/**/*.rs` as text and fails when
//! - a stage names a stage above it (`use crate::upload::...` in `store/`), through `crate::` or
//!   `super::` paths, grouped or not;
//! - a module outside [`STAGES`] appears (a new module must be given its place);
//! - a path goes through a root re-export (`crate::HashKey`), which would hide the stage it
//!   comes from;
//! - two sibling files of one stage import each other, directly or round a longer circle;
//! - a stage other than the store (and `error`, which converts SQLite's errors) names `rusqlite`;
//! - an entry of an allow-list no longer matches anything (the lists only shrink).
//!
//! Test code (`tests.rs` files and the `#[cfg(test)] mod tests` at the end of a file) may use
//! anything: an upload test drives the engine.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod source_tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use source_tree::{absolute, module_path, rust_files, scratch, src};

/// The stages, lowest first. A module may use its own stage and those listed before it.
const STAGES: &[&str] = &[
    // The one error type.
    "error",
    // Progress and cancellation: every long stage reports through it.
    "progress",
    // Raw values → canonical identifiers.
    "identifier",
    // Identifiers → keyed hashes.
    "hash",
    // Identifiers → oblivious PRF values, and the users' filter (private discovery).
    "oprf",
    // The contact model: raw, normalised, prepared (hashed) for the store.
    "contact",
    // Contacts from files (vCard, CSV).
    "source",
    // The protocol's messages and encodings, shared by the store and the upload stage.
    "protocol",
    // The local database.
    "store",
    // This snapshot against the stored one.
    "diff",
    // The hashing key in memory, installed (and the store re-hashed) by the engine or a sync.
    "key",
    // The client side of the protocol.
    "upload",
    // The façade.
    "engine",
];

/// Upward imports that remain: (file under `src/`, the stage it names), each with its reason.
const ALLOWED_UPWARD: &[(&str, &str)] = &[];

/// Stages that may name `rusqlite` besides the store.
const SQL_STAGES: &[&str] = &["store", "error"];

/// Files outside those stages that still name `rusqlite`, with the reason.
const ALLOWED_SQL: &[&str] = &[];

/// The code a stage ships: comments dropped, the test module at the end cut off.
fn shipped_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        // An inline test module (by convention the end of the file); `mod tests;` only names
        // the `tests.rs` file, which is skipped as a whole.
        if trimmed.starts_with("#[cfg(test)]")
            && lines.peek().is_some_and(|next| {
                let next = next.trim_start();
                next.starts_with("mod tests") && !next.starts_with("mod tests;")
            })
        {
            break;
        }
        let code = match line.find("//") {
            // `//` inside a string ("https://...") only cuts what follows on that line.
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Parses the path (or use-tree) that starts at `s`: `a::b::{c, d::e}` → `[a,b,c]`, `[a,b,d,e]`.
/// Returns the paths and how many bytes were read.
fn parse_tree(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut path = prefix.to_vec();
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i < bytes.len() && bytes[i] == b'{' {
            i += 1;
            loop {
                skip_ws(&mut i);
                if i >= bytes.len() {
                    return i;
                }
                if bytes[i] == b'}' {
                    return i + 1;
                }
                if bytes[i] == b',' {
                    i += 1;
                    continue;
                }
                let read = parse_tree(&s[i..], &path, out);
                if read == 0 {
                    i += 1;
                } else {
                    i += read;
                }
            }
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == start {
            // `*` or the end of the path.
            out.push(path);
            return i;
        }
        let segment = &s[start..i];
        if segment != "self" {
            path.push(segment.to_owned());
        }
        if s[i..].starts_with("::") {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Every path in `code` that starts at `crate::` or `super::`, made absolute for a file whose
/// module path is `module`.
fn crate_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(anchor).map(|a| a + from) {
            from = at + anchor.len();
            let preceded_by_ident = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if preceded_by_ident {
                continue;
            }
            let mut raw = Vec::new();
            parse_tree(&code[at..], &[], &mut raw);
            out.extend(raw.iter().map(|path| absolute(path, module)));
        }
    }
    out
}

/// What the scan found.
#[derive(Default)]
struct Findings {
    upward: BTreeSet<(String, String)>,
    sql: BTreeSet<String>,
    problems: Vec<String>,
    /// Per stage: sibling file → the siblings it imports.
    siblings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn scan(root: &Path) -> Findings {
    let rank = |stage: &str| STAGES.iter().position(|s| *s == stage);
    let files = rust_files(root);
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_path(f.strip_prefix(root).unwrap(), "lib"))
        .collect();
    let mut found = Findings::default();
    for file in &files {
        let relative = file.strip_prefix(root).unwrap();
        let name = relative.to_string_lossy().replace('\\', "/");
        let module = module_path(relative, "lib");
        let Some(stage) = module.first().cloned() else {
            continue; // lib.rs: the crate root re-exports every stage.
        };
        if module.last().is_some_and(|m| m == "tests") {
            continue;
        }
        let Some(own_rank) = rank(&stage) else {
            found.problems.push(format!(
                "{name}: stage `{stage}` is not in STAGES: give it its place"
            ));
            continue;
        };
        let code = shipped_code(&fs::read_to_string(file).unwrap());
        if code.contains("rusqlite") && !SQL_STAGES.contains(&stage.as_str()) {
            found.sql.insert(name.clone());
        }
        for path in crate_paths(&code, &module) {
            let Some(target) = path.first() else {
                continue;
            };
            match rank(target) {
                None => found.problems.push(format!(
                    "{name}: `crate::{}` is not a stage (a root re-export?): name it through its \
                     module so this check can place it",
                    path.join("::")
                )),
                Some(r) if r > own_rank => {
                    found.upward.insert((name.clone(), target.clone()));
                }
                Some(_) => {}
            }
            // A sibling file of the same stage (not the stage's own root file, which declares
            // its children and which they may use).
            if *target == stage && module.len() == 2 && path.len() >= 2 {
                let sibling = vec![stage.clone(), path[1].clone()];
                if sibling != module && modules.contains(&sibling) {
                    found
                        .siblings
                        .entry(stage.clone())
                        .or_default()
                        .entry(module[1].clone())
                        .or_default()
                        .insert(path[1].clone());
                }
            }
        }
    }
    found
}

/// A circle among the sibling files of one stage, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// Everything wrong with the tree at `root`, as one message per problem.
fn problems(root: &Path) -> Vec<String> {
    let found = scan(root);
    let mut out = found.problems;
    for stage in STAGES {
        if !root.join(format!("{stage}.rs")).exists() && !root.join(stage).join("mod.rs").exists() {
            out.push(format!("STAGES names `{stage}`, which is not a module"));
        }
    }
    let allowed: BTreeSet<(String, String)> = ALLOWED_UPWARD
        .iter()
        .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
        .collect();
    for (file, target) in found.upward.difference(&allowed) {
        out.push(format!("{file} imports `{target}`, a stage above its own"));
    }
    for (file, target) in allowed.difference(&found.upward) {
        out.push(format!(
            "ALLOWED_UPWARD lists {file} → `{target}`, which no longer happens: remove it"
        ));
    }
    let allowed_sql: BTreeSet<String> = ALLOWED_SQL.iter().map(|f| (*f).to_owned()).collect();
    for file in found.sql.difference(&allowed_sql) {
        out.push(format!("{file} names rusqlite: SQL belongs to the store"));
    }
    for file in allowed_sql.difference(&found.sql) {
        out.push(format!(
            "ALLOWED_SQL lists {file}, which no longer names rusqlite: remove it"
        ));
    }
    for (stage, graph) in &found.siblings {
        if let Some(c) = circle(graph) {
            out.push(format!("{stage}/: a circle of imports: {}", c.join(" → ")));
        }
    }
    out
}

#[test]
fn the_core_flows_one_way() {
    let problems = problems(&src());
    let mut message = String::new();
    for p in &problems {
        writeln!(message, "- {p}").unwrap();
    }
    assert!(problems.is_empty(), "\n{message}");
}

/// The check itself: a copy of the tree with one upward import (and one sibling circle) added
/// must fail, naming both.
#[test]
fn an_upward_import_fails_the_check() {
    let copy = scratch();
    let edit = |file: &str, line: &str| copy.prepend(file, line);
    edit("store/read.rs", "use crate::upload::{Method, SyncOptions};");
    edit("store/codec.rs", "use super::{read::Status, kind_code};");
    edit("diff.rs", "fn f(_: rusqlite::Connection) {}");
    let problems = problems(copy.path());
    let all = problems.join("\n");
    assert!(
        all.contains("store/read.rs imports `upload`"),
        "not caught:\n{all}"
    );
    assert!(all.contains("store/: a circle"), "not caught:\n{all}");
    assert!(all.contains("diff.rs names rusqlite"), "not caught:\n{all}");
}

#[test]
fn paths_are_read_like_rustc_reads_them() {
    let module = ["store".to_owned(), "sync".to_owned()];
    let paths = crate_paths(
        "use super::{UploadState, codec::{self, x}};\nlet y = crate::hash::HashKey::new();\n\
         use crate::{a::b, c};",
        &module,
    );
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "hash::HashKey::new",
            "a::b",
            "c",
            "store::UploadState",
            "store::codec",
            "store::codec::x"
        ]
    );
}
