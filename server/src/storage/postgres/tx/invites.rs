//! Invites, their hashes under each key and their PRF values under each epoch, as PostgreSQL
//! rows.

use std::collections::HashMap;

use contactsync_core::Digest;

use super::{PgTx, bytes, get, owners};
use crate::error::ServerError;
use crate::storage::convert::{digest_from, epoch_from, tag_from_i64, tag_to_i64};
use crate::storage::{InviteRecord, InviteSet, PrfValue};

impl PgTx<'_> {
    pub(super) fn insert_invite(
        &mut self,
        invite: &InviteRecord,
        hashes: &[(String, Digest)],
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO invites (code_sha256, client_id, user_ref, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &&invite.code_sha256[..],
                &invite.client_id,
                &invite.user_ref,
                &invite.created_at,
                &invite.expires_at,
            ],
        )?;
        let (keys, ds): (Vec<&str>, Vec<&[u8]>) =
            hashes.iter().map(|(k, d)| (k.as_str(), &d.0[..])).unzip();
        self.execute(
            "INSERT INTO invite_hashes (key_id, digest, code_sha256)
             SELECT k, d, $3 FROM unnest($1::text[], $2::bytea[]) AS t (k, d)",
            &[&keys, &ds, &&invite.code_sha256[..]],
        )?;
        Ok(())
    }

    pub(super) fn invite(
        &mut self,
        code_sha256: &[u8; 32],
    ) -> Result<Option<InviteRecord>, ServerError> {
        self.query_opt(
            "SELECT client_id, user_ref, created_at, expires_at FROM invites
             WHERE code_sha256 = $1",
            &[&&code_sha256[..]],
        )?
        .map(|r| {
            Ok(InviteRecord {
                code_sha256: *code_sha256,
                client_id: get(&r, 0)?,
                user_ref: get(&r, 1)?,
                created_at: get(&r, 2)?,
                expires_at: get(&r, 3)?,
            })
        })
        .transpose()
    }

    pub(super) fn open_invite_owners(
        &mut self,
        key_id: &str,
        digests: &[Digest],
        now: i64,
    ) -> Result<HashMap<Digest, String>, ServerError> {
        owners(&self.query(
            "SELECT h.digest, i.user_ref FROM invite_hashes h
                 JOIN invites i ON i.code_sha256 = h.code_sha256
             WHERE h.key_id = $1 AND h.digest = ANY($2) AND i.expires_at > $3
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
            &[&key_id, &bytes(digests), &now],
        )?)
    }

    pub(super) fn open_invite_hashes_of(
        &mut self,
        user_ref: &str,
        key_id: &str,
        now: i64,
    ) -> Result<Vec<Digest>, ServerError> {
        self.query(
            "SELECT h.digest FROM invites i JOIN invite_hashes h ON h.code_sha256 = i.code_sha256
             WHERE i.user_ref = $1 AND h.key_id = $2 AND i.expires_at > $3",
            &[&user_ref, &key_id, &now],
        )?
        .iter()
        .map(|r| digest_from(get(r, 0)?))
        .collect()
    }

    pub(super) fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError> {
        self.writing()?;
        for table in ["invite_hashes", "invite_prf_values"] {
            self.execute(
                &format!(
                    "DELETE FROM {table} WHERE code_sha256 IN
                         (SELECT code_sha256 FROM invites WHERE user_ref = $1)"
                ),
                &[&user_ref],
            )?;
        }
        self.execute("DELETE FROM invites WHERE user_ref = $1", &[&user_ref])
    }

    pub(super) fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError> {
        self.writing()?;
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 = $1",
            "DELETE FROM invite_prf_values WHERE code_sha256 = $1",
            "DELETE FROM invites WHERE code_sha256 = $1",
        ] {
            self.execute(sql, &[&&code_sha256[..]])?;
        }
        Ok(())
    }

    pub(super) fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError> {
        self.writing()?;
        for table in ["invite_hashes", "invite_prf_values"] {
            self.execute(
                &format!(
                    "DELETE FROM {table} WHERE code_sha256 IN
                         (SELECT code_sha256 FROM invites WHERE expires_at <= $1)"
                ),
                &[&now],
            )?;
        }
        self.execute("DELETE FROM invites WHERE expires_at <= $1", &[&now])
    }

    pub(super) fn insert_invite_prf(
        &mut self,
        code_sha256: &[u8; 32],
        values: &[(u32, PrfValue)],
    ) -> Result<(), ServerError> {
        self.writing()?;
        let epochs: Vec<i64> = values.iter().map(|(e, _)| i64::from(*e)).collect();
        let lookups: Vec<&[u8]> = values.iter().map(|(_, v)| &v.lookup[..]).collect();
        let tags: Vec<i64> = values.iter().map(|(_, v)| tag_to_i64(v.tag)).collect();
        self.execute(
            "INSERT INTO invite_prf_values (epoch, lookup, tag, code_sha256)
             SELECT e, l, t, $4 FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) AS v (e, l, t)",
            &[&epochs, &lookups, &tags, &&code_sha256[..]],
        )?;
        Ok(())
    }

    pub(super) fn invite_prf_tags(
        &mut self,
        invites: InviteSet<'_>,
    ) -> Result<Vec<(u32, u64)>, ServerError> {
        const SELECT: &str = "SELECT v.epoch, v.tag FROM invite_prf_values v
             JOIN invites i ON i.code_sha256 = v.code_sha256 WHERE ";
        let rows = match invites {
            InviteSet::One(code) => {
                self.query(&format!("{SELECT}i.code_sha256 = $1"), &[&&code[..]])?
            }
            InviteSet::OfUser(user_ref) => {
                self.query(&format!("{SELECT}i.user_ref = $1"), &[&user_ref])?
            }
            InviteSet::OfClient(client_id) => {
                self.query(&format!("{SELECT}i.client_id = $1"), &[&client_id])?
            }
            InviteSet::ExpiredAt(now) => {
                self.query(&format!("{SELECT}i.expires_at <= $1"), &[&now])?
            }
        };
        rows.iter()
            .map(|r| Ok((epoch_from(get(r, 0)?)?, tag_from_i64(get(r, 1)?))))
            .collect()
    }
}
