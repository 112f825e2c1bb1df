//! Clients (devices), their daily counters, the sweep of unsynced ones, and the receipts a
//! deletion leaves, as PostgreSQL rows.

use contactsync_core::protocol::wire::DeletedCounts;

use super::{CLIENT_COLUMNS, PgTx, client_row, get};
use crate::error::ServerError;
use crate::storage::convert::{to_i64, to_u64};
use crate::storage::{ClientRecord, ReceiptRecord, Usage};

impl PgTx<'_> {
    pub(super) fn insert_client(
        &mut self,
        client: &ClientRecord,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO clients (client_id, token_sha256, user_ref, created_at, set_key_id,
                                  rekey_allowance, feed_start)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &client.client_id,
                &&token_sha256[..],
                &client.user_ref,
                &created_at,
                &client.set_key_id,
                &to_i64(client.rekey_allowance),
                &to_i64(client.feed_start),
            ],
        )?;
        Ok(())
    }

    pub(super) fn client_by_token(
        &mut self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<ClientRecord>, ServerError> {
        self.query_opt(
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE token_sha256 = $1"),
            &[&&token_sha256[..]],
        )?
        .as_ref()
        .map(client_row)
        .transpose()
    }

    pub(super) fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError> {
        self.query_opt(
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"),
            &[&client_id],
        )?
        .as_ref()
        .map(client_row)
        .transpose()
    }

    pub(super) fn update_client_set(
        &mut self,
        client_id: &str,
        set_key_id: &str,
        rekey_allowance: u64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "UPDATE clients SET set_key_id = $2, rekey_allowance = $3 WHERE client_id = $1",
            &[&client_id, &set_key_id, &to_i64(rekey_allowance)],
        )?;
        Ok(())
    }

    pub(super) fn delete_client(
        &mut self,
        client_id: &str,
    ) -> Result<Option<DeletedCounts>, ServerError> {
        self.writing()?;
        // The client's row first, locked: a concurrent deletion of the same client waits here.
        if self
            .query_opt(
                "SELECT 1 FROM clients WHERE client_id = $1 FOR UPDATE",
                &[&client_id],
            )?
            .is_none()
        {
            return Ok(None);
        }
        let counts = DeletedCounts {
            hashes: self.count(
                "SELECT count(*) FROM client_hashes WHERE client_id = $1",
                &[&client_id],
            )?,
            batches: self.count(
                "SELECT count(*) FROM batches WHERE client_id = $1",
                &[&client_id],
            )?,
            invites: self.count(
                "SELECT count(*) FROM invites WHERE client_id = $1",
                &[&client_id],
            )?,
        };
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = $1)",
            "DELETE FROM invite_prf_values WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = $1)",
            "DELETE FROM invites WHERE client_id = $1",
            "DELETE FROM client_hashes WHERE client_id = $1",
            "DELETE FROM batches WHERE client_id = $1",
            "DELETE FROM usage WHERE client_id = $1",
            "DELETE FROM private_usage WHERE client_id = $1",
            "DELETE FROM request_counts WHERE client_id = $1",
            "DELETE FROM changes WHERE target_client = $1",
            "DELETE FROM clients WHERE client_id = $1",
        ] {
            self.execute(sql, &[&client_id])?;
        }
        Ok(Some(counts))
    }

    pub(super) fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError> {
        self.query_opt(
            "SELECT quota_day, quota_used FROM usage WHERE client_id = $1",
            &[&client_id],
        )?
        .map(|r| {
            Ok(Usage {
                quota_day: get(&r, 0)?,
                quota_used: to_u64(get(&r, 1)?),
            })
        })
        .transpose()
    }

    pub(super) fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO usage (client_id, quota_day, quota_used) VALUES ($1, $2, $3)
             ON CONFLICT (client_id) DO UPDATE
                 SET quota_day = excluded.quota_day, quota_used = excluded.quota_used",
            &[&client_id, &usage.quota_day, &to_i64(usage.quota_used)],
        )?;
        Ok(())
    }

    pub(super) fn prune_unsynced_clients(
        &mut self,
        registered_before: i64,
    ) -> Result<u64, ServerError> {
        self.writing()?;
        // With their request counters (kept outside the clients table; a device that only ever
        // read its config has one).
        let rows = self.query(
            concat!(
                "WITH gone AS (",
                crate::storage::delete_unsynced_clients!(),
                " RETURNING client_id),
                 counters AS (DELETE FROM request_counts
                               WHERE client_id IN (SELECT client_id FROM gone))
                 SELECT count(*) FROM gone"
            ),
            &[&registered_before],
        )?;
        Ok(rows.first().map_or(0, |r| to_u64(r.get::<_, i64>(0))))
    }

    pub(super) fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO receipts
                 (receipt_id, client_id_sha256, deleted_at, hashes, batches, invites)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &receipt.receipt_id,
                &&receipt.client_id_sha256[..],
                &receipt.deleted_at,
                &to_i64(receipt.deleted.hashes),
                &to_i64(receipt.deleted.batches),
                &to_i64(receipt.deleted.invites),
            ],
        )?;
        Ok(())
    }
}
