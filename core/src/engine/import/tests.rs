//! Import tests: both import modes (snapshots, change feeds), duplicates, superseded snapshots,
//! cancellation, a failing source, readers and writers at the same time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::prepare_windows;
use crate::diff::Context;
use crate::engine::tests::{book, engine, many, person, region, state, state_of};
use crate::engine::{Config, Engine, ImportReport};
use crate::error::Error;
use crate::identifier::{IdentifierKind, Normalizer};
use crate::progress::{NoProgress, Progress, ProgressListener};
use crate::store::UploadState;

#[test]
fn first_import_shares_identifiers_and_counts_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let r = e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!((r.added, r.changed, r.unchanged, r.removed), (4, 0, 0, 0));
    assert_eq!(r.normalized, 4);
    assert_eq!(r.rejected, 2);
    assert_eq!(r.rejections.values().sum::<u64>(), 2);
    assert!(r.rejections.keys().any(|k| k.starts_with("phone.")));
    let s = e.status().unwrap();
    assert_eq!(s.contacts, 4);
    // Anna's phone + e-mail, the shared landline, Bernd's mobile.
    assert_eq!(s.identifiers, 4);
    assert_eq!(s.pending_add, 4);
    assert_eq!(r.queued_add, 4);
    assert_eq!(s.rejected, 2);
    let dora = e.contact("4").unwrap().unwrap();
    assert!(dora.identifiers.is_empty());
    assert_eq!(dora.rejected.len(), 2);
    assert_eq!(dora.rejected[0].value, "12");
    // No key yet: nothing hashed, nothing to upload under a key.
    assert!(
        e.pending_uploads(10)
            .unwrap()
            .iter()
            .all(|p| p.digest.is_none())
    );
}

#[test]
fn reimport_costs_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.import_snapshot(book(), &NoProgress).unwrap();
    let again = e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!((again.unchanged, again.normalized, again.added), (4, 0, 0));

    let mut edited = book();
    edited[0].values[0].value = "0151 99999999".into(); // Anna's number changed
    edited.remove(2); // Clara gone: the landline stays, Bernd still holds it
    edited.push(person("5", "Emil", &["0157 55555555"]));
    edited[1].version = Some("stamp moved, content not".into());
    let r = e.import_snapshot(edited, &NoProgress).unwrap();
    assert_eq!(
        (r.added, r.changed, r.unchanged, r.removed, r.normalized),
        (1, 1, 2, 1, 2)
    );
    assert_eq!(r.queued_add, 2); // Anna's new number, Emil's
    assert_eq!(r.queued_remove, 1); // Anna's old number, never uploaded
    assert_eq!(
        state_of(&e, IdentifierKind::Phone, "+49301234567"),
        Some(UploadState::PendingAdd)
    );
    assert_eq!(e.status().unwrap().contacts, 4);
}

#[test]
fn change_feed_skips_unchanged_and_ignores_unknown_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.import_snapshot(book(), &NoProgress).unwrap();
    let mut anna = book()[0].clone();
    anna.version = Some("moved by a merge".into());
    let mut bernd = book()[1].clone();
    bernd.display_name = "Bernd B.".into();
    let r = e
        .apply_changes(&[anna, bernd], &["404".to_owned()], &NoProgress)
        .unwrap();
    assert_eq!(
        (r.unchanged, r.changed, r.normalized, r.removed),
        (1, 1, 1, 0)
    );
    assert_eq!(e.contact("2").unwrap().unwrap().display_name, "Bernd B.");
}

#[test]
fn snapshot_in_chunks_equals_one_iterator_and_handles_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let a = Engine::open(dir.path().join("a.db"), Config::with_region(region())).unwrap();
    let b = Engine::open(dir.path().join("b.db"), Config::with_region(region())).unwrap();
    let mut contacts = book();
    let mut twice = person("2", "Bernd (second card)", &["0160 7777777"]);
    twice.push(IdentifierKind::Handle, Some("telegram"), "@bernd");
    contacts.push(twice);
    let r = a.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    assert_eq!((r.added, r.duplicates), (4, 1));
    let mut s = b.begin_snapshot().unwrap();
    for chunk in contacts.chunks(2) {
        s.push(chunk.to_vec(), &NoProgress).unwrap();
    }
    let r2 = s.finish(&NoProgress).unwrap();
    // Same counts; queued_* may differ, as the duplicate's replaced mobile is queued then
    // dropped when the two cards sit in different chunks, and nets out within one.
    let counts = |r: &ImportReport| {
        (
            r.added,
            r.changed,
            r.unchanged,
            r.removed,
            r.duplicates,
            r.normalized,
            r.rejected,
        )
    };
    assert_eq!(counts(&r), counts(&r2));
    assert_eq!(state(&a), state(&b));
    // The later card won.
    assert_eq!(
        a.contact("2").unwrap().unwrap().display_name,
        "Bernd (second card)"
    );
}

/// A card given twice across two windows (of at most 2,048 contacts here, so the two cards are
/// windows apart whatever the writer's pace) still leaves what the later card alone leaves, and
/// a source failing mid-window keeps everything read before the failure.
#[test]
fn a_duplicate_across_two_windows_leaves_the_later_card() {
    let dir = tempfile::tempdir().unwrap();
    let windowed = Config {
        chunk_size: 2048,
        ..Config::with_region(region())
    };
    let a = Engine::open(dir.path().join("a.db"), windowed.clone()).unwrap();
    let b = Engine::open(dir.path().join("b.db"), windowed).unwrap();
    let mut contacts = many(6000);
    let later = person("m00010", "The later card", &["+49 160 5555555"]);
    contacts.push(later.clone());
    let r = a.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    assert_eq!((r.added, r.duplicates, r.normalized), (6000, 1, 6001));
    contacts.remove(10);
    b.import_snapshot(contacts, &NoProgress).unwrap();
    assert_eq!(state(&a), state(&b));
    assert_eq!(
        a.contact("m00010").unwrap().unwrap().display_name,
        "The later card"
    );
    assert_eq!(
        state_of(&a, IdentifierKind::Phone, "+4915120000010"),
        None,
        "the earlier card's number went with it"
    );

    let c = Engine::open(dir.path().join("c.db"), Config::with_region(region())).unwrap();
    let source = many(3000)
        .into_iter()
        .map(Ok)
        .chain([Err(Error::Io("disk went away".into()))]);
    let err = c.try_import_snapshot(source, &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Io(_)));
    assert_eq!(c.status().unwrap().contacts, 3000);
}

#[test]
fn a_newer_snapshot_supersedes_an_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut old = e.begin_snapshot().unwrap();
    let new = e.begin_snapshot().unwrap();
    assert!(matches!(
        old.push(book(), &NoProgress),
        Err(Error::InvalidState(_))
    ));
    new.finish(&NoProgress).unwrap();
}

/// Cancels after `after` progress reports; counts reports.
struct CancelAfter {
    after: u64,
    seen: AtomicU64,
}

impl ProgressListener for CancelAfter {
    fn on_progress(&self, _: Progress) {
        self.seen.fetch_add(1, Ordering::SeqCst);
    }
    fn is_cancelled(&self) -> bool {
        self.seen.load(Ordering::SeqCst) >= self.after
    }
}

#[test]
fn cancelling_keeps_committed_chunks_and_the_next_import_completes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        chunk_size: 1000,
        ..Config::with_region(region())
    };
    let e = Engine::open(dir.path().join("c.db"), config.clone()).unwrap();
    let clean = Engine::open(dir.path().join("clean.db"), config).unwrap();
    let contacts = many(5000);
    // Three reports per 1000-contact chunk at 512 per report: cancelled in the third chunk.
    let cancel = CancelAfter {
        after: 5,
        seen: AtomicU64::new(0),
    };
    let err = e.import_snapshot(contacts.clone(), &cancel).unwrap_err();
    assert_eq!(err, Error::Cancelled);
    let partial = e.status().unwrap().contacts;
    assert!(partial > 0 && partial < 5000, "{partial}");
    assert_eq!(partial % 1000, 0, "whole chunks only");
    // A cancelled snapshot removes nothing; the next one completes the job.
    let r = e.import_snapshot(contacts.clone(), &NoProgress).unwrap();
    assert_eq!(r.added, 5000 - partial);
    assert_eq!(r.unchanged, partial);
    clean.import_snapshot(contacts, &NoProgress).unwrap();
    assert_eq!(state(&e), state(&clean));
}

#[test]
fn a_failing_source_aborts_without_removing() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.import_snapshot(book(), &NoProgress).unwrap();
    let source = vec![
        Ok(book()[0].clone()),
        Err(Error::Io("disk went away".into())),
    ];
    let err = e.try_import_snapshot(source, &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Io(_)));
    assert_eq!(e.status().unwrap().contacts, 4);
}

#[test]
fn readers_run_while_an_import_writes() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(
        dir.path().join("r.db"),
        Config {
            chunk_size: 500,
            ..Config::with_region(region())
        },
    )
    .unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut last = 0;
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                let n = e.status().unwrap().contacts;
                assert!(n >= last, "a reader never sees the store go backwards");
                assert_eq!(n % 500, 0, "a reader sees whole chunks only");
                last = n;
                reads += 1;
            }
            reads
        });
        e.import_snapshot(many(20_000), &NoProgress).unwrap();
        done.store(true, Ordering::SeqCst);
        assert!(reader.join().unwrap() > 0);
    });
    assert_eq!(e.status().unwrap().contacts, 20_000);
}

#[test]
fn concurrent_change_feeds_from_many_threads_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    std::thread::scope(|s| {
        for t in 0..8 {
            let e = e.clone();
            s.spawn(move || {
                for i in 0..20 {
                    let c = person(
                        &format!("t{t}-{i}"),
                        "x",
                        &[&format!("+49 151 {:08}", 30_000_000 + t * 100 + i)],
                    );
                    e.apply_changes(&[c], &[], &NoProgress).unwrap();
                }
            });
        }
    });
    let s = e.status().unwrap();
    assert_eq!((s.contacts, s.identifiers, s.pending_add), (160, 160, 160));
}

/// Windows follow the writer's pace: a writer that waits gets each batch of rows as soon as it
/// is prepared, a busy one gets full windows.
#[test]
fn windows_follow_the_writers_pace() {
    let cx = Context {
        normalizer: Normalizer::new(region()),
        index: None,
        key: None,
    };
    let windows = |writer_idle: bool, contacts: usize| {
        // Buffered, so that the windows can be prepared to the end on this thread.
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let idle = AtomicBool::new(writer_idle);
        let mut source = many(contacts).into_iter().map(Ok);
        prepare_windows(&mut source, cx, 1, 3000, &idle, &tx);
        drop(tx);
        rx.into_iter()
            .map(|w| w.unwrap().0.len())
            .collect::<Vec<_>>()
    };
    assert_eq!(windows(true, 5000), [2048, 2048, 904]);
    assert_eq!(windows(false, 7000), [3000, 3000, 1000]);
}
