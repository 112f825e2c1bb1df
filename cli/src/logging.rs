//! The server's log stream (`contactsync serve`): every line goes through a bounded queue to a
//! writer thread, and is dropped — counted, and the count reported — when the queue is full.
//!
//! Written directly, a log line is a `write(2)` on the thread that handles the request: with
//! stderr going to a pipe nobody reads (a stuck log collector, a paused terminal, a full disk
//! behind a pipe), the runtime's threads sat in `write` after about 64 KB of request logs and
//! every request hung, `GET /v1/config` included. A log stream that cannot keep up must cost log
//! lines, not service.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::LevelFilter;

/// Lines held while the stream is not read: about 1–2 MB of request lines.
const BUFFERED_LINES: usize = 8192;
/// How often a growing count of dropped lines is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

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
    /// Installs the global subscriber: `info` and above, on stderr, without blocking. `None`
    /// when a subscriber is already installed (nothing to report then).
    pub fn to_stderr() -> Option<Logs> {
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(BUFFERED_LINES)
            .thread_name("contactsync-logs")
            .finish(std::io::stderr());
        let dropped = writer.error_counter();
        tracing_subscriber::fmt()
            .with_writer(writer)
            .with_max_level(LevelFilter::INFO)
            .with_target(false)
            .try_init()
            .ok()?;
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
