//! `GET /v1/changes`: a device's feed — the hashes of its set that became someone's (an invite
//! of its redeemed, a user registered) or stopped being anyone's since its cursor — a page at a
//! time.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use contactsync_core::protocol::wire::{ChangesAnswer, MatchEntry};

use super::auth::Device;
use super::{Route, Service, parse_number};
use crate::error::ApiError;
use crate::http::extract::{Accepts, encoded, transact};
use crate::storage::ClientRecord;

/// Default and largest page of `GET /v1/changes`.
const MAX_CHANGES_LIMIT: u32 = 1000;

pub(super) fn routes() -> Vec<Route> {
    vec![("/v1/changes", get(changes))]
}

async fn changes(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    RawQuery(query): RawQuery,
    Device { client, .. }: Device,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, _| {
        service.changes(&client, query.as_deref())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `GET /v1/changes?since=&limit=`.
    fn changes(
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

#[cfg(test)]
mod tests {
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
}
