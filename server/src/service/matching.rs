//! `POST /v1/admin/match`: the app's backend asks who a list of hashes belongs to (users and
//! open invites' creators), under the current key. A read transaction: nothing is written.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use contactsync_core::protocol::wire::{MatchAnswer, MatchEntry, MatchRequest};

use super::auth::Admin;
use super::{Payload, Route, Service, keys, lookup, parse_body, parse_hashes};
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, encoded, transact};

pub(super) fn routes() -> Vec<Route> {
    vec![("/v1/admin/match", post(admin_match))]
}

async fn admin_match(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin { body }: Admin<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.admin_match(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `POST /v1/admin/match`: a read transaction, nothing written.
    fn admin_match(&self, body: Payload<'_>, now: i64) -> Result<MatchAnswer, ApiError> {
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
