//! Schemas, on both backends: every released schema, frozen in `tests/frozen/<backend>/vN.sql`,
//! upgrades to exactly the schema a fresh database gets, and a database from a newer server is
//! refused, untouched.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use common::{Backend, Db, TestDb};

/// `SQLITE[n]` is the `SQLite` schema of version `n + 1`.
const SQLITE: &[&str] = &[
    include_str!("frozen/sqlite/v1.sql"),
    include_str!("frozen/sqlite/v2.sql"),
    include_str!("frozen/sqlite/v3.sql"),
    include_str!("frozen/sqlite/v4.sql"),
    include_str!("frozen/sqlite/v5.sql"),
    include_str!("frozen/sqlite/v6.sql"),
    include_str!("frozen/sqlite/v7.sql"),
    include_str!("frozen/sqlite/v8.sql"),
];

/// `POSTGRES[n]` is the PostgreSQL schema of version `n + 1`.
const POSTGRES: &[&str] = &[
    include_str!("frozen/postgres/v1.sql"),
    include_str!("frozen/postgres/v2.sql"),
    include_str!("frozen/postgres/v3.sql"),
    include_str!("frozen/postgres/v4.sql"),
    include_str!("frozen/postgres/v5.sql"),
];

fn frozen(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// Marks a database as being at `version`.
fn set_version(db: &Db, backend: Backend, version: usize) {
    db.execute(&match backend {
        Backend::Sqlite => format!("PRAGMA user_version = {version}"),
        Backend::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS contactsync_schema (version integer NOT NULL);
             DELETE FROM contactsync_schema; INSERT INTO contactsync_schema VALUES ({version})"
        ),
    });
}

fn version_of(db: &Db, backend: Backend) -> i64 {
    match backend {
        Backend::Sqlite => db.count("PRAGMA user_version"),
        Backend::Postgres => db.count("SELECT version::bigint FROM contactsync_schema"),
    }
}

/// The schema as the database describes it, comparable across databases (PostgreSQL: columns
/// with types, nullability and defaults; constraints; indexes; which tables are unlogged).
fn schema_of(db: &Db, backend: Backend) -> Vec<String> {
    let queries: &[&str] = match backend {
        Backend::Sqlite => &[
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master ORDER BY 1",
        ],
        Backend::Postgres => &[
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                    || ' ' || coalesce(column_default, '') || ' ' || is_identity
             FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1",
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY 1",
            "SELECT replace(indexdef, current_schema() || '.', '') FROM pg_indexes
             WHERE schemaname = current_schema() ORDER BY 1",
            "SELECT relname || ' ' || relpersistence::text FROM pg_class
             WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' ORDER BY 1",
        ],
    };
    queries.iter().flat_map(|q| db.texts(q)).collect()
}

on_each_backend! {
    /// Version 0 is an empty database; then each frozen version. Each upgrades to the fresh
    /// schema and version, and there is a frozen file for every migration.
    fn upgrading_each_frozen_schema_gives_the_fresh_schema(backend) {
        let fresh = TestDb::new(backend);
        drop(fresh.database().open().unwrap());
        let conn = fresh.open();
        let expected = schema_of(&conn, backend);
        let latest = version_of(&conn, backend);
        assert_eq!(
            usize::try_from(latest).unwrap(),
            frozen(backend).len(),
            "add tests/frozen/{backend:?}/vN.sql for each new migration"
        );
        for version in 0..=frozen(backend).len() {
            let db = TestDb::new(backend);
            if version > 0 {
                let conn = db.open();
                conn.execute(frozen(backend)[version - 1]);
                set_version(&conn, backend, version);
            }
            drop(db.database().open().unwrap());
            let conn = db.open();
            assert_eq!(schema_of(&conn, backend), expected, "upgrade from version {version}");
            assert_eq!(version_of(&conn, backend), latest);
        }
    }
}

on_each_backend! {
    fn a_newer_database_is_refused_untouched(backend) {
        let db = TestDb::new(backend);
        drop(db.database().open().unwrap());
        let conn = db.open();
        let newer = usize::try_from(version_of(&conn, backend)).unwrap() + 1;
        set_version(&conn, backend, newer);
        conn.execute(match backend {
            Backend::Sqlite => "INSERT INTO keys (key_id, secret, state, created_at)
                                 VALUES ('k_future', x'01', 'current', 0)",
            Backend::Postgres => "INSERT INTO keys (key_id, secret, state, created_at)
                                   VALUES ('k_future', '\\x01', 'current', 0)",
        });
        let before = conn.dump(&[]);
        match db.database().open() {
            Err(contactsync_server::ServerError::Storage(message)) => {
                assert!(message.contains("newer"), "{message}");
            }
            other => panic!("opened: {other:?}"),
        }
        assert_eq!(conn.dump(&[]), before);
        assert_eq!(usize::try_from(version_of(&conn, backend)).unwrap(), newer);
    }
}

/// The PostgreSQL backend has no TLS yet: a URL that demands it is refused at start, never
/// served in the clear (docs/deployment.md).
#[test]
fn a_url_that_demands_tls_is_refused() {
    if !Backend::postgres_available() {
        return;
    }
    let admin = common::postgres::admin_url();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}sslmode=require");
    match contactsync_server::Database::parse(&url).open() {
        Err(contactsync_server::ServerError::Storage(message)) => {
            assert!(message.contains("TLS"), "{message}");
        }
        other => panic!("opened: {other:?}"),
    }
}
