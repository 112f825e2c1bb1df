//! The admin API's directory: users, their hashes per key, and what is hashed under each key,
//! as `SQLite` rows.

use std::collections::HashMap;

use contactsync_core::{Digest, IdentifierKind};
use rusqlite::{OptionalExtension, params};

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::convert::{digest_from, to_u64};
use crate::storage::{KeyCount, UserRecord};

impl SqliteTx<'_> {
    pub(super) fn visible_users(
        &mut self,
        key_id: &str,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, String>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT h.user_ref FROM user_hashes h JOIN users u ON u.user_ref = h.user_ref
             WHERE h.key_id = ?1 AND h.digest = ?2 AND u.discoverable",
        )?;
        let mut found = HashMap::new();
        for d in digests {
            if let Some(user_ref) = stmt
                .query_row(params![key_id, &d.0[..]], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.insert(*d, user_ref);
            }
        }
        Ok(found)
    }

    pub(super) fn put_user(
        &mut self,
        user_ref: &str,
        discoverable: bool,
        updated_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO users (user_ref, discoverable, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_ref) DO UPDATE
                     SET discoverable = excluded.discoverable, updated_at = excluded.updated_at",
            )?
            .execute(params![user_ref, discoverable, updated_at])?;
        Ok(())
    }

    pub(super) fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached("SELECT discoverable, updated_at FROM users WHERE user_ref = ?1")?
            .query_row([user_ref], |r| {
                Ok(UserRecord {
                    discoverable: r.get(0)?,
                    updated_at: r.get(1)?,
                })
            })
            .optional()?)
    }

    pub(super) fn users_after(
        &mut self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, bool)>, ServerError> {
        self.conn()?
            .prepare_cached(
                "SELECT user_ref, discoverable FROM users WHERE user_ref > ?1
                 ORDER BY user_ref LIMIT ?2",
            )?
            .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }

    pub(super) fn user_hashes(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Digest)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, digest FROM user_hashes WHERE user_ref = ?1 ORDER BY key_id, digest",
        )?;
        let rows = stmt.query_map([user_ref], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, digest) = row?;
            out.push((key_id, digest_from(digest)?));
        }
        Ok(out)
    }

    pub(super) fn user_hash_counts(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Option<IdentifierKind>, u64)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, kind, count(*) FROM user_hashes WHERE user_ref = ?1
             GROUP BY key_id, kind ORDER BY key_id, kind",
        )?;
        let rows = stmt.query_map([user_ref], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key_id, kind, n) = row?;
            let kind = kind.and_then(|k| IdentifierKind::ALL.into_iter().find(|c| c.as_str() == k));
            out.push((key_id, kind, to_u64(n)));
        }
        Ok(out)
    }

    pub(super) fn set_user_hashes(
        &mut self,
        user_ref: &str,
        key_id: &str,
        digests: &[(IdentifierKind, Digest)],
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        // `INDEXED BY`: without statistics SQLite's planner may prefer the primary key's
        // `key_id` prefix (every user's hashes under the key) to the index on the user, and
        // registering users then grows with the square of their number (see `user_prf_tags`).
        conn.prepare_cached(
            "DELETE FROM user_hashes INDEXED BY user_hashes_by_user
             WHERE user_ref = ?1 AND key_id = ?2",
        )?
        .execute([user_ref, key_id])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO user_hashes (key_id, digest, user_ref, kind) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key_id, digest)
                 DO UPDATE SET user_ref = excluded.user_ref, kind = excluded.kind",
        )?;
        for (kind, d) in digests {
            insert.execute(params![key_id, &d.0[..], user_ref, kind.as_str()])?;
        }
        Ok(())
    }

    pub(super) fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT k.key_id, count(DISTINCT h.user_ref), count(h.digest)
             FROM keys k LEFT JOIN user_hashes h ON h.key_id = k.key_id
             GROUP BY k.key_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyCount {
                key_id: r.get(0)?,
                users: to_u64(r.get(1)?),
                identifiers: to_u64(r.get(2)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError> {
        let n: i64 = self
            .conn()?
            .prepare_cached(
                "SELECT count(*) FROM (
                 SELECT sum(key_id = ?1) AS under_current, sum(key_id = ?2) AS under_next
                 FROM user_hashes WHERE key_id IN (?1, ?2) GROUP BY user_ref)
             WHERE under_next < under_current",
            )?
            .query_row([current, next], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    pub(super) fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached("DELETE FROM user_hashes WHERE user_ref = ?1")?
            .execute([user_ref])?;
        conn.prepare_cached("DELETE FROM prf_values WHERE user_ref = ?1")?
            .execute([user_ref])?;
        let n = conn
            .prepare_cached("DELETE FROM users WHERE user_ref = ?1")?
            .execute([user_ref])?;
        Ok(n > 0)
    }
}
