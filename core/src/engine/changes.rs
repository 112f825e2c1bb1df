//! Change notifications: who is told, and what, after the engine commits a state change.
//!
//! Part of the façade stage. Screens bind to the matches (a Kotlin `Flow`, a Swift
//! `AsyncSequence`); they need a signal after *every* path that changes them — an import, a sync,
//! an exclusion, a wipe — whichever handle or thread ran it. So the signal comes from here, not
//! from each wrapper method: [`Engine::subscribe`] registers a [`ChangeObserver`], and every
//! engine method that committed something calls it once, after the commit and with no lock held,
//! saying what changed ([`Changes`]).
//!
//! The registry ([`Hub`]) is shared by every engine opened on the same database file in this
//! process (keyed by the file's canonical path), so a background worker that opens its own
//! engine on the app's file notifies the screen's observers too. Another *process* writing the
//! file (the CLI, an app extension) is not observed: nothing in this process runs when it
//! commits. SQLite's `PRAGMA data_version` would reveal such a change on the next read, but
//! nothing reads without a trigger, so it would take polling; on a phone no other process writes
//! the app's file, so it is not worth a timer (docs/engine.md, "Change notifications").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use super::Engine;

/// What a committed change touched. More than one may be set; an observer that only shows the
/// matches re-reads them when `matches` is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent flags, read as plain fields in Kotlin and Swift"
)]
pub struct Changes {
    /// Contacts or their identifiers' upload states changed (an import, a sync's upload).
    pub book: bool,
    /// The matches may have changed (an import, a sync, an exclusion, a redeemed invite, a wipe).
    pub matches: bool,
    /// The user's consent choices changed: an exclusion, a wipe, a forget, leaving the server.
    pub consent: bool,
    /// The invites this device created changed.
    pub invites: bool,
}

impl Changes {
    /// Everything: after a wipe, or a failure that may have committed part of its work.
    pub const ALL: Changes = Changes {
        book: true,
        matches: true,
        consent: true,
        invites: true,
    };

    /// Whether anything is set.
    pub fn any(self) -> bool {
        self.book || self.matches || self.consent || self.invites
    }
}

/// Told after each committed change. Called on the thread that committed it, with no engine lock
/// held (so it may call the engine), once per engine call (a streamed snapshot: once per chunk and
/// once at its end). Keep it cheap: signal a channel and read on another thread, as the Kotlin
/// and Swift wrappers do.
pub trait ChangeObserver: Send + Sync {
    /// Something changed.
    fn on_change(&self, changes: Changes);
}

/// An observer's registration: dropping it (or [`Subscription::cancel`]) unsubscribes.
#[derive(Debug)]
#[must_use = "dropping the subscription unsubscribes at once"]
pub struct Subscription {
    hub: Weak<Hub>,
    id: u64,
}

impl Subscription {
    /// Unsubscribes now (as dropping does). An observer being called meanwhile finishes its call.
    pub fn cancel(self) {}
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.observers().retain(|(id, _)| *id != self.id);
        }
    }
}

type Observers = Vec<(u64, Arc<dyn ChangeObserver>)>;

/// The observers of one database file in this process.
#[derive(Default)]
pub(crate) struct Hub {
    observers: Mutex<Observers>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("observers", &self.observers().len())
            .finish()
    }
}

impl Hub {
    fn observers(&self) -> std::sync::MutexGuard<'_, Observers> {
        self.observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The hub of the database at `path`, shared with every engine this process opened on it.
    /// A path that cannot be canonicalised gets a hub of its own.
    pub(crate) fn for_path(path: &Path) -> Arc<Hub> {
        static HUBS: OnceLock<Mutex<HashMap<PathBuf, Weak<Hub>>>> = OnceLock::new();
        let Ok(key) = std::fs::canonicalize(path) else {
            return Arc::new(Hub::default());
        };
        let mut hubs = HUBS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Hubs of files no engine holds any more go: the map stays as small as the open engines.
        hubs.retain(|_, hub| hub.strong_count() > 0);
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            return hub;
        }
        let hub = Arc::new(Hub::default());
        hubs.insert(key, Arc::downgrade(&hub));
        hub
    }

    pub(crate) fn subscribe(self: &Arc<Self>, observer: Arc<dyn ChangeObserver>) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.observers().push((id, observer));
        Subscription {
            hub: Arc::downgrade(self),
            id,
        }
    }

    /// Tells every observer, outside the registry's lock (an observer may subscribe, unsubscribe
    /// or call the engine).
    pub(crate) fn notify(&self, changes: Changes) {
        if !changes.any() {
            return;
        }
        let observers: Vec<Arc<dyn ChangeObserver>> = self
            .observers()
            .iter()
            .map(|(_, o)| Arc::clone(o))
            .collect();
        for observer in observers {
            observer.on_change(changes);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.observers().len()
    }
}

impl Engine {
    /// Registers `observer`, told after every committed change to this database by any engine of
    /// this process (see the module docs); until the returned [`Subscription`] is dropped.
    ///
    /// To show a list without missing a change: subscribe first, then read, then read again at
    /// each notification.
    pub fn subscribe(&self, observer: Arc<dyn ChangeObserver>) -> Subscription {
        self.inner.hub.subscribe(observer)
    }

    /// Tells the observers, when anything changed.
    pub(crate) fn notify(&self, changes: Changes) {
        self.inner.notify(changes);
    }

    /// Tells the observers after `result`: what `changed` says on success, everything after a
    /// failure (part of the work may have been committed before it).
    pub(crate) fn notify_after<T>(
        &self,
        result: crate::error::Result<T>,
        changed: impl FnOnce(&T) -> Changes,
    ) -> crate::error::Result<T> {
        let told = match &result {
            Ok(value) => changed(value),
            Err(_) => Changes::ALL,
        };
        self.notify(told);
        result
    }
}

#[cfg(test)]
mod tests;
