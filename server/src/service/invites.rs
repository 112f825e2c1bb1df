//! Invites: a device of a user makes a code (`POST /v1/invites`) to share outside the app,
//! another user's device redeems it (`POST /v1/invites/redeem`) and the creator's feed gets the
//! redeemer; the creator may revoke an open one (`DELETE /v1/invites/{code}`). Only the code's
//! SHA-256, its hashes under the keys and its PRF values under the keys' epochs are stored.
//!
//! While open, an invite is its creator's identifier in both modes: its keyed hash answers a
//! batch, its PRF value is in the private mode's filter and answers a lookup
//! (`private::directory::invites_changing` logs it in and out of the filter). The creator
//! learns who redeemed from its feed, in both modes (a change addressed to its client under the
//! invite's keyed hash): a private-mode device reads that feed too, which tells the server
//! nothing it does not know — it made the match.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use contactsync_core::IdentifierKind;
use contactsync_core::identifier::invite;
use contactsync_core::protocol::wire::{
    InviteAnswer, InviteRequest, RedeemAnswer, RedeemRequest, RevokeAnswer,
};

use super::auth::Device;
use super::private::directory;
use super::{Payload, Route, Service, hash_key, keys, parse_body, parse_body_or_default};
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, WithPath, encoded, transact};
use crate::storage::{ClientRecord, InviteSet, KeyRecord, Scope};
use crate::util::{random_bytes, sha256};

const DEFAULT_INVITE_TTL_S: u32 = 7 * 86_400;
const MAX_INVITE_TTL_S: u32 = 30 * 86_400;
/// Random bytes per invite code: 80 bits, 16 data characters plus the check character.
const INVITE_ENTROPY_BYTES: usize = 10;

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/invites", post(create_invite)),
        ("/v1/invites/redeem", post(redeem_invite)),
        ("/v1/invites/{code}", delete(revoke_invite)),
    ]
}

async fn create_invite(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Device { client, body }: Device<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.create_invite(&client, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

async fn revoke_invite(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Device {
        client,
        body: WithPath(code, _),
    }: Device<WithPath<Body>>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.revoke_invite(&client, &code, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn redeem_invite(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Device { client, body }: Device<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.redeem_invite(&client, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `POST /v1/invites`.
    fn create_invite(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        now: i64,
    ) -> Result<InviteAnswer, ApiError> {
        let request: InviteRequest = parse_body_or_default(body)?;
        let ttl = request.ttl_s.unwrap_or(DEFAULT_INVITE_TTL_S);
        if ttl == 0 || ttl > MAX_INVITE_TTL_S {
            return Err(ApiError::malformed(
                "ttl_s must be 1 to 2592000 seconds (30 days)",
            ));
        }
        let code = invite::from_entropy(&random_bytes::<INVITE_ENTROPY_BYTES>()?);
        let code_sha256 = sha256(code.as_bytes());
        let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
        let client = tx
            .client(&client.client_id)?
            .ok_or(ApiError::Unauthorized)?;
        let user_ref = client.user_ref.ok_or(ApiError::UserRequired(
            "only a device registered for a user can invite",
        ))?;
        // Hashed under every key, so the invite stays findable across an activation.
        let (current, next) = keys(&mut *tx)?;
        let mut hashes = Vec::with_capacity(2);
        for key in std::iter::once(&current).chain(next.as_ref()) {
            hashes.push((
                key.key_id.clone(),
                hash_key(key)?.hash_parts(IdentifierKind::Invite, &code),
            ));
        }
        // And evaluated under every epoch (current and next), so the private mode's filter and
        // lookups have it too: the server knows the code only now.
        let every: Vec<&KeyRecord> = std::iter::once(&current).chain(next.as_ref()).collect();
        let values = directory::invite_values(&every, &code)?;
        let expires_at = now + i64::from(ttl);
        let invite = crate::storage::InviteRecord {
            code_sha256,
            client_id: client.client_id,
            user_ref,
            created_at: now,
            expires_at,
        };
        directory::invites_changing(&mut *tx, InviteSet::One(&code_sha256), &values, now, |tx| {
            tx.insert_invite(&invite, &hashes)?;
            tx.insert_invite_prf(&code_sha256, &values)
        })?;
        tx.commit()?;
        crate::metrics::invite_created();
        Ok(InviteAnswer {
            link: format!("{}/i/{code}", self.public_url),
            code,
            expires_at,
        })
    }

    /// `DELETE /v1/invites/{code}`.
    fn revoke_invite(
        &self,
        client: &ClientRecord,
        code: &str,
        now: i64,
    ) -> Result<RevokeAnswer, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such open invite of this client");
        let code = invite::normalize(code).map_err(|_| UNKNOWN)?;
        let code_sha256 = sha256(code.as_bytes());
        let mut tx = self.storage.write_in(Scope::Client(&client.client_id))?;
        match tx.invite(&code_sha256)? {
            Some(inv) if inv.client_id == client.client_id && inv.expires_at > now => {
                close(&mut *tx, &code_sha256, now)?;
                tx.commit()?;
                Ok(RevokeAnswer { revoked: true })
            }
            _ => Err(UNKNOWN),
        }
    }

    /// `POST /v1/invites/redeem`.
    fn redeem_invite(
        &self,
        client: &ClientRecord,
        body: Payload<'_>,
        now: i64,
    ) -> Result<RedeemAnswer, ApiError> {
        // One answer for unknown, expired, revoked and used codes: a code's state cannot be probed.
        const UNKNOWN: ApiError = ApiError::NotFound("no such open invite");
        let request: RedeemRequest = parse_body(body)?;
        let mut tx = self.storage.write()?;
        let client = tx
            .client(&client.client_id)?
            .ok_or(ApiError::Unauthorized)?;
        let redeemer = client.user_ref.ok_or(ApiError::UserRequired(
            "only a device registered for a user can redeem",
        ))?;
        let code = invite::normalize(&request.code).map_err(|_| UNKNOWN)?;
        let code_sha256 = sha256(code.as_bytes());
        let invite = tx
            .invite(&code_sha256)?
            .filter(|i| i.expires_at > now)
            .ok_or(UNKNOWN)?;
        if invite.user_ref == redeemer {
            return Err(ApiError::Forbidden(
                "an invite cannot be redeemed by its own user",
            ));
        }
        // Single use: the invite closes, and its creator's feed gets the redeemer under the
        // invite's hash (under the current key, the one the creator's device hashes with, and
        // during a rotation under the next one too: activation drops the current key's changes,
        // and the creator's device re-hashes the code it keeps).
        let (current, next) = keys(&mut *tx)?;
        close(&mut *tx, &code_sha256, now)?;
        for key in std::iter::once(&current).chain(next.as_ref()) {
            let digest = hash_key(key)?.hash_parts(IdentifierKind::Invite, &code);
            tx.append_change(
                &key.key_id,
                &digest,
                Some(&redeemer),
                Some(&invite.client_id),
                now,
            )?;
        }
        tx.commit()?;
        crate::metrics::invite_redeemed();
        Ok(RedeemAnswer {
            user_ref: invite.user_ref,
        })
    }
}

/// Closes an open invite: deletes it, its hashes and its PRF values (out of the filter).
fn close(
    tx: &mut dyn crate::storage::Transaction,
    code_sha256: &[u8; 32],
    now: i64,
) -> Result<(), ApiError> {
    Ok(directory::invites_changing(
        tx,
        InviteSet::One(code_sha256),
        &[],
        now,
        |tx| tx.delete_invite(code_sha256),
    )?)
}
