//! Change notifications around a sync against the real server: a sync that gains matches tells
//! the observers of every engine on the file (a background worker syncing, a screen observing),
//! and one that changes nothing tells no one.

use std::sync::{Arc, Mutex};

use contactsync_core::{ChangeObserver, Changes};

use super::*;

#[derive(Default)]
struct Seen(Mutex<Vec<Changes>>);

impl ChangeObserver for Seen {
    fn on_change(&self, changes: Changes) {
        self.0.lock().unwrap().push(changes);
    }
}

#[test]
fn a_workers_sync_tells_the_screens_observer_what_changed() {
    let (world, transport, _, screen) = imported();
    let worker = world.engine("a");
    let seen = Arc::new(Seen::default());
    let _subscription = screen.subscribe(seen.clone());

    let report = sync(&worker, &transport);
    assert_eq!(report.new_matches, 4);
    let told = std::mem::take(&mut *seen.0.lock().unwrap());
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].matches && told[0].book, "{told:?}");
    assert_eq!(
        matched(&screen).len(),
        4,
        "the screen reads what it was told of"
    );

    // Nothing to send, nothing gained: nothing to tell.
    let quiet = sync(&worker, &transport);
    assert_eq!((quiet.batches_sent, quiet.new_matches), (0, 0));
    assert_eq!(*seen.0.lock().unwrap(), vec![]);
}
