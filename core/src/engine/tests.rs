//! Engine tests: both import modes, the diff, consent, key rotation, matches, concurrency,
//! cancellation. Each runs on a real SQLite file in a temporary directory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::*;
use crate::hash::Digest;
use crate::progress::NoProgress;
use crate::store::UploadState;

fn region() -> Region {
    Region::new("DE").unwrap()
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    Engine::open(dir.path().join("e.db"), Config::with_region(region())).unwrap()
}

fn person(id: &str, name: &str, phones: &[&str]) -> RawContact {
    let mut c = RawContact::new(id, name);
    for p in phones {
        c.push(IdentifierKind::Phone, Some("mobile"), *p);
    }
    c
}

fn book() -> Vec<RawContact> {
    vec![
        person("1", "Anna", &["0151 11111111"]).with(
            IdentifierKind::Email,
            None,
            "Anna@Example.org",
        ),
        // Bernd and Clara share a landline: one identifier, one hash, one upload.
        person("2", "Bernd", &["030 1234567", "0152 22222222"]),
        person("3", "Clara", &["+49 30 1234567"]),
        person("4", "Dora", &["12"]).with(IdentifierKind::Email, None, "not an address"),
    ]
}

/// Everything observable, for comparing two databases.
fn state(e: &Engine) -> (Status, Vec<ContactView>, Vec<PendingUpload>) {
    (
        e.status().unwrap(),
        e.contacts(0, u64::MAX).unwrap(),
        e.pending_uploads(u64::MAX).unwrap(),
    )
}

fn acknowledge_everything(e: &Engine) {
    e.inner
        .store
        .write(|tx| {
            tx.execute("UPDATE identifiers SET state = 3 WHERE state = 1", [])?;
            tx.execute("DELETE FROM identifiers WHERE state = 4", [])?;
            Ok(())
        })
        .unwrap();
}

fn state_of(e: &Engine, kind: IdentifierKind, canonical: &str) -> Option<UploadState> {
    e.contacts(0, u64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|c| c.identifiers)
        .find(|i| i.kind == kind && i.canonical == canonical)
        .map(|i| i.state)
}

#[test]
fn paging_by_source_id_walks_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.import_snapshot(many(1234), &NoProgress).unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = e.contacts_after(after.as_deref(), 100).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        seen.extend(page.into_iter().map(|c| c.source_id));
    }
    let all: Vec<String> = e
        .contacts(0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|c| c.source_id)
        .collect();
    assert_eq!(seen.len(), 1234);
    assert_eq!(seen, all);
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
    check::<Snapshot>();
}

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
fn a_hash_leaves_the_server_only_when_no_contact_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.set_key("k1", &[1; 32], &NoProgress).unwrap();
    e.import_snapshot(book(), &NoProgress).unwrap();
    acknowledge_everything(&e);
    let landline = "+49301234567";
    // Clara deleted: Bernd still holds the landline.
    let r = e
        .apply_changes(&[], &["3".to_owned()], &NoProgress)
        .unwrap();
    assert_eq!((r.removed, r.queued_remove), (1, 0));
    assert_eq!(
        state_of(&e, IdentifierKind::Phone, landline),
        Some(UploadState::Acknowledged)
    );
    // Bernd deleted too: now it goes, with his mobile.
    let r = e
        .apply_changes(&[], &["2".to_owned()], &NoProgress)
        .unwrap();
    assert_eq!((r.removed, r.queued_remove), (1, 2));
    let pending = e.pending_uploads(10).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .all(|p| p.state == UploadState::PendingRemove)
    );
    assert!(pending.iter().all(|p| p.digest.is_some()));
    // Clara comes back before the removal was sent: nothing to remove after all.
    let r = e
        .apply_changes(&[book()[2].clone()], &[], &NoProgress)
        .unwrap();
    assert_eq!((r.added, r.queued_add), (1, 0));
    assert_eq!(
        state_of(&e, IdentifierKind::Phone, landline),
        Some(UploadState::Acknowledged)
    );
    assert_eq!(e.status().unwrap().pending_remove, 1);
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
        s.push(chunk, &NoProgress).unwrap();
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

#[test]
fn key_rotation_rehashes_everything_and_marks_a_full_resync() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert!(e.set_key("k1", &[1; 32], &NoProgress).unwrap());
    assert!(
        !e.set_key("k1", &[1; 32], &NoProgress).unwrap(),
        "same key: no-op"
    );
    let before: Vec<_> = e.pending_uploads(10).unwrap();
    assert!(before.iter().all(|p| p.key_id.as_deref() == Some("k1")));
    acknowledge_everything(&e);
    e.apply_changes(&[], &["1".to_owned()], &NoProgress)
        .unwrap();
    assert_eq!(e.status().unwrap().pending_remove, 2);
    // Rotation: all wanted identifiers pending again, removals moot (the server forgot).
    assert!(e.set_key("k2", &[2; 32], &NoProgress).unwrap());
    let s = e.status().unwrap();
    assert_eq!((s.pending_add, s.pending_remove, s.identifiers), (2, 0, 2));
    assert!(s.full_resync);
    assert_eq!(s.key_id.as_deref(), Some("k2"));
    let after = e.pending_uploads(10).unwrap();
    assert!(after.iter().all(|p| p.key_id.as_deref() == Some("k2")));
    assert!(
        after
            .iter()
            .all(|p| !before.iter().any(|b| b.digest == p.digest))
    );
    // The digest is the documented one.
    let key = HashKey::new("k2", &[2; 32]).unwrap();
    let expected = key
        .hash(
            &Normalizer::new(region())
                .normalize(IdentifierKind::Phone, "030 1234567")
                .unwrap(),
        )
        .to_base64url();
    assert!(
        after
            .iter()
            .any(|p| p.digest.as_deref() == Some(expected.as_str()))
    );
    // The key survives a reopen.
    drop(e);
    assert_eq!(engine(&dir).key_id().as_deref(), Some("k2"));
    assert!(matches!(
        engine(&dir).set_key("bad", &[1; 3], &NoProgress),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn consent_excluding_contacts_and_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.set_key("k1", &[1; 32], &NoProgress).unwrap();
    e.import_snapshot(book(), &NoProgress).unwrap();
    acknowledge_everything(&e);
    let landline = "+49301234567";
    // Clara excluded: the landline stays (Bernd holds it).
    assert!(e.set_contact_excluded("3", true).unwrap());
    assert_eq!(
        state_of(&e, IdentifierKind::Phone, landline),
        Some(UploadState::Acknowledged)
    );
    // Bernd excluded too: the landline and his mobile leave the server.
    assert!(e.set_contact_excluded("2", true).unwrap());
    assert_eq!(e.status().unwrap().pending_remove, 2);
    assert_eq!(e.status().unwrap().excluded_contacts, 2);
    assert!(e.set_contact_excluded("2", false).unwrap());
    assert_eq!(e.status().unwrap().pending_remove, 0);
    assert!(!e.set_contact_excluded("404", true).unwrap());

    // An identifier excluded by the user, in any format.
    e.set_identifier_excluded(IdentifierKind::Email, " ANNA@example.org", true)
        .unwrap();
    assert_eq!(
        state_of(&e, IdentifierKind::Email, "anna@example.org"),
        Some(UploadState::PendingRemove)
    );
    // The choice outlives the contact: Anna deleted and re-added, still excluded.
    e.apply_changes(&[], &["1".to_owned()], &NoProgress)
        .unwrap();
    e.apply_changes(&[book()[0].clone()], &[], &NoProgress)
        .unwrap();
    let anna = e.contact("1").unwrap().unwrap();
    let email = anna
        .identifiers
        .iter()
        .find(|i| i.kind == IdentifierKind::Email)
        .unwrap();
    assert!(email.excluded);
    assert_ne!(email.state, UploadState::PendingAdd);
    // Excluding something no contact has is remembered for later.
    e.set_identifier_excluded(IdentifierKind::Phone, "0170 1234567", true)
        .unwrap();
    e.apply_changes(
        &[person("9", "Later", &["+49 170 1234567"])],
        &[],
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        state_of(&e, IdentifierKind::Phone, "+491701234567"),
        Some(UploadState::Idle)
    );
    assert!(matches!(
        e.set_identifier_excluded(IdentifierKind::Phone, "12", true),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn matches_name_the_contacts_and_the_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.set_key("k1", &[1; 32], &NoProgress).unwrap();
    e.import_snapshot(book(), &NoProgress).unwrap();
    let key = HashKey::new("k1", &[1; 32]).unwrap();
    let n = Normalizer::new(region());
    let landline = key.hash(&n.normalize(IdentifierKind::Phone, "030 1234567").unwrap());
    let stranger = Digest([9; 16]);
    let gained: std::collections::HashMap<[u8; 16], &str> =
        [(landline.0, "user-17"), (stranger.0, "user-99")].into();
    let (recorded, _) = e
        .inner
        .store
        .write(|tx| {
            crate::store::answers::apply_changes(
                tx,
                &gained,
                &std::collections::HashSet::new(),
                "c1",
                1,
            )
        })
        .unwrap();
    assert_eq!(recorded, 1, "a digest this device never held is ignored");
    let m = e.matches().unwrap();
    let names: Vec<&str> = m.iter().map(|m| m.display_name.as_str()).collect();
    assert_eq!(names, ["Bernd", "Clara"]);
    assert!(
        m.iter()
            .all(|m| m.user_ref == "user-17" && m.canonical == "+49301234567")
    );
    assert_eq!(e.status().unwrap().matches, 1);
    e.set_contact_excluded("3", true).unwrap();
    assert_eq!(e.matches().unwrap().len(), 1);
    // Both holders gone: the identifier and its match go.
    e.apply_changes(&[], &["2".to_owned(), "3".to_owned()], &NoProgress)
        .unwrap();
    assert_eq!(e.status().unwrap().matches, 0);
}

#[test]
fn wipe_leaves_an_empty_working_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.set_key("k1", &[1; 32], &NoProgress).unwrap();
    e.import_snapshot(book(), &NoProgress).unwrap();
    let stale = e.begin_snapshot().unwrap();
    e.wipe().unwrap();
    let s = e.status().unwrap();
    assert_eq!((s.contacts, s.identifiers, s.key_id), (0, 0, None));
    assert_eq!(e.key_id(), None);
    assert!(matches!(
        stale.finish(&NoProgress),
        Err(Error::InvalidState(_))
    ));
    // No trace of a number in the file once wiped.
    for file in ["e.db", "e.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!bytes.windows(12).any(|w| w == b"+49301234567"), "{file}");
    }
    e.import_snapshot(book(), &NoProgress).unwrap();
    assert_eq!(e.status().unwrap().contacts, 4);
}

#[test]
fn a_newer_snapshot_supersedes_an_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut old = e.begin_snapshot().unwrap();
    let new = e.begin_snapshot().unwrap();
    assert!(matches!(
        old.push(&book(), &NoProgress),
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

fn many(n: usize) -> Vec<RawContact> {
    (0..n)
        .map(|i| {
            person(
                &format!("m{i:05}"),
                &format!("Person {i}"),
                &[&format!("+49 151 {:08}", 20_000_000 + i)],
            )
        })
        .collect()
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

#[test]
fn error_messages_carry_no_contact_data() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let err = e
        .set_identifier_excluded(IdentifierKind::Phone, "+49 999 SECRET", true)
        .unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert_eq!(err.code(), "invalid_argument");
}

/// Records every report.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<Progress>>);

impl ProgressListener for Recorder {
    fn on_progress(&self, progress: Progress) {
        self.0.lock().unwrap().push(progress);
    }
}

#[test]
fn progress_reports_each_stage() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let rec = Recorder::default();
    e.import_snapshot(many(2000), &rec).unwrap();
    let imports: Vec<u64> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.stage == Stage::Import)
        .map(|p| p.done)
        .collect();
    assert!(imports.windows(2).all(|w| w[0] <= w[1]), "{imports:?}");
    assert_eq!(imports.last(), Some(&2000));
    // Removing 1,500 contacts reports the removal stage, with its total.
    let rec = Recorder::default();
    e.import_snapshot(many(500), &rec).unwrap();
    let removes: Vec<Progress> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|p| p.stage == Stage::Remove)
        .collect();
    assert!(!removes.is_empty());
    assert!(removes.iter().all(|p| p.total == Some(1500)));
    // Re-hashing under a new key reports too.
    let rec = Recorder::default();
    e.set_key("k9", &[9; 32], &rec).unwrap();
    assert!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .all(|p| p.stage == Stage::Rehash)
    );
}
