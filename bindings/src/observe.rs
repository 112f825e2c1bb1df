//! Change notifications for apps: the foreign trait [`ChangeObserver`] and the [`Subscription`]
//! object `Engine.subscribe` returns. The Kotlin and Swift wrappers turn them into a `Flow` and an
//! `AsyncSequence` of the matches; the core decides when to notify (its `engine::changes`).

use std::sync::{Arc, Mutex, PoisonError};

use contactsync_core as core;

use crate::error::ContactsyncError;
use crate::types::Changes;

/// Told after every committed change to the engine's database made in this process (by any
/// engine on the same file): an import, a sync, an exclusion, a wipe.
///
/// Called on the thread that committed, with no engine lock held. Keep it cheap — signal a
/// channel and read on another thread. An exception it throws is ignored.
#[uniffi::export(foreign)]
pub trait ChangeObserver: Send + Sync {
    /// Something changed; `changes` says what.
    fn on_change(&self, changes: Changes) -> Result<(), ContactsyncError>;
}

/// An observer's registration. `cancel()` (or closing / releasing it) unsubscribes.
#[derive(Debug, uniffi::Object)]
pub struct Subscription(Mutex<Option<core::Subscription>>);

impl Subscription {
    pub(crate) fn new(inner: core::Subscription) -> Arc<Subscription> {
        Arc::new(Subscription(Mutex::new(Some(inner))))
    }
}

#[uniffi::export]
impl Subscription {
    /// Unsubscribes now; a notification under way finishes. Calling it again does nothing.
    pub fn cancel(&self) {
        drop(self.0.lock().unwrap_or_else(PoisonError::into_inner).take());
    }
}

/// The app's observer as the core's: a throwing observer must not disturb the engine's call
/// that committed the change.
pub(crate) struct CoreObserver(pub(crate) Arc<dyn ChangeObserver>);

impl core::ChangeObserver for CoreObserver {
    fn on_change(&self, changes: Changes) {
        let _ = self.0.on_change(changes);
    }
}
