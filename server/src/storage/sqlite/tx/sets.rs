//! A client's set of hashes and its stored batch answers (a replay's answer), as `SQLite` rows.

use std::collections::HashSet;

use contactsync_core::Digest;
use rusqlite::{OptionalExtension, params};

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::StoredBatch;
use crate::storage::convert::{sha_from, to_u64};

impl SqliteTx<'_> {
    pub(super) fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError> {
        let n: i64 = self
            .conn()?
            .prepare_cached("SELECT count(*) FROM client_hashes WHERE client_id = ?1")?
            .query_row([client_id], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    pub(super) fn set_members(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>, ServerError> {
        let mut stmt = self
            .conn()?
            .prepare_cached("SELECT 1 FROM client_hashes WHERE client_id = ?1 AND digest = ?2")?;
        let mut found = HashSet::new();
        for d in digests {
            if stmt.exists(params![client_id, &d.0[..]])? {
                found.insert(*d);
            }
        }
        Ok(found)
    }

    pub(super) fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached("DELETE FROM client_hashes WHERE client_id = ?1")?
            .execute([client_id])?;
        Ok(n as u64)
    }

    pub(super) fn add_to_set(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<u64, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "INSERT INTO client_hashes (client_id, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?;
        let mut added = 0;
        for d in digests {
            added += stmt.execute(params![client_id, &d.0[..]])? as u64;
        }
        Ok(added)
    }

    pub(super) fn remove_from_set(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<u64, ServerError> {
        let mut stmt = self
            .conn()?
            .prepare_cached("DELETE FROM client_hashes WHERE client_id = ?1 AND digest = ?2")?;
        let mut removed = 0;
        for d in digests {
            removed += stmt.execute(params![client_id, &d.0[..]])? as u64;
        }
        Ok(removed)
    }

    pub(super) fn batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
    ) -> Result<Option<StoredBatch>, ServerError> {
        let row = self
            .conn()?
            .prepare_cached(
                "SELECT body_sha256, answer FROM batches WHERE client_id = ?1 AND batch_id = ?2",
            )?
            .query_row([client_id, batch_id], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        row.map(|(sha, answer)| {
            Ok(StoredBatch {
                body_sha256: sha_from(sha)?,
                answer,
            })
        })
        .transpose()
    }

    pub(super) fn insert_batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
        batch: &StoredBatch,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO batches (client_id, batch_id, body_sha256, answer, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                client_id,
                batch_id,
                &batch.body_sha256[..],
                batch.answer,
                created_at
            ])?;
        Ok(())
    }

    pub(super) fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError> {
        let n = self
            .conn()?
            .prepare_cached("DELETE FROM batches WHERE created_at < ?1")?
            .execute([before])?;
        Ok(n as u64)
    }

    pub(super) fn forget_client_sets(&mut self) -> Result<(u64, u64), ServerError> {
        let conn = self.conn()?;
        let hashes = conn.execute("DELETE FROM client_hashes", [])?;
        let batches = conn.execute("DELETE FROM batches", [])?;
        conn.execute(
            "UPDATE clients SET set_key_id = NULL, rekey_allowance = 0
             WHERE set_key_id IS NOT NULL OR rekey_allowance <> 0",
            [],
        )?;
        Ok((hashes as u64, batches as u64))
    }
}
