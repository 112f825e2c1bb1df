//! Deleting a client, with the receipt docs/protocol.md describes: by the device itself
//! (`DELETE /v1/client`, consent withdrawn) or by the app's backend (`DELETE
//! /v1/admin/clients/{client_id}`: a lost or stolen device, a user who left).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::delete;
use contactsync_core::protocol::wire::DeleteReceipt;

use super::auth::{Admin, Device};
use super::{Route, Service};
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, WithPath, encoded, transact};
use crate::storage::{ClientRecord, InviteSet, ReceiptRecord, Scope};
use crate::util::{random_id, sha256};

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/admin/clients/{client_id}", delete(revoke_client)),
        ("/v1/client", delete(delete_client)),
    ]
}

async fn delete_client(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Device { client, .. }: Device<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.delete_client(&client, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn revoke_client(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin {
        body: WithPath(client_id, _),
    }: Admin<WithPath<Body>>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.revoke_client(&client_id, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `DELETE /v1/client`.
    fn delete_client(&self, client: &ClientRecord, now: i64) -> Result<DeleteReceipt, ApiError> {
        self.delete_client_with_receipt(&client.client_id, ApiError::Unauthorized, now)
    }

    /// `DELETE /v1/admin/clients/{client_id}`: the client is deleted as its own `DELETE
    /// /v1/client` would delete it (its set, batch answers, invites, counters; a receipt is kept);
    /// its token stops working at once. An unknown client is `404 not_found`.
    fn revoke_client(&self, client_id: &str, now: i64) -> Result<DeleteReceipt, ApiError> {
        self.delete_client_with_receipt(client_id, ApiError::NotFound("no such client"), now)
    }

    /// Deletes `client_id` and everything it holds, keeping a receipt; `missing` when there is
    /// no such client.
    fn delete_client_with_receipt(
        &self,
        client_id: &str,
        missing: ApiError,
        now: i64,
    ) -> Result<DeleteReceipt, ApiError> {
        let receipt_id = random_id::<16>("r_")?;
        let mut tx = self.storage.write_in(Scope::Client(client_id))?;
        // Its open invites close: their values leave the private mode's filter.
        let deleted = super::private::directory::invites_changing(
            &mut *tx,
            InviteSet::OfClient(client_id),
            &[],
            now,
            |tx| tx.delete_client(client_id),
        )?
        .ok_or(missing)?;
        tx.insert_receipt(&ReceiptRecord {
            receipt_id: receipt_id.clone(),
            client_id_sha256: sha256(client_id.as_bytes()),
            deleted_at: now,
            deleted,
        })?;
        tx.commit()?;
        Ok(DeleteReceipt {
            receipt_id,
            client_id: client_id.to_owned(),
            deleted_at: now,
            deleted,
        })
    }
}
