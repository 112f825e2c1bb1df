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
//!
//! Here: [`Config`], [`Engine`] and its queries and consent switches. Beside it, `import` (both
//! import modes and [`Snapshot`]), `report` ([`ImportReport`]) and `network` (sync, consent
//! withdrawal, invites).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::identifier::{Identifier, IdentifierKind, NormalizeError, Normalizer, Region, phone};
use crate::key::KeyHolder;
use crate::progress::ProgressListener;
use crate::store::write::{self, Transitions};
use crate::store::{ContactView, Match, PendingUpload, Status, Store, StoreOptions, read};

mod changes;
mod import;
mod network;
mod report;

pub use changes::{ChangeObserver, Changes, Subscription};
pub use import::Snapshot;
pub use report::ImportReport;

/// What an exclusion changes: the consent choices, and the matches they hide or show.
const CONSENT: Changes = Changes {
    book: true,
    matches: true,
    consent: true,
    invites: false,
};

/// How an engine works.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region national-format phone numbers are read in (the user's own country).
    pub region: Region,
    /// Threads that normalise and hash during an import (the writer is another): the process's
    /// [pattern thread](crate::identifier::pattern_thread) and `workers - 1` more; 0 means one
    /// per core. Each extra thread searches the phone patterns through a lock and grows caches of
    /// its own, some megabytes per region a book spans, so more threads cost memory: one keeps a
    /// 100,000-contact import on two cores within budget (docs/performance.md).
    pub workers: usize,
    /// Contacts per transaction when importing from an iterator or from files, each written
    /// sorted by key. Larger writes fewer bytes (every commit rewrites the pages it touched) but
    /// holds more in memory, about 300 bytes a contact twice over (docs/performance.md).
    pub chunk_size: usize,
    /// Database options.
    pub store: StoreOptions,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: Region::default(),
            workers: 1,
            chunk_size: 16_384,
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
    /// Who is told of committed changes: shared by every engine on this file in the process.
    hub: Arc<changes::Hub>,
}

impl Inner {
    /// Tells the observers of this file (see `changes`).
    fn notify(&self, changes: Changes) {
        self.hub.notify(changes);
    }

    fn key(&self) -> Option<HashKey> {
        self.keys.current()
    }

    fn workers(&self) -> usize {
        let cores = crate::diff::cores();
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
        let hub = changes::Hub::for_path(path.as_ref());
        Ok(Engine {
            inner: Arc::new(Inner {
                store,
                normalizer: Normalizer::new(config.region),
                config,
                keys,
                snapshot_seq: AtomicU64::new(0),
                sync_lock: Mutex::new(()),
                hub,
            }),
        })
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
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
        let changed = inner.keys.install(&inner.store, key, secret, listener);
        self.notify_after(changed, |&changed| Changes {
            book: changed,
            ..Changes::default()
        })
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

    /// Several contacts by source id, in the order asked (`None` for an unknown one), read in
    /// one transaction: a contacts screen asks for all its rows at once (one call across the
    /// bindings, however many rows), and they agree with each other.
    pub fn contacts_by_id(&self, source_ids: &[String]) -> Result<Vec<Option<ContactView>>> {
        self.inner
            .store
            .read(|c| source_ids.iter().map(|id| read::contact(c, id)).collect())
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
        let done = self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            write::set_contact_excluded(tx, source_id, excluded, &mut t)
        });
        self.notify_after(
            done,
            |&known| if known { CONSENT } else { Changes::default() },
        )
    }

    /// [`Engine::set_contact_excluded`] for several contacts in one transaction (a multi-select
    /// "don't look these up"): for each source id in order, whether it is a stored contact. One
    /// notification for the lot.
    pub fn set_contacts_excluded(
        &self,
        source_ids: &[String],
        excluded: bool,
    ) -> Result<Vec<bool>> {
        let done = self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            source_ids
                .iter()
                .map(|id| write::set_contact_excluded(tx, id, excluded, &mut t))
                .collect::<Result<Vec<bool>>>()
        });
        self.notify_after(done, |known| {
            if known.contains(&true) {
                CONSENT
            } else {
                Changes::default()
            }
        })
    }

    /// [`Engine::set_identifier_excluded`] for several values of one kind in one transaction. A
    /// value that does not normalise is that value's result (its reason), not a failure of the
    /// call: the others are still set. Returns each value's outcome in order.
    pub fn set_identifiers_excluded(
        &self,
        kind: IdentifierKind,
        values: &[String],
        excluded: bool,
    ) -> Result<Vec<std::result::Result<Identifier, NormalizeError>>> {
        let normalizer = self.inner.normalizer;
        let outcomes: Vec<_> = values
            .iter()
            .map(|v| normalizer.normalize(kind, v))
            .collect();
        let key = self.inner.key();
        let done = self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            for identifier in outcomes.iter().flatten() {
                write::set_identifier_excluded(tx, identifier, excluded, key.as_ref(), &mut t)?;
            }
            Ok(())
        });
        let any = outcomes.iter().any(std::result::Result::is_ok);
        self.notify_after(done, |()| if any { CONSENT } else { Changes::default() })?;
        Ok(outcomes)
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
        let done = self.inner.store.write(|tx| {
            let mut t = Transitions::default();
            write::set_identifier_excluded(tx, &identifier, excluded, key.as_ref(), &mut t)
        });
        self.notify_after(done, |()| CONSENT)
    }

    /// Deletes everything stored locally (contacts, identifiers, hashes, matches, the key and
    /// the sync state) and compacts the file so the deleted pages do not linger on disk. Tell
    /// the server first (consent withdrawn) while the client still holds its credentials.
    pub fn wipe(&self) -> Result<()> {
        let inner = &self.inner;
        inner.snapshot_seq.fetch_add(1, Ordering::SeqCst);
        let wiped = inner.store.wipe();
        if wiped.is_ok() {
            inner.keys.forget();
            log::info!("store wiped");
        }
        self.notify_after(wiped, |()| Changes::ALL)
    }
}

#[cfg(test)]
mod tests;
