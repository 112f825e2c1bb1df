//! The servers under test: `contactsync serve` processes the harness starts itself, N of them on
//! N loopback ports over one database, and stops (and whose database it drops) when done.
//!
//! A target is a `--db` value and an instance count, so a new storage backend is measured by
//! the same harness as soon as `serve` accepts its `--db` (a path keeps SQLite; a
//! `postgres://` URL selects PostgreSQL).

use std::fmt;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token the harness gives its servers.
pub const ADMIN_TOKEN: &str = "contactsync-loadbench-admin-token-0123456789";

/// A storage backend and how many instances serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// One instance on a SQLite file.
    Sqlite,
    /// One instance on a fresh PostgreSQL database.
    Postgres,
    /// Two instances on one fresh PostgreSQL database.
    Postgres2,
}

impl Backend {
    pub fn instances(self) -> usize {
        match self {
            Backend::Sqlite | Backend::Postgres => 1,
            Backend::Postgres2 => 2,
        }
    }

    pub fn is_postgres(self) -> bool {
        self != Backend::Sqlite
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite, 1 instance",
            Backend::Postgres => "PostgreSQL, 1 instance",
            Backend::Postgres2 => "PostgreSQL, 2 instances",
        })
    }
}

/// How to start the servers.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The `contactsync` binary.
    pub cli: PathBuf,
    /// Where SQLite files and server logs go.
    pub work_dir: PathBuf,
    /// The PostgreSQL server; the harness creates (and drops) a database of its own on it.
    pub postgres_url: String,
    /// `--rate-limit`: requests per device per minute.
    pub rate_limit: u32,
}

/// Running instances of one target; stopped, and their database dropped, on drop.
#[derive(Debug)]
pub struct Servers {
    children: Vec<Child>,
    pub urls: Vec<String>,
    /// The PostgreSQL database made for this run (dropped at the end), if any.
    database: Option<(String, String)>,
    dir: PathBuf,
}

impl Servers {
    /// Starts `backend`'s instances on a fresh database; `run` numbers the database.
    pub fn start(backend: Backend, options: &ServerOptions, run: usize) -> Result<Self, String> {
        let dir = options
            .work_dir
            .join(format!("run-{}-{run}", std::process::id()));
        // A leftover of an interrupted run with the same pid: start from nothing.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let mut servers = Servers {
            children: Vec::new(),
            urls: Vec::new(),
            database: None,
            dir: dir.clone(),
        };
        let db = if backend.is_postgres() {
            let name = format!("contactsync_bench_{}_{run}", std::process::id());
            psql(
                &options.postgres_url,
                &format!("DROP DATABASE IF EXISTS {name}"),
            )?;
            psql(&options.postgres_url, &format!("CREATE DATABASE {name}"))?;
            servers.database = Some((options.postgres_url.clone(), name.clone()));
            with_database(&options.postgres_url, &name)?
        } else {
            dir.join("server.db").display().to_string()
        };
        // One after the other: the first creates the schema, the next find it made.
        for i in 0..backend.instances() {
            let log = dir.join(format!("server-{i}.log"));
            let child = spawn(options, &db, &log)?;
            servers.children.push(child);
            let url = listening_url(servers.children.last_mut(), &log)?;
            servers.urls.push(url);
        }
        Ok(servers)
    }

    /// The server processes' ids, for their CPU time.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Where this run's files are (server logs, the SQLite file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some((url, name)) = &self.database
            && let Err(e) = psql(url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        {
            eprintln!("loadbench: {e}");
        }
    }
}

fn spawn(options: &ServerOptions, db: &str, log: &Path) -> Result<Child, String> {
    let stderr = fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    Command::new(&options.cli)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .args(["--admin-token", ADMIN_TOKEN])
        .args(["--rate-limit", &options.rate_limit.to_string()])
        // Newcomers register themselves, all from loopback: open registration, without the
        // per-address limits (the benchmark measures the server, not those limits).
        .args([
            "--open-registration",
            "--registrations-per-ip-burst",
            "1000000",
        ])
        .args(["--registrations-per-ip-per-hour", "3600000"])
        .args(["--registrations-global-per-minute", "60000"])
        .args(["--open-identifiers-per-ip-per-day", "4000000000"])
        .args(["--open-identifiers-global-per-day", "4000000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", options.cli.display()))
}

/// Waits for the server's first line, `listening on http://ADDR`; a server that exits first
/// (a `--db` it does not take, a database it cannot reach) fails with its own words.
fn listening_url(child: Option<&mut Child>, log: &Path) -> Result<String, String> {
    let child = child.ok_or("no server process")?;
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(log) {
            let _ = f.read_to_string(&mut text);
        }
        if let Some(line) = text.lines().next()
            && let Some(url) = line.strip_prefix("listening on ")
            && text.contains('\n')
        {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the server exited ({status}) before listening:\n{}",
                text.trim()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server did not listen within 60 s:\n{}",
                text.trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs one SQL statement with `psql` (the PostgreSQL server's own client: no driver in the
/// harness for two statements a run).
fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("psql (needed for the PostgreSQL targets): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..]
        .find('/')
        .map(|i| i + after_scheme)
        .ok_or_else(|| format!("--postgres-url {url}: no database in it"))?;
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5432/contactsync", "x").as_deref(),
            Ok("postgres://u:p@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "y").as_deref(),
            Ok("postgres://h/y?sslmode=disable")
        );
        assert!(with_database("postgres://h", "z").is_err());
    }
}
