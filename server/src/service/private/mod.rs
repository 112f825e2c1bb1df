//! Private discovery (docs/protocol.md, "Private discovery"): the server evaluates its OPRF on
//! blinded elements it cannot read, publishes a filter of its users' tags, and answers lookups of
//! the filter's hits — so it never learns a contact who is not a user.
//!
//! Routes: `POST /v1/private/evaluate`, `POST /v1/private/lookup` (here),
//! `GET /v1/private/filter` and `GET /v1/private/filter/changes` (`filter`); the keys' OPRF
//! halves and the users' values are `directory`'s. Every route is a device's, and answers
//! `404 private_disabled` while the mode is off.
//!
//! **What the server keeps per device in this mode**: its registration, the day's counter (one
//! budget with the hashed mode's) and its evaluation counters (the epoch allowance). Nothing of
//! what it evaluated or looked up.

pub(crate) mod directory;
mod filter;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use contactsync_core::oprf::{Element, SUITE, SecretKey};
use contactsync_core::protocol::private::{
    Bytes, EvaluateAnswer, EvaluateRequest, LookupAnswer, LookupMatch, LookupRequest, PrivateConfig,
};
use rand_core::OsRng;

use super::auth::Device;
use super::{DAY, Payload, Route, Service, keys, parse_body};
use crate::PrivateDiscoveryConfig;
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, ClientAddr, blocking, encoded, transact};
use crate::storage::{ClientRecord, KeyRecord, PrivateUsage, Scope, Transaction, retry_conflicts};

pub(crate) use filter::FilterCache;

/// How long the filter's log is kept: a client that synced within it gets changes, an older one
/// downloads the whole filter (`410 filter_stale`).
pub(crate) const FILTER_LOG_RETENTION_S: i64 = 30 * DAY;

/// The mode's settings and its filter cache.
pub(crate) struct Private {
    buckets: Vec<u32>,
    shard_bits: u8,
    filters: FilterCache,
}

impl Private {
    pub(crate) fn new(config: &PrivateDiscoveryConfig) -> Self {
        Private {
            buckets: config.buckets.clone(),
            shard_bits: config.shard_bits,
            filters: FilterCache::new(config.filter_rebuild, config.shard_bits),
        }
    }

    /// Refuses a request whose element count is not a bucket (a client pads to one).
    fn check_bucket(&self, n: usize) -> Result<(), ApiError> {
        if self.buckets.iter().any(|b| *b as usize == n) {
            Ok(())
        } else {
            Err(ApiError::malformed(
                "the element count is not one of the buckets (GET /v1/config)",
            ))
        }
    }
}

pub(super) fn routes() -> Vec<Route> {
    let mut routes = vec![
        ("/v1/private/evaluate", post(evaluate)),
        ("/v1/private/lookup", post(lookup)),
    ];
    routes.extend(filter::routes());
    routes
}

async fn evaluate(
    State(service): State<Arc<Service>>,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    Device { client, body }: Device<Body>,
) -> Result<Response, ApiError> {
    let answer = blocking(move || service.evaluate(&client, body.payload(), from)).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn lookup(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Device { body, .. }: Device<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.lookup(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// With the mode on, deletes what devices uploaded in an earlier keyed-hash period — every
    /// set of hashes and stored batch answer — in one transaction; a no-op with it off.
    ///
    /// It runs when the server starts (before it serves) and with every sweep, not at a
    /// device's first request in this mode: a device that never comes back would otherwise
    /// keep its hashes on the server for good, and every request would pay for the check.
    /// The mode is the server's, so at start every device's old set is as dead as any other's.
    pub(super) fn forget_hashed_sets(&self) -> Result<(), crate::error::ServerError> {
        if self.private.is_none() {
            return Ok(());
        }
        let (hashes, batches) = retry_conflicts(|| {
            let mut tx = self.storage.write()?;
            let deleted = tx.forget_client_sets()?;
            tx.commit()?;
            Ok::<_, crate::error::ServerError>(deleted)
        })?;
        if hashes + batches > 0 {
            tracing::info!(
                hashes,
                batches,
                "private discovery: deleted the devices' sets of hashes and batch answers of the \
                 keyed-hash mode"
            );
        }
        Ok(())
    }

    /// The keyed-hash mode's routes that store a device's hashes answer `404 hashed_disabled`
    /// while this mode is on: the server keeps nothing per device but its registration and
    /// counters.
    pub(super) fn refuse_hashed(&self) -> Result<(), ApiError> {
        if self.private.is_some() {
            Err(ApiError::HashedDisabled)
        } else {
            Ok(())
        }
    }

    /// The mode's state, or `private_disabled`.
    fn private(&self) -> Result<&Private, ApiError> {
        self.private.as_ref().ok_or(ApiError::PrivateDisabled)
    }

    /// `GET /v1/config`'s `private` object (the current key's epoch, public key, the buckets
    /// and the cached filter's version), `None` when the mode is off.
    pub(super) fn private_config(
        &self,
        current: &KeyRecord,
    ) -> Result<Option<PrivateConfig>, ApiError> {
        let Some(private) = &self.private else {
            return Ok(None);
        };
        let (epoch, secret) = current_secret(current)?;
        let snapshot = private.filters.snapshot(self.storage.as_ref(), epoch)?;
        Ok(Some(PrivateConfig {
            suite: SUITE.to_owned(),
            epoch,
            public_key: Bytes(secret.public_key().to_bytes()),
            buckets: private.buckets.clone(),
            filter_version: snapshot.version,
            shard_bits: private.shard_bits,
        }))
    }

    /// What a client may still evaluate free in the current epoch: what is left of the
    /// allowance, or, before its first evaluation in it, what it evaluated in its last.
    pub(super) fn private_allowance(
        &self,
        tx: &mut dyn Transaction,
        client_id: &str,
        current: &KeyRecord,
    ) -> Result<u64, ApiError> {
        if self.private.is_none() {
            return Ok(0);
        }
        let epoch = current_epoch_of(current)?;
        Ok(tx
            .private_usage(client_id)?
            .map_or(0, |u| entered(u, epoch).allowance))
    }

    /// `POST /v1/private/evaluate`: the elements evaluated under the current epoch's key with a
    /// batch proof per slice, the padded count charged against the day's budget (less the epoch
    /// allowance). The evaluation runs outside any write transaction; the charge is then made
    /// in one, which checks again that the epoch did not change meanwhile.
    fn evaluate(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        from: Option<IpAddr>,
    ) -> Result<EvaluateAnswer, ApiError> {
        let private = self.private()?;
        let request: EvaluateRequest = parse_body(body)?;
        private.check_bucket(request.elements.len())?;
        let elements: Vec<Element> = request.elements.iter().map(|e| Element(e.0)).collect();
        let secret = {
            let mut tx = self.storage.read()?;
            let (current, _) = keys(&mut *tx)?;
            let (epoch, secret) = current_secret(&current)?;
            if request.epoch != epoch {
                return Err(ApiError::EpochRotated);
            }
            // Refused now if the budget cannot pay: no evaluation for a client out of quota.
            self.plan_evaluation(&mut *tx, client, epoch, elements.len() as u64)?;
            secret
        };
        let (evaluated, proofs) = secret
            .evaluate_batch(&elements, &mut OsRng)
            .map_err(|_| ApiError::malformed("an element is not a valid group element"))?;
        let remaining_today = retry_conflicts(|| {
            let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
            let (current, _) = keys(&mut *tx)?;
            if current_epoch_of(&current)? != request.epoch {
                return Err(ApiError::EpochRotated);
            }
            let id = client.client_id.as_str();
            let client = tx.client(id)?.ok_or(ApiError::Unauthorized)?;
            let plan =
                self.plan_evaluation(&mut *tx, &client, request.epoch, elements.len() as u64)?;
            let now = self.now();
            let reserved = self.reserve_for_open(&client, from, plan.charged, now)?;
            tx.put_usage(id, &plan.usage)?;
            tx.put_private_usage(id, &plan.counters)?;
            tx.commit()?;
            reserved.keep();
            Ok(self
                .remaining_for(&client, from, Some(plan.usage), now)
                .saturating_add(u32::try_from(plan.counters.allowance).unwrap_or(u32::MAX)))
        })?;
        Ok(EvaluateAnswer {
            epoch: request.epoch,
            evaluated: evaluated.into_iter().map(Bytes::from).collect(),
            proofs: proofs.into_iter().map(Bytes).collect(),
            remaining_today,
        })
    }

    /// What evaluating `n` elements costs the client in `epoch`, or `daily_quota` (an openly
    /// registered device's address's day is reserved by the caller, as for a batch).
    fn plan_evaluation(
        &self,
        tx: &mut dyn Transaction,
        client: &ClientRecord,
        epoch: u32,
        n: u64,
    ) -> Result<EvaluationPlan, ApiError> {
        let now = self.now();
        let id = client.client_id.as_str();
        let mut counters = entered(tx.private_usage(id)?.unwrap_or_default(), epoch);
        let free = n.min(counters.allowance);
        counters.allowance -= free;
        counters.evaluated = counters.evaluated.saturating_add(n);
        let charged = n - free;
        let usage = self.charge_day(tx.usage(id)?, charged, now)?;
        Ok(EvaluationPlan {
            charged,
            usage,
            counters,
        })
    }

    /// `POST /v1/private/lookup`: which of the lookups are discoverable users' in the current
    /// epoch (a read transaction: nothing is written, nothing of the request is kept).
    fn lookup(&self, body: Payload<'_>, now: i64) -> Result<LookupAnswer, ApiError> {
        let private = self.private()?;
        let request: LookupRequest = parse_body(body)?;
        private.check_bucket(request.lookups.len())?;
        let mut tx = self.storage.read()?;
        let (current, _) = keys(&mut *tx)?;
        let epoch = current_epoch_of(&current)?;
        if request.epoch != epoch {
            return Err(ApiError::EpochRotated);
        }
        let lookups: Vec<[u8; 16]> = request.lookups.iter().map(|l| l.0).collect();
        let users = tx.prf_users(epoch, &lookups, now)?;
        // Each match once, in the order of the request.
        let mut listed = HashSet::new();
        let matches = lookups
            .iter()
            .filter_map(|l| {
                let user_ref = users.get(l)?;
                listed.insert(*l).then(|| LookupMatch {
                    lookup: Bytes(*l),
                    user_ref: user_ref.clone(),
                })
            })
            .collect();
        Ok(LookupAnswer { epoch, matches })
    }
}

/// An evaluation's cost, decided before anything is written.
struct EvaluationPlan {
    /// Charged against the day's budget.
    charged: u64,
    /// The day's counter with it.
    usage: crate::storage::Usage,
    /// The evaluation counters with it.
    counters: PrivateUsage,
}

/// A client's counters in `epoch`: the first time it evaluates in a new epoch, what it
/// evaluated in its last becomes its allowance (re-evaluating its book once is free).
fn entered(usage: PrivateUsage, epoch: u32) -> PrivateUsage {
    if usage.epoch == epoch {
        usage
    } else {
        PrivateUsage {
            epoch,
            evaluated: 0,
            allowance: usage.evaluated,
        }
    }
}

/// The current key's epoch and OPRF secret. With the mode on, every instance gives the current
/// key one at start; a key without one was made by an instance with the mode off.
fn current_secret(current: &KeyRecord) -> Result<(u32, SecretKey), ApiError> {
    directory::secret_of(current)?.ok_or_else(|| no_epoch(current))
}

/// The current key's epoch alone: what the routes that only compare epochs need, without
/// rebuilding the key (which derives its public half, a scalar multiplication, per request).
fn current_epoch_of(current: &KeyRecord) -> Result<u32, ApiError> {
    current
        .oprf
        .as_ref()
        .map(|o| o.epoch)
        .ok_or_else(|| no_epoch(current))
}

fn no_epoch(current: &KeyRecord) -> ApiError {
    tracing::error!(
        key_id = %current.key_id,
        "the current key has no private discovery epoch: is private discovery on in every \
         instance?"
    );
    ApiError::Internal
}
