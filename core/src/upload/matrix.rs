//! One sync in the Matrix identity-service mode (docs/matrix.md): the client side of the Matrix
//! identity service v2's `hash_details` and `lookup`, with the access token the app hands in
//! ([`MatrixOptions`]).
//!
//! Why a session of its own rather than a transport trick: the identity server keeps nothing per
//! device and has no change feed, so the work is unlike the other modes' — look up what is new at
//! once, and the whole set again after the app's interval or a new pepper (to notice users who
//! bound or unbound an address) — while the store, the backoff and the matches are the same. It
//! sits beside the other sessions in the upload stage and uses only the stages below (the store's
//! `matrix` functions, `hash::MatrixHasher`, `protocol::matrix`), so the one-way flow holds.
//!
//! The spec's rules, and the failures of other clients they answer: `sha256` unless the app opts
//! in to `none` (plaintext); `M_INVALID_PEPPER` fetches `hash_details` again, re-hashes and
//! retries once, and a pepper that changes again in the same sync is an error, not a loop (an
//! error body may lack `lookup_pepper`, so it is never relied on); `M_LIMIT_EXCEEDED` waits
//! `retry_after_ms` through the persisted backoff of [`Requester`]; `M_TOO_LARGE` halves the
//! batch. Each page's results are recorded in one transaction.

use std::collections::HashMap;

use super::call::{Failure, parse};
use super::requests::{Requester, checked_user, unix_now};
use super::transport::{Method, Transport};
use super::{MatrixOptions, Ran, SyncOptions, SyncReport};
use crate::error::{Error, Result};
use crate::hash::MatrixHasher;
use crate::identifier::IdentifierKind;
use crate::progress::{Progress, ProgressListener, Stage};
use crate::protocol::encoding::Encoding;
use crate::protocol::matrix::{
    HASH_DETAILS_PATH, HashDetails, LOOKUP_PATH, LookupAnswer, LookupRequest, NONE, SHA256,
    errcodes,
};
use crate::store::Store;
use crate::store::matrix::{self as mx, MatrixState};
use crate::store::private as pv;

/// Pepper changes one sync follows before it decides the server is misbehaving: one is a
/// rotation, a second within the same sync is a server whose pepper cannot be used.
const MAX_PEPPER_CHANGES: u32 = 1;

/// How the server's addresses are to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hashing {
    /// `sha256` or `none`.
    algorithm: &'static str,
    pepper: String,
}

impl Hashing {
    /// What is sent for one identifier: its hash, or with `none` `"<address> <medium>"`.
    fn address(&self, kind: IdentifierKind, canonical: &str) -> Result<String> {
        // The store's canonical forms are the normaliser's output: the spec's normalisation
        // (lower-cased e-mail, E.164 digits) follows from them without parsing again.
        let (medium, address) = MatrixHasher::medium_and_address_of(kind, canonical)
            .map_err(|e| Error::InvalidState(e.to_string()))?;
        Ok(if self.algorithm == SHA256 {
            MatrixHasher::new(self.pepper.as_str()).hash_raw(address, medium)
        } else {
            format!("{address} {medium}")
        })
    }
}

/// What one lookup request ended with.
enum Looked {
    /// What was sent → the Matrix user id bound to it.
    Found(HashMap<String, String>),
    /// The pepper changed: hash again.
    InvalidPepper,
    /// More addresses than the server takes.
    TooLarge,
}

/// What one Matrix sync needs of the engine.
pub(crate) struct MatrixSession<'a> {
    store: &'a Store,
    options: &'a SyncOptions,
    matrix: &'a MatrixOptions,
    listener: &'a dyn ProgressListener,
    requests: Requester<'a>,
    report: SyncReport,
}

impl<'a> MatrixSession<'a> {
    pub(crate) fn new(
        store: &'a Store,
        transport: &'a dyn Transport,
        options: &'a SyncOptions,
        matrix: &'a MatrixOptions,
        listener: &'a dyn ProgressListener,
    ) -> Self {
        let mut requests = Requester::new(store, transport, options, listener, LOOKUP_PATH);
        requests.bearer = Some(matrix.access_token.as_str());
        requests.encoding = Encoding::Json;
        MatrixSession {
            store,
            options,
            matrix,
            listener,
            requests,
            report: SyncReport::default(),
        }
    }

    /// The whole sync.
    pub(crate) fn run(mut self) -> Result<Ran> {
        let interval = i64::try_from(self.matrix.relookup_interval.as_secs()).unwrap_or(i64::MAX);
        let state = self.store.read(mx::matrix_state)?;
        let full_due = |state: &MatrixState| {
            state
                .full_at
                .is_none_or(|at| at.saturating_add(interval) <= unix_now())
        };
        let (_, skip) = self
            .requests
            .begin(|store| Ok(store.read(mx::new_count)? > 0 || full_due(&state)))?;
        self.report.unsupported = self.store.read(mx::unsupported_count)?;
        if let Some(next) = skip {
            self.report.skipped = true;
            self.report.next_sync_at = next;
            return Ok(Ran::Done(self.report));
        }
        self.report.lost_matches += self.store.write(pv::forget_unwanted)?;
        let mut hashing = self.hash_details()?;
        let mut full = self.options.force
            || full_due(&state)
            || state.pepper.as_ref() != Some(&hashing.pepper);
        let mut batch = self.matrix.max_addresses.max(1) as usize;
        let mut pepper_changes = 0;
        let mut after: Option<(IdentifierKind, String)> = None;
        let total = if full {
            None
        } else {
            Some(self.store.read(mx::new_count)?)
        };
        let mut done = 0u64;
        // Pages in key order from `after`; a new pepper starts again from the first.
        loop {
            if self.listener.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let page = self
                .store
                .read(|c| mx::to_look_up(c, full, after.as_ref(), batch))?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            let sent = page
                .iter()
                .map(|(kind, canonical)| hashing.address(*kind, canonical))
                .collect::<Result<Vec<_>>>()?;
            match self.lookup(&hashing, &sent)? {
                Looked::Found(mappings) => {
                    done += self.record_page(page, &sent, mappings)?;
                    self.listener.on_progress(Progress {
                        stage: Stage::Upload,
                        done,
                        total: total.map(|t| t.max(done)),
                    });
                    after = Some(last);
                }
                Looked::InvalidPepper => {
                    pepper_changes += 1;
                    let keeps_changing = || {
                        Error::Protocol(
                            "the identity server keeps refusing the pepper it gives".into(),
                        )
                    };
                    if pepper_changes > MAX_PEPPER_CHANGES {
                        return Err(keeps_changing());
                    }
                    let fresh = self.hash_details()?;
                    if fresh.pepper == hashing.pepper {
                        return Err(keeps_changing());
                    }
                    // Under a new pepper every identifier is looked up again, from the start.
                    hashing = fresh;
                    full = true;
                    after = None;
                }
                Looked::TooLarge => {
                    if batch == 1 {
                        return Err(Error::Protocol(
                            "the identity server refuses a lookup of one address as too large"
                                .into(),
                        ));
                    }
                    batch /= 2;
                    self.report.batches_split += 1;
                }
            }
        }
        self.finish(&hashing.pepper, full, interval)
    }

    /// Records one page's answer in one transaction: every identifier of the page with its
    /// Matrix user id or none. An answer for an address not asked, or a user id that is none,
    /// refuses the whole page. Returns the identifiers looked up.
    fn record_page(
        &mut self,
        page: Vec<(IdentifierKind, String)>,
        sent: &[String],
        mut mappings: HashMap<String, String>,
    ) -> Result<u64> {
        let looked_up: Vec<_> = page
            .into_iter()
            .zip(sent)
            .map(|(id, address)| (id, mappings.remove(address)))
            .collect();
        if !mappings.is_empty() {
            self.report.rejected += 1;
            return Err(Error::Protocol(
                "a lookup answer for an address not asked".into(),
            ));
        }
        for user in looked_up.iter().filter_map(|(_, user)| user.as_deref()) {
            checked_mxid(user)?;
        }
        let (gained, dropped) = self
            .store
            .write(|tx| mx::record_lookups(tx, &looked_up, unix_now()))?;
        let count = looked_up.len() as u64;
        self.report.new_matches += gained;
        self.report.lost_matches += dropped;
        self.report.batches_sent += 1;
        self.report.added += count;
        Ok(count)
    }

    /// Every page is in: the pepper (and a full lookup's time) stored, and the next check set to
    /// when the next full lookup is due.
    fn finish(mut self, pepper: &str, full: bool, interval: i64) -> Result<Ran> {
        let now = unix_now();
        self.store
            .write(|tx| mx::finish_lookups(tx, pepper, full.then_some(now)))?;
        let full_at = self.store.read(mx::matrix_state)?.full_at.unwrap_or(now);
        let due_in = full_at.saturating_add(interval).saturating_sub(now).max(0);
        self.report.next_sync_at = self
            .requests
            .finish(u32::try_from(due_in).unwrap_or(u32::MAX), None)?;
        self.report.batches_retried += self.requests.retried;
        Ok(Ran::Done(self.report))
    }

    /// `GET hash_details`, and the algorithm this app allows among those offered.
    fn hash_details(&mut self) -> Result<Hashing> {
        let details: HashDetails = self.requests.json(Method::Get, HASH_DETAILS_PATH, None)?;
        if details.lookup_pepper.is_empty() || details.lookup_pepper.len() > 256 {
            return Err(Error::Protocol(
                "hash_details without a usable lookup_pepper".into(),
            ));
        }
        let offers = |name: &str| details.algorithms.iter().any(|a| a == name);
        let algorithm = if offers(SHA256) {
            SHA256
        } else if offers(NONE) && self.matrix.allow_plaintext {
            NONE
        } else {
            return Err(Error::Server {
                status: 200,
                code: "matrix_no_allowed_algorithm".into(),
                message: format!(
                    "the identity server offers {:?}; this app allows sha256{}",
                    details.algorithms.iter().take(8).collect::<Vec<_>>(),
                    if self.matrix.allow_plaintext {
                        " and none"
                    } else {
                        " only"
                    }
                ),
            });
        };
        Ok(Hashing {
            algorithm,
            pepper: details.lookup_pepper,
        })
    }

    /// `POST lookup` of these addresses, with the requester's retries (and its persisted backoff
    /// for `M_LIMIT_EXCEEDED`).
    fn lookup(&mut self, hashing: &Hashing, addresses: &[String]) -> Result<Looked> {
        let request = LookupRequest {
            addresses: addresses.to_vec(),
            algorithm: hashing.algorithm.to_owned(),
            pepper: hashing.pepper.clone(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| Error::InvalidState(e.to_string()))?;
        let response =
            match self
                .requests
                .exchange(Method::Post, LOOKUP_PATH, Some((&body, Encoding::Json)))
            {
                Ok(response) => response,
                Err(Failure::Refused { code, .. }) if code == errcodes::INVALID_PEPPER => {
                    return Ok(Looked::InvalidPepper);
                }
                Err(Failure::Refused { code, .. }) if code == errcodes::TOO_LARGE => {
                    return Ok(Looked::TooLarge);
                }
                Err(Failure::TooLarge) => return Ok(Looked::TooLarge),
                Err(failure) => return Err(failure.into_error()),
            };
        let answer: LookupAnswer = parse(&response).map_err(Failure::into_error)?;
        Ok(Looked::Found(answer.mappings))
    }
}

/// A Matrix user id from the server, checked: `@localpart:server`, within the store's limits.
fn checked_mxid(user: &str) -> Result<&str> {
    checked_user(user)?;
    if !user.starts_with('@') || !user.contains(':') {
        return Err(Error::Protocol(
            "a lookup answer that is no Matrix user id".into(),
        ));
    }
    Ok(user)
}

#[cfg(test)]
mod tests;
