//! Engine tests: the diff across imports, consent, key rotation, matches, wiping, progress; and
//! the helpers the import tests (`import/tests.rs`) share. Each runs on a real SQLite file in a
//! temporary directory.

use super::*;
use crate::contact::RawContact;
use crate::hash::Digest;
use crate::progress::{NoProgress, Progress, Stage};
use crate::store::UploadState;

pub(super) fn region() -> Region {
    Region::new("DE").unwrap()
}

pub(super) fn engine(dir: &tempfile::TempDir) -> Engine {
    Engine::open(dir.path().join("e.db"), Config::with_region(region())).unwrap()
}

pub(super) fn person(id: &str, name: &str, phones: &[&str]) -> RawContact {
    let mut c = RawContact::new(id, name);
    for p in phones {
        c.push(IdentifierKind::Phone, Some("mobile"), *p);
    }
    c
}

pub(super) fn book() -> Vec<RawContact> {
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

/// An engine in `dir` with the key `k1` set and [`book`] imported: every identifier hashed and
/// pending.
fn keyed_book(dir: &tempfile::TempDir) -> Engine {
    let e = engine(dir);
    e.set_key("k1", &[1; 32], &NoProgress).unwrap();
    e.import_snapshot(book(), &NoProgress).unwrap();
    e
}

/// Everything observable, for comparing two databases.
pub(super) fn state(e: &Engine) -> (Status, Vec<ContactView>, Vec<PendingUpload>) {
    (
        e.status().unwrap(),
        e.contacts(0, u64::MAX).unwrap(),
        e.pending_uploads(u64::MAX).unwrap(),
    )
}

pub(super) fn acknowledge_everything(e: &Engine) {
    e.inner
        .store
        .write(|tx| {
            tx.execute("UPDATE identifiers SET state = 3 WHERE state = 1", [])?;
            tx.execute("DELETE FROM identifiers WHERE state = 4", [])?;
            Ok(())
        })
        .unwrap();
}

pub(super) fn state_of(e: &Engine, kind: IdentifierKind, canonical: &str) -> Option<UploadState> {
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
fn a_hash_leaves_the_server_only_when_no_contact_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = keyed_book(&dir);
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
    let e = keyed_book(&dir);
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

/// The bulk calls (one per list, as the bindings need them) leave the store exactly as the
/// per-item calls do, and answer the same, unknown ids and bad values included.
#[test]
fn bulk_consent_and_lookups_agree_with_the_per_item_calls() {
    let (one_dir, bulk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, bulk) = (engine(&one_dir), engine(&bulk_dir));
    for e in [&one, &bulk] {
        e.set_key("k1", &[1; 32], &NoProgress).unwrap();
        e.import_snapshot(book(), &NoProgress).unwrap();
        acknowledge_everything(e);
    }
    let ids: Vec<String> = ["3", "404", "2", "3"].map(String::from).to_vec();
    let each: Vec<bool> = ids
        .iter()
        .map(|id| one.set_contact_excluded(id, true).unwrap())
        .collect();
    assert_eq!(bulk.set_contacts_excluded(&ids, true).unwrap(), each);
    assert_eq!(each, [true, false, true, true]);

    let values: Vec<String> = [" ANNA@example.org", "not an address", "", "b@example.org"]
        .map(String::from)
        .to_vec();
    let each: Vec<_> = values
        .iter()
        .map(|v| one.set_identifier_excluded(IdentifierKind::Email, v, true))
        .collect();
    let outcomes = bulk
        .set_identifiers_excluded(IdentifierKind::Email, &values, true)
        .unwrap();
    assert_eq!(outcomes.len(), values.len());
    for (single, outcome) in each.iter().zip(&outcomes) {
        assert_eq!(single.is_ok(), outcome.is_ok(), "{single:?} / {outcome:?}");
    }
    assert_eq!(
        outcomes[0].as_ref().unwrap().canonical(),
        "anna@example.org"
    );
    assert_eq!(outcomes[1].as_ref().unwrap_err().code(), "email.syntax");
    assert_eq!(state(&one), state(&bulk));

    let asked: Vec<String> = ["2", "nobody", "1", "2"].map(String::from).to_vec();
    let each: Vec<_> = asked.iter().map(|id| one.contact(id).unwrap()).collect();
    assert_eq!(bulk.contacts_by_id(&asked).unwrap(), each);
    assert!(each[1].is_none() && each[0].is_some());
    assert!(bulk.contacts_by_id(&[]).unwrap().is_empty());
}

#[test]
fn matches_name_the_contacts_and_the_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let e = keyed_book(&dir);
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
    let e = keyed_book(&dir);
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

pub(super) fn many(n: usize) -> Vec<RawContact> {
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
