//! One sync, step by step (docs/protocol.md): key and limits, the first cursor, batches a crash
//! left in flight, new batches, then the changes since the cursor.
//!
//! Every request goes through the session's [`Requester`] (retries, the persisted backoff, the
//! encoding).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::call::{Failure, parse};
use super::requests::{Requester, checked_user, seconds_to_next_utc_day, unix_now};
use super::transport::{Method, Transport};
use super::{Ran, SyncOptions, SyncReport};
use super::{config, feed};
use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::key::KeyHolder;
use crate::progress::{Progress, ProgressListener, Stage};
use crate::protocol::encoding::Encoding;
use crate::protocol::private::Discovery;
use crate::protocol::wire::{BatchAnswer, ConfigAnswer, Limits, WireHash};
use crate::store::Store;
use crate::store::answers;
use crate::store::outbox::{self as st, PlanCursor, PlanInput, StoredBatch};

/// Key rotations one sync follows before it decides the server is misbehaving.
const MAX_ROTATIONS: u32 = 2;

/// A fresh batch id: 16 random bytes, URL-safe.
fn new_batch_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::InvalidState(format!("no random source: {e}")))?;
    Ok(format!("b_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What happened to one batch.
enum Outcome {
    Sent,
    /// Refused as too large and taken back; send at most this many hashes per batch.
    Split(usize),
    /// The key changed; the caller re-hashes (which drops every batch).
    KeyRotated,
    /// The day's quota ran out; taken back; try again after this many seconds.
    Quota(u64),
}

/// The engine's parts a sync needs.
pub(crate) struct Session<'a> {
    pub store: &'a Store,
    pub options: &'a SyncOptions,
    pub listener: &'a dyn ProgressListener,
    /// Every request goes through it: retries, the persisted backoff, the encoding.
    requests: Requester<'a>,
    /// The engine's key, which the server's config replaces (re-hashing when it changed).
    pub keys: &'a KeyHolder,
    /// The key id the store holds before the sync.
    pub stored_key: Option<String>,
    pub report: SyncReport,
    key: Option<HashKey>,
    limits: Option<Limits>,
    max_total: usize,
    /// The server's batch buckets (empty: no padding).
    buckets: Vec<u32>,
    sent_hashes: u64,
    total_hashes: u64,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        store: &'a Store,
        keys: &'a KeyHolder,
        transport: &'a dyn Transport,
        options: &'a SyncOptions,
        listener: &'a dyn ProgressListener,
    ) -> Self {
        Session {
            store,
            options,
            listener,
            requests: Requester::new(store, transport, options, listener, "/v1/batches"),
            keys,
            stored_key: keys.current().map(|k| k.id().to_owned()),
            report: SyncReport::default(),
            key: None,
            limits: None,
            max_total: 1,
            buckets: Vec::new(),
            sent_hashes: 0,
            total_hashes: 0,
        }
    }

    /// The whole sync.
    pub(crate) fn run(mut self) -> Result<Ran> {
        let (state, skip) = self.requests.begin(|store| store.read(st::has_work))?;
        if let Some(next) = skip {
            self.report.skipped = true;
            self.report.next_sync_at = next;
            return Ok(Ran::Done(self.report));
        }
        if self.fetch_config()? {
            return Ok(Ran::Switch(Discovery::Private));
        }
        if state.cursor.is_none() {
            // The first cursor is where this client's feed begins (its registration), taken
            // before the first batch: batch answers cover the set, and the feed everything
            // addressed to the client since it registered (an invite redeemed before now).
            let cursor = feed::first_cursor(&mut self.requests)?;
            self.store.write(|tx| st::set_cursor(tx, Some(&cursor)))?;
        }
        let quota_wait = self.upload()?;
        self.fetch_changes()?;
        let interval = self.limits.map_or(0, |l| l.check_interval_s);
        self.report.next_sync_at = self.requests.finish(interval, quota_wait)?;
        self.report.batches_retried += self.requests.retried;
        if quota_wait.is_some() {
            self.report.deferred = self.store.read(st::pending_adds)?;
        }
        Ok(Ran::Done(self.report))
    }

    /// `GET /v1/config`: installs the key (re-hashing on a change) and the limits. True, with
    /// nothing installed, when the server offers private discovery: it discovers in that mode.
    fn fetch_config(&mut self) -> Result<bool> {
        // CBOR is asked for before the server said it speaks it: a server that does not answers
        // JSON, which is read as well.
        if self.options.cbor {
            self.requests.encoding = Encoding::Cbor;
        }
        let answer: ConfigAnswer = self.requests.json(Method::Get, "/v1/config", None)?;
        if answer.private.is_some() {
            return Ok(true);
        }
        let config = config::install(
            answer,
            self.options.max_batch,
            self.store,
            self.keys,
            self.listener,
        )?;
        self.requests.encoding = if self.options.cbor && config.cbor {
            Encoding::Cbor
        } else {
            Encoding::Json
        };
        let id = config.key.id();
        if config.changed && self.stored_key.as_ref().is_some_and(|k| k != id) {
            log::info!("sync: the server's key changed; everything re-hashed for a full re-sync");
            self.report.key_rotated = true;
        }
        log::debug!(
            "sync: config read: batches up to {} hashes, {} buckets, {}",
            config.max_total,
            config.buckets.len(),
            if self.requests.encoding == Encoding::Cbor {
                "CBOR"
            } else {
                "JSON"
            }
        );
        self.stored_key = Some(id.to_owned());
        self.max_total = config.max_total;
        self.buckets = config.buckets;
        self.key = Some(config.key);
        self.limits = Some(config.limits);
        Ok(false)
    }

    /// Batches: those a crash left in flight, then new ones until nothing is pending. Returns the
    /// wait the daily quota imposes, if it ran out.
    fn upload(&mut self) -> Result<Option<u64>> {
        let mut rotations = 0;
        'restart: loop {
            for batch in self.store.read(st::batches)? {
                self.report.batches_retried += 1;
                match self.send(&batch)? {
                    Outcome::Sent | Outcome::Split(_) => {}
                    Outcome::Quota(wait) => return Ok(Some(wait)),
                    Outcome::KeyRotated => {
                        rotations += 1;
                        self.rotated(rotations)?;
                        continue 'restart;
                    }
                }
            }
            let budget = self.limits.map_or(0, |l| u64::from(l.remaining_today));
            let mut cursor = PlanCursor {
                adds_budget: budget,
                ..PlanCursor::default()
            };
            self.total_hashes =
                self.sent_hashes + self.store.read(crate::store::read::pending_count)?;
            loop {
                if self.listener.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let full = self.store.read(st::sync_state)?.full_resync;
                let batch_id = new_batch_id()?;
                let key = self
                    .key
                    .as_ref()
                    .ok_or_else(|| Error::InvalidState("no key before planning".into()))?;
                let input = PlanInput {
                    batch_id: &batch_id,
                    key,
                    full,
                    max_total: self.max_total,
                    encoding: self.requests.encoding,
                    buckets: &self.buckets,
                    now: unix_now(),
                };
                let Some(batch) = self.store.write(|tx| st::plan(tx, &input, &mut cursor))? else {
                    break;
                };
                match self.send(&batch)? {
                    Outcome::Sent => {}
                    Outcome::Split(size) => {
                        // The batch's identifiers are pending again, before the planning cursor.
                        self.max_total = size;
                        cursor = PlanCursor {
                            adds_budget: cursor.adds_budget
                                + batch.adds.len() as u64
                                + u64::from(batch.padding),
                            ..PlanCursor::default()
                        };
                    }
                    Outcome::Quota(wait) => return Ok(Some(wait)),
                    Outcome::KeyRotated => {
                        rotations += 1;
                        self.rotated(rotations)?;
                        continue 'restart;
                    }
                }
            }
            if cursor.deferred > 0 {
                // The budget the server announced ran out before the pending additions did.
                return Ok(Some(seconds_to_next_utc_day()));
            }
            return Ok(None);
        }
    }

    /// The server rotated its key: fetch it, which re-hashes everything for a full re-sync.
    fn rotated(&mut self, rotations: u32) -> Result<()> {
        if rotations > MAX_ROTATIONS {
            return Err(Error::Protocol(
                "the server keeps answering key_rotated with the key it gives".into(),
            ));
        }
        if self.fetch_config()? {
            // The server turned to private discovery mid-sync: the next sync follows it.
            return Err(Error::Protocol(
                "the server changed its discovery mode during the sync; sync again".into(),
            ));
        }
        self.report.key_rotated = true;
        Ok(())
    }

    /// Sends one stored batch and applies the answer.
    fn send(&mut self, batch: &StoredBatch) -> Result<Outcome> {
        let body = Some((batch.body.as_slice(), batch.encoding));
        let response = match self.requests.exchange(Method::Post, "/v1/batches", body) {
            Ok(response) => response,
            Err(Failure::KeyRotated { .. }) => return Ok(Outcome::KeyRotated),
            Err(Failure::TooLarge) => {
                self.store.write(|tx| answers::revert(tx, batch))?;
                log::info!("sync: batch too large; splitting");
                let Some(size) = split_size(batch, &self.buckets) else {
                    return Err(Failure::TooLarge.into_error());
                };
                self.report.batches_split += 1;
                return Ok(Outcome::Split(size));
            }
            Err(Failure::Retry {
                daily_quota: true,
                retry_after,
                ..
            }) => {
                self.store.write(|tx| answers::revert(tx, batch))?;
                log::info!("sync: the day's quota ran out; the rest waits");
                return Ok(Outcome::Quota(
                    retry_after.unwrap_or_else(seconds_to_next_utc_day),
                ));
            }
            Err(failure @ Failure::Refused { .. }) => {
                // The server read the batch and refused it: nothing was applied, so its work
                // goes back to pending (a new batch id next time).
                self.store.write(|tx| answers::revert(tx, batch))?;
                return Err(failure.into_error());
            }
            Err(failure @ Failure::Protocol(_)) => {
                self.report.rejected += 1;
                return Err(failure.into_error());
            }
            // No usable answer: the server may have applied it; the batch stays in flight and is
            // resent, byte for byte, by the next sync.
            Err(failure) => return Err(failure.into_error()),
        };
        let answer: BatchAnswer = match parse(&response) {
            Ok(answer) => answer,
            Err(failure) => {
                self.report.rejected += 1;
                return Err(failure.into_error());
            }
        };
        let matches = match validate_answer(batch, &answer) {
            Ok(matches) => matches,
            Err(e) => {
                self.report.rejected += 1;
                return Err(e);
            }
        };
        let applied = self
            .store
            .write(|tx| answers::acknowledge(tx, batch, &matches, unix_now()))?;
        self.report.batches_sent += 1;
        self.report.added += applied.added;
        self.report.removed += applied.removed;
        self.report.new_matches += applied.new_matches;
        self.report.lost_matches += applied.lost_matches;
        if let Some(limits) = self.limits.as_mut() {
            limits.remaining_today = answer.remaining_today;
        }
        log::debug!(
            "sync: batch acknowledged: {} adds, {} removes, {} padding, {} matches",
            batch.adds.len(),
            batch.removes.len(),
            batch.padding,
            matches.len()
        );
        self.sent_hashes += (batch.adds.len() + batch.removes.len()) as u64;
        self.listener.on_progress(Progress {
            stage: Stage::Upload,
            done: self.sent_hashes,
            total: Some(self.total_hashes.max(self.sent_hashes)),
        });
        Ok(Outcome::Sent)
    }

    /// `GET /v1/changes` from the stored cursor until the server has no more; each page and its
    /// cursor in one transaction.
    fn fetch_changes(&mut self) -> Result<()> {
        for _ in 0..feed::MAX_CHANGES_PAGES {
            let Some(since) = self.store.read(st::sync_state)?.cursor else {
                return Ok(());
            };
            let page = feed::page(&mut self.requests, &since)?;
            let gained: HashMap<_, &str> =
                page.gained.iter().map(|(d, u)| (*d, u.as_str())).collect();
            let (new, gone) = self.store.write(|tx| {
                answers::apply_changes(tx, &gained, &page.lost, &page.cursor, unix_now())
            })?;
            self.report.new_matches += new;
            self.report.lost_matches += gone;
            log::debug!("sync: changes page: {new} matches gained, {gone} lost");
            if !page.more {
                return Ok(());
            }
        }
        Err(Error::Protocol("the changes feed does not end".into()))
    }
}

/// The most entries a batch refused as too large is split to: half of it, or with buckets the
/// largest bucket below its padded size (a smaller batch would be padded back up). `None` when
/// there is nothing smaller to send.
fn split_size(batch: &StoredBatch, buckets: &[u32]) -> Option<usize> {
    let size = batch.adds.len() + batch.removes.len();
    if buckets.is_empty() {
        return (size > 1).then_some(size / 2);
    }
    let padded = crate::protocol::private::bucket_for(size, buckets)?;
    buckets
        .iter()
        .map(|b| *b as usize)
        .take_while(|b| *b < padded)
        .last()
}

/// Checks a batch answer against the batch; returns its matches (hash → user reference).
fn validate_answer<'b>(
    batch: &StoredBatch,
    answer: &'b BatchAnswer,
) -> Result<HashMap<&'b WireHash, &'b str>> {
    if answer.batch_id != batch.batch_id {
        return Err(Error::Protocol("the answer is for another batch".into()));
    }
    if answer.key_id != batch.key_id {
        return Err(Error::Protocol("the answer names another key".into()));
    }
    let asked: HashSet<&WireHash> = batch.adds.iter().map(|(_, _, h)| h).collect();
    let mut matches = HashMap::with_capacity(answer.matches.len());
    for entry in &answer.matches {
        if !asked.contains(&entry.hash) {
            return Err(Error::Protocol(
                "the answer matches a hash the batch did not add".into(),
            ));
        }
        matches.insert(&entry.hash, checked_user(&entry.user_ref)?);
    }
    Ok(matches)
}
