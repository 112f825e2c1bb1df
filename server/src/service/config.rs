//! `GET /v1/config`: what a device (or the app's backend) needs before it hashes or uploads —
//! the current key, the hashing parameters, the limits, and what the caller may still add today;
//! with private discovery on, its `private` object (`service::private`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contactsync_core::hash::DIGEST_LEN;
use contactsync_core::protocol::encoding;
use contactsync_core::protocol::wire::{ConfigAnswer, Limits};

use super::auth::Caller;
use super::{Route, Service, keys};
use crate::error::ApiError;
use crate::http::extract::{Accepts, ClientAddr, blocking, encoded};

pub(super) fn routes() -> Vec<Route> {
    vec![("/v1/config", get(config))]
}

/// The admin token or a device's (whose request counts against its rate).
async fn config(
    State(service): State<Arc<Service>>,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    caller: Caller,
) -> Result<Response, ApiError> {
    let answer = blocking(move || service.config(&caller, from)).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `GET /v1/config`.
    fn config(&self, caller: &Caller, from: Option<IpAddr>) -> Result<ConfigAnswer, ApiError> {
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
                // Private discovery's allowance of a new epoch likewise.
                let allowance = allowance.saturating_add(self.private_allowance(
                    &mut *tx,
                    &c.client_id,
                    &current,
                )?);
                self.remaining_for(c, from, tx.usage(&c.client_id)?, now)
                    .saturating_add(u32::try_from(allowance).unwrap_or(u32::MAX))
            }
        };
        // The filter's snapshot may read the storage: not while this transaction holds a
        // connection (a pool of N would deadlock under N such requests).
        drop(tx);
        let private = self.private_config(&current)?;
        let l = self.limits;
        Ok(ConfigAnswer {
            key_id: current.key_id,
            key: URL_SAFE_NO_PAD.encode(&current.secret),
            hash: "hmac-sha256".to_owned(),
            context: contactsync_core::hash::CONTEXT.to_owned(),
            digest_bytes: u32::try_from(DIGEST_LEN).ok(),
            encodings: vec![encoding::CBOR.to_owned()],
            private,
            batch_buckets: self.batch_buckets.clone(),
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
}
