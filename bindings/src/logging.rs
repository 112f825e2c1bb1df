//! The core's log lines for apps: the foreign trait [`LogSink`] and [`install_log_sink`].
//!
//! The core logs through the `log` crate, at its stages' boundaries, and never a contact's data
//! (counts, stages, durations, HTTP statuses; docs/engine.md, "Logging"). This module is the
//! process-wide `log::Log` that hands each line to the app's sink: installed once per process by
//! the first call, after which a later call *replaces* the sink and its level (an app's
//! `Application.onCreate` or a test suite may run it more than once; the newest wins).

use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::error::ContactsyncError;

/// How much is logged, from the fewest lines to the most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Failures the engine could not handle by itself.
    Error,
    /// Failures it handles (a retry, a refused request, a rolled-back import).
    Warn,
    /// One line per operation: an import's or a sync's start and end with its counts.
    Info,
    /// Steps within an operation: each request's status, each batch.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Off => log::LevelFilter::Off,
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }

    fn of(level: log::Level) -> LogLevel {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// Its level.
    pub level: LogLevel,
    /// Where it comes from: the Rust module (`contactsync_core::engine::network`), for a tag.
    pub target: String,
    /// The line; never contact data.
    pub message: String,
}

/// Where the app wants the engine's log lines: `android.util.Log`, Timber, `os.Logger`, a file.
///
/// Called on the thread that logs (an import's, a sync's), only for lines at or above the level
/// given to `install_log_sink`. Keep it cheap; an exception it throws is ignored.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// One line.
    fn log(&self, record: LogRecord) -> Result<(), ContactsyncError>;
}

/// Sends the engine's log lines at `level` and above to `sink`, for the whole process. Call it
/// once at start-up; a later call replaces the sink and the level (`LogLevel.Off` silences).
/// Only lines of this library are forwarded, not those of its dependencies.
#[uniffi::export]
pub fn install_log_sink(sink: Arc<dyn LogSink>, level: LogLevel) {
    let forwarder = FORWARDER.get_or_init(|| Forwarder {
        sink: RwLock::new(None),
    });
    *forwarder
        .sink
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Some(sink);
    // Fails only when another `log::Log` is already installed (a Rust host with its own logger):
    // that one then keeps the lines.
    let _ = log::set_logger(forwarder);
    log::set_max_level(level.filter());
}

static FORWARDER: OnceLock<Forwarder> = OnceLock::new();

struct Forwarder {
    sink: RwLock<Option<Arc<dyn LogSink>>>,
}

/// The crates whose lines reach the app: this library's own.
fn ours(target: &str) -> bool {
    target.starts_with("contactsync")
}

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && ours(metadata.target())
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = self
            .sink
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(sink) = sink {
            let _ = sink.log(LogRecord {
                level: LogLevel::of(record.level()),
                target: record.target().to_owned(),
                message: record.args().to_string(),
            });
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Lines(Mutex<Vec<LogRecord>>);

    impl LogSink for Lines {
        fn log(&self, record: LogRecord) -> Result<(), ContactsyncError> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(record);
            Ok(())
        }
    }

    /// One test: the logger is process-wide.
    #[test]
    fn lines_reach_the_newest_sink_at_its_level_and_only_ours() {
        let first = Arc::new(Lines::default());
        install_log_sink(first.clone(), LogLevel::Info);
        log::info!(target: "contactsync_core::engine", "import: 3 added");
        log::debug!(target: "contactsync_core::engine", "too fine");
        log::warn!(target: "tokio_postgres", "not ours");
        let second = Arc::new(Lines::default());
        install_log_sink(second.clone(), LogLevel::Debug);
        log::debug!(target: "contactsync_core::upload", "now fine enough");
        install_log_sink(second.clone(), LogLevel::Off);
        log::error!(target: "contactsync_core::upload", "silenced");

        let first = first.0.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            *first,
            vec![LogRecord {
                level: LogLevel::Info,
                target: "contactsync_core::engine".into(),
                message: "import: 3 added".into(),
            }]
        );
        let second = second.0.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].message, "now fine enough");
    }
}
