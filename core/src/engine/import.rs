//! Importing contacts: a full snapshot (streamed in chunks, or from an iterator with reading and
//! normalising on a thread of their own) and a change feed; see the engine's module docs.
//!
//! Part of the façade stage; may import every stage below it. Writes go through the store's
//! `write` module; what each import did is counted in an [`ImportReport`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use super::{Changes, Engine, ImportReport, Inner};
use crate::contact::RawContact;
use crate::diff::{self, Context, Index, Item};
use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::progress::{Progress, ProgressListener, Stage, tick};
use crate::store::Tx;
use crate::store::rows::Rows;
use crate::store::write::{self, Transitions, Upserted, Writing};

impl Engine {
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

    /// Imports a whole address book from an iterator as one full snapshot, in windows of up to
    /// [`Config::chunk_size`](super::Config::chunk_size) contacts, sized by the writer's pace
    /// (each window one transaction, written sorted). Reading and normalising run on a thread of
    /// their own while this one writes, so the import costs about the larger of the two, not
    /// their sum.
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
    /// not yet read are not gone. The contacts read before the error are written; the next
    /// snapshot completes the rest.
    pub fn try_import_snapshot<I>(
        &self,
        contacts: I,
        listener: &dyn ProgressListener,
    ) -> Result<ImportReport>
    where
        I: IntoIterator<Item = Result<RawContact>>,
        I::IntoIter: Send,
    {
        let started = std::time::Instant::now();
        log::info!("import: full snapshot started");
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
        // Set while this thread waits for a window: the reading thread then sends what it has.
        let writer_idle = AtomicBool::new(false);
        let written = std::thread::scope(|scope| {
            // A window being written and the next being prepared: bounded memory.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Sorted>>(0);
            let idle = &writer_idle;
            scope.spawn(move || prepare_windows(&mut contacts, cx, workers, size, idle, &tx));
            let mut report = ImportReport::default();
            let w = Writing {
                generation: snapshot.generation,
                key_id: key.as_ref().map(HashKey::id),
            };
            loop {
                writer_idle.store(true, Ordering::Relaxed);
                let Ok(window) = rx.recv() else { break };
                writer_idle.store(false, Ordering::Relaxed);
                let window = window?;
                let done = snapshot.pushed;
                let r = inner
                    .store
                    .write(|tx| write_window(tx, &mut snapshot.seen, w, window, done, listener))?;
                snapshot.pushed += r.unchanged + r.normalized;
                report.absorb(r);
            }
            Ok::<_, Error>(report)
        });
        let written = match written {
            Ok(written) => written,
            Err(e) => {
                log::warn!("import: full snapshot stopped: {}", e.code());
                // Chunks before the failure are committed.
                inner.notify(Changes::ALL);
                return Err(e);
            }
        };
        snapshot.report.absorb(written);
        let report = snapshot.finish(listener)?;
        log::info!(
            "import: full snapshot done in {} ms: {}",
            started.elapsed().as_millis(),
            report.summary()
        );
        Ok(report)
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
        let started = std::time::Instant::now();
        log::info!(
            "import: change feed of {} upserts, {} deletions",
            upserts.len(),
            deleted.len()
        );
        let applied = inner.store.write(|tx| {
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
            diff::prepare(changed, cx, inner.workers(), &mut |item| {
                if let Item::Write(_, p) = item {
                    let rows = Rows::one(&p);
                    let outcome = write::upsert(tx, &rows, w, &mut t)?;
                    report.written(&rows.get(0)?, outcome);
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
        });
        match &applied {
            Ok(report) => log::info!(
                "import: change feed done in {} ms: {}",
                started.elapsed().as_millis(),
                report.summary()
            ),
            Err(e) => log::warn!("import: change feed rolled back: {}", e.code()),
        }
        self.notify_after(applied, ImportReport::changes)
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

    /// Adds a chunk of contacts, in one transaction. (Owned: they are normalised on the
    /// [pattern thread](crate::identifier::pattern_thread).)
    pub fn push(
        &mut self,
        contacts: Vec<RawContact>,
        listener: &dyn ProgressListener,
    ) -> Result<()> {
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
        let pushed = contacts.len() as u64;
        let mut window = Window::with_capacity(contacts.len());
        diff::prepare(contacts, cx, inner.workers(), &mut |item| {
            window.push(item);
            Ok(())
        })?;
        let window = window.sorted();
        let w = Writing {
            generation: self.generation,
            key_id: key.as_ref().map(HashKey::id),
        };
        let (seen, done) = (&mut self.seen, self.pushed);
        let report = inner
            .store
            .write(|tx| write_window(tx, seen, w, window, done, listener))
            .inspect_err(|_| inner.notify(Changes::ALL))?;
        self.pushed += pushed;
        let changes = report.changes();
        self.report.absorb(report);
        self.inner.notify(changes);
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
        log::debug!("import: snapshot finished, {removed} contacts removed");
        // Once for the whole snapshot: its chunks were told as they were pushed, but an import
        // from an iterator writes them without telling.
        self.inner.notify(self.report.changes());
        listener.on_progress(Progress {
            stage: Stage::Import,
            done: self.pushed,
            total: Some(self.pushed),
        });
        Ok(std::mem::take(&mut self.report))
    }
}

/// Raw contacts read and prepared at a time: the window grows by this much while the
/// prepared structs (about 450 bytes each) are encoded into it, and the smallest window sent to
/// a writer that waits.
const PREPARE_BATCH: usize = 2048;

/// One transaction of an import: the contacts to write, encoded as their rows ([`Rows`]), and
/// the stored contacts found unchanged.
///
/// Why windows: every commit writes each page it dirtied to the WAL, and a few thousand contacts
/// in random key order dirty nearly every page of both tables. Written sorted, a window of
/// [`Config::chunk_size`](super::Config::chunk_size) contacts dirties each page about once,
/// so a first import writes its book a few times over instead of a dozen (docs/performance.md,
/// "First import"). A kill loses at most the window in flight, which the next snapshot writes.
#[derive(Debug, Default)]
struct Window {
    rows: Rows,
    unchanged: Vec<u32>,
}

impl Window {
    fn with_capacity(contacts: usize) -> Self {
        Window {
            rows: Rows::with_capacity(contacts),
            unchanged: Vec::new(),
        }
    }

    fn push(&mut self, item: Item) {
        match item {
            Item::Unchanged(slot) => self.unchanged.push(slot),
            Item::Write(slot, p) => self.rows.push(slot, &p),
        }
    }

    fn len(&self) -> usize {
        self.rows.len() + self.unchanged.len()
    }

    /// Ready to write: contacts in source-id order. Sorted where the window is made (the
    /// reading thread of an import), so the writer, the import's critical path, only writes.
    fn sorted(mut self) -> Sorted {
        self.rows.sort_by_source_id();
        Sorted(self)
    }
}

/// A [`Window`] whose contacts are in source-id order, as [`write_window`] takes it.
#[derive(Debug)]
struct Sorted(Window);

/// The reading thread of [`Engine::try_import_snapshot`]: reads and prepares `contacts` into
/// windows of up to `size` contacts and sends each to the writer when it is full or, once it
/// holds a batch of rows to write, as soon as the writer waits for it (`writer_idle`, a hint:
/// read late, it only sends a window a batch later). A failing source or preparation sends what
/// was read before it, then the error.
///
/// Why windows sized by the writer's pace: the writer is the import's critical path, and every
/// moment it waits is added to the import. It waits while the phone patterns of the book's
/// regions compile, and wherever normalising is the slower side; there it now writes small
/// windows (more bytes per contact, but it had the time). Where writing is the slower side (a
/// large book's second half, as every window touches more of the tables) windows grow to
/// `size`, which writes each page fewer times. Against windows on a fixed schedule (2,048
/// contacts, doubling up to `size`): 16 alternating cold first imports of the benchmark book,
/// median 620 → 592 ms, fastest 589 → 533 ms (docs/performance.md, "Windows that follow the
/// writer").
fn prepare_windows(
    contacts: &mut impl Iterator<Item = Result<RawContact>>,
    cx: Context<'_>,
    workers: usize,
    size: usize,
    writer_idle: &AtomicBool,
    tx: &SyncSender<Result<Sorted>>,
) {
    let size = size.max(1);
    // The smallest window worth sending early, and what each new window starts with.
    let smallest = PREPARE_BATCH.min(size);
    let mut window = Window::with_capacity(smallest);
    loop {
        let take = smallest.min(size - window.len());
        let mut batch = Vec::with_capacity(take);
        let mut failed = None;
        for contact in contacts.by_ref().take(take) {
            match contact {
                Ok(contact) => batch.push(contact),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let read = batch.len();
        let prepared = diff::prepare(batch, cx, workers, &mut |item| {
            window.push(item);
            Ok(())
        });
        let end = match prepared.and(failed.map_or(Ok(()), Err)) {
            Ok(()) => read < take,
            Err(e) => {
                if window.len() > 0 {
                    let _ = tx.send(Ok(window.sorted()));
                }
                let _ = tx.send(Err(e));
                return;
            }
        };
        // Only rows are work for the writer (unchanged contacts are marked seen, nothing more).
        let wanted = window.rows.len() >= smallest && writer_idle.load(Ordering::Relaxed);
        if (end || wanted || window.len() >= size) && window.len() > 0 {
            let full = std::mem::replace(&mut window, Window::with_capacity(smallest));
            if tx.send(Ok(full.sorted())).is_err() {
                return;
            }
        }
        if end {
            return;
        }
    }
}

/// Writes a [sorted](Window::sorted) window in the caller's transaction: contact rows in
/// source-id order, then every identifier change of the window in key order (see
/// [`write::apply_deltas`]).
fn write_window(
    tx: &Tx<'_>,
    seen: &mut [bool],
    w: Writing<'_>,
    Sorted(window): Sorted,
    done_before: u64,
    listener: &dyn ProgressListener,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for &slot in &window.unchanged {
        mark(seen, slot);
    }
    report.unchanged = window.unchanged.len() as u64;
    let mut done = done_before + report.unchanged;
    let mut deltas = Vec::new();
    let mut t = Transitions::default();
    write::upsert_contacts(tx, &window.rows, w, &mut deltas, &mut |row, outcome| {
        // An added contact's slot was a key collision with another stored contact.
        if let Some(slot) = row.slot.filter(|_| outcome != Upserted::Added) {
            mark(seen, slot);
        }
        report.written(row, outcome);
        done += 1;
        tick(listener, Stage::Import, done, None)
    })?;
    write::apply_deltas(tx, &deltas, w.key_id, &mut t)?;
    report.transitions(t);
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

#[cfg(test)]
mod tests;
