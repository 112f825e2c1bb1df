//! The server's log stream (`contactsync serve`): every line goes through a bounded queue to a
//! writer thread, and is dropped — counted, and the count reported — when the queue is full.
//!
//! Written directly, a log line is a `write(2)` on the thread that handles the request: with
//! stderr going to a pipe nobody reads (a stuck log collector, a paused terminal, a full disk
//! behind a pipe), the runtime's threads sat in `write` after about 64 KB of request logs and
//! every request hung, `GET /v1/config` included. A log stream that cannot keep up must cost log
//! lines, not service.
//!
//! What is written: `--log FILTER` (`RUST_LOG` syntax; else `$RUST_LOG`, else `info`), as text or
//! one JSON object a line (`--log-format`). Dependencies whose debug lines would hold hashes
//! (tokio-postgres logs statement parameters at debug) are capped at `info` whenever the filter
//! would let debug lines through, unless it names them itself (docs/deployment.md, "Logs").

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Lines held while the stream is not read: about 1–2 MB of request lines.
const BUFFERED_LINES: usize = 8192;
/// How often a growing count of dropped lines is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The filter when neither `--log` nor `RUST_LOG` gives one.
pub const DEFAULT_FILTER: &str = "info";
/// Log targets whose debug lines hold statement parameters (hashes, client ids): capped at `info`
/// unless the filter names them. (tokio-postgres logs through the `log` crate, which this stream
/// does not forward today; the cap keeps it so if a `log` bridge is ever added.)
const CAPPED_TARGETS: [&str; 2] = ["tokio_postgres", "postgres"];

/// How log lines are written.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event: time, level, target, message, fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields (with
    /// `message`) at the top level, and `span` (the request's id) for events during a request.
    Json,
}

/// The log filter: `flag` (`--log`), else `env` (`RUST_LOG`) when set and not empty, else
/// `info`; with [`CAPPED_TARGETS`] at `info` when the filter lets debug lines through and does
/// not name them. An error says what does not parse.
pub fn filter(flag: Option<&str>, env: Option<&str>) -> Result<EnvFilter, String> {
    let (spec, source) = match (flag, env.map(str::trim).filter(|e| !e.is_empty())) {
        (Some(flag), _) => (flag.trim(), "--log"),
        (None, Some(env)) => (env, "RUST_LOG"),
        (None, None) => (DEFAULT_FILTER, "the default filter"),
    };
    let parse = |spec: &str| {
        EnvFilter::builder()
            .parse(spec)
            .map_err(|e| format!("{source} {spec:?}: {e}"))
    };
    let filter = parse(spec)?;
    if filter
        .max_level_hint()
        .is_some_and(|l| l <= LevelFilter::INFO)
    {
        return Ok(filter);
    }
    let mut capped = spec.to_owned();
    for target in CAPPED_TARGETS {
        if !names(spec, target) {
            capped.extend([",", target, "=info"]);
        }
    }
    parse(&capped)
}

/// Whether a directive of `spec` is about `target` (or a module in it).
fn names(spec: &str, target: &str) -> bool {
    spec.split(',').any(|directive| {
        let name = directive.split(['=', '[']).next().unwrap_or("").trim();
        name == target || name.starts_with(&format!("{target}::"))
    })
}

/// The installed log stream. Dropping it reports the lines dropped since the last report and
/// flushes what is queued (waiting at most about a second for a stream that is not read).
#[derive(Debug)]
pub struct Logs {
    dropped: ErrorCounter,
    stop: Option<mpsc::Sender<()>>,
    reporter: Option<JoinHandle<usize>>,
    guard: Option<WorkerGuard>,
}

impl Logs {
    /// Installs the global subscriber: what `filter` lets through, in `format`, on stderr,
    /// without blocking; the count of dropped lines also goes to `/metrics`. `None` when a
    /// subscriber is already installed (nothing to report then).
    pub fn to_stderr(filter: EnvFilter, format: LogFormat) -> Option<Logs> {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(BUFFERED_LINES)
            .thread_name("contactsync-logs")
            .finish(std::io::stderr());
        let dropped = writer.error_counter();
        let builder = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_env_filter(filter);
        match format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .try_init(),
        }
        .ok()?;
        let total = dropped.clone();
        contactsync_server::metrics::count_dropped_log_lines(move || {
            u64::try_from(total.dropped_lines()).unwrap_or(u64::MAX)
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let counter = dropped.clone();
        let reporter = std::thread::Builder::new()
            .name("contactsync-log-report".into())
            .spawn(move || {
                let mut reported = 0;
                loop {
                    match stopped.recv_timeout(REPORT_EVERY) {
                        Err(RecvTimeoutError::Timeout) => reported = report(&counter, reported),
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return reported,
                    }
                }
            })
            .ok();
        Some(Logs {
            dropped,
            stop: Some(stop),
            reporter,
            guard: Some(guard),
        })
    }
}

/// Reports the lines dropped since `reported` (the report is a log line too: when it is dropped
/// as well, it is counted, and the next report says so).
fn report(counter: &ErrorCounter, reported: usize) -> usize {
    let total = counter.dropped_lines();
    if total > reported {
        tracing::warn!(
            dropped_lines = total,
            "log lines dropped: the log stream is not read fast enough"
        );
    }
    total
}

impl Drop for Logs {
    fn drop(&mut self) {
        drop(self.stop.take());
        let reported = self
            .reporter
            .take()
            .and_then(|r| r.join().ok())
            .unwrap_or(0);
        report(&self.dropped, reported);
        // Flushes the queue; gives up after about a second on a stream nobody reads.
        drop(self.guard.take());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_flag_wins_then_rust_log_then_info() {
        let hint = |flag, env| filter(flag, env).unwrap().max_level_hint();
        assert_eq!(hint(Some("warn"), Some("debug")), Some(LevelFilter::WARN));
        assert_eq!(hint(None, Some("warn")), Some(LevelFilter::WARN));
        assert_eq!(hint(None, Some(" ")), Some(LevelFilter::INFO));
        assert_eq!(hint(None, None), Some(LevelFilter::INFO));
        assert!(filter(Some("contactsync_server=loud"), None).is_err());
    }

    #[test]
    fn debug_filters_cap_the_database_driver() {
        let shown = |spec| filter(Some(spec), None).unwrap().to_string();
        assert!(
            shown("debug").contains("tokio_postgres=info"),
            "{}",
            shown("debug")
        );
        assert!(shown("debug").contains("postgres=info"));
        assert!(!shown("info").contains("tokio_postgres"));
        assert!(shown("debug,tokio_postgres=debug").contains("tokio_postgres=debug"));
        assert!(!shown("debug,tokio_postgres=debug").contains("tokio_postgres=info"));
        assert!(names("warn,tokio_postgres::query=trace", "tokio_postgres"));
        assert!(!names("tokio_postgres=trace", "postgres"));
    }
}
