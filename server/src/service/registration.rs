//! Registration (docs/protocol.md, "Registration"): a device the app's backend vouches for, or —
//! when the operator opens it — a device that registers itself, within the limits of
//! [`crate::registration`], which also bound what openly registered devices add per address —
//! and the bound on any device's set (`max_set_size`): the limits that keep devices from being
//! a cheap way to test or watch identifiers.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use contactsync_core::protocol::wire::{Registered, VouchRequest};
use serde::Deserialize;

use super::auth::Admin;
use super::{Payload, Route, Service, parse_body, parse_body_or_default};
use crate::IpNet;
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, ClientAddr, encoded, transact};
use crate::registration::Reservation;
use crate::storage::{ClientRecord, Transaction, Usage};
use crate::util::{random_id, sha256, valid_user_ref};

/// `POST /v1/clients` takes `{}` (or nothing): no field is defined, so any field is unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {}

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/clients", post(register)),
        ("/v1/admin/clients", post(vouch)),
    ]
}

/// Open registration: no token (the limits of [`crate::registration`] stand in for one).
async fn register(
    State(service): State<Arc<Service>>,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.register_open(body.payload(), now, from)
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

async fn vouch(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin { body }: Admin<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.vouch(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

impl Service {
    /// `POST /v1/clients`: `forbidden` unless open registration is on, then one registration
    /// from `from`'s bucket and the global one (`429` when either is empty).
    fn register_open(
        &self,
        body: Payload<'_>,
        now: i64,
        from: Option<IpAddr>,
    ) -> Result<Registered, ApiError> {
        if !self.open_registration {
            return Err(ApiError::Forbidden("open registration is disabled"));
        }
        parse_body_or_default::<RegisterRequest>(body)?;
        self.registrations.admit(from, now)?;
        self.register(None, now)
    }

    /// `POST /v1/admin/clients`.
    fn vouch(&self, body: Payload<'_>, now: i64) -> Result<Registered, ApiError> {
        let request: VouchRequest = parse_body(body)?;
        if !valid_user_ref(&request.user_ref) {
            return Err(ApiError::malformed(
                "user_ref must be 1 to 128 printable ASCII characters",
            ));
        }
        self.register(Some(request.user_ref), now)
    }

    fn register(&self, user_ref: Option<String>, now: i64) -> Result<Registered, ApiError> {
        let token = random_id::<32>("t_")?;
        let mut tx = self.storage.write()?;
        // The feed's head now, in the registering transaction: every change recorded after it
        // (an invite of this client's redeemed before its first sync) is in its feed.
        let client = ClientRecord {
            client_id: random_id::<16>("c_")?,
            user_ref,
            set_key_id: None,
            rekey_allowance: 0,
            feed_start: tx.head_seq()?,
        };
        tx.insert_client(&client, &sha256(token.as_bytes()), now)?;
        tx.commit()?;
        crate::metrics::registered(client.user_ref.is_some());
        Ok(Registered {
            client_id: client.client_id,
            token,
            user_ref: client.user_ref,
        })
    }

    /// The proxies whose `X-Forwarded-For` counts (`client_ip`).
    pub(crate) fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }

    /// How long an openly registered device that never uploaded is kept, in seconds.
    pub(super) fn unsynced_ttl_s(&self) -> i64 {
        i64::try_from(self.registrations.limits().unsynced_client_ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// Charges `charged` new identifiers of an openly registered `client` to the day of the
    /// address it sends from (`daily_quota` when that is spent); nothing for a vouched device.
    /// The caller keeps the reservation once its batch has committed.
    pub(super) fn reserve_for_open(
        &self,
        client: &ClientRecord,
        from: Option<IpAddr>,
        charged: u64,
        now: i64,
    ) -> Result<Reservation<'_>, ApiError> {
        let charged = if client.user_ref.is_some() {
            0
        } else {
            charged
        };
        self.registrations.reserve(from, charged, now)
    }

    /// After a batch's writes: `set_full` (rolling the batch back) when it added hashes and the
    /// set now holds more than `max_set_size`. A batch that adds nothing new never fails here,
    /// so a device at the bound can still remove and re-sync. (Counting costs a scan of the
    /// set, so only batches that grow it pay for it.)
    pub(super) fn check_set_size(
        &self,
        tx: &mut dyn Transaction,
        client_id: &str,
        new_hashes: u64,
    ) -> Result<(), ApiError> {
        let max_set_size = self.limits.max_set_size;
        if new_hashes > 0 && tx.set_size(client_id)? > u64::from(max_set_size) {
            return Err(ApiError::SetFull { max_set_size });
        }
        Ok(())
    }

    /// What `client` may still add today (`remaining_today`, before any rotation allowance): its
    /// own budget, and for an openly registered device at most what its address has left, so
    /// that the device plans its additions by what will be accepted.
    pub(super) fn remaining_for(
        &self,
        client: &ClientRecord,
        from: Option<IpAddr>,
        usage: Option<Usage>,
        now: i64,
    ) -> u32 {
        let own = self.remaining_today(usage, now);
        if client.user_ref.is_some() {
            return own;
        }
        let address = self.registrations.identifiers_left(from, now);
        own.min(u32::try_from(address).unwrap_or(u32::MAX))
    }
}
