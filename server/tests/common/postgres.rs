//! The PostgreSQL server of the tests: the one `CONTACTSYNC_TEST_POSTGRES` names, by default
//! `postgres://contactsync:contactsync@127.0.0.1:5432/contactsync` (what scripts/postgres-for-tests
//! makes, and `.ci/run` calls it), and fresh schemas or databases in it, one per test, dropped
//! after. Without that server, the tests that need it are skipped with a visible line — except on
//! CI (`CONTACTSYNC_CI` set), which never skips them.
//!
//! Stands alone (no `super::`): the CLI's tests include this file too.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

const DEFAULT_URL: &str = "postgres://contactsync:contactsync@127.0.0.1:5432/contactsync";

pub fn admin_url() -> String {
    std::env::var("CONTACTSYNC_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

pub fn admin_client() -> Result<postgres::Client, postgres::Error> {
    let mut config: postgres::Config = admin_url().parse()?;
    config.connect_timeout(std::time::Duration::from_secs(3));
    config.connect(postgres::NoTls)
}

/// Whether tests that need PostgreSQL can run; says once, on the terminal, when they cannot.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| match admin_client() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var_os("CONTACTSYNC_CI").is_none(),
                "CI never skips the PostgreSQL tests, and PostgreSQL is not available at {}: {e}",
                admin_url()
            );
            // Straight to the terminal: the test harness captures eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: PostgreSQL not available ({e}); run scripts/postgres-for-tests, or set \
                 CONTACTSYNC_TEST_POSTGRES to a server where the role may create schemas and \
                 databases"
            );
            false
        }
    })
}

/// A name no other test (of this or another process) uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn admin_execute(sql: &str) {
    admin_client()
        .and_then(|mut c| c.batch_execute(sql))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A fresh schema in the tests' database; its URL selects it (`search_path`).
#[derive(Debug)]
pub struct TempSchema {
    pub name: String,
    pub url: String,
}

impl TempSchema {
    pub fn new() -> Self {
        let name = unique("t");
        admin_execute(&format!("CREATE SCHEMA {name}"));
        let base = admin_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        TempSchema {
            url: format!("{base}{sep}options=-csearch_path%3D{name}"),
            name,
        }
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = admin_client() {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A fresh database of its own, as a deployment would have (the role may create databases).
#[derive(Debug)]
pub struct TempDatabase {
    pub name: String,
    pub url: String,
}

impl TempDatabase {
    pub fn new(prefix: &str) -> Self {
        let name = unique(prefix);
        admin_execute(&format!("CREATE DATABASE {name}"));
        let base = admin_url();
        let (path_end, query) = match base.find('?') {
            Some(q) => (q, &base[q..]),
            None => (base.len(), ""),
        };
        let slash = base[..path_end].rfind('/').unwrap_or(path_end);
        TempDatabase {
            url: format!("{}/{name}{query}", &base[..slash]),
            name,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = admin_client() {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
