//! The backends the server's tests run on, each test with a database of its own: a temporary
//! `SQLite` file, or a fresh schema in the tests' PostgreSQL server (`postgres.rs`). Without that
//! server the PostgreSQL half is skipped, with a visible line — except on CI, which never skips.

use std::path::{Path, PathBuf};

use contactsync_server::Database;

use super::postgres::TempSchema;

/// A storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines a test that runs on each backend, as `NAME::sqlite` and `NAME::postgres`; the body
/// sees the backend as the named variable.
#[allow(
    unused_macros,
    reason = "not every test binary has tests on both backends"
)]
macro_rules! on_each_backend {
    ($(#[$attr:meta])* fn $name:ident($backend:ident) $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($backend: $crate::common::Backend) $body

            #[test]
            fn sqlite() {
                body($crate::common::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                if $crate::common::Backend::postgres_available() {
                    body($crate::common::Backend::Postgres);
                }
            }
        }
    };
}

impl Backend {
    /// Whether the PostgreSQL half can run; says once, on the terminal, when it cannot.
    pub fn postgres_available() -> bool {
        super::postgres::available()
    }
}

/// One test's database; dropped, it is deleted (the PostgreSQL schema with its `TempSchema`).
#[derive(Debug)]
pub struct TestDb {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres(TempSchema),
}

impl TestDb {
    /// A fresh, empty database (the PostgreSQL half only where [`Backend::postgres_available`]).
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                TestDb {
                    kind: Kind::Sqlite {
                        path: dir.path().join("server.db"),
                        _dir: dir,
                    },
                }
            }
            Backend::Postgres => TestDb {
                kind: Kind::Postgres(TempSchema::new()),
            },
        }
    }

    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Sqlite { .. } => Backend::Sqlite,
            Kind::Postgres(_) => Backend::Postgres,
        }
    }

    /// What `--db` would say.
    pub fn database(&self) -> Database {
        match &self.kind {
            Kind::Sqlite { path, .. } => Database::Sqlite(path.clone()),
            Kind::Postgres(schema) => Database::Postgres(schema.url.clone()),
        }
    }

    /// The `SQLite` file (`None` on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Sqlite { path, .. } => Some(path),
            Kind::Postgres(_) => None,
        }
    }

    /// A connection of the test's own, beside the server's.
    pub fn open(&self) -> Db {
        match &self.kind {
            Kind::Sqlite { path, .. } => Db::Sqlite(super::open_sqlite(path)),
            Kind::Postgres(schema) => Db::Postgres(std::sync::Mutex::new(
                schema
                    .url
                    .parse::<postgres::Config>()
                    .unwrap()
                    .connect(postgres::NoTls)
                    .unwrap(),
            )),
        }
    }
}

impl From<&TestDb> for Database {
    fn from(db: &TestDb) -> Self {
        db.database()
    }
}

/// A value of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A test's look into the server's database.
#[allow(
    missing_debug_implementations,
    reason = "postgres::Client has no Debug"
)]
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(std::sync::Mutex<postgres::Client>),
}

impl Db {
    fn pg(&self) -> std::sync::MutexGuard<'_, postgres::Client> {
        match self {
            Db::Postgres(client) => client.lock().unwrap(),
            Db::Sqlite(_) => unreachable!("a SQLite database"),
        }
    }

    /// Runs statements.
    pub fn execute(&self, sql: &str) {
        match self {
            Db::Sqlite(conn) => conn.execute_batch(sql).unwrap(),
            Db::Postgres(_) => self.pg().batch_execute(sql).unwrap(),
        }
    }

    /// One integer (a `count(*)`, say).
    pub fn count(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(conn) => conn.query_row(sql, [], |r| r.get(0)).unwrap(),
            Db::Postgres(_) => self.pg().query_one(sql, &[]).unwrap().get(0),
        }
    }

    /// A query's one text column, every row.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Db::Postgres(_) => self
                .pg()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// The tables that hold the server's state. Not the request counters: they are no state a
    /// request may leave behind (`SQLite` keeps them in memory), nor the schema version.
    pub fn tables(&self) -> Vec<String> {
        match self {
            Db::Sqlite(conn) => super::tables(conn),
            Db::Postgres(_) => self
                .pg()
                .query(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema()
                       AND table_name NOT IN ('request_counts', 'contactsync_schema')
                     ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
        }
    }

    /// A table's columns, with PostgreSQL's type name (`SQLite`: empty).
    fn columns(&self, table: &str) -> Vec<(String, String)> {
        match self {
            Db::Sqlite(conn) => super::columns(conn, table)
                .into_iter()
                .map(|c| (c, String::new()))
                .collect(),
            Db::Postgres(_) => self
                .pg()
                .query(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                    &[&table],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        }
    }

    /// Every table's rows as text, for "nothing changed" comparisons; `skip` names columns to
    /// leave out (`table.column`).
    pub fn dump(&self, skip: &[&str]) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for table in self.tables() {
            let kept: Vec<String> = self
                .columns(&table)
                .into_iter()
                .map(|(c, _)| c)
                .filter(|c| !skip.contains(&format!("{table}.{c}").as_str()))
                .collect();
            if kept.is_empty() {
                continue;
            }
            let quote = match self {
                Db::Sqlite(_) => "quote",
                Db::Postgres(_) => "quote_nullable",
            };
            let list = kept
                .iter()
                .map(|c| format!("{quote}(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let sql = format!("SELECT {list} FROM \"{table}\" ORDER BY 1");
            for row in self.texts(&sql) {
                writeln!(out, "{table}: {row}").unwrap();
            }
        }
        out
    }

    /// Every cell of every table, as (table, column, value).
    pub fn cells(&self) -> Vec<(String, String, Cell)> {
        let mut out = Vec::new();
        for table in self.tables() {
            for (column, kind) in self.columns(&table) {
                let sql = format!("SELECT \"{column}\" FROM \"{table}\"");
                let values: Vec<Cell> = match self {
                    Db::Sqlite(conn) => {
                        use rusqlite::types::Value;
                        let mut stmt = conn.prepare(&sql).unwrap();
                        stmt.query_map([], |r| r.get::<_, Value>(0))
                            .unwrap()
                            .map(|v| match v.unwrap() {
                                Value::Null => Cell::Null,
                                Value::Integer(n) => Cell::Integer(n),
                                Value::Real(f) => Cell::Text(f.to_string()),
                                Value::Text(t) => Cell::Text(t),
                                Value::Blob(b) => Cell::Blob(b),
                            })
                            .collect()
                    }
                    Db::Postgres(_) => {
                        let rows = self.pg().query(&sql, &[]).unwrap();
                        rows.iter()
                            .map(|r| match kind.as_str() {
                                "bytea" => r
                                    .get::<_, Option<Vec<u8>>>(0)
                                    .map_or(Cell::Null, Cell::Blob),
                                "bigint" => {
                                    r.get::<_, Option<i64>>(0).map_or(Cell::Null, Cell::Integer)
                                }
                                "integer" => r
                                    .get::<_, Option<i32>>(0)
                                    .map_or(Cell::Null, |n| Cell::Integer(i64::from(n))),
                                "boolean" => r
                                    .get::<_, Option<bool>>(0)
                                    .map_or(Cell::Null, |b| Cell::Integer(i64::from(b))),
                                _ => r.get::<_, Option<String>>(0).map_or(Cell::Null, Cell::Text),
                            })
                            .collect()
                    }
                };
                out.extend(
                    values
                        .into_iter()
                        .map(|v| (table.clone(), column.clone(), v)),
                );
            }
        }
        out
    }
}
