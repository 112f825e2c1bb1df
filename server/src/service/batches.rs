//! `POST /v1/batches`: a device's set of hashes, replaced (`full`) or changed (`delta`), with
//! the matches among what it added — within the day's quota (and the rotation allowance), the
//! bound on a set, and for an openly registered device its address's day. A batch id makes a
//! retry safe: a replay gets the stored answer byte for byte, without being charged.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use contactsync_core::Digest;
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::{BatchAnswer, BatchRequest, MatchEntry, Mode};

use super::auth::Bearer;
use super::{DAY, Payload, Service, keys, lookup, parse_body, parse_hashes, seconds};
use crate::error::{ApiError, LimitReason};
use crate::http::extract::{Accepts, Body, ClientAddr, blocking, encoded, encoded_bytes};
use crate::storage::{ClientRecord, Scope, StoredBatch, Transaction, Usage, retry_conflicts};
use crate::util::{same_digest, sha256, valid_batch_id};

pub(super) fn routes() -> Vec<super::Route> {
    vec![("/v1/batches", post(batches))]
}

/// The token is authenticated by [`Service::post_batch`] itself, in the read transaction that
/// looks for a replay. The answer is stored as JSON (a replay gets it byte for byte); a client
/// that accepts CBOR gets it re-encoded.
async fn batches(
    State(service): State<Arc<Service>>,
    Bearer(token): Bearer,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer =
        blocking(move || service.post_batch(token.as_deref(), body.payload(), from)).await?;
    match accepts.0 {
        Encoding::Json => Ok(encoded_bytes(Encoding::Json, StatusCode::OK, answer)),
        Encoding::Cbor => {
            let answer: BatchAnswer = Encoding::Json
                .decode(&answer)
                .map_err(|_| ApiError::Internal)?;
            encoded(accepts, StatusCode::OK, &answer)
        }
    }
}

/// What a batch's adds cost, decided before anything is written.
#[derive(Debug)]
struct QuotaPlan {
    /// Adds the set held already (neither charged nor counted as added).
    already_held: u64,
    /// Adds the set did not hold.
    new_hashes: u64,
    /// Of those, the ones charged against the day's budget.
    charged: u64,
    /// The rotation allowance left after this batch.
    allowance: u64,
    /// The counters with this batch charged.
    usage: Usage,
}

impl Service {
    /// `POST /v1/batches` from the token on: authentication, the rate, the batch.
    ///
    /// A replay (a batch id stored with the same body) is answered before the rate is charged:
    /// "changes nothing" holds for the rate counter too, and a replay costs the server one
    /// lookup in a read transaction.
    fn post_batch(
        &self,
        token: Option<&str>,
        body: Payload<'_>,
        from: Option<IpAddr>,
    ) -> Result<Vec<u8>, ApiError> {
        // One read transaction authenticates and looks for a replay.
        let client = {
            let mut read = self.storage.read()?;
            let client = self.client_in(&mut *read, token)?;
            self.refuse_hashed()?;
            let batch_id = body
                .encoding
                .decode::<BatchRequest>(body.bytes)
                .ok()
                .map(|r| r.batch_id);
            if let Some(batch_id) = &batch_id
                && let Some(stored) = read.batch(&client.client_id, batch_id)?
                && same_digest(&stored.body_sha256, &sha256(body.bytes))
            {
                return Ok(stored.answer);
            }
            client
        };
        self.charge_request(&client.client_id)?;
        retry_conflicts(|| self.batch(&client, body, from))
    }

    /// A batch of an authenticated client: the exact answer bytes (stored, for a replay to get
    /// them again).
    fn batch(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        from: Option<IpAddr>,
    ) -> Result<Vec<u8>, ApiError> {
        let request: BatchRequest = parse_body(body)?;
        if request.add.len() + request.remove.len() > self.limits.max_batch as usize {
            return Err(self.too_large());
        }
        if !valid_batch_id(&request.batch_id) {
            return Err(ApiError::malformed(
                "batch_id must be 1 to 64 of A-Z, a-z, 0-9, _ and -",
            ));
        }
        if request.mode == Mode::Full && !request.remove.is_empty() {
            return Err(ApiError::malformed("a full batch cannot remove"));
        }
        // The dummies are read as hashes (a body of the wrong shape is refused whole), then
        // dropped: nothing of them is stored, but they are charged like new identifiers.
        let padding = request.padding.unwrap_or(0);
        let real = request
            .add
            .len()
            .checked_sub(padding as usize)
            .ok_or_else(|| ApiError::malformed("padding counts more entries than add has"))?;
        let mut add = parse_hashes(&request.add, "add")?;
        add.truncate(real);
        let remove = parse_hashes(&request.remove, "remove")?;
        let mut seen = HashSet::with_capacity(add.len() + remove.len());
        if !add.iter().chain(&remove).all(|d| seen.insert(*d)) {
            return Err(ApiError::malformed(
                "a hash appears twice in the batch, or in both add and remove",
            ));
        }
        let body_sha256 = sha256(body.bytes);

        let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
        // The day the quota counts in is read inside the transaction (see `charge_request`).
        let now = self.now();
        let client = tx
            .client(&client.client_id)?
            .ok_or(ApiError::Unauthorized)?;
        let id = client.client_id.as_str();
        // Idempotency comes first: a replay gets its answer even after a rotation or midnight.
        if let Some(stored) = tx.batch(id, &request.batch_id)? {
            return if same_digest(&stored.body_sha256, &body_sha256) {
                Ok(stored.answer)
            } else {
                Err(ApiError::BatchConflict)
            };
        }
        let (current, _) = keys(&mut *tx)?;
        if request.key_id != current.key_id {
            return Err(ApiError::KeyRotated {
                key_id: current.key_id,
            });
        }

        let quota = self.plan_quota(
            &mut *tx,
            &client,
            &current.key_id,
            request.mode,
            (&add, padding),
            now,
        )?;
        // An openly registered device's new identifiers also count against its address's day.
        let reserved = self.reserve_for_open(&client, from, quota.charged, now)?;
        let removed = match request.mode {
            Mode::Full => tx.clear_set(id)? - quota.already_held,
            Mode::Delta => tx.remove_from_set(id, &remove)?,
        };
        tx.add_to_set(id, &add)?;
        self.check_set_size(&mut *tx, id, quota.new_hashes)?;
        tx.put_usage(id, &quota.usage)?;
        tx.update_client_set(id, &current.key_id, quota.allowance)?;
        let owners = lookup(&mut *tx, &current.key_id, &add, now)?;
        let matches = request
            .add
            .iter()
            .zip(&add)
            .filter_map(|(text, d)| {
                owners.get(d).map(|user_ref| MatchEntry {
                    hash: text.clone(),
                    user_ref: user_ref.clone(),
                })
            })
            .collect();
        let answer = BatchAnswer {
            batch_id: request.batch_id,
            key_id: request.key_id,
            added: u32::try_from(quota.new_hashes).unwrap_or(u32::MAX),
            removed: u32::try_from(removed).unwrap_or(u32::MAX),
            matches,
            remaining_today: self
                .remaining_for(&client, from, Some(quota.usage), now)
                .saturating_add(u32::try_from(quota.allowance).unwrap_or(u32::MAX)),
        };
        let answer_bytes = serde_json::to_vec(&answer).map_err(|_| ApiError::Internal)?;
        tx.insert_batch(
            id,
            &answer.batch_id,
            &StoredBatch {
                body_sha256,
                answer: answer_bytes.clone(),
            },
            now,
        )?;
        tx.commit()?;
        reserved.keep();
        crate::metrics::batch_applied(answer.added, answer.removed, answer.matches.len());
        Ok(answer_bytes)
    }

    /// The quota for a batch adding `add` with `padding` dummies, or `daily_quota` when it does
    /// not fit whole.
    ///
    /// A hash is charged when it was not in the set before this batch, and every dummy is (so
    /// the quota counts what a padded book costs, in both modes alike). After a rotation, a full
    /// batch replacing a set made under an older key grants the old set's size as free adds,
    /// spent by this batch and the deltas of the same re-sync ("a key rotation does not cost a
    /// device its day"); a full batch under the same key grants nothing, or a client could
    /// empty and refill its set for free.
    fn plan_quota(
        &self,
        tx: &mut dyn Transaction,
        client: &ClientRecord,
        current_key_id: &str,
        mode: Mode,
        (add, padding): (&[Digest], u32),
        now: i64,
    ) -> Result<QuotaPlan, ApiError> {
        let id = client.client_id.as_str();
        let already_held = tx.set_members(id, add)?.len() as u64;
        let new_hashes = add.len() as u64 - already_held;
        let cost = new_hashes + u64::from(padding);
        let mut allowance = match mode {
            Mode::Full => {
                let older_key = client
                    .set_key_id
                    .as_deref()
                    .is_some_and(|k| k != current_key_id);
                if older_key { tx.set_size(id)? } else { 0 }
            }
            Mode::Delta => client.rekey_allowance,
        };
        let free = cost.min(allowance);
        allowance -= free;
        let charged = cost - free;
        let usage = self.charge_day(tx.usage(id)?, charged, now)?;
        Ok(QuotaPlan {
            already_held,
            new_hashes,
            charged,
            allowance,
            usage,
        })
    }

    /// The day's counter with `charged` more new identifiers, or `daily_quota` when they do not
    /// fit (a batch's new hashes, or private discovery's evaluations: one budget).
    pub(super) fn charge_day(
        &self,
        usage: Option<Usage>,
        charged: u64,
        now: i64,
    ) -> Result<Usage, ApiError> {
        // The day moves only forward (as the rate window does in `charge_request`).
        let day = now.div_euclid(DAY);
        let mut usage = usage.unwrap_or_default();
        if day > usage.quota_day {
            usage.quota_day = day;
            usage.quota_used = 0;
        }
        if usage.quota_used + charged > u64::from(self.limits.daily_new_identifiers) {
            crate::metrics::quota_deferred(charged);
            return Err(ApiError::TooManyRequests {
                retry_after_s: seconds((usage.quota_day + 1) * DAY - now),
                reason: LimitReason::DailyQuota,
            });
        }
        usage.quota_used += charged;
        Ok(usage)
    }

    /// What is left of today's budget. A stored day ahead of `now`'s (another instance's
    /// clock) is the day that counts: windows only move forward.
    pub(super) fn remaining_today(&self, usage: Option<Usage>, now: i64) -> u32 {
        let used = usage
            .filter(|u| u.quota_day >= now.div_euclid(DAY))
            .map_or(0, |u| u.quota_used);
        let left = u64::from(self.limits.daily_new_identifiers).saturating_sub(used);
        u32::try_from(left).unwrap_or(u32::MAX)
    }
}
