//! The rig of one run: the reference server on its database file, the recording proxy in
//! front of it, the book file, and the CLI invocations (register, import, sync) every loop and the
//! final check share.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::book::{self, Book};
use crate::procs::{ADMIN_TOKEN, Cli, Server};
use crate::proxy::Proxy;
use crate::{Args, Result, work_dir};

/// The server, the proxy, the files and the book of one run.
pub(crate) struct Rig {
    pub(crate) args: Args,
    pub(crate) cli: Cli,
    pub(crate) work: PathBuf,
    pub(crate) server_db: PathBuf,
    pub(crate) server_log: PathBuf,
    pub(crate) book_path: PathBuf,
    pub(crate) proxy: Proxy,
    pub(crate) server: Option<Server>,
}

impl Rig {
    pub(crate) fn new(args: Args) -> Result<Rig> {
        let work = work_dir(&args);
        if work.exists() {
            std::fs::remove_dir_all(&work)?;
        }
        let logs = work.join("logs");
        std::fs::create_dir_all(&logs)?;
        let cli = Cli {
            bin: std::fs::canonicalize(&args.bin)
                .map_err(|e| format!("--bin {}: {e}", args.bin.display()))?,
            logs,
        };
        let mut rig = Rig {
            server_db: work.join("server.db"),
            server_log: work.join("logs/server.log"),
            book_path: work.join("book.vcf"),
            proxy: Proxy::start()?,
            args,
            cli,
            work,
            server: None,
        };
        rig.start_server()?;
        Ok(rig)
    }

    pub(crate) fn start_server(&mut self) -> Result<()> {
        let server = Server::start(&self.cli, &self.server_db, &self.server_log)?;
        self.proxy.set_upstream(Some(server.addr));
        self.server = Some(server);
        Ok(())
    }

    pub(crate) fn kill_server(&mut self) -> Result<()> {
        self.proxy.set_upstream(None);
        if let Some(server) = self.server.take() {
            server.kill()?;
        }
        Ok(())
    }

    pub(crate) fn book(&self) -> Book {
        Book::new(
            self.args.seed,
            self.args.contacts,
            self.args.churn,
            self.args.edits,
        )
    }

    /// The app's users, through `contactsync admin user put`: one in 100 of the book's
    /// universe, so matches come with the first upload and keep coming and going.
    pub(crate) fn register_users(&self) -> Result<usize> {
        let Some(server) = &self.server else {
            return Err("no server".into());
        };
        let users = book::users(self.args.seed, Book::universe(self.args.contacts), 100);
        for (user_ref, ids) in &users {
            let mut argv: Vec<&str> = vec![
                "admin",
                "user",
                "put",
                "--server",
                &server.url,
                "--admin-token",
                ADMIN_TOKEN,
                "--region",
                "US",
                "--user-ref",
                user_ref,
            ];
            argv.extend(ids.iter().map(String::as_str));
            self.cli.ok("admin", &argv)?;
        }
        Ok(users.len())
    }

    /// A new device (open registration), through the proxy.
    pub(crate) fn register(&self, db: &Path) -> Result<()> {
        let url = self.proxy.url();
        let argv = [
            OsStr::new("register"),
            OsStr::new("--server"),
            OsStr::new(&url),
            OsStr::new("--db"),
            db.as_os_str(),
        ];
        self.cli.ok("register", &argv)?;
        Ok(())
    }

    pub(crate) fn import_args<'a>(&'a self, db: &'a Path) -> [&'a OsStr; 6] {
        [
            OsStr::new("import"),
            OsStr::new("--region"),
            OsStr::new("US"),
            OsStr::new("--db"),
            db.as_os_str(),
            self.book_path.as_os_str(),
        ]
    }

    /// `sync` through the proxy. `force` ignores a persisted backoff: the server loop's device
    /// has one after every server death, and would wait it out instead of syncing again.
    pub(crate) fn sync_args<'a>(db: &'a Path, url: &'a str, force: bool) -> Vec<&'a OsStr> {
        let mut v = vec![
            OsStr::new("sync"),
            OsStr::new("--server"),
            OsStr::new(url),
            OsStr::new("--db"),
            db.as_os_str(),
        ];
        if force {
            v.push(OsStr::new("--force"));
        }
        v
    }

    /// One clean round (import + sync) on `db`; returns the two durations.
    pub(crate) fn clean_round(&self, db: &Path, force: bool) -> Result<(Duration, Duration)> {
        let t = Instant::now();
        self.cli.ok("import", &self.import_args(db))?;
        let import = t.elapsed();
        let url = self.proxy.url();
        let t = Instant::now();
        self.cli.ok("sync", &Rig::sync_args(db, &url, force))?;
        Ok((import, t.elapsed()))
    }
}
