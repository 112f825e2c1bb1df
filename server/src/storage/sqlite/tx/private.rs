//! Private discovery's rows (docs/protocol.md, "Private discovery"), as `SQLite` rows: users'
//! PRF values per epoch, the filter's log of changes and the floor its pruning left, and each
//! client's evaluation counters. A PRF value is kept as its lookup and tag only.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, params};

use super::SqliteTx;
use crate::error::ServerError;
use crate::storage::convert::{epoch_from, tag_from_i64, tag_to_i64, to_i64, to_u64};
use crate::storage::{PrfValue, PrivateUsage};

impl SqliteTx<'_> {
    pub(super) fn user_prf_tags(
        &mut self,
        user_ref: &str,
        epoch: u32,
    ) -> Result<Vec<u64>, ServerError> {
        let conn = self.conn()?;
        // `INDEXED BY` here and in `present_tags`: without statistics SQLite's planner prefers
        // the primary key's `epoch` prefix (every value of the epoch) to the two-column index,
        // which made registering a user cost a scan of every user's values: registering grew
        // with the square of the users. A dropped index fails loudly when this is prepared.
        let mut stmt = conn.prepare_cached(
            "SELECT tag FROM prf_values INDEXED BY prf_values_by_user
             WHERE epoch = ?1 AND user_ref = ?2",
        )?;
        let rows = stmt.query_map(params![epoch, user_ref], |r| r.get::<_, i64>(0))?;
        rows.map(|t| Ok(tag_from_i64(t?))).collect()
    }

    pub(super) fn set_user_prf(
        &mut self,
        user_ref: &str,
        epoch: u32,
        values: &[PrfValue],
    ) -> Result<(), ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "DELETE FROM prf_values INDEXED BY prf_values_by_user
             WHERE epoch = ?1 AND user_ref = ?2",
        )?
        .execute(params![epoch, user_ref])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO prf_values (epoch, lookup, tag, user_ref) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (epoch, lookup)
                 DO UPDATE SET tag = excluded.tag, user_ref = excluded.user_ref",
        )?;
        for v in values {
            insert.execute(params![epoch, &v.lookup[..], tag_to_i64(v.tag), user_ref])?;
        }
        Ok(())
    }

    pub(super) fn present_tags(
        &mut self,
        epoch: u32,
        tags: &[u64],
    ) -> Result<HashSet<u64>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT 1 FROM prf_values p INDEXED BY prf_values_by_tag
                 JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = ?1 AND p.tag = ?2 AND u.discoverable LIMIT 1",
        )?;
        // An open invite's value counts unless its creator is a user who hid (as its hash does).
        let mut invites = conn.prepare_cached(
            "SELECT 1 FROM invite_prf_values v INDEXED BY invite_prf_values_by_tag
                 JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = ?1 AND v.tag = ?2
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)
             LIMIT 1",
        )?;
        let mut present = HashSet::new();
        for tag in tags {
            let args = params![epoch, tag_to_i64(*tag)];
            if stmt.query_row(args, |_| Ok(())).optional()?.is_some()
                || invites.query_row(args, |_| Ok(())).optional()?.is_some()
            {
                present.insert(*tag);
            }
        }
        Ok(present)
    }

    pub(super) fn discoverable_tags(&mut self, epoch: u32) -> Result<Vec<u64>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT p.tag FROM prf_values p JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = ?1 AND u.discoverable
             UNION
             SELECT v.tag FROM invite_prf_values v JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = ?1 AND NOT EXISTS (SELECT 1 FROM users u
                                                WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
        )?;
        let rows = stmt.query_map([epoch], |r| r.get::<_, i64>(0))?;
        rows.map(|t| Ok(tag_from_i64(t?))).collect()
    }

    pub(super) fn prf_users(
        &mut self,
        epoch: u32,
        lookups: &[[u8; 16]],
        now: i64,
    ) -> Result<HashMap<[u8; 16], String>, ServerError> {
        let conn = self.conn()?;
        let mut users = conn.prepare_cached(
            "SELECT p.user_ref FROM prf_values p JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = ?1 AND p.lookup = ?2 AND u.discoverable",
        )?;
        let mut invites = conn.prepare_cached(
            "SELECT i.user_ref FROM invite_prf_values v
                 JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = ?1 AND v.lookup = ?2 AND i.expires_at > ?3
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
        )?;
        let mut found = HashMap::new();
        for lookup in lookups {
            let user_ref = match users
                .query_row(params![epoch, &lookup[..]], |r| r.get::<_, String>(0))
                .optional()?
            {
                Some(user_ref) => Some(user_ref),
                None => invites
                    .query_row(params![epoch, &lookup[..], now], |r| r.get::<_, String>(0))
                    .optional()?,
            };
            if let Some(user_ref) = user_ref {
                found.insert(*lookup, user_ref);
            }
        }
        Ok(found)
    }

    pub(super) fn append_filter_change(
        &mut self,
        epoch: u32,
        tag: u64,
        present: bool,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT INTO filter_changes (epoch, tag, present, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![epoch, tag_to_i64(tag), present, created_at])?;
        Ok(())
    }

    pub(super) fn filter_version(&mut self, epoch: u32) -> Result<u64, ServerError> {
        // The floor counts too: pruning every entry of an epoch must not take its version back.
        let n: i64 = self
            .conn()?
            .prepare_cached(
                "SELECT max(
                     coalesce((SELECT max(seq) FROM filter_changes WHERE epoch = ?1), 0),
                     coalesce((SELECT seq FROM filter_floors WHERE epoch = ?1), 0))",
            )?
            .query_row([epoch], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    pub(super) fn filter_log(
        &mut self,
        epoch: u32,
        after: u64,
        through: u64,
    ) -> Result<Vec<(u64, bool)>, ServerError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT tag, present FROM filter_changes WHERE epoch = ?1 AND seq > ?2 AND seq <= ?3
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![epoch, to_i64(after), to_i64(through)], |r| {
            Ok((tag_from_i64(r.get(0)?), r.get::<_, bool>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn filter_floor(&mut self, epoch: u32) -> Result<u64, ServerError> {
        let n: Option<i64> = self
            .conn()?
            .prepare_cached("SELECT seq FROM filter_floors WHERE epoch = ?1")?
            .query_row([epoch], |r| r.get(0))
            .optional()?;
        Ok(n.map_or(0, to_u64))
    }

    pub(super) fn prune_filter_log(&mut self, before: i64) -> Result<u64, ServerError> {
        let conn = self.conn()?;
        conn.prepare_cached(
            "INSERT INTO filter_floors (epoch, seq)
             SELECT epoch, max(seq) FROM filter_changes WHERE created_at < ?1 GROUP BY epoch
             ON CONFLICT (epoch) DO UPDATE SET seq = max(filter_floors.seq, excluded.seq)",
        )?
        .execute([before])?;
        let n = conn
            .prepare_cached("DELETE FROM filter_changes WHERE created_at < ?1")?
            .execute([before])?;
        Ok(n as u64)
    }

    pub(super) fn private_usage(
        &mut self,
        client_id: &str,
    ) -> Result<Option<PrivateUsage>, ServerError> {
        let row = self
            .conn()?
            .prepare_cached(
                "SELECT epoch, evaluated, allowance FROM private_usage WHERE client_id = ?1",
            )?
            .query_row([client_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()?;
        row.map(|(epoch, evaluated, allowance)| {
            Ok(PrivateUsage {
                epoch: epoch_from(epoch)?,
                evaluated: to_u64(evaluated),
                allowance: to_u64(allowance),
            })
        })
        .transpose()
    }

    pub(super) fn put_private_usage(
        &mut self,
        client_id: &str,
        usage: &PrivateUsage,
    ) -> Result<(), ServerError> {
        self.conn()?
            .prepare_cached(
                "INSERT OR REPLACE INTO private_usage (client_id, epoch, evaluated, allowance)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                client_id,
                usage.epoch,
                to_i64(usage.evaluated),
                to_i64(usage.allowance)
            ])?;
        Ok(())
    }
}
