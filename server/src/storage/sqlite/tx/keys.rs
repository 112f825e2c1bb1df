//! The hashing keys and the stored admin tokens: the server's secrets, as `SQLite` rows.

use rusqlite::params;

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::convert::{key_state, oprf_key, sha_from};
use crate::storage::{KeyRecord, KeyState, OprfKey};

impl SqliteTx<'_> {
    pub(super) fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT key_id, secret, state, created_at, oprf_epoch, oprf_secret FROM keys
             ORDER BY state = 'next', created_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?,
            ))
        })?;
        let mut keys = Vec::new();
        for row in rows {
            let (key_id, secret, state, created_at, epoch, oprf_secret) = row?;
            keys.push(KeyRecord {
                key_id,
                secret,
                state: key_state(&state)?,
                created_at,
                oprf: oprf_key(epoch, oprf_secret)?,
            });
        }
        Ok(keys)
    }

    pub(super) fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO keys (key_id, secret, state, created_at, oprf_epoch, oprf_secret)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key.key_id,
                key.secret,
                key.state.as_str(),
                key.created_at,
                key.oprf.as_ref().map(|o| i64::from(o.epoch)),
                key.oprf.as_ref().map(|o| &o.secret),
            ])?;
        Ok(())
    }

    pub(super) fn set_key_oprf(&mut self, key_id: &str, oprf: &OprfKey) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached("UPDATE keys SET oprf_epoch = ?2, oprf_secret = ?3 WHERE key_id = ?1")?
            .execute(params![key_id, i64::from(oprf.epoch), oprf.secret])?;
        Ok(())
    }

    pub(super) fn set_key_state(
        &mut self,
        key_id: &str,
        state: KeyState,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached("UPDATE keys SET state = ?2 WHERE key_id = ?1")?
            .execute(params![key_id, state.as_str()])?;
        Ok(())
    }

    pub(super) fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError> {
        let conn = self.conn()?;
        // Explicit deletes, so nothing depends on the foreign-key cascade being enabled.
        for sql in [
            "DELETE FROM prf_values WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = ?1)",
            "DELETE FROM invite_prf_values
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = ?1)",
            "DELETE FROM filter_changes
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = ?1)",
            "DELETE FROM filter_floors
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = ?1)",
            "DELETE FROM user_hashes WHERE key_id = ?1",
            "DELETE FROM invite_hashes WHERE key_id = ?1",
            "DELETE FROM changes WHERE key_id = ?1",
            "DELETE FROM keys WHERE key_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([key_id])?;
        }
        Ok(())
    }

    pub(super) fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT token_sha256 FROM admin_tokens")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|row| sha_from(row?)).collect()
    }

    pub(super) fn replace_admin_token(
        &mut self,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        let revoked = conn
            .prepare_cached("DELETE FROM admin_tokens")?
            .execute([])?;
        conn.prepare_cached("INSERT INTO admin_tokens (token_sha256, created_at) VALUES (?1, ?2)")?
            .execute(params![&token_sha256[..], created_at])?;
        Ok(revoked as u64)
    }
}
