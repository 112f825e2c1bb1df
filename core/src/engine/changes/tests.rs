//! Change notifications: which calls tell the observers, that engines on the same file share
//! them, and that dropping a subscription stops them. Real SQLite files in temporary directories.

use std::sync::Mutex;

use super::*;
use crate::engine::tests::{book, engine, person, region};
use crate::progress::NoProgress;
use crate::{Config, IdentifierKind};

/// Records every notification.
#[derive(Default)]
struct Recorder(Mutex<Vec<Changes>>);

impl Recorder {
    fn take(&self) -> Vec<Changes> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl ChangeObserver for Recorder {
    fn on_change(&self, changes: Changes) {
        self.0.lock().unwrap().push(changes);
    }
}

#[test]
fn every_committed_change_tells_the_observer_once_with_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let seen = Arc::new(Recorder::default());
    let _subscription = e.subscribe(seen.clone());

    e.import_snapshot(book(), &NoProgress).unwrap();
    let import = seen.take();
    assert_eq!(import.len(), 1, "{import:?}");
    assert!(import[0].book && import[0].matches && !import[0].consent);

    // The same book again writes nothing: nothing to tell.
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(seen.take(), vec![]);

    e.apply_changes(&[person("5", "Emil", &["0151 55555555"])], &[], &NoProgress)
        .unwrap();
    assert_eq!(seen.take().len(), 1);

    assert!(e.set_contact_excluded("1", true).unwrap());
    assert_eq!(seen.take(), vec![super::super::CONSENT]);
    // An unknown contact changes nothing.
    assert!(!e.set_contact_excluded("nobody", true).unwrap());
    assert_eq!(seen.take(), vec![]);

    e.set_identifier_excluded(IdentifierKind::Phone, "030 1234567", true)
        .unwrap();
    assert!(seen.take()[0].consent);

    let mut snapshot = e.begin_snapshot().unwrap();
    snapshot
        .push(vec![person("9", "Ida", &["0151 99999999"])], &NoProgress)
        .unwrap();
    assert_eq!(seen.take().len(), 1, "each pushed chunk");
    snapshot.finish(&NoProgress).unwrap();
    assert_eq!(seen.take().len(), 1, "the finished snapshot");

    e.wipe().unwrap();
    assert_eq!(seen.take(), vec![Changes::ALL]);
}

#[test]
fn engines_on_the_same_file_share_their_observers_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let ui = engine(&dir);
    // A background worker opening its own engine on the app's file.
    let worker = engine(&dir);
    let elsewhere =
        Engine::open(dir.path().join("other.db"), Config::with_region(region())).unwrap();
    let seen = Arc::new(Recorder::default());
    let _subscription = ui.subscribe(seen.clone());

    worker.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(seen.take().len(), 1);
    ui.clone().wipe().unwrap();
    assert_eq!(seen.take().len(), 1);
    elsewhere.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(seen.take(), vec![]);
}

#[test]
fn a_dropped_subscription_stops_the_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let seen = Arc::new(Recorder::default());
    let subscription = e.subscribe(seen.clone());
    let other = e.subscribe(Arc::new(Recorder::default()));
    assert_eq!(e.inner.hub.len(), 2);
    subscription.cancel();
    assert_eq!(e.inner.hub.len(), 1);
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(seen.take(), vec![]);
    drop(other);
    assert_eq!(e.inner.hub.len(), 0);
}

/// Subscribes and unsubscribes from inside its own notification, and reads the engine.
struct Reentrant {
    engine: Engine,
    reads: Mutex<Vec<usize>>,
    held: Mutex<Option<Subscription>>,
}

impl ChangeObserver for Reentrant {
    fn on_change(&self, _: Changes) {
        self.reads
            .lock()
            .unwrap()
            .push(self.engine.contacts(0, 100).unwrap().len());
        let next = self.engine.subscribe(Arc::new(Recorder::default()));
        drop(self.held.lock().unwrap().replace(next));
    }
}

#[test]
fn an_observer_may_read_and_subscribe_from_its_notification() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let observer = Arc::new(Reentrant {
        engine: e.clone(),
        reads: Mutex::default(),
        held: Mutex::default(),
    });
    let _subscription = e.subscribe(observer.clone());
    e.import_snapshot(book(), &NoProgress).unwrap();
    e.wipe().unwrap();
    // Each notification saw the state it announced: committed before it was told.
    assert_eq!(*observer.reads.lock().unwrap(), vec![4, 0]);
    drop(observer.held.lock().unwrap().take());
}
