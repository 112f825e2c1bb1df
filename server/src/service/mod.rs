//! The protocol's rules (docs/protocol.md), written once against the storage seam.
//!
//! Every method is blocking (the HTTP layer calls it on tokio's blocking pool) and makes each
//! request's state change in one write transaction: a refusal rolls everything back, so a refused
//! batch changes nothing, not even the quota.
//!
//! A client request is authentication (a read transaction), the rate counter (counted outside
//! any transaction, even when the request itself is then refused, so malformed requests count
//! against the rate too), then the request's own transaction. The one exception is a batch
//! replay, answered from a read transaction without charging anything: a replay changes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contactsync_core::hash::DIGEST_LEN;
use contactsync_core::identifier::invite;
use contactsync_core::protocol::encoding::{self, Encoding};
use contactsync_core::protocol::wire::{
    BatchAnswer, BatchRequest, ChangesAnswer, ConfigAnswer, DeleteReceipt, InviteAnswer,
    InviteRequest, KeyInfo, Limits, MatchAnswer, MatchEntry, MatchRequest, Mode, RedeemAnswer,
    RedeemRequest, RevokeAnswer, WireHash,
};
use contactsync_core::{Digest, HashKey, IdentifierKind};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, LimitReason, ServerError};
use crate::storage::{
    ClientRecord, KeyRecord, KeyState, Scope, Storage, StoredBatch, Transaction, Usage,
    retry_conflicts,
};
pub(crate) mod admin_credential;
mod clients;
mod keys;
mod registration;
mod users;

use admin_credential::AdminCredential;

use crate::registration::Registrations;

use crate::util::{random_bytes, random_id, same_digest, sha256, valid_batch_id, valid_user_ref};
use crate::{Clock, IpNet, LimitsConfig, ServerConfig};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
/// How long batch answers are kept for idempotency.
pub(crate) const BATCH_RETENTION_S: i64 = 30 * DAY;
const DEFAULT_INVITE_TTL_S: u32 = 7 * 86_400;
const MAX_INVITE_TTL_S: u32 = 30 * 86_400;
/// Default and largest page of `GET /v1/changes`.
const MAX_CHANGES_LIMIT: u32 = 1000;
/// Random bytes per invite code: 80 bits, 16 data characters plus the check character.
const INVITE_ENTROPY_BYTES: usize = 10;

/// Who made a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The app's backend.
    Admin,
    /// A device.
    Client(ClientRecord),
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
    pub(crate) fn ensure_key(&self, now: i64) -> Result<(), ServerError> {
        retry_conflicts(|| {
            let mut tx = self.storage.write()?;
            if tx.keys()?.iter().any(|k| k.state == KeyState::Current) {
                return Ok(());
            }
            let key = new_key(KeyState::Current, now)?;
            tx.insert_key(&key)?;
            tx.commit()?;
            tracing::info!(key_id = %key.key_id, "created the first hashing key");
            Ok(())
        })
    }

    /// `GET /readyz`: the storage answers and is at this server's schema version.
    pub(crate) fn ready(&self) -> Result<(), ServerError> {
        self.storage.ready()
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
            let invites = tx.prune_invites(now)?;
            let unsynced = tx.prune_unsynced_clients(now - self.unsynced_ttl_s())?;
            tx.commit()?;
            tracing::debug!(batches, invites, unsynced, "swept");
            Ok(())
        })
    }

    // --- authentication ---

    /// A new stored admin token, the old one revoked (`POST /v1/admin/token`).
    pub(crate) fn rotate_admin_token(&self) -> Result<String, ApiError> {
        self.admin.rotate(self.storage.as_ref(), self.now())
    }

    /// A client token's client, charging the request against its rate.
    pub(crate) fn authenticate_client(
        &self,
        token: Option<&str>,
    ) -> Result<ClientRecord, ApiError> {
        let client = self.client_of(token)?;
        self.charge_request(&client.client_id)?;
        Ok(client)
    }

    /// The client a client token belongs to, read in a read transaction: authenticating never
    /// waits for a writer, nor for the disk.
    fn client_of(&self, token: Option<&str>) -> Result<ClientRecord, ApiError> {
        self.client_in(&mut *self.storage.read()?, token)
    }

    /// [`Service::client_of`] in a transaction the caller reads more with.
    fn client_in(
        &self,
        tx: &mut dyn Transaction,
        token: Option<&str>,
    ) -> Result<ClientRecord, ApiError> {
        match self.caller_in(tx, token)? {
            Caller::Client(client) => Ok(client),
            Caller::Admin => Err(ApiError::Forbidden("this endpoint needs a client token")),
        }
    }

    /// Whose token it is: a device's (one lookup: the common case asks nothing more), else the
    /// admin's, else nobody's (`unauthorized`).
    fn caller_in(&self, tx: &mut dyn Transaction, token: Option<&str>) -> Result<Caller, ApiError> {
        let token = token.ok_or(ApiError::Unauthorized)?;
        match tx.client_by_token(&sha256(token.as_bytes()))? {
            Some(client) => Ok(Caller::Client(client)),
            None if self.admin.check_cached(self.storage.as_ref(), token)? => Ok(Caller::Admin),
            None => Err(ApiError::Unauthorized),
        }
    }

    /// `POST /v1/batches` from the token on: authentication, the rate, the batch.
    ///
    /// A replay (a batch id stored with the same body) is answered before the rate is charged:
    /// "changes nothing" holds for the rate counter too, and a replay costs the server one
    /// lookup in a read transaction.
    pub(crate) fn post_batch(
        &self,
        token: Option<&str>,
        body: Payload<'_>,
        from: Option<IpAddr>,
    ) -> Result<Vec<u8>, ApiError> {
        // One read transaction authenticates and looks for a replay.
        let client = {
            let mut read = self.storage.read()?;
            let client = self.client_in(&mut *read, token)?;
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

    /// The admin token, or `forbidden` for a client token, `unauthorized` for anything else.
    pub(crate) fn authenticate_admin(&self, token: Option<&str>) -> Result<(), ApiError> {
        let token = token.ok_or(ApiError::Unauthorized)?;
        if self.admin.check(self.storage.as_ref(), token)? {
            return Ok(());
        }
        let mut tx = self.storage.read()?;
        if tx.client_by_token(&sha256(token.as_bytes()))?.is_some() {
            Err(ApiError::Forbidden(
                "a client token cannot use the admin API",
            ))
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// The admin token or a client token (`GET /v1/config`).
    pub(crate) fn authenticate_any(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        let caller = self.caller_in(&mut *self.storage.read()?, token)?;
        if let Caller::Client(client) = &caller {
            self.charge_request(&client.client_id)?;
        }
        Ok(caller)
    }

    /// Counts a request in the client's one-minute window; refuses it when the window is full.
    ///
    /// The count lives where every instance sharing the storage sees it
    /// ([`Storage::count_request`]), outside any transaction: counting waits for neither a
    /// writer nor the disk. A refused request counts too, so hammering a full window keeps it
    /// full; the window only moves forward (another instance's clock a little behind counts in
    /// the newer window).
    fn charge_request(&self, client_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let (minute, count) = self
            .storage
            .count_request(client_id, now.div_euclid(MINUTE))?;
        if count > self.limits.requests_per_minute {
            return Err(ApiError::TooManyRequests {
                retry_after_s: seconds((minute + 1) * MINUTE - now),
                reason: LimitReason::Rate,
            });
        }
        Ok(())
    }

    /// What is left of today's budget. A stored day ahead of `now`'s (another instance's
    /// clock) is the day that counts: windows only move forward.
    fn remaining_today(&self, usage: Option<Usage>, now: i64) -> u32 {
        let used = usage
            .filter(|u| u.quota_day >= now.div_euclid(DAY))
            .map_or(0, |u| u.quota_used);
        let left = u64::from(self.limits.daily_new_identifiers).saturating_sub(used);
        u32::try_from(left).unwrap_or(u32::MAX)
    }

    // --- config ---

    /// `GET /v1/config`.
    pub(crate) fn config(
        &self,
        caller: &Caller,
        from: Option<IpAddr>,
    ) -> Result<ConfigAnswer, ApiError> {
        let mut tx = self.storage.read()?;
        let now = self.now();
        let (current, _) = keys(&mut *tx)?;
        let remaining_today = match caller {
            Caller::Admin => self.limits.daily_new_identifiers,
            Caller::Client(c) => {
                // After a rotation, the old set's size is free for the re-sync: a client plans
                // its additions by this figure, so it includes what is left of that allowance.
                let allowance = if c.set_key_id.as_deref().is_some_and(|k| k != current.key_id) {
                    tx.set_size(&c.client_id)?
                } else {
                    c.rekey_allowance
                };
                self.remaining_for(c, from, tx.usage(&c.client_id)?, now)
                    .saturating_add(u32::try_from(allowance).unwrap_or(u32::MAX))
            }
        };
        let l = self.limits;
        Ok(ConfigAnswer {
            key_id: current.key_id,
            key: URL_SAFE_NO_PAD.encode(&current.secret),
            hash: "hmac-sha256".to_owned(),
            context: contactsync_core::hash::CONTEXT.to_owned(),
            digest_bytes: u32::try_from(DIGEST_LEN).ok(),
            encodings: vec![encoding::CBOR.to_owned()],
            private: None,
            limits: Limits {
                max_batch: l.max_batch,
                max_body_bytes: l.max_body_bytes,
                daily_new_identifiers: l.daily_new_identifiers,
                remaining_today,
                check_interval_s: l.check_interval_s,
                requests_per_minute: l.requests_per_minute,
            },
        })
    }

    // --- batches ---

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
        let add = parse_hashes(&request.add, "add")?;
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

        let quota = self.plan_quota(&mut *tx, &client, &current.key_id, request.mode, &add, now)?;
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

    /// The quota for a batch adding `add`, or `daily_quota` when it does not fit whole.
    ///
    /// A hash is charged when it was not in the set before this batch. After a rotation, a full
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
        add: &[Digest],
        now: i64,
    ) -> Result<QuotaPlan, ApiError> {
        let id = client.client_id.as_str();
        let already_held = tx.set_members(id, add)?.len() as u64;
        let new_hashes = add.len() as u64 - already_held;
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
        let free = new_hashes.min(allowance);
        allowance -= free;
        let charged = new_hashes - free;
        // The day moves only forward (as the rate window does in `charge_request`).
        let day = now.div_euclid(DAY);
        let mut usage = tx.usage(id)?.unwrap_or_default();
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
        Ok(QuotaPlan {
            already_held,
            new_hashes,
            charged,
            allowance,
            usage,
        })
    }

    // --- changes ---

    /// `GET /v1/changes?since=&limit=`.
    pub(crate) fn changes(
        &self,
        client: &ClientRecord,
        query: Option<&str>,
    ) -> Result<ChangesAnswer, ApiError> {
        let (since, limit) = parse_changes_query(query.unwrap_or(""))?;
        let mut tx = self.storage.read()?;
        let head = tx.head_seq()?;
        // A client's first cursor is where its feed begins, not the head: changes addressed to
        // it since it registered (a redeemed invite of its) come with its next call.
        let Some(since) = since else {
            return Ok(ChangesAnswer {
                gained: Vec::new(),
                lost: Vec::new(),
                cursor: client.feed_start.min(head).to_string(),
                more: false,
            });
        };
        let mut rows = tx.changes_for(&client.client_id, since, limit + 1)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        // Without more, everything up to the head of this snapshot has been looked at: the
        // cursor moves there, so the next call does not scan changes of other clients again
        // (and a cursor from the future is brought back to the head).
        let cursor = match rows.last() {
            Some(last) if more => last.seq,
            _ => head,
        };
        // Each hash once, with its latest state in this page.
        let mut seen = HashSet::new();
        let mut latest: Vec<_> = rows
            .into_iter()
            .rev()
            .filter(|r| seen.insert(r.digest))
            .collect();
        latest.reverse();
        let mut answer = ChangesAnswer {
            gained: Vec::new(),
            lost: Vec::new(),
            cursor: cursor.to_string(),
            more,
        };
        for change in latest {
            match change.user_ref {
                Some(user_ref) => answer.gained.push(MatchEntry {
                    hash: change.digest.into(),
                    user_ref,
                }),
                None => answer.lost.push(change.digest.into()),
            }
        }
        Ok(answer)
    }

    // --- consent ---

    /// `DELETE /v1/client`.
    pub(crate) fn delete_client(
        &self,
        client: &ClientRecord,
        now: i64,
    ) -> Result<DeleteReceipt, ApiError> {
        self.delete_client_with_receipt(&client.client_id, ApiError::Unauthorized, now)
    }

    // --- invites ---

    /// `POST /v1/invites`.
    pub(crate) fn create_invite(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        now: i64,
    ) -> Result<InviteAnswer, ApiError> {
        let request: InviteRequest = parse_body_or_default(body)?;
        let ttl = request.ttl_s.unwrap_or(DEFAULT_INVITE_TTL_S);
        if ttl == 0 || ttl > MAX_INVITE_TTL_S {
            return Err(ApiError::malformed(
                "ttl_s must be 1 to 2592000 seconds (30 days)",
            ));
        }
        let code = invite::from_entropy(&random_bytes::<INVITE_ENTROPY_BYTES>()?);
        let code_sha256 = sha256(code.as_bytes());
        let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
        let client = tx
            .client(&client.client_id)?
            .ok_or(ApiError::Unauthorized)?;
        let user_ref = client
            .user_ref
            .ok_or(ApiError::Forbidden("only a device with a user can invite"))?;
        // Hashed under every key, so the invite stays findable across an activation.
        let (current, next) = keys(&mut *tx)?;
        let mut hashes = Vec::with_capacity(2);
        for key in std::iter::once(&current).chain(next.as_ref()) {
            hashes.push((
                key.key_id.clone(),
                hash_key(key)?.hash_parts(IdentifierKind::Invite, &code),
            ));
        }
        let expires_at = now + i64::from(ttl);
        tx.insert_invite(
            &crate::storage::InviteRecord {
                code_sha256,
                client_id: client.client_id,
                user_ref,
                created_at: now,
                expires_at,
            },
            &hashes,
        )?;
        tx.commit()?;
        crate::metrics::invite_created();
        Ok(InviteAnswer {
            link: format!("{}/i/{code}", self.public_url),
            code,
            expires_at,
        })
    }

    /// `DELETE /v1/invites/{code}`.
    pub(crate) fn revoke_invite(
        &self,
        client: &ClientRecord,
        code: &str,
        now: i64,
    ) -> Result<RevokeAnswer, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such open invite of this client");
        let code = invite::normalize(code).map_err(|_| UNKNOWN)?;
        let code_sha256 = sha256(code.as_bytes());
        let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
        match tx.invite(&code_sha256)? {
            Some(inv) if inv.client_id == client.client_id && inv.expires_at > now => {
                tx.delete_invite(&code_sha256)?;
                tx.commit()?;
                Ok(RevokeAnswer { revoked: true })
            }
            _ => Err(UNKNOWN),
        }
    }

    /// `POST /v1/invites/redeem`.
    pub(crate) fn redeem_invite(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        now: i64,
    ) -> Result<RedeemAnswer, ApiError> {
        // One answer for unknown, expired, revoked and used codes: a code's state cannot be probed.
        const UNKNOWN: ApiError = ApiError::NotFound("no such open invite");
        let request: RedeemRequest = parse_body(body)?;
        let mut tx = self.storage.write()?;
        let client = tx
            .client(&client.client_id)?
            .ok_or(ApiError::Unauthorized)?;
        let redeemer = client
            .user_ref
            .ok_or(ApiError::Forbidden("only a device with a user can redeem"))?;
        let code = invite::normalize(&request.code).map_err(|_| UNKNOWN)?;
        let code_sha256 = sha256(code.as_bytes());
        let invite = tx
            .invite(&code_sha256)?
            .filter(|i| i.expires_at > now)
            .ok_or(UNKNOWN)?;
        if invite.user_ref == redeemer {
            return Err(ApiError::Forbidden(
                "an invite cannot be redeemed by its own user",
            ));
        }
        // Single use: the invite closes, and its creator's feed gets the redeemer under the
        // invite's hash (under the current key, the one the creator's device hashes with, and
        // during a rotation under the next one too: activation drops the current key's changes,
        // and the creator's device re-hashes the code it keeps).
        let (current, next) = keys(&mut *tx)?;
        tx.delete_invite(&code_sha256)?;
        for key in std::iter::once(&current).chain(next.as_ref()) {
            let digest = hash_key(key)?.hash_parts(IdentifierKind::Invite, &code);
            tx.append_change(
                &key.key_id,
                &digest,
                Some(&redeemer),
                Some(&invite.client_id),
                now,
            )?;
        }
        tx.commit()?;
        crate::metrics::invite_redeemed();
        Ok(RedeemAnswer {
            user_ref: invite.user_ref,
        })
    }

    // --- admin: match ---

    /// `POST /v1/admin/match`: a read transaction, nothing written.
    pub(crate) fn admin_match(&self, body: Payload<'_>, now: i64) -> Result<MatchAnswer, ApiError> {
        let request: MatchRequest = parse_body(body)?;
        if request.hashes.len() > self.limits.max_batch as usize {
            return Err(self.too_large());
        }
        let digests = parse_hashes(&request.hashes, "hashes")?;
        let mut tx = self.storage.read()?;
        let (current, _) = keys(&mut *tx)?;
        if request.key_id != current.key_id {
            return Err(ApiError::KeyRotated {
                key_id: current.key_id,
            });
        }
        let owners = lookup(&mut *tx, &current.key_id, &digests, now)?;
        // A list may repeat a hash; each match is listed once, in the order of the request.
        let mut listed = HashSet::new();
        let matches = request
            .hashes
            .iter()
            .zip(&digests)
            .filter_map(|(text, d)| {
                let user_ref = owners.get(d)?;
                listed.insert(*d).then(|| MatchEntry {
                    hash: text.clone(),
                    user_ref: user_ref.clone(),
                })
            })
            .collect::<Vec<_>>();
        crate::metrics::admin_matched(matches.len());
        Ok(MatchAnswer {
            key_id: request.key_id,
            matches,
        })
    }
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

/// `since` (absent: the head) and `limit` (default and at most 1000; more is clamped) of
/// `GET /v1/changes`. Any other parameter, or one given twice, is `malformed`.
fn parse_changes_query(query: &str) -> Result<(Option<u64>, u32), ApiError> {
    let mut since = None;
    let mut limit = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot_taken =
            match name.as_ref() {
                "since" => since
                    .replace(parse_number(&value).ok_or_else(|| {
                        ApiError::malformed("since is not a cursor this server gave")
                    })?)
                    .is_some(),
                "limit" => {
                    limit
                        .replace(parse_number(&value).filter(|&n| n > 0).ok_or_else(|| {
                            ApiError::malformed("limit must be a positive number")
                        })?)
                        .is_some()
                }
                _ => return Err(ApiError::malformed("unknown query parameter")),
            };
        if slot_taken {
            return Err(ApiError::malformed("a query parameter is given twice"));
        }
    }
    let limit = limit.map_or(MAX_CHANGES_LIMIT, |n| {
        u32::try_from(n).unwrap_or(u32::MAX).min(MAX_CHANGES_LIMIT)
    });
    Ok((since, limit))
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
    fn changes_query() {
        assert_eq!(parse_changes_query(""), Ok((None, 1000)));
        assert_eq!(parse_changes_query("since=12&limit=50"), Ok((Some(12), 50)));
        assert_eq!(parse_changes_query("limit=5000"), Ok((None, 1000)));
        for bad in [
            "since=",
            "since=-1",
            "since=+1",
            "since=x",
            "limit=0",
            "a=1",
            "since=1&since=2",
        ] {
            assert!(parse_changes_query(bad).is_err(), "{bad}");
        }
    }

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
