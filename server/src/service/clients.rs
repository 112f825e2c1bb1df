//! Deleting a client, with the receipt docs/protocol.md describes: by the device itself
//! (`DELETE /v1/client`, consent withdrawn) or by the app's backend (`DELETE
//! /v1/admin/clients/{client_id}`: a lost or stolen device, a user who left).

use contactsync_core::protocol::wire::DeleteReceipt;

use super::Service;
use crate::error::ApiError;
use crate::storage::{ReceiptRecord, Scope};
use crate::util::{random_id, sha256};

impl Service {
    /// `DELETE /v1/admin/clients/{client_id}`: the client is deleted as its own `DELETE
    /// /v1/client` would delete it (its set, batch answers, invites, counters; a receipt is kept);
    /// its token stops working at once. An unknown client is `404 not_found`.
    pub(crate) fn revoke_client(
        &self,
        client_id: &str,
        now: i64,
    ) -> Result<DeleteReceipt, ApiError> {
        self.delete_client_with_receipt(client_id, ApiError::NotFound("no such client"), now)
    }

    /// Deletes `client_id` and everything it holds, keeping a receipt; `missing` when there is
    /// no such client.
    pub(super) fn delete_client_with_receipt(
        &self,
        client_id: &str,
        missing: ApiError,
        now: i64,
    ) -> Result<DeleteReceipt, ApiError> {
        let receipt_id = random_id::<16>("r_")?;
        let mut tx = self.storage.write_in(Scope::Client(client_id))?;
        let deleted = tx.delete_client(client_id)?.ok_or(missing)?;
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
