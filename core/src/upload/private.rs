//! One sync in the private discovery mode (docs/protocol.md, "Private discovery"), step by step:
//! the epoch's key and limits, evaluations of the identifiers that have no value yet, the users'
//! filter — the shards of it the device's values fall in, by their changes or whole — then
//! lookups of the values the filter holds; and, while an invite this device created may have
//! been redeemed unbeknown to it, its feed (`GET /v1/changes`: for a device with no set, only
//! what is addressed to it — the redemptions of its invites).
//!
//! Why the feed, for redemptions: the server made the match, so reading it tells the server
//! nothing new, and nothing of the address book leaves the device (the request carries a
//! cursor). One small request per sync, only while an invite is pending, with the feed's
//! existing semantics (cursor, replay after a reset). The redemption is named by the invite's
//! keyed hash, which the device computes from the codes it keeps under the config's key.
//!
//! The server never sees an identifier or a hash of one: only blinded elements (uniformly
//! random), and the lookups of filter hits. Every request is padded to one of the server's
//! bucket sizes with dummies it cannot tell from real entries. Each evaluated batch, each filter
//! and each page of lookups is stored in one transaction, and values are saved before they are
//! checked, so a crash costs at most a repeated request (docs/reliability.md).

use std::collections::HashMap;

use rand_core::{OsRng, RngCore};

use super::call::{Failure, parse};
use super::config::{self, PrivateParams};
use super::feed;
use super::requests::{Requester, checked_user, seconds_to_next_utc_day, unix_now};
use super::transport::{Method, Transport};
use super::{Ran, SyncOptions, SyncReport};
use crate::error::{Error, Result};
use crate::hash::{DIGEST_LEN, HashKey};
use crate::identifier::IdentifierKind;
use crate::oprf::{Blinded, Element, LOOKUP_LEN, Lookup};
use crate::progress::{Progress, ProgressListener, Stage};
use crate::protocol::encoding::Encoding;
use crate::protocol::private::{
    Bytes, Discovery, EvaluateAnswer, EvaluateRequest, FilterChanges, FilterDownload, FilterPart,
    LookupAnswer, LookupRequest, bucket_for, shard_of,
};
use crate::protocol::wire::{ConfigAnswer, codes};
use crate::store::outbox as st;
use crate::store::private as pv;
use crate::store::{Store, invites};

/// Epoch changes one sync follows before it decides the server is misbehaving.
const MAX_EPOCHS: u32 = 2;
/// Whole-filter downloads one sync starts before it decides the server is misbehaving (each
/// restart follows a `410 filter_stale` mid-download).
const MAX_DOWNLOADS: u32 = 3;
/// Tags one changes answer may carry before the client prefers the whole filter.
const MAX_CHANGED_TAGS: usize = 1 << 20;

/// What one private sync needs of the engine.
pub(crate) struct PrivateSession<'a> {
    store: &'a Store,
    options: &'a SyncOptions,
    listener: &'a dyn ProgressListener,
    requests: Requester<'a>,
    report: SyncReport,
}

/// How the evaluations ended.
enum Evaluated {
    /// Every identifier has its value.
    All,
    /// The day's quota ran out: wait this many seconds.
    Quota(u64),
    /// The key changed epoch: start again from the config.
    EpochRotated,
}

impl<'a> PrivateSession<'a> {
    pub(crate) fn new(
        store: &'a Store,
        transport: &'a dyn Transport,
        options: &'a SyncOptions,
        listener: &'a dyn ProgressListener,
    ) -> Self {
        PrivateSession {
            store,
            options,
            listener,
            requests: Requester::new(store, transport, options, listener, "/v1/private/evaluate"),
            report: SyncReport::default(),
        }
    }

    /// The whole sync.
    pub(crate) fn run(mut self) -> Result<Ran> {
        let (_, skip) = self.requests.begin(|store| {
            Ok(store.read(pv::unevaluated_count)? > 0
                || !store.read(|c| pv::unchecked(c, 1))?.is_empty())
        })?;
        if let Some(next) = skip {
            self.report.skipped = true;
            self.report.next_sync_at = next;
            return Ok(Ran::Done(self.report));
        }
        self.report.lost_matches += self.store.write(pv::forget_unwanted)?;
        let mut epochs = 0;
        let (params, quota_wait) = loop {
            let Some(params) = self.fetch_config()? else {
                return Ok(Ran::Switch(Discovery::Hashed));
            };
            match self.evaluate(&params)? {
                Evaluated::All => break (params, None),
                Evaluated::Quota(wait) => break (params, Some(wait)),
                Evaluated::EpochRotated => {
                    epochs += 1;
                    if epochs > MAX_EPOCHS {
                        return Err(Error::Protocol(
                            "the server keeps answering epoch_rotated with the epoch it gives"
                                .into(),
                        ));
                    }
                }
            }
        };
        self.refresh_filter(&params)?;
        self.check(&params)?;
        self.read_redemptions(&params.invite_key)?;
        self.report.next_sync_at = self
            .requests
            .finish(params.limits.check_interval_s, quota_wait)?;
        self.report.batches_retried += self.requests.retried;
        if quota_wait.is_some() {
            self.report.deferred = self.store.read(pv::unevaluated_count)?;
        }
        Ok(Ran::Done(self.report))
    }

    /// `GET /v1/config`, checked for the private mode; a new epoch drops the old values. `None`
    /// when the server does not offer private discovery (it discovers by keyed hashes).
    fn fetch_config(&mut self) -> Result<Option<PrivateParams>> {
        if self.options.cbor {
            self.requests.encoding = Encoding::Cbor;
        }
        let answer: ConfigAnswer = self.requests.json(Method::Get, "/v1/config", None)?;
        if answer.private.is_none() {
            return Ok(None);
        }
        let params = config::private(answer)?;
        self.requests.encoding = if self.options.cbor && params.cbor {
            Encoding::Cbor
        } else {
            Encoding::Json
        };
        self.store
            .write(|tx| pv::start_epoch(tx, params.epoch, params.shard_bits))?;
        Ok(Some(params))
    }

    /// Evaluates every identifier without a value, a padded batch at a time, within the day's
    /// quota (which counts the padding).
    fn evaluate(&mut self, params: &PrivateParams) -> Result<Evaluated> {
        let largest = params.buckets.last().map_or(1, |b| *b as usize);
        let mut budget = params.limits.remaining_today as usize;
        let total = self.store.read(pv::unevaluated_count)?;
        let mut done = 0u64;
        loop {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // The most real identifiers whose padded batch the budget still pays for.
            let affordable = params
                .buckets
                .iter()
                .map(|b| *b as usize)
                .filter(|b| *b <= budget)
                .max()
                .unwrap_or(0)
                .min(largest);
            let pending = self.store.read(|c| pv::unevaluated(c, affordable.max(1)))?;
            if pending.is_empty() {
                return Ok(Evaluated::All);
            }
            if affordable == 0 {
                return Ok(Evaluated::Quota(seconds_to_next_utc_day()));
            }
            let padded = bucket_for(pending.len(), &params.buckets).unwrap_or(largest);
            let blinded = Blinded::new(&pending, padded)
                .map_err(|e| Error::InvalidState(format!("blinding: {e}")))?;
            let request = EvaluateRequest {
                epoch: params.epoch,
                elements: blinded.elements().iter().map(|e| Bytes(e.0)).collect(),
            };
            let encoding = self.requests.encoding;
            let body = encoding
                .encode(&request)
                .map_err(|e| Error::InvalidState(e.to_string()))?;
            let response = match self.requests.exchange(
                Method::Post,
                "/v1/private/evaluate",
                Some((&body, encoding)),
            ) {
                Ok(response) => response,
                Err(Failure::Retry {
                    daily_quota: true,
                    retry_after,
                    ..
                }) => {
                    return Ok(Evaluated::Quota(
                        retry_after.unwrap_or_else(seconds_to_next_utc_day),
                    ));
                }
                Err(Failure::Refused { code, .. }) if code == codes::EPOCH_ROTATED => {
                    return Ok(Evaluated::EpochRotated);
                }
                Err(failure) => return Err(failure.into_error()),
            };
            let answer: EvaluateAnswer = parse(&response).map_err(Failure::into_error)?;
            if answer.epoch != params.epoch {
                return Err(Error::Protocol("an evaluation under another epoch".into()));
            }
            let evaluated: Vec<Element> = answer.evaluated.iter().map(|b| Element(b.0)).collect();
            let proofs: Vec<_> = answer.proofs.iter().map(|p| p.0).collect();
            let values = blinded
                .finalize(&params.key, &evaluated, &proofs)
                .map_err(|e| {
                    self.report.rejected += 1;
                    Error::Protocol(format!("evaluation: {e}"))
                })?;
            let count = pending.len() as u64;
            let saved: Vec<_> = pending.into_iter().zip(values).collect();
            self.store
                .write(|tx| pv::save_values(tx, params.epoch, &saved))?;
            self.report.batches_sent += 1;
            self.report.added += count;
            budget = answer.remaining_today as usize;
            done += count;
            self.listener.on_progress(Progress {
                stage: Stage::Upload,
                done,
                total: Some(total.max(done)),
            });
        }
    }

    /// Brings the shards of the filter this device needs — those its values' tags fall in (the
    /// one filter when unsharded) — to the server's version: each by its changes when the
    /// server still has them, whole otherwise (the first time, after a new epoch or shard
    /// count, or when far behind). Shards no value falls in any more are dropped: a device
    /// follows only its own. A stored shard newer than the one advertised (another instance
    /// behind a load balancer has not rebuilt yet) is kept.
    fn refresh_filter(&mut self, params: &PrivateParams) -> Result<()> {
        let bits = params.shard_bits;
        let mut needed = self.store.read(|c| pv::needed_shards(c, bits))?;
        if bits == 0 {
            // Unsharded, the one filter is fetched even for an empty book, as before sharding:
            // it reveals nothing.
            needed.insert(0);
        }
        let held = self.store.read(pv::held_shards)?;
        let unneeded: Vec<u32> = held
            .keys()
            .filter(|s| !needed.contains(*s))
            .copied()
            .collect();
        if !unneeded.is_empty() {
            self.store
                .write(|tx| pv::drop_shards(tx, bits, &unneeded))?;
        }
        for shard in needed {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if let Some(version) = held.get(&shard)
                && (*version >= params.filter_version
                    || self.fetch_changes(params, shard, *version)?)
            {
                continue;
            }
            self.download_shard(params, shard)?;
        }
        Ok(())
    }

    /// `GET /v1/private/filter/changes` of one shard; false when the server no longer has them.
    fn fetch_changes(&mut self, params: &PrivateParams, shard: u32, since: u64) -> Result<bool> {
        let path = format!(
            "/v1/private/filter/changes?epoch={}&since={since}{}",
            params.epoch,
            shard_query(params.shard_bits, shard)
        );
        let response = match self.requests.exchange(Method::Get, &path, None) {
            Ok(response) => response,
            Err(Failure::Refused { code, .. }) if code == codes::FILTER_STALE => return Ok(false),
            Err(failure) => return Err(failure.into_error()),
        };
        let changes: FilterChanges = parse(&response).map_err(Failure::into_error)?;
        if changes.epoch != params.epoch || changes.since != since || changes.version < since {
            return Err(Error::Protocol(
                "filter changes that do not continue the stored filter".into(),
            ));
        }
        if changes
            .added
            .0
            .iter()
            .chain(&changes.removed.0)
            .any(|tag| shard_of(*tag, params.shard_bits) != shard)
        {
            return Err(Error::Protocol(
                "filter changes of a tag outside the shard asked for".into(),
            ));
        }
        if changes.added.0.len() + changes.removed.0.len() > MAX_CHANGED_TAGS {
            return Ok(false);
        }
        self.store
            .write(|tx| pv::apply_shard_changes(tx, shard, &changes))?;
        Ok(true)
    }

    /// One shard whole, started again when the server no longer has the version begun.
    fn download_shard(&mut self, params: &PrivateParams, shard: u32) -> Result<()> {
        for _ in 0..MAX_DOWNLOADS {
            if self.download_filter(params, shard)? {
                return Ok(());
            }
        }
        Err(Error::Protocol(
            "the filter's version keeps changing during its download".into(),
        ))
    }

    /// `GET /v1/private/filter?part=K&version=V[&shard=S]` until every part is in, then stored
    /// whole. False when the server no longer has the version begun (`410 filter_stale`: it
    /// moved on, or another instance answered): the download starts again.
    fn download_filter(&mut self, params: &PrivateParams, shard: u32) -> Result<bool> {
        let bits = params.shard_bits;
        let at = shard_query(bits, shard);
        let path = format!("/v1/private/filter?epoch={}&part=0{at}", params.epoch);
        let Some(first) = self.filter_part(&path)? else {
            return Ok(false);
        };
        if first.epoch != params.epoch {
            return Err(Error::Protocol("a filter of another epoch".into()));
        }
        let mut download = FilterDownload::start(first).map_err(protocol)?;
        let (epoch, version) = download.epoch_version();
        while let Some(part) = download.next_part() {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let path =
                format!("/v1/private/filter?epoch={epoch}&part={part}&version={version}{at}");
            let Some(next) = self.filter_part(&path)? else {
                return Ok(false);
            };
            download.push(next).map_err(protocol)?;
        }
        let filter = download.finish().map_err(protocol)?;
        self.store
            .write(|tx| pv::save_shard(tx, epoch, (bits, shard), version, &filter))?;
        Ok(true)
    }

    /// One part; `None` for `410 filter_stale`.
    fn filter_part(&mut self, path: &str) -> Result<Option<FilterPart>> {
        let response = match self.requests.exchange(Method::Get, path, None) {
            Ok(response) => response,
            Err(Failure::Refused { code, .. }) if code == codes::FILTER_STALE => return Ok(None),
            Err(failure) => return Err(failure.into_error()),
        };
        FilterPart::from_bytes(&response.body)
            .map(Some)
            .map_err(protocol)
    }

    /// The stored shards, read once per sync and only when a value waits for checking. A
    /// needed shard that no longer parses is dropped and downloaded again.
    fn load_filter(&mut self, params: &PrivateParams) -> Result<pv::KnownFilter> {
        let bits = params.shard_bits;
        let filter = self.store.read(pv::known_filter)?;
        let needed = self.store.read(|c| pv::needed_shards(c, bits))?;
        let missing: Vec<u32> = needed
            .iter()
            .filter(|s| !filter.holds(**s))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(filter);
        }
        self.store.write(|tx| pv::drop_shards(tx, bits, &missing))?;
        self.refresh_filter(params)?;
        let filter = self.store.read(pv::known_filter)?;
        if needed.iter().any(|s| !filter.holds(*s)) {
            return Err(Error::Protocol("no filter after downloading it".into()));
        }
        Ok(filter)
    }

    /// Checks every unchecked value against the filter, and looks up the hits, a padded page at
    /// a time: each page's matches and checks in one transaction.
    fn check(&mut self, params: &PrivateParams) -> Result<()> {
        if self.store.read(|c| pv::unchecked(c, 1))?.is_empty() {
            return Ok(());
        }
        let filter = self.load_filter(params)?;
        let largest = params.buckets.last().map_or(1, |b| *b as usize);
        loop {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Up to `largest` hits per page; the values checked on the way come with them.
            let mut page = Vec::new();
            let mut hits = Vec::new();
            let pending = self
                .store
                .read(|c| pv::unchecked(c, largest.saturating_mul(64)))?;
            if pending.is_empty() {
                return Ok(());
            }
            for value in pending {
                if filter.contains(value.tag) == Some(true) {
                    if hits.len() == largest {
                        break;
                    }
                    hits.push(value.lookup);
                }
                page.push(value);
            }
            let users = if hits.is_empty() {
                HashMap::new()
            } else {
                self.lookup(params, &hits)?
            };
            let (gained, lost) = self
                .store
                .write(|tx| pv::record_checked(tx, &page, &users, unix_now()))?;
            self.report.new_matches += gained;
            self.report.lost_matches += lost;
        }
    }

    /// The feed, read to its end when an invite this device created may have been redeemed
    /// since it was last read: each redemption (a gained hash that is one of its invites' under
    /// `key`) becomes the invite's match. Nothing else in it concerns a device in this mode.
    fn read_redemptions(&mut self, key: &HashKey) -> Result<()> {
        let codes = self.store.read(invites::awaiting_redemption)?;
        if codes.is_empty() {
            return Ok(());
        }
        let started = unix_now();
        let ours: HashMap<[u8; DIGEST_LEN], String> = codes
            .into_iter()
            .map(|code| (key.hash_parts(IdentifierKind::Invite, &code).0, code))
            .collect();
        let mut since = match self.store.read(st::sync_state)?.cursor {
            Some(cursor) => cursor,
            // The first time (or after a switch of mode): where the feed begins, its
            // registration, so a redemption before now is not skipped.
            None => feed::first_cursor(&mut self.requests)?,
        };
        for _ in 0..feed::MAX_CHANGES_PAGES {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let page = feed::page(&mut self.requests, &since)?;
            let found: Vec<(String, String)> = page
                .gained
                .iter()
                .filter_map(|(digest, user_ref)| {
                    ours.get(digest)
                        .map(|code| (code.clone(), user_ref.clone()))
                })
                .collect();
            let read_at = (!page.more).then_some(started);
            self.report.new_matches += self.store.write(|tx| {
                invites::record_redemptions(tx, &found, &page.cursor, read_at, unix_now())
            })?;
            if !page.more {
                return Ok(());
            }
            since = page.cursor;
        }
        Err(Error::Protocol("the changes feed does not end".into()))
    }

    /// `POST /v1/private/lookup` for `hits`, padded with random lookups to a bucket.
    fn lookup(
        &mut self,
        params: &PrivateParams,
        hits: &[Lookup],
    ) -> Result<HashMap<Lookup, String>> {
        let padded = bucket_for(hits.len(), &params.buckets).unwrap_or(hits.len());
        let mut lookups: Vec<Bytes<LOOKUP_LEN>> = hits.iter().map(|l| Bytes(l.0)).collect();
        while lookups.len() < padded {
            let mut dummy = [0; LOOKUP_LEN];
            OsRng.fill_bytes(&mut dummy);
            lookups.push(Bytes(dummy));
        }
        let request = LookupRequest {
            epoch: params.epoch,
            lookups,
        };
        let encoding = self.requests.encoding;
        let body = encoding
            .encode(&request)
            .map_err(|e| Error::InvalidState(e.to_string()))?;
        let answer: LookupAnswer =
            self.requests
                .json(Method::Post, "/v1/private/lookup", Some((&body, encoding)))?;
        if answer.epoch != params.epoch {
            return Err(Error::Protocol(
                "lookups answered under another epoch".into(),
            ));
        }
        let asked: std::collections::HashSet<Lookup> = hits.iter().copied().collect();
        let mut users = HashMap::with_capacity(answer.matches.len());
        for entry in answer.matches {
            let lookup = Lookup(entry.lookup.0);
            if !asked.contains(&lookup) {
                // A dummy (or anything not asked) cannot be a user's: the server is lying.
                return Err(Error::Protocol(
                    "a lookup answer for something not asked".into(),
                ));
            }
            checked_user(&entry.user_ref)?;
            users.insert(lookup, entry.user_ref);
        }
        Ok(users)
    }
}

/// The shard parameter of a filter request: none when unsharded (the routes as before sharding).
fn shard_query(bits: u8, shard: u32) -> String {
    if bits == 0 {
        String::new()
    } else {
        format!("&shard={shard}")
    }
}

fn protocol(e: impl std::fmt::Display) -> Error {
    Error::Protocol(e.to_string())
}
