//! The admin API's hashing keys: the two-step rotation (`POST /v1/admin/keys` makes the next
//! key, users are registered again under it, `.../activate` makes it current) and the list with
//! what is hashed under each key.
//!
//! With private discovery on, a new key gets its OPRF half (an epoch) with it: the rotation
//! serves both modes.
//!
//! The server cannot re-hash a user by itself: it never kept the identifiers. So activation is
//! refused while any user has fewer identifiers under the next key than under the current one —
//! activating would make them undiscoverable — unless the operator forces it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use contactsync_core::protocol::wire::{
    ActivateAnswer, ActivateRequest, KeyCoverage, KeyInfo, KeysAnswer,
};

use super::auth::Admin;
use super::private::directory;
use super::{Payload, Route, Service, key_info, keys, new_key, parse_body_or_default};
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, WithPath, encoded, transact};
use crate::storage::{KeyRecord, KeyState, Scope, Transaction};

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/admin/keys", post(create_key).get(list_keys)),
        ("/v1/admin/keys/{key_id}/activate", post(activate_key)),
    ]
}

/// `201` when the next key was made now, `200` when it was there already.
async fn create_key(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    _: Admin<Body>,
) -> Result<Response, ApiError> {
    let (created, answer) = transact(service, Service::create_key).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    encoded(accepts, status, &answer)
}

async fn list_keys(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    _: Admin,
) -> Result<Response, ApiError> {
    let answer = transact(service, |service, _| service.list_keys()).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn activate_key(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin {
        body: WithPath(key_id, body),
    }: Admin<WithPath<Body>>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, _| {
        service.activate_key(&key_id, body.payload())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `POST /v1/admin/keys`: the next key, and whether it was created now (a second call
    /// during a rotation answers the same next key: a retry must not discard registrations).
    fn create_key(&self, now: i64) -> Result<(bool, KeyInfo), ApiError> {
        let mut tx = self.storage.write_in(Scope::Directory)?;
        if let (_, Some(next)) = keys(&mut *tx)? {
            return Ok((false, key_info(&next)));
        }
        let key = new_key(KeyState::Next, now)?;
        tx.insert_key(&key)?;
        if self.private.is_some() {
            directory::ensure_oprf(&mut *tx, now)?;
        }
        tx.commit()?;
        tracing::info!(key_id = %key.key_id, "created the next hashing key");
        Ok((true, key_info(&key)))
    }

    /// `POST /v1/admin/keys/{key_id}/activate` (body `{"force": true}` or empty). Activating the
    /// current key again is a no-op. Refused with `409 key_incomplete` while users would be lost,
    /// unless forced.
    fn activate_key(&self, key_id: &str, body: Payload<'_>) -> Result<ActivateAnswer, ApiError> {
        let request: ActivateRequest = parse_body_or_default(body)?;
        let mut tx = self.storage.write_in(Scope::Directory)?;
        let (current, next) = keys(&mut *tx)?;
        if current.key_id == key_id {
            return Ok(ActivateAnswer {
                key_id: current.key_id,
                state: KeyState::Current.as_str().to_owned(),
                retired: None,
                coverage: KeyCoverage::default(),
                forced: false,
            });
        }
        let next = next
            .filter(|n| n.key_id == key_id)
            .ok_or(ApiError::NotFound("no such next key"))?;
        let coverage = coverage(&mut *tx, &current, &next)?;
        if coverage.users_short > 0 && !request.force {
            return Err(ApiError::KeyIncomplete(coverage));
        }
        tx.delete_key(&current.key_id)?;
        tx.set_key_state(&next.key_id, KeyState::Current)?;
        tx.commit()?;
        if coverage.users_short > 0 {
            tracing::warn!(
                key_id = %next.key_id,
                retired = %current.key_id,
                users_short = coverage.users_short,
                "activated a hashing key by force: users not registered under it are lost"
            );
        } else {
            tracing::info!(key_id = %next.key_id, retired = %current.key_id, "activated a hashing key");
        }
        Ok(ActivateAnswer {
            key_id: next.key_id,
            state: KeyState::Current.as_str().to_owned(),
            retired: Some(current.key_id),
            coverage,
            forced: request.force && coverage.users_short > 0,
        })
    }

    /// `GET /v1/admin/keys`: the keys, each with how many users and identifiers are hashed
    /// under it.
    fn list_keys(&self) -> Result<KeysAnswer, ApiError> {
        let mut tx = self.storage.read()?;
        let (current, next) = keys(&mut *tx)?;
        let counts = tx.key_counts()?;
        Ok(KeysAnswer {
            keys: std::iter::once(&current)
                .chain(next.as_ref())
                .map(|key| {
                    let count = counts.iter().find(|c| c.key_id == key.key_id);
                    KeyInfo {
                        users: Some(count.map_or(0, |c| c.users)),
                        identifiers: Some(count.map_or(0, |c| c.identifiers)),
                        ..key_info(key)
                    }
                })
                .collect(),
        })
    }
}

/// What activating `next` would keep of what is registered under `current`.
fn coverage(
    tx: &mut dyn Transaction,
    current: &KeyRecord,
    next: &KeyRecord,
) -> Result<KeyCoverage, ApiError> {
    let counts = tx.key_counts()?;
    let of = |key: &KeyRecord| {
        counts
            .iter()
            .find(|c| c.key_id == key.key_id)
            .map_or((0, 0), |c| (c.users, c.identifiers))
    };
    let ((users_current, identifiers_current), (users_next, identifiers_next)) =
        (of(current), of(next));
    Ok(KeyCoverage {
        users_current,
        users_next,
        identifiers_current,
        identifiers_next,
        users_short: tx.users_short(&current.key_id, &next.key_id)?,
    })
}
