//! What the two import checks (`core/tests/one_way.rs`, `cli/tests/layers.rs`) share: the
//! crate's source files, each file's module path, and a scratch copy of the sources for each
//! check's test of itself. Included by path from both, as the crates have no test library in
//! common (the tests crate depends on the core, so the core cannot use it).

use std::fs;
use std::path::{Path, PathBuf};

/// The including crate's `src/`.
pub fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// The module path of a file under `src/`, the crate root being `root` (`lib` or `main`):
/// `lib.rs` → `[]`, `store/mod.rs` → `[store]`, `verbs/admin/keys.rs` → `[verbs, admin, keys]`.
pub fn module_path(relative: &Path, root: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != root {
        parts.push(stem.to_owned());
    }
    parts
}

/// A `crate::` or `super::` path named in the file of `module`, made absolute (from the crate
/// root, without `crate`).
pub fn absolute(path: &[String], module: &[String]) -> Vec<String> {
    if path.first().is_some_and(|s| s == "crate") {
        return path[1..].to_vec();
    }
    let ups = path.iter().take_while(|s| *s == "super").count();
    let base = module
        .len()
        .checked_sub(ups)
        .unwrap_or_else(|| panic!("{module:?}: a path above the crate root: {path:?}"));
    module[..base].iter().chain(&path[ups..]).cloned().collect()
}

/// A scratch copy of [`src`], for a check to be shown a breach.
pub struct Scratch(tempfile::TempDir);

/// Copies [`src`] into a temporary directory.
pub fn scratch() -> Scratch {
    let copy = tempfile::tempdir().unwrap();
    for file in rust_files(&src()) {
        let to = copy.path().join(file.strip_prefix(src()).unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(file, to).unwrap();
    }
    Scratch(copy)
}

impl Scratch {
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Puts `line` before the first line of `file` (relative to the copy's root).
    pub fn prepend(&self, file: &str, line: &str) {
        let path = self.path().join(file);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{line}\n{text}")).unwrap();
    }
}
