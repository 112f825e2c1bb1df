//! The verbs over the local database: `import` and `contacts` (`status`: [`crate::status`]).
//!
//! They drive the core's [`Engine`] the way an app does. Progress goes to stderr (a bar on a
//! terminal, plain lines otherwise); results go to `out`. Error messages name files and the
//! database, never contact data.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use contactsync_core::identifier::Region;
use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::{
    Config, ContactView, Engine, Error, ImportReport, Progress, ProgressListener, Stage,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use crate::UsageError;
use crate::commands::{Failure, write_counts};

/// The environment variable that overrides the default database path.
pub const DB_ENV: &str = "CONTACTSYNC_DB";

/// File name of the database inside the data directory.
const DB_FILE: &str = "contactsync.db";

/// Contacts fetched per page by `contacts`.
const PAGE: u64 = 500;

/// The database path: `--db`, else `$CONTACTSYNC_DB`, else `contactsync.db` in the platform's
/// data directory. With `create`, the default data directory is created when missing (an
/// explicit path is taken as given: a mistyped directory is an error, not a new one).
pub fn resolve_db(arg: Option<&Path>, create: bool) -> Result<PathBuf, Failure> {
    if let Some(path) = arg {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os(DB_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = data_dir().ok_or_else(|| {
        UsageError(format!(
            "no data directory for the default database (HOME is not set); use --db or {DB_ENV}"
        ))
    })?;
    if create {
        std::fs::create_dir_all(&dir)
            .map_err(|e| UsageError(format!("creating {}: {e}", dir.display())))?;
    }
    Ok(dir.join(DB_FILE))
}

/// The application's data directory by the platform's convention, the one the `directories`
/// crate gives for `ProjectDirs::from("org", "contactsync", "contactsync").data_dir()`:
/// `$XDG_DATA_HOME/contactsync` or `~/.local/share/contactsync` on Linux and the BSDs,
/// `~/Library/Application Support/org.contactsync.contactsync` on macOS,
/// `%APPDATA%\contactsync\contactsync\data` on Windows.
///
/// Written out here rather than taken from `directories`, which pulls in an MPL-2.0 crate
/// (`option-ext`) that `scripts/check-licenses` rejects.
pub(crate) fn data_dir() -> Option<PathBuf> {
    fn env_path(name: &str) -> Option<PathBuf> {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }
    if cfg!(windows) {
        return env_path("APPDATA").map(|d| d.join("contactsync").join("contactsync").join("data"));
    }
    if cfg!(target_os = "macos") {
        return env_path("HOME").map(|h| {
            h.join("Library")
                .join("Application Support")
                .join("org.contactsync.contactsync")
        });
    }
    env_path("XDG_DATA_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("contactsync"))
}

/// Opens the engine; `must_exist` refuses to create a database (the read-only verbs).
pub(crate) fn open(db: &Path, region: Region, must_exist: bool) -> Result<Engine, Failure> {
    if must_exist && !db.exists() {
        return Err(UsageError(format!(
            "no database at {} (run `contactsync import` first, or pass --db)",
            db.display()
        ))
        .into());
    }
    Engine::open(db, Config::with_region(region)).map_err(|e| engine_failure(db, &e))
}

pub(crate) fn engine_failure(db: &Path, e: &Error) -> Failure {
    UsageError(format!("{}: {e}", db.display())).into()
}

pub(crate) fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// `contactsync import`: all files as one full snapshot.
pub fn import(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    files: &[PathBuf],
    as_json: bool,
) -> Result<ExitCode, Failure> {
    // Open every file before importing anything: a snapshot without one of them would remove
    // that file's contacts.
    let mut opened = Vec::with_capacity(files.len());
    for path in files {
        let entries = source::read_path(path, &ReadOptions::default())
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        opened.push((path.display().to_string(), entries));
    }
    let engine = open(db, region, false)?;

    let broken = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let contacts = {
        let (broken, dropped) = (Arc::clone(&broken), Arc::clone(&dropped));
        opened.into_iter().flat_map(move |(file, entries)| {
            let (broken, dropped) = (Arc::clone(&broken), Arc::clone(&dropped));
            entries.filter_map(move |item| match item {
                Ok(SourceItem::Contact(c)) => {
                    dropped.fetch_add(c.dropped.len() as u64, Ordering::Relaxed);
                    Some(Ok(c.contact))
                }
                Ok(SourceItem::Broken(_)) => {
                    broken.fetch_add(1, Ordering::Relaxed);
                    None
                }
                // Ends the import without removing anything: the rest of the file is unread.
                Err(e) => Some(Err(Error::Io(format!("{file}: {e}")))),
            })
        })
    };

    let listener = StderrProgress::new();
    let result = engine.try_import_snapshot(contacts, &listener);
    listener.finish();
    let report = result.map_err(|e| engine_failure(db, &e))?;

    let summary = ImportSummary {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        broken_entries: broken.load(Ordering::Relaxed),
        dropped_fields: dropped.load(Ordering::Relaxed),
        db: db.display().to_string(),
    };
    if as_json {
        let mut value = serde_json::to_value(&report).map_err(io::Error::other)?;
        if let (Value::Object(map), Value::Object(extra)) = (
            &mut value,
            serde_json::to_value(&summary).map_err(io::Error::other)?,
        ) {
            map.extend(extra);
        }
        write_json(out, &value)?;
    } else {
        write_import_summary(out, &report, &summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `import` adds to the engine's report.
#[derive(Debug, Serialize)]
struct ImportSummary {
    files: Vec<String>,
    broken_entries: u64,
    dropped_fields: u64,
    db: String,
}

/// Rejection reasons shown in the readable summary.
const TOP_REASONS: usize = 5;

fn write_import_summary(
    out: &mut impl Write,
    r: &ImportReport,
    s: &ImportSummary,
) -> io::Result<()> {
    let files = if s.files.len() == 1 { "file" } else { "files" };
    writeln!(out, "imported {} {files} into {}", s.files.len(), s.db)?;
    let rows: [(&str, u64); 8] = [
        ("added", r.added),
        ("changed", r.changed),
        ("unchanged", r.unchanged),
        ("removed", r.removed),
        ("duplicates", r.duplicates),
        ("normalized", r.normalized),
        ("queued_add", r.queued_add),
        ("queued_remove", r.queued_remove),
    ];
    write_counts(out, &rows[..6])?;
    writeln!(out, "  {:<15}{:>9}", "rejected", r.rejected)?;
    for (code, n) in top_reasons(&r.rejections) {
        writeln!(out, "    {code:<28}{n:>7}")?;
    }
    write_counts(out, &rows[6..])?;
    writeln!(out, "  {:<15}{:>9}", "broken entries", s.broken_entries)?;
    writeln!(out, "  {:<15}{:>9}", "dropped fields", s.dropped_fields)
}

/// The most frequent rejection reasons (ties by code), then the rest summed as "other".
fn top_reasons(rejections: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut all: Vec<(&String, u64)> = rejections.iter().map(|(c, n)| (c, *n)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut top: Vec<(String, u64)> = all
        .iter()
        .take(TOP_REASONS)
        .map(|(c, n)| ((*c).clone(), *n))
        .collect();
    let rest: u64 = all.iter().skip(TOP_REASONS).map(|(_, n)| n).sum();
    if rest > 0 {
        top.push(("(other reasons)".to_owned(), rest));
    }
    top
}

/// `contactsync contacts`: every stored contact, a page at a time.
pub fn contacts(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let mut after: Option<String> = None;
    loop {
        let page = engine
            .contacts_after(after.as_deref(), PAGE)
            .map_err(|e| engine_failure(db, &e))?;
        for c in &page {
            if as_json {
                write_json(out, c)?;
            } else {
                write_contact(out, c)?;
            }
        }
        match page.last() {
            Some(last) if page.len() as u64 == PAGE => after = Some(last.source_id.clone()),
            _ => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_contact(out: &mut impl Write, c: &ContactView) -> io::Result<()> {
    let name = if c.display_name.is_empty() {
        "(no name)"
    } else {
        &c.display_name
    };
    write!(out, "{name}  [{}]", c.source_id)?;
    if c.excluded {
        write!(out, "  excluded")?;
    }
    if !c.rejected.is_empty() {
        write!(out, "  {} rejected", c.rejected.len())?;
    }
    writeln!(out)?;
    for id in &c.identifiers {
        write!(
            out,
            "    {:<8} {:<40} {}",
            id.kind.as_str(),
            id.canonical,
            id.state.as_str()
        )?;
        if id.excluded {
            write!(out, " excluded")?;
        }
        if id.user_ref.is_some() {
            write!(out, " matched")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Progress of an import on stderr: a spinner on a terminal, otherwise a plain line at most
/// every [`LINE_EVERY`] or [`LINE_EVERY_ITEMS`] contacts.
#[derive(Debug)]
pub(crate) struct StderrProgress {
    bar: Option<ProgressBar>,
    lines: Mutex<LineState>,
}

#[derive(Debug)]
struct LineState {
    started: Instant,
    last_at: Instant,
    last_done: u64,
    last_stage: Option<Stage>,
}

/// Plain progress lines: one a second...
const LINE_EVERY: Duration = Duration::from_secs(1);
/// ...or one per this many contacts, whichever comes first.
const LINE_EVERY_ITEMS: u64 = 10_000;

impl StderrProgress {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        let bar = io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(import_style());
            bar.set_message("importing");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        StderrProgress {
            bar,
            lines: Mutex::new(LineState {
                started: now,
                last_at: now,
                last_done: 0,
                last_stage: None,
            }),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn import_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}: {human_pos} contacts ({rate}, {elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
}

fn remove_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}: [{bar:30}] {human_pos}/{human_len} contacts")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn upload_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}: [{bar:30}] {human_pos}/{human_len} hashes")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// What a stage is called in progress lines, and what it counts.
fn stage_words(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Import => ("importing", "contacts"),
        Stage::Remove => ("removing", "contacts"),
        Stage::Rehash => ("re-hashing", "contacts"),
        Stage::Upload => ("uploading", "hashes"),
    }
}

impl ProgressListener for StderrProgress {
    fn on_progress(&self, p: Progress) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let stage_changed = lines.last_stage != Some(p.stage);
        // The engine's last word on an import carries its total.
        let end = p.stage == Stage::Import && p.total.is_some();
        if let Some(bar) = &self.bar {
            if end {
                // `finish` clears the bar right after; the summary tells the numbers.
                return;
            }
            if stage_changed {
                // A bar is per stage: restart its count, rate and clock.
                if lines.last_stage.is_some() {
                    bar.reset();
                }
                match p.total {
                    Some(total) => bar.set_length(total),
                    None => bar.unset_length(),
                }
                bar.set_position(p.done);
                let style = match p.stage {
                    Stage::Import => import_style(),
                    Stage::Remove | Stage::Rehash => remove_style(),
                    Stage::Upload => upload_style(),
                };
                let (message, _) = stage_words(p.stage);
                bar.set_style(style);
                bar.set_message(message);
                lines.last_stage = Some(p.stage);
            } else {
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                bar.set_position(p.done);
            }
            return;
        }
        let now = Instant::now();
        let due = stage_changed
            || end
            || now.duration_since(lines.last_at) >= LINE_EVERY
            || p.done.saturating_sub(lines.last_done) >= LINE_EVERY_ITEMS;
        if !due {
            return;
        }
        let (stage, unit) = stage_words(p.stage);
        let elapsed = now.duration_since(lines.started).as_secs_f64();
        let line = match p.total {
            Some(total) => format!("{stage}: {}/{total} {unit}", p.done),
            None if elapsed > 0.0 => {
                #[allow(clippy::cast_precision_loss)]
                let rate = p.done as f64 / elapsed;
                format!("{stage}: {} {unit} ({rate:.0}/s)", p.done)
            }
            None => format!("{stage}: {} {unit}", p.done),
        };
        // Progress is advisory: a closed stderr must not stop the import.
        let _ = writeln!(io::stderr().lock(), "contactsync: {line}");
        lines.last_at = now;
        lines.last_done = p.done;
        lines.last_stage = Some(p.stage);
    }
}
