//! The hashing keys and the stored admin tokens: the server's secrets, as PostgreSQL rows.

use super::{PgTx, get};
use crate::error::ServerError;
use crate::storage::convert::{key_state, oprf_key, sha_from};
use crate::storage::{KeyRecord, KeyState, OprfKey};

impl PgTx<'_> {
    pub(super) fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError> {
        self.query(
            "SELECT key_id, secret, state, created_at, oprf_epoch, oprf_secret FROM keys
             ORDER BY state = 'next', created_at",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(KeyRecord {
                key_id: get(r, 0)?,
                secret: get(r, 1)?,
                state: key_state(get(r, 2)?)?,
                created_at: get(r, 3)?,
                oprf: oprf_key(get(r, 4)?, get(r, 5)?)?,
            })
        })
        .collect()
    }

    pub(super) fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO keys (key_id, secret, state, created_at, oprf_epoch, oprf_secret)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.key_id,
                &key.secret,
                &key.state.as_str(),
                &key.created_at,
                &key.oprf.as_ref().map(|o| i64::from(o.epoch)),
                &key.oprf.as_ref().map(|o| o.secret.as_slice()),
            ],
        )?;
        Ok(())
    }

    pub(super) fn set_key_oprf(&mut self, key_id: &str, oprf: &OprfKey) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "UPDATE keys SET oprf_epoch = $2, oprf_secret = $3 WHERE key_id = $1",
            &[&key_id, &i64::from(oprf.epoch), &oprf.secret],
        )?;
        Ok(())
    }

    pub(super) fn set_key_state(
        &mut self,
        key_id: &str,
        state: KeyState,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "UPDATE keys SET state = $2 WHERE key_id = $1",
            &[&key_id, &state.as_str()],
        )?;
        Ok(())
    }

    pub(super) fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError> {
        self.writing()?;
        for sql in [
            "DELETE FROM prf_values WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = $1)",
            "DELETE FROM invite_prf_values
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = $1)",
            "DELETE FROM filter_changes
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = $1)",
            "DELETE FROM filter_floors
              WHERE epoch = (SELECT oprf_epoch FROM keys WHERE key_id = $1)",
            "DELETE FROM user_hashes WHERE key_id = $1",
            "DELETE FROM invite_hashes WHERE key_id = $1",
            "DELETE FROM changes WHERE key_id = $1",
            "DELETE FROM keys WHERE key_id = $1",
        ] {
            self.execute(sql, &[&key_id])?;
        }
        Ok(())
    }

    pub(super) fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError> {
        self.query("SELECT token_sha256 FROM admin_tokens", &[])?
            .iter()
            .map(|r| sha_from(get(r, 0)?))
            .collect()
    }

    pub(super) fn replace_admin_token(
        &mut self,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<u64, ServerError> {
        self.writing()?;
        let revoked = self.execute("DELETE FROM admin_tokens", &[])?;
        self.execute(
            "INSERT INTO admin_tokens (token_sha256, created_at) VALUES ($1, $2)",
            &[&&token_sha256[..], &created_at],
        )?;
        Ok(revoked)
    }
}
