//! [`PgTx`]: one PostgreSQL transaction, the primitives of [`Transaction`] as SQL.
//!
//! A batch's hashes travel as one array parameter (`= ANY($n)`, `unnest($n)`): a 2,000-hash batch
//! is a handful of round trips, not thousands.

use std::collections::{BTreeMap, HashMap, HashSet};

use contactsync_core::protocol::wire::DeletedCounts;
use contactsync_core::{Digest, IdentifierKind};
use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStorage, SCOPE_LOCKS, db_error};
use crate::error::ServerError;
use crate::storage::convert::{digest_from, key_state, sha_from, to_i64, to_u64};
use crate::storage::{
    ChangeRecord, ClientRecord, InviteRecord, KeyCount, KeyRecord, KeyState, ReceiptRecord,
    StoredBatch, Transaction, Usage, UserRecord,
};

/// The advisory lock appenders to the change feed take, so they commit in sequence order (see
/// the module documentation of `postgres`).
const FEED_LOCK: i64 = 0x636f_6e74_6163_7402;

type Param<'a> = &'a (dyn ToSql + Sync);

pub(super) struct PgTx<'a> {
    storage: &'a PostgresStorage,
    /// `None` once committed or rolled back.
    client: Option<Object>,
    read_only: bool,
    /// The scope's lock held by the session (`write_in`), released once the transaction ends.
    scope_lock: Option<i32>,
}

impl<'a> PgTx<'a> {
    pub(super) fn new(
        storage: &'a PostgresStorage,
        client: Object,
        read_only: bool,
        scope_lock: Option<i32>,
    ) -> Self {
        PgTx {
            storage,
            client: Some(client),
            read_only,
            scope_lock,
        }
    }

    /// Runs `BEGIN ...`; on failure the transaction is dropped, which releases what it holds.
    pub(super) fn start(&mut self, begin: &str) -> Result<(), ServerError> {
        let client = self.conn()?;
        self.storage
            .block(client.batch_execute(begin))
            .map_err(db_error)
    }

    fn conn(&self) -> Result<&Object, ServerError> {
        self.client
            .as_ref()
            .ok_or_else(|| ServerError::Storage("transaction already finished".into()))
    }

    fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, ServerError> {
        let client = self.conn()?;
        self.storage
            .block(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query(&stmt, params).await
            })
            .map_err(db_error)
    }

    fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, ServerError> {
        let client = self.conn()?;
        self.storage
            .block(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query_opt(&stmt, params).await
            })
            .map_err(db_error)
    }

    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, ServerError> {
        let client = self.conn()?;
        self.storage
            .block(async {
                let stmt = client.prepare_cached(sql).await?;
                client.execute(&stmt, params).await
            })
            .map_err(db_error)
    }

    /// One `count(*)`.
    fn count(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, ServerError> {
        match self.query_opt(sql, params)? {
            Some(row) => Ok(to_u64(get(&row, 0)?)),
            None => Ok(0),
        }
    }

    /// Ends the transaction; a connection whose transaction could not end is closed rather than
    /// returned to the pool in an unknown state.
    fn finish(&mut self, end: &str) -> Result<(), ServerError> {
        let Some(client) = self.client.take() else {
            return Ok(());
        };
        let end = match self.scope_lock {
            Some(key) => format!("{end}; SELECT pg_advisory_unlock({SCOPE_LOCKS}, {key})"),
            None => end.to_owned(),
        };
        match self.storage.block(client.batch_execute(&end)) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Closing the connection ends its transaction and releases its locks.
                drop(Object::take(client));
                Err(db_error(e))
            }
        }
    }

    fn writing(&self) -> Result<(), ServerError> {
        if self.read_only {
            return Err(ServerError::Storage(
                "a write in a read-only transaction".into(),
            ));
        }
        Ok(())
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.finish("ROLLBACK") {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    index: usize,
) -> Result<T, ServerError> {
    row.try_get(index).map_err(db_error)
}

fn bytes(digests: &[Digest]) -> Vec<&[u8]> {
    digests.iter().map(|d| &d.0[..]).collect()
}

const CLIENT_COLUMNS: &str = "client_id, user_ref, set_key_id, rekey_allowance, feed_start";

fn client_row(row: &Row) -> Result<ClientRecord, ServerError> {
    Ok(ClientRecord {
        client_id: get(row, 0)?,
        user_ref: get(row, 1)?,
        set_key_id: get(row, 2)?,
        rekey_allowance: to_u64(get(row, 3)?),
        feed_start: to_u64(get(row, 4)?),
    })
}

/// Rows of `(digest, user_ref)` as a map.
fn owners(rows: &[Row]) -> Result<HashMap<Digest, String>, ServerError> {
    rows.iter()
        .map(|r| Ok((digest_from(get(r, 0)?)?, get(r, 1)?)))
        .collect()
}

impl Transaction for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<(), ServerError> {
        self.finish("COMMIT")
    }

    fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError> {
        self.query(
            "SELECT key_id, secret, state, created_at FROM keys
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
            })
        })
        .collect()
    }

    fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO keys (key_id, secret, state, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &key.key_id,
                &key.secret,
                &key.state.as_str(),
                &key.created_at,
            ],
        )?;
        Ok(())
    }

    fn set_key_state(&mut self, key_id: &str, state: KeyState) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "UPDATE keys SET state = $2 WHERE key_id = $1",
            &[&key_id, &state.as_str()],
        )?;
        Ok(())
    }

    fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError> {
        self.writing()?;
        for sql in [
            "DELETE FROM user_hashes WHERE key_id = $1",
            "DELETE FROM invite_hashes WHERE key_id = $1",
            "DELETE FROM changes WHERE key_id = $1",
            "DELETE FROM keys WHERE key_id = $1",
        ] {
            self.execute(sql, &[&key_id])?;
        }
        Ok(())
    }

    fn insert_client(
        &mut self,
        client: &ClientRecord,
        token_sha256: &[u8; 32],
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO clients (client_id, token_sha256, user_ref, created_at, set_key_id,
                                  rekey_allowance, feed_start)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &client.client_id,
                &&token_sha256[..],
                &client.user_ref,
                &created_at,
                &client.set_key_id,
                &to_i64(client.rekey_allowance),
                &to_i64(client.feed_start),
            ],
        )?;
        Ok(())
    }

    fn client_by_token(
        &mut self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<ClientRecord>, ServerError> {
        self.query_opt(
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE token_sha256 = $1"),
            &[&&token_sha256[..]],
        )?
        .as_ref()
        .map(client_row)
        .transpose()
    }

    fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError> {
        self.query_opt(
            &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"),
            &[&client_id],
        )?
        .as_ref()
        .map(client_row)
        .transpose()
    }

    fn update_client_set(
        &mut self,
        client_id: &str,
        set_key_id: &str,
        rekey_allowance: u64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "UPDATE clients SET set_key_id = $2, rekey_allowance = $3 WHERE client_id = $1",
            &[&client_id, &set_key_id, &to_i64(rekey_allowance)],
        )?;
        Ok(())
    }

    fn delete_client(&mut self, client_id: &str) -> Result<Option<DeletedCounts>, ServerError> {
        self.writing()?;
        // The client's row first, locked: a concurrent deletion of the same client waits here.
        if self
            .query_opt(
                "SELECT 1 FROM clients WHERE client_id = $1 FOR UPDATE",
                &[&client_id],
            )?
            .is_none()
        {
            return Ok(None);
        }
        let counts = DeletedCounts {
            hashes: self.count(
                "SELECT count(*) FROM client_hashes WHERE client_id = $1",
                &[&client_id],
            )?,
            batches: self.count(
                "SELECT count(*) FROM batches WHERE client_id = $1",
                &[&client_id],
            )?,
            invites: self.count(
                "SELECT count(*) FROM invites WHERE client_id = $1",
                &[&client_id],
            )?,
        };
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE client_id = $1)",
            "DELETE FROM invites WHERE client_id = $1",
            "DELETE FROM client_hashes WHERE client_id = $1",
            "DELETE FROM batches WHERE client_id = $1",
            "DELETE FROM usage WHERE client_id = $1",
            "DELETE FROM request_counts WHERE client_id = $1",
            "DELETE FROM changes WHERE target_client = $1",
            "DELETE FROM clients WHERE client_id = $1",
        ] {
            self.execute(sql, &[&client_id])?;
        }
        Ok(Some(counts))
    }

    fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError> {
        self.query_opt(
            "SELECT quota_day, quota_used FROM usage WHERE client_id = $1",
            &[&client_id],
        )?
        .map(|r| {
            Ok(Usage {
                quota_day: get(&r, 0)?,
                quota_used: to_u64(get(&r, 1)?),
            })
        })
        .transpose()
    }

    fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO usage (client_id, quota_day, quota_used) VALUES ($1, $2, $3)
             ON CONFLICT (client_id) DO UPDATE
                 SET quota_day = excluded.quota_day, quota_used = excluded.quota_used",
            &[&client_id, &usage.quota_day, &to_i64(usage.quota_used)],
        )?;
        Ok(())
    }

    fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError> {
        self.count(
            "SELECT count(*) FROM client_hashes WHERE client_id = $1",
            &[&client_id],
        )
    }

    fn set_members(
        &mut self,
        client_id: &str,
        digests: &[Digest],
    ) -> Result<HashSet<Digest>, ServerError> {
        self.query(
            "SELECT digest FROM client_hashes WHERE client_id = $1 AND digest = ANY($2)",
            &[&client_id, &bytes(digests)],
        )?
        .iter()
        .map(|r| digest_from(get(r, 0)?))
        .collect()
    }

    fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM client_hashes WHERE client_id = $1",
            &[&client_id],
        )
    }

    fn add_to_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO client_hashes (client_id, digest)
             SELECT $1, d FROM unnest($2::bytea[]) AS d ON CONFLICT DO NOTHING",
            &[&client_id, &bytes(digests)],
        )
    }

    fn remove_from_set(&mut self, client_id: &str, digests: &[Digest]) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM client_hashes WHERE client_id = $1 AND digest = ANY($2)",
            &[&client_id, &bytes(digests)],
        )
    }

    fn batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
    ) -> Result<Option<StoredBatch>, ServerError> {
        self.query_opt(
            "SELECT body_sha256, answer FROM batches WHERE client_id = $1 AND batch_id = $2",
            &[&client_id, &batch_id],
        )?
        .map(|r| {
            Ok(StoredBatch {
                body_sha256: sha_from(get(&r, 0)?)?,
                answer: get(&r, 1)?,
            })
        })
        .transpose()
    }

    fn insert_batch(
        &mut self,
        client_id: &str,
        batch_id: &str,
        batch: &StoredBatch,
        created_at: i64,
    ) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO batches (client_id, batch_id, body_sha256, answer, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &client_id,
                &batch_id,
                &&batch.body_sha256[..],
                &batch.answer,
                &created_at,
            ],
        )?;
        Ok(())
    }

    fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute("DELETE FROM batches WHERE created_at < $1", &[&before])
    }

    fn visible_users(
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

    fn put_user(
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

    fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError> {
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

    fn users_after(&mut self, after: &str, limit: u32) -> Result<Vec<(String, bool)>, ServerError> {
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

    fn user_hashes(&mut self, user_ref: &str) -> Result<Vec<(String, Digest)>, ServerError> {
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

    fn user_hash_counts(
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

    fn set_user_hashes(
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

    fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError> {
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

    fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError> {
        self.count(
            "SELECT count(*) FROM (
                 SELECT count(*) FILTER (WHERE key_id = $1) AS under_current,
                        count(*) FILTER (WHERE key_id = $2) AS under_next
                 FROM user_hashes WHERE key_id IN ($1, $2) GROUP BY user_ref) AS per_user
             WHERE under_next < under_current",
            &[&current, &next],
        )
    }

    fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError> {
        self.writing()?;
        self.execute("DELETE FROM user_hashes WHERE user_ref = $1", &[&user_ref])?;
        Ok(self.execute("DELETE FROM users WHERE user_ref = $1", &[&user_ref])? > 0)
    }

    fn insert_invite(
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

    fn invite(&mut self, code_sha256: &[u8; 32]) -> Result<Option<InviteRecord>, ServerError> {
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

    fn open_invite_owners(
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

    fn open_invite_hashes_of(
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

    fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE user_ref = $1)",
            &[&user_ref],
        )?;
        self.execute("DELETE FROM invites WHERE user_ref = $1", &[&user_ref])
    }

    fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError> {
        self.writing()?;
        for sql in [
            "DELETE FROM invite_hashes WHERE code_sha256 = $1",
            "DELETE FROM invites WHERE code_sha256 = $1",
        ] {
            self.execute(sql, &[&&code_sha256[..]])?;
        }
        Ok(())
    }

    fn prune_unsynced_clients(&mut self, registered_before: i64) -> Result<u64, ServerError> {
        self.writing()?;
        // With their request counters (kept outside the clients table; a device that only ever
        // read its config has one).
        let rows = self.query(
            concat!(
                "WITH gone AS (",
                crate::storage::delete_unsynced_clients!(),
                " RETURNING client_id),
                 counters AS (DELETE FROM request_counts
                               WHERE client_id IN (SELECT client_id FROM gone))
                 SELECT count(*) FROM gone"
            ),
            &[&registered_before],
        )?;
        Ok(rows.first().map_or(0, |r| to_u64(r.get::<_, i64>(0))))
    }

    fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError> {
        self.writing()?;
        self.execute(
            "DELETE FROM invite_hashes WHERE code_sha256 IN
                 (SELECT code_sha256 FROM invites WHERE expires_at <= $1)",
            &[&now],
        )?;
        self.execute("DELETE FROM invites WHERE expires_at <= $1", &[&now])
    }

    fn append_change(
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

    fn head_seq(&mut self) -> Result<u64, ServerError> {
        // The newest change this snapshot holds: appenders commit in sequence order, so every
        // change after it commits later. (It moves back when the newest rows are deleted; as a
        // number is never reused, a cursor at it neither skips nor repeats a change.)
        self.count("SELECT COALESCE(max(seq), 0) FROM changes", &[])
    }

    fn changes_for(
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

    fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError> {
        self.query("SELECT token_sha256 FROM admin_tokens", &[])?
            .iter()
            .map(|r| sha_from(get(r, 0)?))
            .collect()
    }

    fn replace_admin_token(
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

    fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError> {
        self.writing()?;
        self.execute(
            "INSERT INTO receipts
                 (receipt_id, client_id_sha256, deleted_at, hashes, batches, invites)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &receipt.receipt_id,
                &&receipt.client_id_sha256[..],
                &receipt.deleted_at,
                &to_i64(receipt.deleted.hashes),
                &to_i64(receipt.deleted.batches),
                &to_i64(receipt.deleted.invites),
            ],
        )?;
        Ok(())
    }
}
