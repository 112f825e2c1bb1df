//! Where the server reads the time: the system clock, or one a test sets.
//!
//! The rate window and the daily quota are decided by the time *inside* the transaction that
//! charges them (read after the write lock is taken), never by a time read before waiting for it:
//! a request that waited must not count in a window that has already moved on.

use std::fmt;
use std::sync::Arc;

/// A source of Unix seconds. Cheap to clone; the default is the system clock.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> i64 + Send + Sync>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock reading `now` (tests: a clock they move across a minute or a day).
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Some(Arc::new(now)))
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Some(now) => now(),
            None => system_now(),
        }
    }
}

fn system_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

impl PartialEq for Clock {
    /// The same clock: both the system clock, or the same function.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(set)"
        } else {
            "Clock(system)"
        })
    }
}
