//! Requests with retries, shared by both discovery modes' sessions: no answer, 408, 429 (not the
//! daily quota) and 5xx are retried with exponential backoff and full jitter, never sooner than
//! `Retry-After`, and the backoff is persisted at each failure so a restarted app does not
//! hammer a struggling server.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::SyncOptions;
use super::call::{Failure, exchange, parse, without_query};
use super::transport::{Method, Response, Transport};
use crate::error::{Error, Result};
use crate::progress::ProgressListener;
use crate::protocol::encoding::Encoding;
use crate::store::Store;
use crate::store::outbox::{self as st, SyncState};

/// First backoff step; attempt `n` waits a random time up to `BASE · 2^(n-1)`.
const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Longest backoff step.
const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Longest user reference accepted from a server.
const MAX_USER_REF: usize = 256;

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The wait before attempt `attempt + 1`: full jitter over the exponential step, never below
/// `retry_after`.
pub(crate) fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
    let jitter = getrandom::u64().map_or(millis, |r| r % (millis + 1));
    Duration::from_millis(jitter).max(Duration::from_secs(retry_after.unwrap_or(0)))
}

/// What a session sends its requests through.
pub(crate) struct Requester<'a> {
    pub store: &'a Store,
    pub transport: &'a dyn Transport,
    pub options: &'a SyncOptions,
    pub listener: &'a dyn ProgressListener,
    /// Failed attempts in a row (persisted as the backoff).
    pub attempt: u32,
    /// What bodies are written in and answers asked for.
    pub encoding: Encoding,
    /// Requests to `retried_path` that needed more than one attempt.
    pub retried: u64,
    /// The path whose retries are counted (the batches' in the hashed mode).
    pub retried_path: &'static str,
    /// A bearer token the core sends itself (the Matrix identity server's); `None` when the
    /// transport authenticates.
    pub bearer: Option<&'a str>,
}

impl<'a> Requester<'a> {
    pub(crate) fn new(
        store: &'a Store,
        transport: &'a dyn Transport,
        options: &'a SyncOptions,
        listener: &'a dyn ProgressListener,
        retried_path: &'static str,
    ) -> Self {
        Requester {
            store,
            transport,
            options,
            listener,
            attempt: 0,
            encoding: Encoding::Json,
            retried: 0,
            retried_path,
            bearer: None,
        }
    }

    /// One request and its parsed answer (in the session's encoding, or JSON), with retries.
    pub(crate) fn json<A: serde::de::DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&[u8], Encoding)>,
    ) -> Result<A> {
        self.exchange(method, path, body)
            .and_then(|r| parse(&r))
            .map_err(Failure::into_error)
    }

    /// Sends with retries: no answer, 408, 429 (not the daily quota) and 5xx are retried after a
    /// backoff, up to the options' attempts and wait; the backoff is persisted at each failure.
    pub(crate) fn exchange(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&[u8], Encoding)>,
    ) -> Result<Response, Failure> {
        let mut tries = 0u32;
        loop {
            tries += 1;
            let body = body.map(|(bytes, encoding)| (bytes.to_vec(), encoding));
            let failure = match exchange(
                self.transport,
                method,
                path,
                body,
                self.encoding,
                self.bearer,
            ) {
                Ok(response) => {
                    log::debug!(
                        "request {} {}: {}",
                        method.as_str(),
                        without_query(path),
                        response.status
                    );
                    self.attempt = 0;
                    return Ok(response);
                }
                Err(
                    f @ Failure::Retry {
                        daily_quota: true, ..
                    },
                ) => return Err(f),
                // A request the app's transport aborted because the caller cancelled (OkHttp's
                // `Call.cancel`, a cancelled Swift task) fails as no answer: that is the
                // cancellation, not a network failure to back off from and record.
                Err(Failure::Network(_)) if self.listener.is_cancelled() => {
                    return Err(Failure::Cancelled);
                }
                Err(f @ (Failure::Network(_) | Failure::Retry { .. })) => f,
                Err(other) => return Err(other),
            };
            self.attempt = self.attempt.saturating_add(1);
            let retry_after = match &failure {
                Failure::Retry { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = backoff(self.attempt, retry_after);
            let until = unix_now().saturating_add(
                i64::try_from(delay.as_secs())
                    .unwrap_or(i64::MAX)
                    .saturating_add(1),
            );
            let attempt = self.attempt;
            log::warn!(
                "request {} {}: {}; attempt {tries}, backoff {} ms",
                method.as_str(),
                without_query(path),
                failure.describe(),
                delay.as_millis()
            );
            self.store
                .write(|tx| st::set_backoff(tx, until, attempt))
                .map_err(|e| Failure::Protocol(e.to_string()))?;
            if tries >= self.options.max_attempts.max(1) || delay > self.options.max_wait {
                return Err(match failure {
                    Failure::Network(m) => Failure::Network(m),
                    _ => Failure::Later { until },
                });
            }
            if path == self.retried_path && tries == 1 {
                self.retried += 1;
            }
            self.wait(delay).map_err(|_| Failure::Cancelled)?;
        }
    }

    /// Before a sync: loads the sync state and the backoff it persisted. Unless the options
    /// force the sync, a backoff still running is [`Error::RetryLater`], and a check interval
    /// still running with nothing to do (`has_work` false) is `Some(next check)`: skip.
    pub(crate) fn begin(
        &mut self,
        has_work: impl FnOnce(&Store) -> Result<bool>,
    ) -> Result<(SyncState, Option<i64>)> {
        let now = unix_now();
        let state = self.store.read(st::sync_state)?;
        self.attempt = state.backoff_attempt;
        if self.options.force {
            return Ok((state, None));
        }
        if let Some(until) = state.backoff_until.filter(|&u| u > now) {
            return Err(Error::RetryLater { until });
        }
        let skip = match state.next_check.filter(|&t| t > now) {
            Some(next) if !has_work(self.store)? => Some(next),
            _ => None,
        };
        Ok((state, skip))
    }

    /// After a sync: persists the next check (`interval_s` from now) and, when the daily quota
    /// ran out, when the deferred work may go; returns when the next sync is due.
    pub(crate) fn finish(&self, interval_s: u32, quota_wait: Option<u64>) -> Result<i64> {
        let next_check = unix_now().saturating_add(i64::from(interval_s));
        let deferred_until = quota_wait
            .map(|wait| unix_now().saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)));
        self.store
            .write(|tx| st::finish(tx, next_check, deferred_until))?;
        Ok(deferred_until.map_or(next_check, |d| next_check.max(d)))
    }

    /// Sleeps, polling the listener for cancellation.
    pub(crate) fn wait(&self, delay: Duration) -> Result<()> {
        let end = Instant::now() + delay;
        loop {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// A user reference from a server, checked: what the store and the app may rely on.
pub(crate) fn checked_user(user_ref: &str) -> Result<&str> {
    if user_ref.is_empty()
        || user_ref.len() > MAX_USER_REF
        || user_ref.chars().any(char::is_control)
    {
        return Err(Error::Protocol("an unusable user reference".into()));
    }
    Ok(user_ref)
}

/// Seconds until the next UTC midnight, when daily quotas reset.
pub(crate) fn seconds_to_next_utc_day() -> u64 {
    let now = u64::try_from(unix_now()).unwrap_or(0);
    86_400 - now % 86_400
}
