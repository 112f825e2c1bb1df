//! Private discovery's rows (docs/protocol.md, "Private discovery"), as PostgreSQL rows: users'
//! PRF values per epoch, the filter's log (appended in sequence order under
//! [`FILTER_LOCK`](super::FILTER_LOCK), as the change feed is) and the floor its pruning left,
//! and each client's evaluation counters.

use std::collections::{HashMap, HashSet};

use super::{FILTER_LOCK, PgTx, get};
use crate::error::ServerError;
use crate::storage::convert::{epoch_from, lookup_from, tag_from_i64, tag_to_i64, to_i64, to_u64};
use crate::storage::{PrfValue, PrivateUsage};

impl PgTx<'_> {
    pub(super) fn user_prf_tags(
        &mut self,
        user_ref: &str,
        epoch: u32,
    ) -> Result<Vec<u64>, ServerError> {
        self.query(
            "SELECT tag FROM prf_values WHERE epoch = $1 AND user_ref = $2",
            &[&i64::from(epoch), &user_ref],
        )?
        .iter()
        .map(|r| Ok(tag_from_i64(get(r, 0)?)))
        .collect()
    }

    pub(super) fn set_user_prf(
        &mut self,
        user_ref: &str,
        epoch: u32,
        values: &[PrfValue],
    ) -> Result<(), ServerError> {
        self.writing()?;
        let epoch = i64::from(epoch);
        self.execute(
            "DELETE FROM prf_values WHERE epoch = $1 AND user_ref = $2",
            &[&epoch, &user_ref],
        )?;
        let lookups: Vec<&[u8]> = values.iter().map(|v| &v.lookup[..]).collect();
        let tags: Vec<i64> = values.iter().map(|v| tag_to_i64(v.tag)).collect();
        self.execute(
            "INSERT INTO prf_values (epoch, lookup, tag, user_ref)
             SELECT $1, l, t, $4 FROM unnest($2::bytea[], $3::bigint[]) AS v (l, t)
             ON CONFLICT (epoch, lookup)
                 DO UPDATE SET tag = excluded.tag, user_ref = excluded.user_ref",
            &[&epoch, &lookups, &tags, &user_ref],
        )?;
        Ok(())
    }

    pub(super) fn present_tags(
        &mut self,
        epoch: u32,
        tags: &[u64],
    ) -> Result<HashSet<u64>, ServerError> {
        let tags: Vec<i64> = tags.iter().map(|t| tag_to_i64(*t)).collect();
        self.query(
            "SELECT p.tag FROM prf_values p JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = $1 AND p.tag = ANY($2) AND u.discoverable
             UNION
             SELECT v.tag FROM invite_prf_values v JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = $1 AND v.tag = ANY($2)
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
            &[&i64::from(epoch), &tags],
        )?
        .iter()
        .map(|r| Ok(tag_from_i64(get(r, 0)?)))
        .collect()
    }

    pub(super) fn discoverable_tags(&mut self, epoch: u32) -> Result<Vec<u64>, ServerError> {
        self.query(
            "SELECT p.tag FROM prf_values p JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = $1 AND u.discoverable
             UNION
             SELECT v.tag FROM invite_prf_values v JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = $1
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)",
            &[&i64::from(epoch)],
        )?
        .iter()
        .map(|r| Ok(tag_from_i64(get(r, 0)?)))
        .collect()
    }

    pub(super) fn prf_users(
        &mut self,
        epoch: u32,
        lookups: &[[u8; 16]],
        now: i64,
    ) -> Result<HashMap<[u8; 16], String>, ServerError> {
        let lookups: Vec<&[u8]> = lookups.iter().map(|l| &l[..]).collect();
        // Open invites' creators first: a user's value with the same lookup replaces it.
        let rows = self.query(
            "SELECT v.lookup, i.user_ref, 0 AS rank FROM invite_prf_values v
                 JOIN invites i ON i.code_sha256 = v.code_sha256
             WHERE v.epoch = $1 AND v.lookup = ANY($2) AND i.expires_at > $3
               AND NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.user_ref = i.user_ref AND NOT u.discoverable)
             UNION ALL
             SELECT p.lookup, p.user_ref, 1 FROM prf_values p JOIN users u ON u.user_ref = p.user_ref
             WHERE p.epoch = $1 AND p.lookup = ANY($2) AND u.discoverable
             ORDER BY rank",
            &[&i64::from(epoch), &lookups, &now],
        )?;
        rows.iter()
            .map(|r| Ok((lookup_from(get(r, 0)?)?, get(r, 1)?)))
            .collect()
    }

    pub(super) fn append_filter_change(
        &mut self,
        epoch: u32,
        tag: u64,
        present: bool,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        // Held until this transaction ends: appenders commit one at a time, in sequence order,
        // so a version a reader saw never gains an older entry.
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&FILTER_LOCK])?;
        self.execute(
            "INSERT INTO filter_changes (epoch, tag, present, created_at)
             VALUES ($1, $2, $3, $4)",
            &[&i64::from(epoch), &tag_to_i64(tag), &present, &created_at],
        )?;
        Ok(())
    }

    pub(super) fn filter_version(&mut self, epoch: u32) -> Result<u64, ServerError> {
        // The floor counts too: pruning every entry of an epoch must not take its version back.
        self.count(
            "SELECT GREATEST(
                 COALESCE((SELECT max(seq) FROM filter_changes WHERE epoch = $1), 0),
                 COALESCE((SELECT seq FROM filter_floors WHERE epoch = $1), 0))",
            &[&i64::from(epoch)],
        )
    }

    pub(super) fn filter_log(
        &mut self,
        epoch: u32,
        after: u64,
        through: u64,
    ) -> Result<Vec<(u64, bool)>, ServerError> {
        self.query(
            "SELECT tag, present FROM filter_changes
             WHERE epoch = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
            &[&i64::from(epoch), &to_i64(after), &to_i64(through)],
        )?
        .iter()
        .map(|r| Ok((tag_from_i64(get(r, 0)?), get(r, 1)?)))
        .collect()
    }

    pub(super) fn filter_floor(&mut self, epoch: u32) -> Result<u64, ServerError> {
        self.count(
            "SELECT seq FROM filter_floors WHERE epoch = $1",
            &[&i64::from(epoch)],
        )
    }

    pub(super) fn prune_filter_log(&mut self, before: i64) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO filter_floors (epoch, seq)
             SELECT epoch, max(seq) FROM filter_changes WHERE created_at < $1 GROUP BY epoch
             ON CONFLICT (epoch) DO UPDATE SET seq = GREATEST(filter_floors.seq, excluded.seq)",
            &[&before],
        )?;
        self.execute(
            "DELETE FROM filter_changes WHERE created_at < $1",
            &[&before],
        )
    }

    pub(super) fn private_usage(
        &mut self,
        client_id: &str,
    ) -> Result<Option<PrivateUsage>, ServerError> {
        self.query_opt(
            "SELECT epoch, evaluated, allowance FROM private_usage WHERE client_id = $1",
            &[&client_id],
        )?
        .map(|r| {
            Ok(PrivateUsage {
                epoch: epoch_from(get(&r, 0)?)?,
                evaluated: to_u64(get(&r, 1)?),
                allowance: to_u64(get(&r, 2)?),
            })
        })
        .transpose()
    }

    pub(super) fn put_private_usage(
        &mut self,
        client_id: &str,
        usage: &PrivateUsage,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO private_usage (client_id, epoch, evaluated, allowance)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (client_id) DO UPDATE
                 SET epoch = excluded.epoch, evaluated = excluded.evaluated,
                     allowance = excluded.allowance",
            &[
                &client_id,
                &i64::from(usage.epoch),
                &to_i64(usage.evaluated),
                &to_i64(usage.allowance),
            ],
        )?;
        Ok(())
    }
}
