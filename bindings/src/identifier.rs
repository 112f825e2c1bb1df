//! Normalising and hashing values: what the engine does to every contact's values, exposed so
//! apps can normalise what a user types (a search box, "add by number") and so the bindings'
//! tests can check the shared vectors byte for byte.
//!
//! Each per-value call has a list twin (`normalize_all`, `normalize_auto_all`, `hash_all`,
//! `guess_kinds`): from Kotlin a call costs about 20 µs through JNA whatever it does, so a list
//! (validating a form's numbers, an imported file) crosses once, not once per value
//! (docs/performance.md). A bad value in a list is that value's [`Normalized::Invalid`], never a
//! failure of the whole call.

use std::sync::Arc;

use contactsync_core as core;

use crate::callbacks::{CoreTransport, Transport};
use crate::error::{ContactsyncError, Result};
use crate::types::{Identifier, IdentifierKind, Normalized, Registration, region};

fn invalid(e: &core::NormalizeError) -> ContactsyncError {
    ContactsyncError::InvalidValue { reason: e.code() }
}

/// Normalises values as the engine does, reading national phone numbers in one region.
#[derive(Debug, uniffi::Object)]
pub struct Normalizer(core::Normalizer);

#[uniffi::export]
impl Normalizer {
    /// A normaliser for `region` (ISO 3166 alpha-2, e.g. `DE`).
    #[uniffi::constructor]
    pub fn new(region: String) -> Result<Arc<Self>> {
        Ok(Arc::new(Normalizer(core::Normalizer::new(self::region(
            &region,
        )?))))
    }

    /// The canonical form of `raw` as `kind`, or `InvalidValue` with the rejection code.
    pub fn normalize(&self, kind: IdentifierKind, raw: String) -> Result<Identifier> {
        let id = self.0.normalize(kind, &raw).map_err(|e| invalid(&e))?;
        Ok(Identifier::from(&id))
    }

    /// Guesses the kind of `raw` (phone, e-mail, account, invite, else handle) and normalises it.
    pub fn normalize_auto(&self, raw: String) -> Result<Identifier> {
        let id = self.0.normalize_auto(&raw).map_err(|e| invalid(&e))?;
        Ok(Identifier::from(&id))
    }

    /// `normalize` for a list of values of one kind, in one call: each value's outcome, in order.
    pub fn normalize_all(&self, kind: IdentifierKind, raws: Vec<String>) -> Vec<Normalized> {
        raws.iter()
            .map(|raw| self.0.normalize(kind, raw).into())
            .collect()
    }

    /// `normalize_auto` for a list of values, in one call: each value's outcome, in order.
    pub fn normalize_auto_all(&self, raws: Vec<String>) -> Vec<Normalized> {
        raws.iter()
            .map(|raw| self.0.normalize_auto(raw).into())
            .collect()
    }
}

/// A server's hashing key: what turns a canonical identifier into the keyed hash that is sent.
#[derive(Debug, uniffi::Object)]
pub struct HashKey(core::HashKey);

#[uniffi::export]
impl HashKey {
    /// A key from its id and secret bytes (at least 16).
    #[uniffi::constructor]
    pub fn new(key_id: String, secret: Vec<u8>) -> Result<Arc<Self>> {
        core::HashKey::new(key_id, &secret)
            .map(|k| Arc::new(HashKey(k)))
            .map_err(|e| ContactsyncError::InvalidArgument {
                detail: e.to_string(),
            })
    }

    /// The key's id.
    pub fn key_id(&self) -> String {
        self.0.id().to_owned()
    }

    /// The keyed hash of a canonical identifier, base64url without padding.
    pub fn hash(&self, identifier: Identifier) -> String {
        self.0
            .hash_parts(identifier.kind, &identifier.canonical)
            .to_base64url()
    }

    /// `hash` for a list of identifiers, in one call: their hashes, in order.
    pub fn hash_all(&self, identifiers: Vec<Identifier>) -> Vec<String> {
        identifiers
            .iter()
            .map(|i| self.0.hash_parts(i.kind, &i.canonical).to_base64url())
            .collect()
    }
}

/// Which kind a free-form value most likely is (`None` when it holds no letter or digit).
#[uniffi::export]
pub fn guess_kind(raw: String) -> Option<IdentifierKind> {
    core::identifier::guess_kind(&raw)
}

/// `guess_kind` for a list of values, in one call: each value's guess, in order.
#[uniffi::export]
pub fn guess_kinds(raws: Vec<String>) -> Vec<Option<IdentifierKind>> {
    raws.iter()
        .map(|raw| core::identifier::guess_kind(raw))
        .collect()
}

/// Registers this device with a server that allows open registration. Keep the token in the
/// platform's secure storage; the transport sends it as `Authorization: Bearer <token>`.
#[uniffi::export]
pub fn register_device(transport: Arc<dyn Transport>) -> Result<Registration> {
    Ok(core::upload::register(&CoreTransport(transport))?)
}

/// The library's version.
#[uniffi::export]
pub fn core_version() -> String {
    core::VERSION.to_owned()
}
