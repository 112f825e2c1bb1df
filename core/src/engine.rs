//! The one façade that apps (through the bindings) and the CLI drive.
//!
//! The top stage: may import every other; nothing in the crate imports it (tests aside).
//!
//! An [`Engine`] owns one database file. It is `Send + Sync` and cheap to clone: writes are
//! serialised on one connection, queries run on their own connections at the same time, so a UI
//! thread can list matches while a background import runs.
//!
//! Contacts arrive two ways, both streaming:
//! - a **full snapshot** ([`Engine::begin_snapshot`], or [`Engine::import_snapshot`] over an
//!   iterator): chunks of any size, then [`Snapshot::finish`] removes every stored contact the
//!   snapshot did not contain;
//! - a **change feed** ([`Engine::apply_changes`]): upserts plus deleted source ids, as Android's
//!   `CONTACT_LAST_UPDATED_TIMESTAMP` + `DeletedContacts` and iOS's change history deliver them.
//!
//! Either costs what changed: an unchanged contact is one fingerprint and one lookup, never a
//! re-normalisation (the report's `normalized` count shows it).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::contact::Prepared;
use crate::contact::RawContact;
use crate::diff::{self, Context, Index, Item};
use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::identifier::{IdentifierKind, Normalizer, Region, phone};
use crate::key::KeyHolder;
use crate::progress::{Progress, ProgressListener, Stage, tick};
use crate::store::write::{self, Transitions, Upserted, Writing};
use crate::store::{ContactView, Match, PendingUpload, Status, Store, StoreOptions, read};

/// How an engine works.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region national-format phone numbers are read in (the user's own country).
    pub region: Region,
    /// Threads that normalise and hash during an import (the writer is another); 0 means one
    /// per core. Each thread keeps its own caches of compiled phone patterns, some megabytes per
    /// region a book spans, so more threads cost memory: one keeps a 100,000-contact import on
    /// two cores within budget (docs/performance.md).
    pub workers: usize,
    /// Contacts per transaction when importing from an iterator or from files.
    pub chunk_size: usize,
    /// Database options.
    pub store: StoreOptions,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: Region::default(),
            workers: 1,
            chunk_size: 8192,
            store: StoreOptions::default(),
        }
    }
}

impl Config {
    /// The default configuration for a region.
    pub fn with_region(region: Region) -> Self {
        Config {
            region,
            ..Config::default()
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Contacts that were new.
    pub added: u64,
    /// Contacts whose content changed.
    pub changed: u64,
    /// Contacts seen with the same content as stored.
    pub unchanged: u64,
    /// Contacts removed (missing from a snapshot, or deleted in a change feed).
    pub removed: u64,
    /// Entries whose source id appeared earlier in the same import; the later one was kept.
    pub duplicates: u64,
    /// Contacts normalised and hashed: what the import actually cost.
    pub normalized: u64,
    /// Raw values rejected in the contacts normalised by this import.
    pub rejected: u64,
    /// Those rejections by reason code (`phone.too_short`, ...).
    pub rejections: BTreeMap<String, u64>,
    /// Identifiers that became pending upload. Like `queued_remove`, it counts transitions as
    /// each transaction commits them: an identifier added and dropped again within one import
    /// may count in both.
    pub queued_add: u64,
    /// Identifiers that became pending removal from the server (or were dropped before upload).
    pub queued_remove: u64,
}

impl ImportReport {
    fn absorb(&mut self, other: ImportReport) {
        self.added += other.added;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
        self.duplicates += other.duplicates;
        self.normalized += other.normalized;
        self.rejected += other.rejected;
        for (code, n) in other.rejections {
            *self.rejections.entry(code).or_default() += n;
        }
        self.queued_add += other.queued_add;
        self.queued_remove += other.queued_remove;
    }

    fn transitions(&mut self, t: Transitions) {
        self.queued_add += t.queued_add;
        self.queued_remove += t.queued_remove;
    }

    /// Counts one written contact.
    fn written(&mut self, p: &Prepared, outcome: Upserted) {
        self.normalized += 1;
        if outcome != Upserted::Unchanged {
            self.rejected += p.contact.rejections.len() as u64;
            for r in &p.contact.rejections {
                *self.rejections.entry(r.reason.code()).or_default() += 1;
            }
        }
        match outcome {
            Upserted::Added => self.added += 1,
            Upserted::Changed => self.changed += 1,
            Upserted::Unchanged => self.unchanged += 1,
            Upserted::Duplicate => self.duplicates += 1,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    config: Config,
    normalizer: Normalizer,
    /// The current key; a sync installs the server's through it.
    pub(crate) keys: KeyHolder,
    /// The newest snapshot; an older one still open is superseded.
    snapshot_seq: AtomicU64,
    /// One sync (or forget, or reset) at a time.
    sync_lock: Mutex<()>,
}

impl Inner {
    fn key(&self) -> Option<HashKey> {
        self.keys.current()
    }

    fn workers(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        match self.config.workers {
            0 => cores,
            // More threads than cores only add memory (and a thread each per chunk).
            n => n.min(cores.max(1) * 2),
        }
    }
}

/// The engine: one user's contacts, identifiers, upload state and matches.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Opens (creating and migrating when needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Engine> {
        // The first import needs this region's phone patterns; compile them meanwhile.
        phone::warm_up_in_background(config.region);
        let store = Store::open(path.as_ref(), config.store.clone())?;
        let keys = KeyHolder::load(&store)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                store,
                normalizer: Normalizer::new(config.region),
                config,
                keys,
                snapshot_seq: AtomicU64::new(0),
                sync_lock: Mutex::new(()),
            }),
        })
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Starts a full snapshot. Push every contact of the address book, in chunks of any size,
    /// then [`Snapshot::finish`]. Starting another snapshot supersedes this one.
    pub fn begin_snapshot(&self) -> Result<Snapshot> {
        let inner = &self.inner;
        let token = inner.snapshot_seq.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = inner.store.write(write::next_generation)?;
        let index = Index::load(&inner.store)?;
        let seen = vec![false; index.len()];
        Ok(Snapshot {
            inner: Arc::clone(inner),
            token,
            generation,
            index,
            seen,
            report: ImportReport::default(),
            pushed: 0,
        })
    }

    /// Imports a whole address book from an iterator as one full snapshot, in chunks of
    /// [`Config::chunk_size`] (each chunk one transaction). Reading and normalising run on a
    /// thread of their own while this one writes, so the import costs about the larger of the
    /// two, not their sum.
    pub fn import_snapshot<I>(
        &self,
        contacts: I,
        listener: &dyn ProgressListener,
    ) -> Result<ImportReport>
    where
        I: IntoIterator<Item = RawContact>,
        I::IntoIter: Send,
    {
        self.try_import_snapshot(contacts.into_iter().map(Ok), listener)
    }

    /// [`Engine::import_snapshot`] from a source that can fail (a file that stops being
    /// readable): the first error ends the import *without* removing anything, since contacts
    /// not yet read are not gone. Chunks already written stay; the next snapshot completes them.
    pub fn try_import_snapshot<I>(
        &self,
        contacts: I,
        listener: &dyn ProgressListener,
    ) -> Result<ImportReport>
    where
        I: IntoIterator<Item = Result<RawContact>>,
        I::IntoIter: Send,
    {
        let mut snapshot = self.begin_snapshot()?;
        let inner = Arc::clone(&self.inner);
        let key = inner.key();
        let cx = Context {
            normalizer: inner.normalizer,
            index: Some(&snapshot.index),
            key: key.as_ref(),
        };
        let size = inner.config.chunk_size.max(1);
        let workers = inner.workers();
        let mut contacts = contacts.into_iter();
        let written = std::thread::scope(|scope| {
            // One chunk in the channel, one being prepared, one being written: bounded memory.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Item>>>(1);
            scope.spawn(move || {
                loop {
                    let chunk: Result<Vec<RawContact>> = contacts.by_ref().take(size).collect();
                    let chunk = match chunk {
                        Ok(chunk) if chunk.is_empty() => break,
                        Ok(chunk) => chunk,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    };
                    let mut items = Vec::with_capacity(chunk.len());
                    let prepared = diff::prepare(&chunk, cx, workers, |item| {
                        items.push(item);
                        Ok(())
                    });
                    if tx.send(prepared.map(|()| items)).is_err() {
                        break;
                    }
                }
            });
            let mut report = ImportReport::default();
            for items in rx {
                let items = items?;
                let r = write_items(
                    &inner,
                    &mut snapshot.seen,
                    snapshot.generation,
                    key.as_ref(),
                    items,
                    snapshot.pushed,
                    listener,
                )?;
                snapshot.pushed += r.unchanged + r.normalized;
                report.absorb(r);
            }
            Ok::<_, Error>(report)
        })?;
        snapshot.report.absorb(written);
        snapshot.finish(listener)
    }

    /// Applies a change feed in one transaction: `upserts` are contacts added or edited since
    /// the last import, `deleted` the source ids removed since.
    pub fn apply_changes(
        &self,
        upserts: &[RawContact],
        deleted: &[String],
        listener: &dyn ProgressListener,
    ) -> Result<ImportReport> {
        let inner = &self.inner;
        let key = inner.key();
        let normalizer = inner.normalizer;
        inner.store.write(|tx| {
            let generation = write::next_generation(tx)?;
            let mut report = ImportReport::default();
            let mut t = Transitions::default();
            // Skip what the feed re-sends unchanged (Android moves its timestamp on merges).
            let mut changed = Vec::with_capacity(upserts.len());
            for c in upserts {
                let fingerprint = c.content_fingerprint(&normalizer);
                if write::stored_fingerprint(tx, &c.source_id)? == Some(fingerprint) {
                    write::touch(tx, &c.source_id, generation)?;
                    report.unchanged += 1;
                } else {
                    changed.push(c.clone());
                }
            }
            let cx = Context {
                normalizer,
                index: None,
                key: key.as_ref(),
            };
            let w = Writing {
                generation,
                key_id: key.as_ref().map(HashKey::id),
            };
            let total = (upserts.len() + deleted.len()) as u64;
            let mut done = report.unchanged;
            diff::prepare(&changed, cx, inner.workers(), |item| {
                if let Item::Write(_, p) = item {
                    let outcome = write::upsert(tx, &p, w, &mut t)?;
                    report.written(&p, outcome);
                }
                done += 1;
                tick(listener, Stage::Import, done, Some(total))
            })?;
            for source_id in deleted {
                if write::remove_contact(tx, source_id, generation, &mut t)? {
                    report.removed += 1;
                }
                done += 1;
                tick(listener, Stage::Import, done, Some(total))?;
            }
            report.transitions(t);
            Ok(report)
        })
    }

    /// Sets the server's hashing key. A key different from the stored one (a rotation, or the
    /// first key) re-hashes every identifier and marks a full re-sync, in one transaction.
    /// Returns whether anything changed.
    pub fn set_key(
        &self,
        key_id: &str,
        secret: &[u8],
        listener: &dyn ProgressListener,
    ) -> Result<bool> {
        let key = HashKey::new(key_id, secret)
            .map_err(|e| Error::InvalidArgument(format!("hashing key: {e}")))?;
        let inner = &self.inner;
        inner.keys.install(&inner.store, key, secret, listener)
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The id of the current hashing key, if the server gave one.
    pub fn key_id(&self) -> Option<String> {
        self.inner.key().map(|k| k.id().to_owned())
    }

    /// Counts over the store.
    pub fn status(&self) -> Result<Status> {
        self.inner.store.read(read::status)
    }

    /// Contacts with their identifiers, upload states and rejected values, in source-id order,
    /// `limit` from `offset` (for list UIs; [`Engine::contacts_after`] to walk everything).
    pub fn contacts(&self, offset: u64, limit: u64) -> Result<Vec<ContactView>> {
        self.inner.store.read(|c| read::contacts(c, offset, limit))
    }

    /// Up to `limit` contacts after the one with source id `after` (from the first when `None`),
    /// in source-id order: for walking the whole store, each page costs the same.
    pub fn contacts_after(&self, after: Option<&str>, limit: u64) -> Result<Vec<ContactView>> {
        self.inner
            .store
            .read(|c| read::contacts_after(c, after, limit))
    }

    /// One contact by its source id.
    pub fn contact(&self, source_id: &str) -> Result<Option<ContactView>> {
        self.inner.store.read(|c| read::contact(c, source_id))
    }

    /// Up to `limit` hashes waiting for the server: additions first, then removals.
    pub fn pending_uploads(&self, limit: u64) -> Result<Vec<PendingUpload>> {
        self.inner.store.read(|c| read::pending(c, limit))
    }

    /// The contacts that are on the app, and through which identifier (excluded ones left out).
    pub fn matches(&self) -> Result<Vec<Match>> {
        self.inner.store.read(read::matches)
    }

    /// Excludes a contact from discovery (or includes it again). Its identifiers leave the
    /// server unless another included contact holds them. Returns false for an unknown contact.
    pub fn set_contact_excluded(&self, source_id: &str, excluded: bool) -> Result<bool> {
        self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            write::set_contact_excluded(tx, source_id, excluded, &mut t)
        })
    }

    /// Excludes an identifier from discovery whichever contacts hold it (or includes it again).
    /// `value` is read like a contact's value (a phone number in any format).
    pub fn set_identifier_excluded(
        &self,
        kind: IdentifierKind,
        value: &str,
        excluded: bool,
    ) -> Result<()> {
        let identifier = self
            .inner
            .normalizer
            .normalize(kind, value)
            .map_err(|e| Error::InvalidArgument(format!("identifier: {}", e.code())))?;
        let key = self.inner.key();
        self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            write::set_identifier_excluded(tx, &identifier, excluded, key.as_ref(), &mut t)
        })
    }

    /// Deletes everything stored locally (contacts, identifiers, hashes, matches, the key and
    /// the sync state) and compacts the file so the deleted pages do not linger on disk. Tell
    /// the server first (consent withdrawn) while the client still holds its credentials.
    pub fn wipe(&self) -> Result<()> {
        let inner = &self.inner;
        inner.snapshot_seq.fetch_add(1, Ordering::SeqCst);
        inner.store.wipe()?;
        inner.keys.forget();
        Ok(())
    }
}

/// A full snapshot in progress (see [`Engine::begin_snapshot`]).
///
/// It holds an index of the stored contacts (about 40 bytes each), never the contacts. Each
/// [`Snapshot::push`] is one transaction; a snapshot that is never finished removes nothing, so a
/// crash or a cancel mid-way leaves every stored contact in place and the next snapshot completes
/// the job.
#[derive(Debug)]
pub struct Snapshot {
    inner: Arc<Inner>,
    token: u64,
    generation: i64,
    index: Index,
    seen: Vec<bool>,
    report: ImportReport,
    pushed: u64,
}

impl Snapshot {
    fn check_current(&self) -> Result<()> {
        if self.inner.snapshot_seq.load(Ordering::SeqCst) == self.token {
            Ok(())
        } else {
            Err(Error::InvalidState(
                "a newer snapshot (or a wipe) superseded this one".into(),
            ))
        }
    }

    /// Adds a chunk of contacts, in one transaction.
    pub fn push(&mut self, contacts: &[RawContact], listener: &dyn ProgressListener) -> Result<()> {
        self.check_current()?;
        if contacts.is_empty() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        let key = inner.key();
        let cx = Context {
            normalizer: inner.normalizer,
            index: Some(&self.index),
            key: key.as_ref(),
        };
        let mut items = Vec::with_capacity(contacts.len());
        diff::prepare(contacts, cx, inner.workers(), |item| {
            items.push(item);
            Ok(())
        })?;
        let report = write_items(
            &inner,
            &mut self.seen,
            self.generation,
            key.as_ref(),
            items,
            self.pushed,
            listener,
        )?;
        self.pushed += contacts.len() as u64;
        self.report.absorb(report);
        Ok(())
    }

    /// Ends the snapshot: removes, in one transaction, every stored contact it did not contain
    /// (unless a change feed wrote it meanwhile), and returns the report of the whole snapshot.
    pub fn finish(mut self, listener: &dyn ProgressListener) -> Result<ImportReport> {
        self.check_current()?;
        let generation = self.generation;
        let (index, seen) = (&self.index, &self.seen);
        let (removed, t) = self.inner.store.write(|tx| {
            // Unseen by key. A contact whose key was ambiguous is never marked seen, but the
            // exact path it took stamped it with this generation, which remove_contact spares.
            let unseen: Vec<&str> = (0..index.len())
                .filter(|&slot| !seen.get(slot).copied().unwrap_or(false))
                .map(|slot| index.source_id(slot))
                .collect();
            let total = unseen.len() as u64;
            let mut t = Transitions::default();
            let mut removed = 0u64;
            for (i, source_id) in unseen.iter().enumerate() {
                if write::remove_contact(tx, source_id, generation, &mut t)? {
                    removed += 1;
                }
                tick(listener, Stage::Remove, i as u64 + 1, Some(total))?;
            }
            Ok((removed, t))
        })?;
        self.report.removed += removed;
        self.report.transitions(t);
        listener.on_progress(Progress {
            stage: Stage::Import,
            done: self.pushed,
            total: Some(self.pushed),
        });
        Ok(std::mem::take(&mut self.report))
    }
}

/// Writes one chunk of classified contacts in one transaction: contact rows in source-id order,
/// then every identifier change of the chunk in key order (see [`write::apply_deltas`]).
fn write_items(
    inner: &Inner,
    seen: &mut [bool],
    generation: i64,
    key: Option<&HashKey>,
    items: Vec<Item>,
    done_before: u64,
    listener: &dyn ProgressListener,
) -> Result<ImportReport> {
    let w = Writing {
        generation,
        key_id: key.map(HashKey::id),
    };
    let mut report = ImportReport::default();
    let mut writes = Vec::new();
    for item in items {
        match item {
            Item::Unchanged(slot) => {
                mark(seen, slot);
                report.unchanged += 1;
            }
            Item::Write(slot, p) => writes.push((slot, p)),
        }
    }
    // Stable: a source id given twice keeps its input order, so the later entry wins.
    writes.sort_by(|a, b| a.1.contact.source_id.cmp(&b.1.contact.source_id));
    let mut done = done_before + report.unchanged;
    inner.store.write(|tx| {
        let mut deltas = Vec::new();
        let mut t = Transitions::default();
        for (slot, p) in &writes {
            let outcome = write::upsert_contact(tx, p, w, &mut deltas)?;
            // An added contact's slot was a key collision with another stored contact.
            if let Some(slot) = slot.filter(|_| outcome != Upserted::Added) {
                mark(seen, slot);
            }
            report.written(p, outcome);
            done += 1;
            tick(listener, Stage::Import, done, None)?;
        }
        write::apply_deltas(tx, deltas, w.key_id, &mut t)?;
        report.transitions(t);
        Ok(())
    })?;
    if report.unchanged > 0 {
        listener.on_progress(Progress {
            stage: Stage::Import,
            done,
            total: None,
        });
        if listener.is_cancelled() {
            return Err(Error::Cancelled);
        }
    }
    Ok(report)
}

fn mark(seen: &mut [bool], slot: u32) {
    if let Some(s) = seen.get_mut(slot as usize) {
        *s = true;
    }
}

mod network;
#[cfg(test)]
mod tests;
