//! How the verbs show things: one JSON value per line ([`write_json`]), figures in aligned
//! columns ([`write_counts`]), moments as "in 3 h" ([`when`]), a match by its name
//! ([`match_name`]), and the one progress printer on stderr ([`StderrProgress`]).
//!
//! Shared so that every verb prints the same way; it imports nothing of the crate.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use contactsync_core::{Match, Progress, ProgressListener, Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::Serialize;

/// One JSON value and a line end: the `--json` output of every verb, and the JSON lines of
/// `normalize`, `hash` and `read`.
pub fn write_json(
    out: &mut (impl Write + ?Sized),
    value: &(impl Serialize + ?Sized),
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Figures, one per line, name and count aligned (the readable form of the reports).
pub fn write_counts(out: &mut (impl Write + ?Sized), rows: &[(&str, u64)]) -> io::Result<()> {
    for (name, n) in rows {
        writeln!(out, "  {name:<15}{n:>9}")?;
    }
    Ok(())
}

/// Now, in Unix seconds (the unit of every time the core and the server give).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// "in 3 h (at 1795600000)", "now".
pub fn when(at: i64) -> String {
    let left = at - now();
    if left <= 0 {
        return "now".to_owned();
    }
    let rough = match left {
        0..60 => format!("{left} s"),
        60..3600 => format!("{} min", left / 60),
        3600..86400 => format!("{} h", left / 3600),
        _ => format!("{} d", left / 86400),
    };
    format!("in {rough} (at {at})")
}

/// What a match is found through, for people: the contact's name, or "(invite)".
pub fn match_name(m: &Match) -> &str {
    match (&m.source_id, m.display_name.is_empty()) {
        (None, _) => "(invite)",
        (Some(_), true) => "(no name)",
        (Some(_), false) => &m.display_name,
    }
}

/// Progress of an import or a sync on stderr: a spinner on a terminal, otherwise a plain line at most
/// every [`LINE_EVERY`] or [`LINE_EVERY_ITEMS`] contacts.
#[derive(Debug)]
pub struct StderrProgress {
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
    pub fn new() -> Self {
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

    pub fn finish(&self) {
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
