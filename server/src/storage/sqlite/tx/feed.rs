//! The change feed: appended in sequence order, read a page at a time per client.

use contactsync_core::Digest;
use rusqlite::{OptionalExtension, params};

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::ChangeRecord;
use crate::storage::convert::{digest_from, to_i64, to_u64};

impl SqliteTx<'_> {
    pub(super) fn append_change(
        &mut self,
        key_id: &str,
        digest: &Digest,
        user_ref: Option<&str>,
        target_client: Option<&str>,
        created_at: i64,
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        if target_client.is_none() {
            conn.prepare_cached(
                "DELETE FROM changes WHERE key_id = ?1 AND digest = ?2 AND target_client IS NULL",
            )?
            .execute(params![key_id, &digest.0[..]])?;
        }
        conn.prepare_cached(
            "INSERT INTO changes (key_id, digest, user_ref, target_client, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            key_id,
            &digest.0[..],
            user_ref,
            target_client,
            created_at
        ])?;
        Ok(())
    }

    pub(super) fn head_seq(&mut self) -> Result<u64, ServerError> {
        // sqlite_sequence holds the AUTOINCREMENT high-water mark, which stays when the newest
        // rows are deleted: the head never moves backwards.
        let seq: Option<i64> = self
            .conn()?
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(seq.map_or(0, to_u64))
    }

    pub(super) fn changes_for(
        &mut self,
        client_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, digest, user_ref FROM changes c
             WHERE seq > ?2 AND (
                 target_client = ?1
                 OR (target_client IS NULL AND EXISTS (
                     SELECT 1 FROM client_hashes h WHERE h.client_id = ?1 AND h.digest = c.digest)))
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![client_id, to_i64(after_seq), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, digest, user_ref) = row?;
            out.push(ChangeRecord {
                seq: to_u64(seq),
                digest: digest_from(digest)?,
                user_ref,
            });
        }
        Ok(out)
    }
}
