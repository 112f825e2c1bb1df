//! The admin API's directory: users, their hashes per key, and what is hashed under each key,
//! as PostgreSQL rows.

use std::collections::{BTreeMap, HashMap};

use contactsync_core::{Digest, IdentifierKind};

use super::{PgTx, bytes, get, owners};
use crate::error::ServerError;
use crate::storage::convert::{digest_from, to_u64};
use crate::storage::{KeyCount, UserRecord};

impl PgTx<'_> {
    pub(super) fn visible_users(
        &mut self,
        key_id: &str,
        digests: &[Digest],
    ) -> Result<HashMap<Digest, String>, ServerError> {
        owners(&self.query(
            "SELECT h.digest, h.user_ref FROM user_hashes h JOIN users u ON u.user_ref = h.user_ref
             WHERE h.key_id = $1 AND h.digest = ANY($2) AND u.discoverable",
            &[&key_id, &bytes(digests)],
        )?)
    }

    pub(super) fn put_user(
        &mut self,
        user_ref: &str,
        discoverable: bool,
        updated_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO users (user_ref, discoverable, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_ref) DO UPDATE
                 SET discoverable = excluded.discoverable, updated_at = excluded.updated_at",
            &[&user_ref, &discoverable, &updated_at],
        )?;
        Ok(())
    }

    pub(super) fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError> {
        self.query_opt(
            "SELECT discoverable, updated_at FROM users WHERE user_ref = $1",
            &[&user_ref],
        )?
        .map(|r| {
            Ok(UserRecord {
                discoverable: get(&r, 0)?,
                updated_at: get(&r, 1)?,
            })
        })
        .transpose()
    }

    pub(super) fn users_after(
        &mut self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, bool)>, ServerError> {
        // The primary key's order (its index), whatever the database's collation.
        self.query(
            "SELECT user_ref, discoverable FROM users WHERE user_ref > $1
             ORDER BY user_ref LIMIT $2",
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect()
    }

    pub(super) fn user_hashes(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Digest)>, ServerError> {
        // COLLATE "C": byte order, as SQLite sorts, whatever the database's collation.
        self.query(
            r#"SELECT key_id, digest FROM user_hashes WHERE user_ref = $1
               ORDER BY key_id COLLATE "C", digest"#,
            &[&user_ref],
        )?
        .iter()
        .map(|r| Ok((get(r, 0)?, digest_from(get(r, 1)?)?)))
        .collect()
    }

    pub(super) fn user_hash_counts(
        &mut self,
        user_ref: &str,
    ) -> Result<Vec<(String, Option<IdentifierKind>, u64)>, ServerError> {
        self.query(
            r#"SELECT key_id, kind, count(*) FROM user_hashes WHERE user_ref = $1
               GROUP BY key_id, kind ORDER BY key_id COLLATE "C", kind COLLATE "C" NULLS FIRST"#,
            &[&user_ref],
        )?
        .iter()
        .map(|r| {
            let kind: Option<String> = get(r, 1)?;
            let kind = kind.and_then(|k| IdentifierKind::ALL.into_iter().find(|c| c.as_str() == k));
            Ok((get(r, 0)?, kind, to_u64(get(r, 2)?)))
        })
        .collect()
    }

    pub(super) fn set_user_hashes(
        &mut self,
        user_ref: &str,
        key_id: &str,
        digests: &[(IdentifierKind, Digest)],
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM user_hashes WHERE user_ref = $1 AND key_id = $2",
            &[&user_ref, &key_id],
        )?;
        // One row per digest (the last kind given wins, as one insert after another would
        // leave it): an upsert cannot touch the same row twice.
        let unique: BTreeMap<&[u8], &str> = digests
            .iter()
            .map(|(k, d)| (&d.0[..], k.as_str()))
            .collect();
        let (ds, kinds): (Vec<&[u8]>, Vec<&str>) = unique.into_iter().unzip();
        self.execute(
            "INSERT INTO user_hashes (key_id, digest, user_ref, kind)
             SELECT $1, d, $3, k FROM unnest($2::bytea[], $4::text[]) AS t (d, k)
             ON CONFLICT (key_id, digest)
                 DO UPDATE SET user_ref = excluded.user_ref, kind = excluded.kind",
            &[&key_id, &ds, &user_ref, &kinds],
        )?;
        Ok(())
    }

    pub(super) fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError> {
        self.query(
            r#"SELECT k.key_id, count(DISTINCT h.user_ref), count(h.digest)
               FROM keys k LEFT JOIN user_hashes h ON h.key_id = k.key_id
               GROUP BY k.key_id ORDER BY k.key_id COLLATE "C""#,
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(KeyCount {
                key_id: get(r, 0)?,
                users: to_u64(get(r, 1)?),
                identifiers: to_u64(get(r, 2)?),
            })
        })
        .collect()
    }

    pub(super) fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError> {
        self.count(
            "SELECT count(*) FROM (
                 SELECT count(*) FILTER (WHERE key_id = $1) AS under_current,
                        count(*) FILTER (WHERE key_id = $2) AS under_next
                 FROM user_hashes WHERE key_id IN ($1, $2) GROUP BY user_ref) AS per_user
             WHERE under_next < under_current",
            &[&current, &next],
        )
    }

    pub(super) fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError> {
        self.writing()?;
        self.execute("DELETE FROM user_hashes WHERE user_ref = $1", &[&user_ref])?;
        self.execute("DELETE FROM prf_values WHERE user_ref = $1", &[&user_ref])?;
        Ok(self.execute("DELETE FROM users WHERE user_ref = $1", &[&user_ref])? > 0)
    }
}
