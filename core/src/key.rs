//! The hashing key in memory, shared by the engine and a sync session.
//!
//! Owns: [`KeyHolder`], the current key (which every import, exclusion and invite hashes with)
//! and "install and re-hash" (a key set by the app, or a sync that finds the server's key
//! changed). May import the stages below it (`error`, `progress`, `hash`, `store`); never
//! `upload` or `engine`. It exists so that a sync installs the server's key through a holder it
//! was handed instead of calling back up into the engine.

use std::sync::{PoisonError, RwLock};

use crate::error::Result;
use crate::hash::HashKey;
use crate::progress::{ProgressListener, Stage, tick};
use crate::store::{Store, read, write};

/// The current hashing key, if any, kept equal to the one the store holds.
#[derive(Debug)]
pub(crate) struct KeyHolder {
    current: RwLock<Option<HashKey>>,
}

impl KeyHolder {
    /// The key the store holds. A stored key the key rules no longer accept counts as none: the
    /// next sync installs the server's.
    pub(crate) fn load(store: &Store) -> Result<KeyHolder> {
        let key = match store.read(read::key)? {
            Some((id, secret)) => HashKey::new(id, &secret).ok(),
            None => None,
        };
        Ok(KeyHolder {
            current: RwLock::new(key),
        })
    }

    /// The current key.
    pub(crate) fn current(&self) -> Option<HashKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Installs `key` (made from `secret`). A key different from the stored one (a rotation, or
    /// the first key) re-hashes every identifier and marks a full re-sync, in one transaction,
    /// reporting [`Stage::Rehash`]. Returns whether anything changed.
    pub(crate) fn install(
        &self,
        store: &Store,
        key: HashKey,
        secret: &[u8],
        listener: &dyn ProgressListener,
    ) -> Result<bool> {
        if store.read(read::key)? == Some((key.id().to_owned(), secret.to_vec())) {
            return Ok(false);
        }
        let total = store.read(read::identifier_count)?;
        store.write(|tx| {
            write::rehash(tx, &key, secret, |done| {
                tick(listener, Stage::Rehash, done, Some(total))
            })
        })?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
        Ok(true)
    }

    /// Forgets the key (the store was wiped, or the device left its server).
    pub(crate) fn forget(&self) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
