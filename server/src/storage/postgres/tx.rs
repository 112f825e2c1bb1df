//! [`PgTx`]: one PostgreSQL transaction, the primitives of
//! [`Transaction`](crate::storage::Transaction) as SQL.
//!
//! A batch's hashes travel as one array parameter (`= ANY($n)`, `unnest($n)`): a 2,000-hash batch
//! is a handful of round trips, not thousands.
//!
//! Its primitives are written by resource, each module a block of `PgTx`'s methods: `keys` (and
//! admin tokens), `clients`, `sets` (and stored batches), `users`, `invites`, `feed`, `private`;
//! `forward_transaction!` ties them to the trait.

mod clients;
mod feed;
mod invites;
mod keys;
mod private;
mod sets;
mod users;

use std::collections::HashMap;

use contactsync_core::Digest;
use deadpool_postgres::Object;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PostgresStorage, SCOPE_LOCKS, db_error};
use crate::error::ServerError;
use crate::storage::ClientRecord;
use crate::storage::convert::{digest_from, to_u64};

/// The advisory lock appenders to the change feed take, so they commit in sequence order (see
/// the module documentation of `postgres`).
const FEED_LOCK: i64 = 0x636f_6e74_6163_7402;
/// The advisory lock appenders to the private filter's log take, for the same reason.
const FILTER_LOCK: i64 = 0x636f_6e74_6163_7403;

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
    fn commit(mut self) -> Result<(), ServerError> {
        self.finish("COMMIT")
    }

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

forward_transaction!(PgTx<'_>);
