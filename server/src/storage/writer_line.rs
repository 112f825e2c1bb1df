//! [`WriterLine`]: the `SQLite` backend's writers of one process, waiting in line.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::error::ServerError;

/// One writer at a time within the process, the others waiting on a condition variable.
///
/// `SQLite` lets one writer in at a time, and a writer that finds the lock taken sleeps in its
/// busy handler on a fixed schedule (1, 2, 5, 10, ... ms), not until the lock is free: under load
/// the requests' latencies piled up on that schedule's steps (p99 54 ms: a sixth sleep) while a
/// core sat idle (docs/performance.md, "Server load"). Waiting here instead, a writer starts the
/// moment the previous one commits; the busy handler is left to arbitrate between processes.
#[derive(Debug, Default)]
pub(super) struct WriterLine {
    taken: Mutex<bool>,
    freed: Condvar,
    /// Writers waiting for their turn now (for `/metrics`).
    waiting: AtomicUsize,
}

/// A writer's turn; the next one's begins when it is dropped.
#[derive(Debug)]
pub(super) struct WriterTurn<'a>(&'a WriterLine);

impl WriterLine {
    /// Waits for the turn, at most `timeout` (then the request answers `503`).
    pub(super) fn wait(&self, timeout: Duration) -> Result<WriterTurn<'_>, ServerError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut taken, _) = self
            .freed
            .wait_timeout_while(taken, timeout, |taken| *taken)
            .unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        if *taken {
            return Err(ServerError::Busy);
        }
        *taken = true;
        Ok(WriterTurn(self))
    }

    /// How many writers wait for their turn now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::WriterLine;
    use crate::error::ServerError;

    #[test]
    fn one_turn_at_a_time_and_a_bounded_wait() {
        let line = WriterLine::default();
        let turn = line.wait(Duration::from_millis(10)).unwrap();
        assert!(matches!(
            line.wait(Duration::from_millis(20)),
            Err(ServerError::Busy)
        ));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| line.wait(Duration::from_secs(10)).map(drop));
            std::thread::sleep(Duration::from_millis(20));
            drop(turn);
            waiter.join().unwrap().unwrap();
        });
    }
}
