//! [`SqliteTx`]: one `SQLite` transaction on a pooled connection, ended by COMMIT or (dropped)
//! ROLLBACK. Its primitives of [`Transaction`](crate::storage::Transaction) are written by
//! resource, each module a block of `SqliteTx`'s methods: `keys` (and admin tokens), `clients`,
//! `sets` (and stored batches), `users`, `invites`, `feed`, `private` (private discovery);
//! `forward_transaction!` ties them to the trait.

mod clients;
mod feed;
mod invites;
mod keys;
mod private;
mod sets;
mod users;

use rusqlite::Connection;

use super::SqliteStorage;
use crate::error::ServerError;
use crate::storage::ClientRecord;
use crate::storage::convert::to_u64;
use crate::storage::writer_line::WriterTurn;

pub(super) struct SqliteTx<'a> {
    /// `None` once committed.
    pub(super) conn: Option<Connection>,
    pub(super) storage: &'a SqliteStorage,
    /// A writer's turn in this process's line, given up when the transaction is dropped (after
    /// its COMMIT or ROLLBACK).
    pub(super) _turn: Option<WriterTurn<'a>>,
}

impl SqliteTx<'_> {
    fn commit(mut self) -> Result<(), ServerError> {
        self.finish("COMMIT")
    }

    fn conn(&self) -> Result<&Connection, ServerError> {
        self.conn
            .as_ref()
            .ok_or_else(|| ServerError::Storage("transaction already finished".into()))
    }

    /// Returns the connection to the pool after `end` (COMMIT or ROLLBACK) ran; a connection
    /// whose transaction could not end is dropped rather than reused in an unknown state.
    fn finish(&mut self, end: &str) -> Result<(), ServerError> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let result = conn
            .execute_batch(end)
            .and_then(|()| conn.execute_batch("PRAGMA query_only = OFF"));
        match result {
            Ok(()) => {
                self.storage.give_back(conn);
                Ok(())
            }
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it before the connection
                // is dropped.
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.finish("ROLLBACK") {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

fn client_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        client_id: row.get(0)?,
        user_ref: row.get(1)?,
        set_key_id: row.get(2)?,
        rekey_allowance: to_u64(row.get(3)?),
        feed_start: to_u64(row.get(4)?),
    })
}

forward_transaction!(SqliteTx<'_>);
