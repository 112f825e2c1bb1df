//! Progress and cancellation of long operations: the listener an app (or the CLI) passes in, and
//! what it hears.
//!
//! Owns: [`Stage`], [`Progress`], [`ProgressListener`], [`NoProgress`] and the pacing of reports.
//! It sits at the bottom, beside `error`, and may import nothing else of the crate: every stage
//! that runs long (import, re-hash, upload) reports through it without depending on the stage
//! that drives it.

use serde::Serialize;

use crate::error::{Error, Result};

/// The stage a long operation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading, normalising and storing contacts.
    Import,
    /// Removing the contacts a snapshot no longer contains.
    Remove,
    /// Re-hashing every identifier under a new key.
    Rehash,
    /// Sending batches of hashes to the server (`done` and `total` count hashes).
    Upload,
}

/// Where a long operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Progress {
    /// What it is doing.
    pub stage: Stage,
    /// Items done in this stage.
    pub done: u64,
    /// Items in this stage, when known (a streamed snapshot does not know its size).
    pub total: Option<u64>,
}

/// Receives progress of long operations and can cancel them.
///
/// Called on the thread doing the work, every few hundred items: keep it cheap. Cancelling rolls
/// back the transaction in progress; work committed before stays, consistent.
pub trait ProgressListener: Send + Sync {
    /// Progress so far.
    fn on_progress(&self, progress: Progress) {
        let _ = progress;
    }
    /// Polled between items; `true` stops the operation with [`Error::Cancelled`].
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A listener that ignores progress and never cancels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressListener for NoProgress {}

/// How often (in items) the listener hears from a long operation.
const PROGRESS_EVERY: u64 = 512;

/// Reports progress every [`PROGRESS_EVERY`] items and polls for cancellation.
pub(crate) fn tick(
    listener: &dyn ProgressListener,
    stage: Stage,
    done: u64,
    total: Option<u64>,
) -> Result<()> {
    if done.is_multiple_of(PROGRESS_EVERY) {
        listener.on_progress(Progress { stage, done, total });
        if listener.is_cancelled() {
            return Err(Error::Cancelled);
        }
    }
    Ok(())
}
