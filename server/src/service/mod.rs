//! The protocol's resources (docs/protocol.md), one module each: its routes, its handlers and
//! its rules side by side — `health`, `registration`, `clients`, `config`, `batches`, `changes`,
//! `invites` (and `links`: the invite links' page and the app-link files), `users`, `keys`,
//! `matching`, `admin_credential` (the admin token), `private` (private discovery) — with `auth`
//! saying whose a request is. This module holds what they share: the [`Service`] (the storage
//! and the settings the rules need), the route table they add up to, and the helpers of more
//! than one resource (keys, lookups, bodies, hashes).
//!
//! Every rule is blocking (a handler runs it on tokio's blocking pool) and makes each request's
//! state change in one write transaction: a refusal rolls everything back, so a refused batch
//! changes nothing, not even the quota.
//!
//! A client request is authentication (a read transaction), the rate counter (counted outside
//! any transaction, even when the request itself is then refused, so malformed requests count
//! against the rate too), then the request's own transaction. The one exception is a batch
//! replay, answered from a read transaction without charging anything: a replay changes nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::routing::MethodRouter;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::{KeyInfo, WireHash};
use contactsync_core::{Digest, HashKey};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ServerError};
use crate::registration::Registrations;
use crate::storage::{InviteSet, KeyRecord, KeyState, Storage, Transaction, retry_conflicts};
use crate::util::{random_bytes, random_id, valid_user_ref};
use crate::{Clock, IpNet, LimitsConfig, ServerConfig};

pub(crate) mod admin_credential;
mod auth;
mod batches;
mod changes;
mod clients;
mod config;
mod health;
mod invites;
mod keys;
pub(crate) mod links;
mod matching;
mod private;
mod registration;
mod users;

use admin_credential::AdminCredential;

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
/// How long batch answers are kept for idempotency.
pub(crate) const BATCH_RETENTION_S: i64 = 30 * DAY;

/// A route template and its handlers, by method.
pub(crate) type Route = (&'static str, MethodRouter<Arc<Service>>);

/// Every route of docs/protocol.md with its template, resource by resource; anything else is
/// `404 not_found`.
pub(crate) fn routes() -> Vec<Route> {
    [
        health::routes(),
        registration::routes(),
        clients::routes(),
        config::routes(),
        batches::routes(),
        changes::routes(),
        invites::routes(),
        links::routes(),
        users::routes(),
        keys::routes(),
        matching::routes(),
        admin_credential::routes(),
        private::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The rules, with the storage and the settings they need.
pub(crate) struct Service {
    storage: Arc<dyn Storage>,
    limits: LimitsConfig,
    open_registration: bool,
    admin: AdminCredential,
    /// The counters of open registration's limits.
    registrations: Registrations,
    trusted_proxies: Vec<IpNet>,
    public_url: String,
    clock: Clock,
    /// Private discovery's settings and filter cache; `None` when it is off.
    private: Option<private::Private>,
    /// The entry counts batches are padded to (`GET /v1/config`; empty: none advertised).
    batch_buckets: Vec<u32>,
    /// What invite links do when a phone opens them.
    links: links::Links,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("storage", &self.storage)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub(crate) fn new(storage: Arc<dyn Storage>, config: &ServerConfig, public_url: &str) -> Self {
        Service {
            storage,
            limits: config.limits,
            open_registration: config.open_registration,
            admin: AdminCredential::new(config.admin_token.as_deref()),
            registrations: Registrations::new(config.registration),
            trusted_proxies: config.trusted_proxies.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            clock: config.clock.clone(),
            private: config
                .private
                .enabled
                .then(|| private::Private::new(&config.private)),
            batch_buckets: config.batch_buckets(),
            links: links::Links::new(&config.links, &public_path(public_url)),
        }
    }

    /// Unix seconds now. Rules that count in a time window read it again inside their write
    /// transaction (see [`Service::charge_request`]).
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn limits(&self) -> LimitsConfig {
        self.limits
    }

    /// `too_large`, with the limits a client needs to split its request.
    pub(crate) fn too_large(&self) -> ApiError {
        ApiError::TooLarge {
            max_batch: self.limits.max_batch,
            max_body_bytes: self.limits.max_body_bytes,
        }
    }

    /// Creates the first key when the database has none. Safe to race (instances starting
    /// together): the check and the insert are one write transaction; the loser of the race runs
    /// it again and finds the winner's key.
    ///
    /// With private discovery on, the current and next keys that lack an OPRF half get one
    /// (`private::directory::ensure_oprf`), in the same way: every instance agrees on the epoch.
    pub(crate) fn ensure_key(&self, now: i64) -> Result<(), ServerError> {
        retry_conflicts(|| {
            let mut tx = self.storage.write()?;
            let mut changed = false;
            if !tx.keys()?.iter().any(|k| k.state == KeyState::Current) {
                let key = new_key(KeyState::Current, now)?;
                tx.insert_key(&key)?;
                tracing::info!(key_id = %key.key_id, "created the first hashing key");
                changed = true;
            }
            if self.private.is_some() {
                changed |= private::directory::ensure_oprf(&mut *tx, now)?;
            }
            if changed {
                tx.commit()?;
            }
            Ok::<_, ServerError>(())
        })?;
        self.forget_hashed_sets()
    }

    /// Deletes what has outlived its use: batch answers past their retention, expired invites,
    /// openly registered devices that never uploaded (`RegistrationLimits::unsynced_client_ttl`).
    /// Every instance sweeps; sweeps that meet delete each row once (the loser runs again and
    /// finds nothing left), and a sweep never deletes what a request still needs: a retained
    /// batch or an open invite.
    pub(crate) fn sweep(&self, now: i64) -> Result<(), ServerError> {
        retry_conflicts(|| {
            let mut tx = self.storage.write()?;
            let batches = tx.prune_batches(now - BATCH_RETENTION_S)?;
            let invites = private::directory::invites_changing(
                &mut *tx,
                InviteSet::ExpiredAt(now),
                &[],
                now,
                |tx| tx.prune_invites(now),
            )?;
            let unsynced = tx.prune_unsynced_clients(now - self.unsynced_ttl_s())?;
            let filter_log = tx.prune_filter_log(now - private::FILTER_LOG_RETENTION_S)?;
            // A keyed-hash instance still running beside this one (a rolling switch of mode)
            // may have stored a set since the start: private mode keeps none.
            let (hashes, _) = if self.private.is_some() {
                tx.forget_client_sets()?
            } else {
                (0, 0)
            };
            tx.commit()?;
            tracing::debug!(batches, invites, unsynced, filter_log, hashes, "swept");
            Ok(())
        })
    }
}

/// The path of the public URL without its trailing `/` (`""` at the root): where invite links
/// begin.
fn public_path(public_url: &str) -> String {
    url::Url::parse(public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// The current key and the next one, if any.
fn keys(tx: &mut dyn Transaction) -> Result<(KeyRecord, Option<KeyRecord>), ApiError> {
    let mut current = None;
    let mut next = None;
    for key in tx.keys()? {
        match key.state {
            KeyState::Current => current = Some(key),
            KeyState::Next => next = Some(key),
        }
    }
    let current = current.ok_or_else(|| {
        tracing::error!("the database has no current key");
        ApiError::Internal
    })?;
    Ok((current, next))
}

fn key_info(key: &KeyRecord) -> KeyInfo {
    KeyInfo {
        key_id: key.key_id.clone(),
        state: key.state.as_str().to_owned(),
        users: None,
        identifiers: None,
    }
}

fn new_key(state: KeyState, now: i64) -> Result<KeyRecord, ServerError> {
    Ok(KeyRecord {
        key_id: random_id::<9>("k_")?,
        secret: random_bytes::<32>()?.to_vec(),
        state,
        created_at: now,
        oprf: None,
    })
}

fn hash_key(key: &KeyRecord) -> Result<HashKey, ApiError> {
    HashKey::new(key.key_id.as_str(), &key.secret).map_err(|e| {
        tracing::error!(error = %e, "a stored key is unusable");
        ApiError::Internal
    })
}

/// The user's hashes under the current key.
fn current_hashes(
    tx: &mut dyn Transaction,
    user_ref: &str,
    current: &KeyRecord,
) -> Result<BTreeSet<Digest>, ApiError> {
    Ok(tx
        .user_hashes(user_ref)?
        .into_iter()
        .filter(|(key_id, _)| *key_id == current.key_id)
        .map(|(_, d)| d)
        .collect())
}

/// Who `digests` belong to now: discoverable users, then open invites' creators.
fn lookup(
    tx: &mut dyn Transaction,
    key_id: &str,
    digests: &[Digest],
    now: i64,
) -> Result<HashMap<Digest, String>, ApiError> {
    let mut owners = tx.open_invite_owners(key_id, digests, now)?;
    owners.extend(tx.visible_users(key_id, digests)?);
    Ok(owners)
}

/// A change for every hash whose visible owner differs between `before` and `after`.
fn record_changes(
    tx: &mut dyn Transaction,
    key_id: &str,
    digests: &[Digest],
    before: &HashMap<Digest, String>,
    after: &HashMap<Digest, String>,
    now: i64,
) -> Result<(), ApiError> {
    for d in digests {
        let now_owner = after.get(d);
        if before.get(d) != now_owner {
            tx.append_change(key_id, d, now_owner.map(String::as_str), None, now)?;
        }
    }
    Ok(())
}

fn check_user_ref(user_ref: &str) -> Result<(), ApiError> {
    if valid_user_ref(user_ref) {
        Ok(())
    } else {
        Err(ApiError::malformed(
            "user_ref must be 1 to 128 printable ASCII characters",
        ))
    }
}

fn seconds(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(1).max(1)
}

/// The digests of a request's hashes. A 32-byte hash is a client from before truncation: its
/// prefix is the digest this server keeps, so it is taken (and answered as it was sent).
fn parse_hashes(hashes: &[WireHash], field: &str) -> Result<Vec<Digest>, ApiError> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            Digest::from_wire(hash.as_bytes()).ok_or_else(|| {
                ApiError::malformed(format!(
                    "{field}[{i}] is not a hash (16 bytes: 22 characters of unpadded base64url \
                     in JSON, a byte string in CBOR)"
                ))
            })
        })
        .collect()
}

/// Decimal digits only (no sign, no spaces), at most 20 of them.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A request body with the encoding its `Content-Type` names (the HTTP layer refused any other
/// media type with `415`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Payload<'a> {
    pub bytes: &'a [u8],
    pub encoding: Encoding,
}

#[cfg(test)]
impl<'a> Payload<'a> {
    /// A JSON body (tests).
    pub(crate) fn json(bytes: &'a [u8]) -> Self {
        Payload {
            bytes,
            encoding: Encoding::Json,
        }
    }
}

/// A body as `T`; `malformed` names the position and, for a missing field, the field (a field
/// of ours), never a value of the request.
pub(crate) fn parse_body<T: DeserializeOwned>(body: Payload<'_>) -> Result<T, ApiError> {
    body.encoding
        .decode(body.bytes)
        .map_err(|e| ApiError::Malformed(e.0))
}

/// Like [`parse_body`], with an empty body read as the default (requests whose every field is
/// optional; a client may send them without a body).
fn parse_body_or_default<T: DeserializeOwned + Default>(body: Payload<'_>) -> Result<T, ApiError> {
    if body.bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only parsed")]
        struct T {
            n: u32,
        }
        let secret = "+4915123456789";
        for body in [
            format!(r#"{{"n": "{secret}"}}"#),
            format!(r#"{{"{secret}": 1}}"#),
            format!(r#"{{"n": 1, "x": "{secret}""#),
        ] {
            let ApiError::Malformed(message) =
                parse_body::<T>(Payload::json(body.as_bytes())).unwrap_err()
            else {
                panic!("not malformed");
            };
            assert!(!message.contains(secret), "{message}");
        }
        let ApiError::Malformed(message) = parse_body::<T>(Payload::json(b"{}")).unwrap_err()
        else {
            panic!("not malformed");
        };
        assert!(message.contains("missing field n"), "{message}");
    }
}
