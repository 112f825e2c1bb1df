//! The change feed: appended in sequence order (under [`FEED_LOCK`](super::FEED_LOCK)), read a
//! page at a time per client.

use contactsync_core::Digest;

use super::{FEED_LOCK, PgTx, get};
use crate::error::ServerError;
use crate::storage::ChangeRecord;
use crate::storage::convert::{digest_from, to_i64, to_u64};

impl PgTx<'_> {
    pub(super) fn append_change(
        &mut self,
        key_id: &str,
        digest: &Digest,
        user_ref: Option<&str>,
        target_client: Option<&str>,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        // Held until this transaction ends: appenders commit one at a time, in sequence order.
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
        if target_client.is_none() {
            self.execute(
                "DELETE FROM changes WHERE key_id = $1 AND digest = $2 AND target_client IS NULL",
                &[&key_id, &&digest.0[..]],
            )?;
        }
        self.execute(
            "INSERT INTO changes (key_id, digest, user_ref, target_client, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &key_id,
                &&digest.0[..],
                &user_ref,
                &target_client,
                &created_at,
            ],
        )?;
        Ok(())
    }

    pub(super) fn head_seq(&mut self) -> Result<u64, ServerError> {
        // The newest change this snapshot holds: appenders commit in sequence order, so every
        // change after it commits later. (It moves back when the newest rows are deleted; as a
        // number is never reused, a cursor at it neither skips nor repeats a change.)
        self.count("SELECT COALESCE(max(seq), 0) FROM changes", &[])
    }

    pub(super) fn changes_for(
        &mut self,
        client_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, ServerError> {
        self.query(
            "SELECT seq, digest, user_ref FROM changes c
             WHERE seq > $2 AND (
                 target_client = $1
                 OR (target_client IS NULL AND EXISTS (
                     SELECT 1 FROM client_hashes h WHERE h.client_id = $1 AND h.digest = c.digest)))
             ORDER BY seq LIMIT $3",
            &[&client_id, &to_i64(after_seq), &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(ChangeRecord {
                seq: to_u64(get(r, 0)?),
                digest: digest_from(get(r, 1)?)?,
                user_ref: get(r, 2)?,
            })
        })
        .collect()
    }
}
