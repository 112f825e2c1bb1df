//! `GET /v1/config`, checked: the one path every fetch of the server's configuration takes (a
//! sync's, and an invite's that needs a key first), so none installs a key or uses limits the
//! checks have not passed.

use crate::error::{Error, Result};
use crate::hash::{CONTEXT, DIGEST_LEN, HashKey, decode_base64_any};
use crate::key::KeyHolder;
use crate::oprf::{PublicKey, SUITE};
use crate::progress::ProgressListener;
use crate::protocol::encoding::CBOR;
use crate::protocol::private::{MAX_SHARD_BITS, max_batch_bucket, max_bucket, valid_buckets};
use crate::protocol::wire::{ConfigAnswer, Limits};
use crate::store::Store;

/// A configuration that passed the checks, with its key installed.
#[derive(Debug)]
pub(crate) struct Installed {
    /// The server's key, now the holder's.
    pub key: HashKey,
    /// It differed from the stored one: everything was re-hashed for a full re-sync.
    pub changed: bool,
    /// What the server enforces.
    pub limits: Limits,
    /// Hashes per batch: the server's limits (count and body size), the options' cap and the
    /// largest bucket.
    pub max_total: usize,
    /// The entry counts batches are padded to, ascending; empty: no padding (an older server).
    pub buckets: Vec<u32>,
    /// The server reads (and answers in) CBOR.
    pub cbor: bool,
}

/// Checks a config answer (the hashing is the one this client implements, the key one the key
/// rules accept, a batch may hold a hash) and only then installs its key, re-hashing the store
/// when it changed. `max_batch` is [`super::SyncOptions::max_batch`].
pub(crate) fn install(
    config: ConfigAnswer,
    max_batch: Option<u32>,
    store: &Store,
    keys: &KeyHolder,
    listener: &dyn ProgressListener,
) -> Result<Installed> {
    let secret = secret(&config)?;
    // A key the key rules refuse is the server's fault: a protocol violation.
    let key = HashKey::new(config.key_id, &secret)
        .map_err(|e| Error::Protocol(format!("hashing key: {e}")))?;
    let limits = config.limits;
    // A batch planned by this figure fits the body limit in either encoding.
    let mut max =
        u32::try_from(max_batch_bucket(limits.max_batch, limits.max_body_bytes)).unwrap_or(0);
    let buckets = config.batch_buckets;
    if !buckets.is_empty() {
        // Checked against the server's own limits, before the options' cap: a bucket above
        // what the server reads would have every padded batch refused.
        if !valid_buckets(&buckets, max as usize) {
            return Err(Error::Protocol(
                "the server's batch buckets do not fit its limits".into(),
            ));
        }
        max = buckets.last().copied().unwrap_or(max).min(max);
    }
    if let Some(cap) = max_batch {
        max = max.min(cap);
    }
    if max == 0 {
        return Err(Error::Protocol(
            "the server allows no hash per batch".into(),
        ));
    }
    let changed = keys.install(store, key.clone(), &secret, listener)?;
    Ok(Installed {
        key,
        changed,
        limits,
        max_total: usize::try_from(max).unwrap_or(usize::MAX),
        buckets,
        cbor: config.encodings.iter().any(|e| e == CBOR),
    })
}

/// The key of a config answer, once its hashing is the one this engine implements.
fn secret(config: &ConfigAnswer) -> Result<Vec<u8>> {
    if config.hash != "hmac-sha256" || config.context != CONTEXT {
        return Err(Error::Protocol(format!(
            "unsupported hashing: {} / {}",
            config.hash.chars().take(32).collect::<String>(),
            config.context.chars().take(32).collect::<String>()
        )));
    }
    // A server that does not say its digest length is older: it takes only full 32-byte
    // HMACs, which this client no longer makes (the store keeps 16-byte digests).
    if config.digest_bytes.and_then(|n| usize::try_from(n).ok()) != Some(DIGEST_LEN) {
        return Err(Error::Protocol(format!(
            "the server takes {} digests; this client makes {DIGEST_LEN}-byte ones (update the \
             server: docs/protocol.md)",
            config
                .digest_bytes
                .map_or_else(|| "32-byte".to_owned(), |n| format!("{n}-byte"))
        )));
    }
    decode_base64_any(config.key.trim())
        .ok_or_else(|| Error::Protocol("the key is not base64".into()))
}

/// A private-mode configuration that passed the checks.
#[derive(Debug)]
pub(crate) struct PrivateParams {
    /// The key's epoch.
    pub epoch: u32,
    /// The epoch's public key, every evaluation is verified against.
    pub key: PublicKey,
    /// Element counts a request may have, ascending.
    pub buckets: Vec<u32>,
    /// The filter's current version.
    pub filter_version: u64,
    /// The filter's shard bits (0: one filter).
    pub shard_bits: u8,
    /// What the server enforces.
    pub limits: Limits,
    /// The server reads (and answers in) CBOR.
    pub cbor: bool,
    /// The current hashing key: the server names the redemptions of this device's invites by
    /// their keyed hash under it (its feed). Kept for the sync only, never installed: the
    /// private mode hashes nothing else, and installing it would mark every identifier for a
    /// keyed-hash upload.
    pub invite_key: HashKey,
}

/// Checks a config answer for the private mode: offered, the suite this client implements, a
/// valid public key, buckets that fit the server's own limits.
pub(crate) fn private(config: ConfigAnswer) -> Result<PrivateParams> {
    let invite_key = HashKey::new(config.key_id.clone(), &secret(&config)?)
        .map_err(|e| Error::Protocol(format!("hashing key: {e}")))?;
    let Some(private) = config.private else {
        return Err(Error::Protocol(
            "the server does not offer private discovery (docs/protocol.md)".into(),
        ));
    };
    if private.suite != SUITE {
        return Err(Error::Protocol(format!(
            "unsupported OPRF suite: {}",
            private.suite.chars().take(32).collect::<String>()
        )));
    }
    let key = PublicKey::from_bytes(&private.public_key.0)
        .map_err(|e| Error::Protocol(format!("the private mode's key: {e}")))?;
    let limits = config.limits;
    let max = max_bucket(limits.max_batch, limits.max_body_bytes);
    if !valid_buckets(&private.buckets, max) {
        return Err(Error::Protocol(
            "the private mode's buckets do not fit the server's limits".into(),
        ));
    }
    if private.shard_bits > MAX_SHARD_BITS {
        return Err(Error::Protocol(format!(
            "the private mode's filter has {} shard bits, more than {MAX_SHARD_BITS}",
            private.shard_bits
        )));
    }
    Ok(PrivateParams {
        shard_bits: private.shard_bits,
        epoch: private.epoch,
        key,
        buckets: private.buckets,
        filter_version: private.filter_version,
        limits,
        cbor: config.encodings.iter().any(|e| e == CBOR),
        invite_key,
    })
}
