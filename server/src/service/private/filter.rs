//! The users' filter: `GET /v1/private/filter` (the whole filter, or one shard of it, in parts)
//! and `GET /v1/private/filter/changes` (the tags that joined and left since a version, of one
//! shard), both at the version of the snapshot this instance has cached.
//!
//! **Shards.** With `private_shard_bits` k above 0, shard s is the filter of the tags whose top
//! k bits are s, and both routes need `shard=s` (below 2^k; anything else is `400`). A snapshot
//! builds every shard at once from one read of the tags: the same work as one filter. The
//! version stays global (the log's newest entry), so a shard's changes are the log's entries
//! of its tags, and a client following several shards keeps them at one version.
//!
//! **Why a cache.** Building a filter reads every discoverable user's tag in the epoch; a sync
//! must not cost that. The cache keeps the snapshot of one (epoch, version), checks the log for a
//! newer version at most once per `private_filter_rebuild_s`, and rebuilds only when it moved.
//! `GET /v1/config` advertises the snapshot's version and changes stop at it, so a client sees
//! one consistent version; the previous snapshot is kept too, so a client downloading its
//! parts when a rebuild lands still finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use contactsync_core::oprf::Tag;
use contactsync_core::oprf::filter::UserFilter;
use contactsync_core::protocol::private::{
    FILTER_MEDIA_TYPE, FilterChanges, FilterPart, TagList, shard_count, shard_of,
};

use super::super::auth::Device;
use super::super::{Route, Service, keys, parse_number};
use super::{Private, current_epoch_of};
use crate::error::ApiError;
use crate::http::extract::{Accepts, encoded, transact};
use crate::storage::Storage;

/// Tags one changes answer carries at most (about 2.7 MiB as JSON, 2 MiB as CBOR): more is
/// `410 filter_stale`, and the client downloads the whole filter.
const MAX_CHANGED_TAGS: usize = 1 << 18;

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/private/filter", get(filter)),
        ("/v1/private/filter/changes", get(changes)),
    ]
}

/// One built filter: its shards (one when unsharded).
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) epoch: u32,
    pub(crate) version: u64,
    shards: Vec<UserFilter>,
}

#[derive(Debug, Default)]
struct Cached {
    current: Option<Arc<Snapshot>>,
    previous: Option<Arc<Snapshot>>,
    /// When the log was last read for a newer version.
    checked: Option<Instant>,
}

/// This instance's snapshots of the filter.
#[derive(Debug)]
pub(crate) struct FilterCache {
    rebuild: Duration,
    shard_bits: u8,
    state: Mutex<Cached>,
}

impl FilterCache {
    pub(crate) fn new(rebuild: Duration, shard_bits: u8) -> Self {
        FilterCache {
            rebuild,
            shard_bits,
            state: Mutex::new(Cached::default()),
        }
    }

    /// The snapshot to serve for `epoch`: the cached one while it is fresh, else rebuilt when
    /// the log moved on. A new epoch is built at once. Requests wait while one builds (the
    /// lock): one build, not one per request.
    pub(crate) fn snapshot(
        &self,
        storage: &dyn Storage,
        epoch: u32,
    ) -> Result<Arc<Snapshot>, ApiError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(current), Some(checked)) = (&state.current, state.checked)
            && current.epoch == epoch
            && checked.elapsed() < self.rebuild
        {
            return Ok(Arc::clone(current));
        }
        // One read transaction: the tags and the version they are at agree.
        let mut tx = storage.read()?;
        let version = tx.filter_version(epoch)?;
        state.checked = Some(Instant::now());
        if let Some(current) = &state.current
            && current.epoch == epoch
            && current.version == version
        {
            return Ok(Arc::clone(current));
        }
        let tags = tx.discoverable_tags(epoch)?;
        drop(tx);
        let count = tags.len();
        let mut by_shard: Vec<Vec<Tag>> = vec![Vec::new(); shard_count(self.shard_bits) as usize];
        for tag in tags.into_iter().map(Tag) {
            by_shard[shard_of(tag, self.shard_bits) as usize].push(tag);
        }
        let shards = by_shard
            .iter()
            .map(|tags| UserFilter::build(tags))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                tracing::error!(error = %e, "building the users' filter failed");
                ApiError::Internal
            })?;
        tracing::debug!(
            epoch,
            version,
            tags = count,
            shards = shards.len(),
            "built the users' filter"
        );
        let built = Arc::new(Snapshot {
            epoch,
            version,
            shards,
        });
        state.previous = state.current.replace(Arc::clone(&built));
        Ok(built)
    }

    /// A kept snapshot of `epoch` at `version`.
    fn kept(&self, epoch: u32, version: u64) -> Option<Arc<Snapshot>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        [&state.current, &state.previous]
            .into_iter()
            .flatten()
            .find(|s| s.epoch == epoch && s.version == version)
            .cloned()
    }
}

async fn filter(
    State(service): State<Arc<Service>>,
    RawQuery(query): RawQuery,
    _: Device,
) -> Result<Response, ApiError> {
    let body = transact(service, move |service, _| {
        service.filter_part(query.as_deref().unwrap_or(""))
    })
    .await?;
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(FILTER_MEDIA_TYPE),
    );
    Ok(response)
}

async fn changes(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    RawQuery(query): RawQuery,
    _: Device,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, _| {
        service.filter_changes(query.as_deref().unwrap_or(""))
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

/// A query's numbers by name: each of `names` at most once, nothing else; `required` present.
fn parse_query(
    query: &str,
    names: &[&'static str],
    required: &[&'static str],
) -> Result<HashMap<&'static str, u64>, ApiError> {
    let mut found = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let name = names
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| ApiError::malformed("unknown query parameter"))?;
        let value = parse_number(&value)
            .ok_or_else(|| ApiError::malformed("a query value is not a number"))?;
        if found.insert(*name, value).is_some() {
            return Err(ApiError::malformed("a query parameter is given twice"));
        }
    }
    if let Some(missing) = required.iter().find(|n| !found.contains_key(*n)) {
        return Err(ApiError::Malformed(format!("the query needs {missing}")));
    }
    Ok(found)
}

fn epoch_of(query: &HashMap<&'static str, u64>) -> Result<u32, ApiError> {
    u32::try_from(query.get("epoch").copied().unwrap_or_default())
        .map_err(|_| ApiError::EpochRotated)
}

impl Private {
    /// The query's shard: required below 2^k when sharded; absent or 0 when not (the routes as
    /// before sharding). Anything else is `400 malformed`.
    fn shard_of_query(&self, query: &HashMap<&'static str, u64>) -> Result<u32, ApiError> {
        match query.get("shard") {
            None if self.shard_bits == 0 => Ok(0),
            None => Err(ApiError::malformed(
                "the filter is sharded: the query needs shard (GET /v1/config)",
            )),
            Some(shard) => u32::try_from(*shard)
                .ok()
                .filter(|s| *s < shard_count(self.shard_bits))
                .ok_or_else(|| ApiError::malformed("no such shard of the filter (GET /v1/config)")),
        }
    }
}

impl Service {
    /// The current epoch, and `409 epoch_rotated` unless `asked` is it.
    fn current_epoch(&self, asked: u32) -> Result<u32, ApiError> {
        let mut tx = self.storage.read()?;
        let (current, _) = keys(&mut *tx)?;
        let epoch = current_epoch_of(&current)?;
        if asked == epoch {
            Ok(epoch)
        } else {
            Err(ApiError::EpochRotated)
        }
    }

    /// `GET /v1/private/filter?epoch=E&part=K[&version=V][&shard=S]`: part `K` of shard `S`
    /// of the snapshot at `V` (without `V`: the current snapshot, which part 0 names for the
    /// parts after it).
    fn filter_part(&self, query: &str) -> Result<Vec<u8>, ApiError> {
        let private = self.private()?;
        let query = parse_query(
            query,
            &["epoch", "part", "version", "shard"],
            &["epoch", "part"],
        )?;
        let shard = private.shard_of_query(&query)?;
        let epoch = self.current_epoch(epoch_of(&query)?)?;
        let snapshot = match query.get("version") {
            Some(version) => private
                .filters
                .kept(epoch, *version)
                .ok_or(ApiError::FilterStale)?,
            None => private.filters.snapshot(self.storage.as_ref(), epoch)?,
        };
        let part = query
            .get("part")
            .and_then(|p| u32::try_from(*p).ok())
            .ok_or(ApiError::NotFound("no such part of the filter"))?;
        let filter = snapshot
            .shards
            .get(shard as usize)
            .ok_or(ApiError::Internal)?;
        let part = FilterPart::of(epoch, snapshot.version, filter, part)
            .ok_or(ApiError::NotFound("no such part of the filter"))?;
        Ok(part.to_bytes())
    }

    /// `GET /v1/private/filter/changes?epoch=E&since=V[&shard=S]`: the net change of each tag
    /// of shard `S` from `V` to the current snapshot's version; `410 filter_stale` when the log
    /// no longer reaches back to `V`.
    fn filter_changes(&self, query: &str) -> Result<FilterChanges, ApiError> {
        let private = self.private()?;
        let query = parse_query(query, &["epoch", "since", "shard"], &["epoch", "since"])?;
        let shard = private.shard_of_query(&query)?;
        let epoch = self.current_epoch(epoch_of(&query)?)?;
        let since = query.get("since").copied().unwrap_or_default();
        let snapshot = private.filters.snapshot(self.storage.as_ref(), epoch)?;
        // A client ahead of this instance's snapshot (another instance's newer one) is told it
        // is where it is.
        let version = snapshot.version.max(since);
        let mut tx = self.storage.read()?;
        if since < tx.filter_floor(epoch)? {
            return Err(ApiError::FilterStale);
        }
        let log = tx.filter_log(epoch, since, version)?;
        // Entries are transitions, so a tag's first entry says what it was at `since` (the
        // opposite of what it became), its last what it is now.
        let mut ends: HashMap<u64, (bool, bool)> = HashMap::new();
        let bits = private.shard_bits;
        for (tag, present) in log
            .into_iter()
            .filter(|(t, _)| shard_of(Tag(*t), bits) == shard)
        {
            ends.entry(tag).or_insert((present, present)).1 = present;
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for (tag, (first, now)) in ends {
            match (!first, now) {
                (false, true) => added.push(Tag(tag)),
                (true, false) => removed.push(Tag(tag)),
                _ => {}
            }
        }
        // A client far behind gets the whole filter instead: its parts stay under what a
        // transport reads, a changes answer of this many tags would not.
        if added.len() + removed.len() > MAX_CHANGED_TAGS {
            return Err(ApiError::FilterStale);
        }
        added.sort_unstable_by_key(|t| t.0);
        removed.sort_unstable_by_key(|t| t.0);
        Ok(FilterChanges {
            epoch,
            since,
            version,
            added: TagList(added),
            removed: TagList(removed),
        })
    }
}
