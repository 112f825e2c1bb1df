//! The CLI's two layers (issue 17; the rule is written out in `src/main.rs`'s module doc): verb
//! modules (`src/verbs/`) use the shared modules and never each other or `main.rs`; a shared
//! module uses only the shared modules listed before it in [`SHARED`], never a verb. This test
//! reads `src/**/*.rs` as Rust tokens (comments and string literals skipped, the
//! `#[cfg(test)] mod tests` at the end of a file cut off) and fails when
//! - a verb module names another verb family, or a sibling file of its own family directory
//!   (`verbs/admin/keys.rs` → `verbs/admin/users.rs`; the family's `mod.rs` is allowed);
//! - any module but `main.rs` names an item of `main.rs` (`crate::Cli`) or the crate root itself;
//! - a shared module names a verb, or a shared module listed after it;
//! - a top-level module is neither in [`SHARED`] nor `verbs` (a new module must be given its
//!   place), or [`SHARED`] names a module that does not exist;
//! - an entry of [`ALLOWED`] no longer matches anything (the list only shrinks).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[path = "../../core/tests/source_tree/mod.rs"]
mod source_tree;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use source_tree::{absolute, module_path, rust_files, scratch, src};

/// The shared modules, lowest first: each may use those before it.
const SHARED: &[&str] = &[
    // Why a verb stopped, and the exit codes.
    "failure",
    // write_json, counts, times, the progress printer.
    "output",
    // --region and identifiers as typed.
    "identifiers",
    // The device database: its path, opening the engine.
    "device_db",
    // The device's credential file beside its database.
    "credentials",
    // HTTP to the server.
    "transport",
    // The server's URL, the credential a request carries, errors to exit codes.
    "remote",
    // `serve`'s log stream.
    "logging",
    // `serve`'s settings (also read by `admin token rotate --config`).
    "settings",
];

/// The directory of the verb modules, one family per file or directory.
const VERBS: &str = "verbs";

/// Imports that break the rules and remain: (file under `src/`, the module path it names, as
/// `a::b`), each with its reason.
const ALLOWED: &[(&str, &str)] = &[];

/// The tokens of Rust source that matter for paths: identifiers, `::` and single punctuation.
/// Comments, string and character literals and lifetimes are dropped.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && raw_string_end(&chars, i).is_some()
        {
            i = raw_string_end(&chars, i).unwrap();
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'), else a lifetime ('a).
            if next == Some('\\') {
                // The quote, the backslash and the escaped character, then up to the quote.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && next == Some(':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// Where the raw string literal starting at `at` (`r"..."`, `r#"..."#`) ends, if one does.
fn raw_string_end(chars: &[char], at: usize) -> Option<usize> {
    let mut i = at + 1;
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#')) {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(i)
}

/// The shipped code's tokens: the inline test module at the end of a file cut off (test code
/// may use anything).
fn shipped(tokens: &[String]) -> &[String] {
    let test_module = ["#", "[", "cfg", "(", "test", ")", "]", "mod", "tests", "{"];
    let end = tokens
        .windows(test_module.len())
        .position(|w| w.iter().zip(test_module).all(|(a, b)| a == b))
        .unwrap_or(tokens.len());
    &tokens[..end]
}

/// Reads the path or use-tree at `tokens[at..]` into `out` (each path `prefix` + its segments);
/// returns the index after it.
fn use_tree(
    tokens: &[String],
    mut at: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(at).map(String::as_str) {
            Some("{") => {
                at += 1;
                while let Some(t) = tokens.get(at) {
                    match t.as_str() {
                        "}" => return at + 1,
                        "," => at += 1,
                        _ => at = use_tree(tokens, at, &path, out),
                    }
                }
                return at;
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                if t != "self" {
                    path.push(t.to_owned());
                }
                at += 1;
                if tokens.get(at).map(String::as_str) == Some("::") {
                    at += 1;
                } else {
                    out.push(path);
                    return at;
                }
            }
            // `*`, or the end of the path.
            _ => {
                out.push(path);
                return at + usize::from(tokens.get(at).is_some_and(|t| t == "*"));
            }
        }
    }
}

/// Every path in `tokens` that starts at `crate::` or `super::`, made absolute for `module`.
fn crate_paths(tokens: &[String], module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for at in 0..tokens.len() {
        let anchored = matches!(tokens[at].as_str(), "crate" | "super")
            && tokens.get(at + 1).is_some_and(|t| t == "::")
            && (at == 0 || tokens[at - 1] != "::");
        if !anchored {
            continue;
        }
        let mut raw = Vec::new();
        use_tree(tokens, at, &[], &mut raw);
        out.extend(raw.iter().map(|path| absolute(path, module)));
    }
    out
}

/// What is wrong with one import of `module` (in `file`) naming `target`, if anything.
fn judge(
    file: &str,
    module: &[String],
    target: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<String> {
    let shown = target.join("::");
    let rank = |name: &str| SHARED.iter().position(|s| *s == name);
    let Some(first) = target.first() else {
        return Some(format!(
            "{file} names the crate root (`crate::*`): name the module"
        ));
    };
    if !modules.contains(&vec![first.clone()]) {
        return Some(format!(
            "{file} names `{shown}`, an item of main.rs: main.rs only parses and dispatches; \
             move it into a shared module"
        ));
    }
    let is_verb = module.first().is_some_and(|m| m == VERBS);
    if first == VERBS {
        if !is_verb {
            return Some(format!("{file} (shared) names the verb module `{shown}`"));
        }
        let family = module.get(1);
        match target.get(1) {
            // `verbs/mod.rs` only declares the families.
            None => return Some(format!("{file} names `{shown}`, the verbs' root")),
            Some(f) if Some(f) != family => {
                return Some(format!(
                    "{file} names `{shown}`, another verb family: move what both need into a \
                     shared module"
                ));
            }
            Some(_) => {}
        }
        // A file of a family directory may use the family's `mod.rs`, not its siblings.
        if let (Some(own), Some(other)) = (module.get(2), target.get(2))
            && own != other
            && modules.contains(&target[..3].to_vec())
        {
            return Some(format!(
                "{file} names `{shown}`, a sibling file of its family: move it into the \
                 family's mod.rs or a shared module"
            ));
        }
        return None;
    }
    if !is_verb
        && let (Some(own), Some(used)) = (module.first().and_then(|m| rank(m)), rank(first))
        && used > own
    {
        return Some(format!(
            "{file} names `{shown}`, a shared module listed after its own in SHARED"
        ));
    }
    None
}

/// Everything wrong with the tree at `root`, one message per problem.
fn problems(root: &Path) -> Vec<String> {
    let files = rust_files(root);
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_path(f.strip_prefix(root).unwrap(), "main"))
        .collect();
    let mut out = Vec::new();
    for shared in SHARED {
        if !modules.contains(&vec![(*shared).to_owned()]) {
            out.push(format!("SHARED names `{shared}`, which is not a module"));
        }
    }
    let mut found = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(root).unwrap();
        let name = relative.to_string_lossy().replace('\\', "/");
        let module = module_path(relative, "main");
        let Some(top) = module.first() else {
            continue; // main.rs: parses and dispatches, and may use anything.
        };
        if top != VERBS && !SHARED.contains(&top.as_str()) {
            out.push(format!(
                "{name}: `{top}` is neither in SHARED nor under {VERBS}/: give it its place"
            ));
            continue;
        }
        let text = fs::read_to_string(file).unwrap();
        for target in crate_paths(shipped(&tokens(&text)), &module) {
            if let Some(problem) = judge(&name, &module, &target, &modules) {
                found.insert((name.clone(), target.join("::"), problem));
            }
        }
    }
    let allowed: BTreeSet<(String, String)> = ALLOWED
        .iter()
        .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
        .collect();
    let mut matched = BTreeSet::new();
    for (file, target, problem) in found {
        let key = (file, target);
        if allowed.contains(&key) {
            matched.insert(key);
        } else {
            out.push(problem);
        }
    }
    for (file, target) in allowed.difference(&matched) {
        out.push(format!(
            "ALLOWED lists {file} → `{target}`, which no longer happens: remove it"
        ));
    }
    out
}

#[test]
fn verbs_use_shared_modules_only() {
    let problems = problems(&src());
    assert!(problems.is_empty(), "\n- {}", problems.join("\n- "));
}

/// The check itself: a copy of the tree with each kind of breach added must fail, naming each.
#[test]
fn a_sideways_import_fails_the_check() {
    let copy = scratch();
    let edit = |file: &str, line: &str| copy.prepend(file, line);
    edit(
        "verbs/invite.rs",
        "use crate::verbs::{device::register, status};",
    );
    edit("verbs/status.rs", "fn f() { let _ = crate::Cli::parse; }");
    edit("verbs/contacts.rs", "use super::matches::Format;");
    edit("verbs/admin/clients.rs", "use super::keys::KeyCommand;");
    edit("output.rs", "use crate::verbs::demo;");
    edit("failure.rs", "use crate::remote::segment;");
    fs::write(copy.path().join("helpers.rs"), "").unwrap();
    let all = problems(copy.path()).join("\n");
    for expected in [
        "verbs/invite.rs names `verbs::device::register`, another verb family",
        "verbs/invite.rs names `verbs::status`, another verb family",
        "verbs/status.rs names `Cli::parse`, an item of main.rs",
        "verbs/contacts.rs names `verbs::matches::Format`, another verb family",
        "verbs/admin/clients.rs names `verbs::admin::keys::KeyCommand`, a sibling file",
        "output.rs (shared) names the verb module `verbs::demo`",
        "failure.rs names `remote::segment`, a shared module listed after its own",
        "helpers.rs: `helpers` is neither in SHARED nor under verbs/",
    ] {
        assert!(all.contains(expected), "not caught: {expected}\n{all}");
    }
}

#[test]
fn paths_are_read_like_rustc_reads_them() {
    let module = ["verbs".to_owned(), "admin".to_owned(), "keys".to_owned()];
    let code = "use super::{Admin, clients::{self, X}};\n// use crate::verbs::demo;\n\
                let s = \"crate::verbs::demo\"; let c = '\"'; fn f<'a>(x: &'a str) {}\n\
                let y = crate::output::write_json(o, v);\npub(crate) fn g() {}\n\
                use crate::{failure::Failure, remote::*};\n\
                #[cfg(test)]\nmod tests { use crate::verbs::demo; }";
    let paths = crate_paths(shipped(&tokens(code)), &module);
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "verbs::admin::Admin",
            "verbs::admin::clients",
            "verbs::admin::clients::X",
            "output::write_json",
            "failure::Failure",
            "remote"
        ]
    );
}
