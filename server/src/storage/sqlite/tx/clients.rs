//! Clients (devices), their daily counters, the sweep of unsynced ones, and the receipts a
//! deletion leaves, as `SQLite` rows.

use contactsync_core::protocol::wire::DeletedCounts;
use rusqlite::{OptionalExtension, params};

use super::{SqliteTx, client_row};
use crate::error::ServerError;
use crate::storage::convert::{to_i64, to_u64};
use crate::storage::{ClientRecord, ReceiptRecord, Usage};

impl SqliteTx<'_> {
    pub(super) fn insert_client(
        &mut self,
        client: &ClientRecord,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO clients (client_id, token_sha256, user_ref, created_at, set_key_id,
                                      rekey_allowance, feed_start)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                client.client_id,
                &token_sha256[..],
                client.user_ref,
                created_at,
                client.set_key_id,
                to_i64(client.rekey_allowance),
                to_i64(client.feed_start),
            ])?;
        Ok(())
    }

    pub(super) fn client_by_token(
        &mut self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<ClientRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, set_key_id, rekey_allowance, feed_start FROM clients
                 WHERE token_sha256 = ?1",
            )?
            .query_row([&token_sha256[..]], client_row)
            .optional()?)
    }

    pub(super) fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, set_key_id, rekey_allowance, feed_start FROM clients
                 WHERE client_id = ?1",
            )?
            .query_row([client_id], client_row)
            .optional()?)
    }

    pub(super) fn update_client_set(
        &mut self,
        client_id: &str,
        set_key_id: &str,
        rekey_allowance: u64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "UPDATE clients SET set_key_id = ?2, rekey_allowance = ?3 WHERE client_id = ?1",
            )?
            .execute(params![client_id, set_key_id, to_i64(rekey_allowance)])?;
        Ok(())
    }

    pub(super) fn delete_client(
        &mut self,
        client_id: &str,
    ) -> Result<Option<DeletedCounts>, ServerError> {
        let conn = self.conn()?;
        let exists = conn
            .prepare_cached("SELECT 1 FROM clients WHERE client_id = ?1")?
            .query_row([client_id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let count = |sql: &str| -> Result<u64, ServerError> {
            Ok(to_u64(
                conn.prepare_cached(sql)?
                    .query_row([client_id], |r| r.get(0))?,
            ))
        };
        let counts = DeletedCounts {
            hashes: count("SELECT count(*) FROM client_hashes WHERE client_id = ?1")?,
            batches: count("SELECT count(*) FROM batches WHERE client_id = ?1")?,
            invites: count("SELECT count(*) FROM invites WHERE client_id = ?1")?,
        };
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = ?1)",
            "DELETE FROM invite_prf_values WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = ?1)",
            "DELETE FROM invites WHERE client_id = ?1",
            "DELETE FROM client_hashes WHERE client_id = ?1",
            "DELETE FROM batches WHERE client_id = ?1",
            "DELETE FROM usage WHERE client_id = ?1",
            "DELETE FROM private_usage WHERE client_id = ?1",
            "DELETE FROM changes WHERE target_client = ?1",
            "DELETE FROM clients WHERE client_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([client_id])?;
        }
        Ok(Some(counts))
    }

    pub(super) fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT quota_day, quota_used FROM usage WHERE client_id = ?1")?
            .query_row([client_id], |r| {
                Ok(Usage {
                    quota_day: r.get(0)?,
                    quota_used: to_u64(r.get(1)?),
                })
            })
            .optional()?)
    }

    pub(super) fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT OR REPLACE INTO usage (client_id, quota_day, quota_used)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                client_id,
                usage.quota_day,
                to_i64(usage.quota_used)
            ])?;
        Ok(())
    }

    pub(super) fn prune_unsynced_clients(
        &mut self,
        registered_before: i64,
    ) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached(crate::storage::delete_unsynced_clients!())?
            .execute([registered_before])?;
        Ok(n as u64)
    }

    pub(super) fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO receipts
                     (receipt_id, client_id_sha256, deleted_at, hashes, batches, invites)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                receipt.receipt_id,
                &receipt.client_id_sha256[..],
                receipt.deleted_at,
                to_i64(receipt.deleted.hashes),
                to_i64(receipt.deleted.batches),
                to_i64(receipt.deleted.invites)
            ])?;
        Ok(())
    }
}
