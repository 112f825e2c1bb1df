//! The engine over real files and against a model: imports of the project's fixtures (and of the
//! shared vCards when `../shared` is there), and a property test that any sequence of snapshots,
//! applied incrementally, ends in exactly the state a fresh import of the last one gives.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::path::{Path, PathBuf};

use contactsync_core::source::{self, ReadOptions, SourceItem};
use contactsync_core::{
    Config, ContactView, Engine, Error, IdentifierKind, NoProgress, RawContact, Region, Status,
};
use contactsync_tests::{fixtures_dir, shared_testdata_dir};
use proptest::prelude::*;

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)))
        .collect();
    files.sort();
    files
}

/// Every contact of the files, as the CLI's import feeds them.
fn contacts_of(files: &[PathBuf]) -> impl Iterator<Item = Result<RawContact, Error>> + Send {
    let readers: Vec<_> = files
        .iter()
        .map(|f| source::read_path(f, &ReadOptions::default()).unwrap())
        .collect();
    readers.into_iter().flatten().filter_map(|item| match item {
        Ok(SourceItem::Contact(c)) => Some(Ok(c.contact)),
        Ok(SourceItem::Broken(_)) => None,
        Err(e) => Some(Err(Error::Io(e.to_string()))),
    })
}

fn open(dir: &tempfile::TempDir, name: &str, region: &str) -> Engine {
    Engine::open(
        dir.path().join(name),
        Config::with_region(Region::new(region).unwrap()),
    )
    .unwrap()
}

fn round_trip(files: &[PathBuf], region: &str) {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir, "f.db", region);
    let first = e
        .try_import_snapshot(contacts_of(files), &NoProgress)
        .unwrap();
    assert!(first.added > 0);
    let status = e.status().unwrap();
    assert_eq!(status.contacts, first.added);
    assert_eq!(status.rejected, first.rejected);
    // The same files again: nothing to do, nothing normalised.
    let again = e
        .try_import_snapshot(contacts_of(files), &NoProgress)
        .unwrap();
    assert_eq!(
        (again.added, again.changed, again.removed, again.normalized),
        (0, 0, 0, 0)
    );
    assert_eq!(again.unchanged, first.added);
    assert_eq!(e.status().unwrap(), status);
    // Dropping a file from the snapshot removes exactly its contacts.
    let (kept, dropped) = files.split_at(files.len() - 1);
    let in_dropped = contacts_of(dropped).count() as u64;
    let without = e
        .try_import_snapshot(contacts_of(kept), &NoProgress)
        .unwrap();
    assert_eq!(
        without.removed + without.duplicates,
        in_dropped,
        "{without:?}"
    );
    assert_eq!(e.status().unwrap().contacts, first.added - without.removed);
}

#[test]
fn project_fixtures_round_trip() {
    let mut files = files_in(&fixtures_dir().join("vcards"), "vcf");
    files.extend(files_in(&fixtures_dir().join("csv"), "csv"));
    round_trip(&files, "US");
}

#[test]
fn shared_vcards_round_trip() {
    let Some(shared) = shared_testdata_dir() else {
        return;
    };
    round_trip(&files_in(&shared.join("vcards"), "vcf"), "US");
}

/// A pool contact: a few phones from a small set (so contacts share numbers), maybe an e-mail.
fn pool_contact(id: u8, phones: &[u8], email: Option<u8>, name_edit: bool) -> RawContact {
    let mut c = RawContact::new(format!("c{id}"), format!("Contact {id}"));
    if name_edit {
        c.display_name.push_str(" (edited)");
    }
    for &p in phones {
        // Alternate formats of the same number: the canonical identifier is the same.
        let text = if p % 2 == 0 {
            format!("0151 {:08}", 40_000_000 + u32::from(p))
        } else {
            format!("+49 151 {:08}", 40_000_000 + u32::from(p))
        };
        c.push(IdentifierKind::Phone, None, text);
    }
    if let Some(m) = email {
        c.push(
            IdentifierKind::Email,
            None,
            format!("person{m}@example.org"),
        );
    }
    c
}

fn book_strategy() -> impl Strategy<Value = Vec<RawContact>> {
    prop::collection::btree_map(
        0u8..24,
        (
            prop::collection::vec(0u8..12, 0..3),
            prop::option::of(0u8..6),
            any::<bool>(),
        ),
        0..16,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(id, (phones, email, edit))| pool_contact(id, &phones, email, edit))
            .collect()
    })
}

fn observable(e: &Engine) -> (Status, Vec<ContactView>) {
    (e.status().unwrap(), e.contacts(0, u64::MAX).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Incremental snapshots (and a change feed in between) end where a fresh import ends.
    #[test]
    fn incremental_equals_fresh(books in prop::collection::vec(book_strategy(), 1..5), feed in book_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let inc = open(&dir, "inc.db", "DE");
        inc.set_key("k", &[3; 32], &NoProgress).unwrap();
        for book in &books {
            inc.import_snapshot(book.clone(), &NoProgress).unwrap();
        }
        // A change feed that upserts some contacts and deletes others.
        let deleted: Vec<String> = feed.iter().take(3).map(|c| c.source_id.clone()).collect();
        inc.apply_changes(&feed[feed.len().min(3)..], &deleted, &NoProgress).unwrap();
        let last = books.last().unwrap().clone();
        let report = inc.import_snapshot(last.clone(), &NoProgress).unwrap();
        prop_assert_eq!(report.added + report.changed + report.unchanged, last.len() as u64);

        let fresh = open(&dir, "fresh.db", "DE");
        fresh.set_key("k", &[3; 32], &NoProgress).unwrap();
        fresh.import_snapshot(last, &NoProgress).unwrap();
        prop_assert_eq!(observable(&inc), observable(&fresh));
        let mut a = inc.pending_uploads(u64::MAX).unwrap();
        let mut b = fresh.pending_uploads(u64::MAX).unwrap();
        a.sort_by(|x, y| x.digest.cmp(&y.digest));
        b.sort_by(|x, y| x.digest.cmp(&y.digest));
        prop_assert_eq!(a, b);
    }
}
