//! Request counters in one process's memory: the rate limit of a backend that serves one process
//! ([`super::SqliteStorage`]).
//!
//! A rate counter needs no durability (a restart forgetting this minute's count costs nothing)
//! and must not wait for the disk: written in a transaction, every request, `GET /v1/config`
//! included, waited for an fsync (docs/performance.md, "Server load").

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Each client's current one-minute window and its count.
#[derive(Debug, Default)]
pub(crate) struct MemoryRates {
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    /// The newest minute seen: when it moves, windows that ended are forgotten, so the map
    /// holds at most the clients active in the current minute.
    minute: i64,
    by_client: HashMap<String, (i64, u32)>,
}

impl MemoryRates {
    /// Counts a request; see [`super::Storage::count_request`].
    pub(crate) fn count(&self, client_id: &str, minute: i64) -> (i64, u32) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if minute > windows.minute {
            windows.minute = minute;
            windows.by_client.retain(|_, (m, _)| *m >= minute);
        }
        let window = match windows.by_client.get_mut(client_id) {
            Some(window) => window,
            None => windows
                .by_client
                .entry(client_id.to_owned())
                .or_insert((minute, 0)),
        };
        if minute > window.0 {
            *window = (minute, 0);
        }
        window.1 = window.1.saturating_add(1);
        *window
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryRates;

    #[test]
    fn windows_count_per_client_and_only_move_forward() {
        let rates = MemoryRates::default();
        assert_eq!(rates.count("a", 10), (10, 1));
        assert_eq!(rates.count("a", 10), (10, 2));
        assert_eq!(rates.count("b", 10), (10, 1));
        // A clock a little behind counts in the stored, newer window.
        assert_eq!(rates.count("a", 9), (10, 3));
        assert_eq!(rates.count("a", 11), (11, 1));
        // Ended windows are forgotten when the minute moves.
        assert_eq!(rates.count("c", 12), (12, 1));
        assert_eq!(
            rates
                .windows
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .by_client
                .len(),
            1
        );
    }
}
