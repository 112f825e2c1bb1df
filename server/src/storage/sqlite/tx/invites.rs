//! Invites, their hashes under each key and their PRF values under each epoch, as `SQLite` rows.

use std::collections::HashMap;

use contactsync_core::Digest;
use contactsync_core::hash::DIGEST_LEN;
use rusqlite::{OptionalExtension, params};

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::convert::{tag_from_i64, tag_to_i64};
use crate::storage::{InviteRecord, InviteSet, PrfValue};

impl SqliteTx<'_> {
    pub(super) fn insert_invite(
        &mut self,
        invite: &InviteRecord,
        hashes: &[(String, Digest)],
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "INSERT INTO invites (code_sha256, client_id, user_ref, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            &invite.code_sha256[..],
            invite.client_id,
            invite.user_ref,
            invite.created_at,
            invite.expires_at
        ])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO invite_hashes (key_id, digest, code_sha256) VALUES (?1, ?2, ?3)",
        )?;
        for (key_id, d) in hashes {
            insert.execute(params![key_id, &d.0[..], &invite.code_sha256[..]])?;
        }
        Ok(())
    }

    pub(super) fn invite(
        &mut self,
        code_sha256: &[u8; 32],
    ) -> Result<Option<InviteRecord>, ServerError> {
        Ok(self
            .conn()?
            .prepare_cached(
                "SELECT client_id, user_ref, created_at, expires_at FROM invites
                 WHERE code_sha256 = ?1",
            )?
            .query_row([&code_sha256[..]], |r| {
                Ok(InviteRecord {
                    code_sha256: *code_sha256,
                    client_id: r.get(0)?,
                    user_ref: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            })
            .optional()?)
    }

    pub(super) fn open_invite_owners(
        &mut self,
        key_id: &str,
        digests: &[Digest],
        now: i64,
    ) -> Result<HashMap<Digest, String>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT i.user_ref FROM invite_hashes h JOIN invites i ON i.code_sha256 = h.code_sha256
             WHERE h.key_id = ?1 AND h.digest = ?2 AND i.expires_at > ?3
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
        )?;
        let mut found = HashMap::new();
        for d in digests {
            if let Some(user_ref) = stmt
                .query_row(params![key_id, &d.0[..], now], |r| r.get::<_, String>(0))
                .optional()?
            {
                found.insert(*d, user_ref);
            }
        }
        Ok(found)
    }

    pub(super) fn open_invite_hashes_of(
        &mut self,
        user_ref: &str,
        key_id: &str,
        now: i64,
    ) -> Result<Vec<Digest>, ServerError> {
        let mut stmt = self.conn()?.prepare_cached(
            "SELECT h.digest FROM invites i JOIN invite_hashes h ON h.code_sha256 = i.code_sha256
             WHERE i.user_ref = ?1 AND h.key_id = ?2 AND i.expires_at > ?3",
        )?;
        let rows = stmt.query_map(params![user_ref, key_id, now], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(d) = <[u8; DIGEST_LEN]>::try_from(row?) {
                out.push(Digest(d));
            }
        }
        Ok(out)
    }

    pub(super) fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        for table in ["invite_hashes", "invite_prf_values"] {
            conn.prepare_cached(&format!(
                "DELETE FROM {table} WHERE code_sha256 IN
                     (SELECT code_sha256 FROM invites WHERE user_ref = ?1)"
            ))?
            .execute([user_ref])?;
        }
        let n = conn
            .prepare_cached("DELETE FROM invites WHERE user_ref = ?1")?
            .execute([user_ref])?;
        Ok(n as u64)
    }

    pub(super) fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError> {
        let conn = self.conn()?;
        for table in ["invite_hashes", "invite_prf_values", "invites"] {
            conn.prepare_cached(&format!("DELETE FROM {table} WHERE code_sha256 = ?1"))?
                .execute([&code_sha256[..]])?;
        }
        Ok(())
    }

    pub(super) fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        for table in ["invite_hashes", "invite_prf_values"] {
            conn.prepare_cached(&format!(
                "DELETE FROM {table} WHERE code_sha256 IN
                     (SELECT code_sha256 FROM invites WHERE expires_at <= ?1)"
            ))?
            .execute([now])?;
        }
        let n = conn
            .prepare_cached("DELETE FROM invites WHERE expires_at <= ?1")?
            .execute([now])?;
        Ok(n as u64)
    }

    pub(super) fn insert_invite_prf(
        &mut self,
        code_sha256: &[u8; 32],
        values: &[(u32, PrfValue)],
    ) -> Result<(), ServerError> {
        let mut insert = self.conn()?.prepare_cached(
            "INSERT INTO invite_prf_values (epoch, lookup, tag, code_sha256) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (epoch, v) in values {
            insert.execute(params![
                epoch,
                &v.lookup[..],
                tag_to_i64(v.tag),
                &code_sha256[..]
            ])?;
        }
        Ok(())
    }

    pub(super) fn invite_prf_tags(
        &mut self,
        invites: InviteSet<'_>,
    ) -> Result<Vec<(u32, u64)>, ServerError> {
        const SELECT: &str = "SELECT v.epoch, v.tag FROM invite_prf_values v
             JOIN invites i ON i.code_sha256 = v.code_sha256 WHERE ";
        let conn = self.conn()?;
        let (mut stmt, arg): (_, Box<dyn rusqlite::ToSql>) = match invites {
            InviteSet::One(code) => (
                conn.prepare_cached(&format!("{SELECT}i.code_sha256 = ?1"))?,
                Box::new(code.to_vec()),
            ),
            InviteSet::OfUser(user_ref) => (
                conn.prepare_cached(&format!("{SELECT}i.user_ref = ?1"))?,
                Box::new(user_ref.to_owned()),
            ),
            InviteSet::OfClient(client_id) => (
                conn.prepare_cached(&format!("{SELECT}i.client_id = ?1"))?,
                Box::new(client_id.to_owned()),
            ),
            InviteSet::ExpiredAt(now) => (
                conn.prepare_cached(&format!("{SELECT}i.expires_at <= ?1"))?,
                Box::new(now),
            ),
        };
        let rows = stmt.query_map([arg], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|row| {
            let (epoch, tag) = row?;
            Ok((epoch, tag_from_i64(tag)))
        })
        .collect()
    }
}
