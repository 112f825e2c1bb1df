//! A client's set of hashes and its stored batch answers (a replay's answer), as PostgreSQL
//! rows; a batch's hashes travel as one array parameter.

use std::collections::HashSet;

use contactsync_core::Digest;

use super::{PgTx, bytes, get};
use crate::error::ServerError;
use crate::storage::StoredBatch;
use crate::storage::convert::{digest_from, sha_from};

impl PgTx<'_> {
    pub(super) fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError> {
        self.count(
            "SELECT count(*) FROM client_hashes WHERE client_id = $1",
            &[&client_id],
        )
    }

    pub(super) fn set_members(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>, ServerError> {
        self.query(
            "SELECT digest FROM client_hashes WHERE client_id = $1 AND digest = ANY($2)",
            &[&client_id, &bytes(digests)],
        )?
        .iter()
        .map(|r| digest_from(get(r, 0)?))
        .collect()
    }

    pub(super) fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM client_hashes WHERE client_id = $1",
            &[&client_id],
        )
    }

    pub(super) fn add_to_set(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO client_hashes (client_id, digest)
             SELECT $1, d FROM unnest($2::bytea[]) AS d ON CONFLICT DO NOTHING",
            &[&client_id, &bytes(digests)],
        )
    }

    pub(super) fn remove_from_set(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM client_hashes WHERE client_id = $1 AND digest = ANY($2)",
            &[&client_id, &bytes(digests)],
        )
    }

    pub(super) fn batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
    ) -> Result<Option<StoredBatch>, ServerError> {
        self.query_opt(
            "SELECT body_sha256, answer FROM batches WHERE client_id = $1 AND batch_id = $2",
            &[&client_id, &batch_id],
        )?
        .map(|r| {
            Ok(StoredBatch {
                body_sha256: sha_from(get(&r, 0)?)?,
                answer: get(&r, 1)?,
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
        self.writing()?;
        self.execute(
            "INSERT INTO batches (client_id, batch_id, body_sha256, answer, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &client_id,
                &batch_id,
                &&batch.body_sha256[..],
                &batch.answer,
                &created_at,
            ],
        )?;
        Ok(())
    }

    pub(super) fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute("DELETE FROM batches WHERE created_at < $1", &[&before])
    }

    pub(super) fn forget_client_sets(&mut self) -> Result<(u64, u64), ServerError> {
        self.writing()?;
        let hashes = self.execute("DELETE FROM client_hashes", &[])?;
        let batches = self.execute("DELETE FROM batches", &[])?;
        self.execute(
            "UPDATE clients SET set_key_id = NULL, rekey_allowance = 0
             WHERE set_key_id IS NOT NULL OR rekey_allowance <> 0",
            &[],
        )?;
        Ok((hashes, batches))
    }
}
