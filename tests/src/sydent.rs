//! A real Matrix identity server for the Matrix mode's tests: Sydent (`PyPI`'s `matrix-sydent`) from
//! the virtual environment `scripts/sydent-for-tests` makes, started on a free loopback port with
//! a configuration and `SQLite` database in a temporary directory, and killed when the [`Sydent`]
//! is dropped.
//!
//! State goes in the way Sydent itself writes it: `tests/sydent/provision.py` runs Sydent's own
//! stores and binder (accounts and access tokens, threepid associations with their lookup hashes,
//! the lookup pepper with every hash re-hashed), so a test sees exactly what a deployed Sydent
//! would answer. Without the environment the tests that need it are skipped with a visible line —
//! except on CI (`CONTACTSYNC_CI` set), which never skips them.
//!
//! Stands alone (no `crate::`): the CLI's tests include this file too.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

/// Sydent's longest start on this project's machines is a few seconds (imports, schema); a
/// minute leaves room for a loaded CI machine without hanging a broken run for long.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The virtual environment: `CONTACTSYNC_SYDENT_VENV`, else where scripts/sydent-for-tests puts it.
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("CONTACTSYNC_SYDENT_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/contactsync/sydent-2.6.1")
}

/// Whether Sydent's environment is there; says so on the terminal when it is not, and fails
/// on CI, which never skips these tests.
pub fn available() -> bool {
    let python = venv().join("bin/python");
    let ready = python.is_file() && venv().join("bin/sydent").is_file();
    if !ready {
        assert!(
            std::env::var_os("CONTACTSYNC_CI").is_none(),
            "CI never skips the Matrix tests, and Sydent is not installed in {} (scripts/sydent-for-tests)",
            venv().display()
        );
        // Straight to the terminal: the test harness captures eprintln!.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: Sydent not installed in {}; run scripts/sydent-for-tests",
            venv().display()
        );
    }
    ready
}

/// A running Sydent with its own directory.
#[derive(Debug)]
pub struct Sydent {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl Sydent {
    /// A fresh Sydent answering at most `address_lookup_limit` addresses per lookup (Sydent's
    /// default is 10,000), or `None` (skipped, visibly) when it is not installed.
    ///
    /// # Panics
    /// When it cannot be configured or started (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn start(address_lookup_limit: usize) -> Option<Sydent> {
        if !available() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // A port the system just gave out and nobody holds: Sydent binds it a moment later.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "[general]\nserver.name = sydent.test\naddress_lookup_limit = {address_lookup_limit}\n\
             templates.path = {dir}/res\n\n[db]\ndb.file = {dir}/sydent.db\n\n[http]\n\
             clientapi.http.bind_address = 127.0.0.1\nclientapi.http.port = {port}\n",
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("sydent.conf"), config).unwrap();
        let mut sydent = Sydent {
            dir,
            port,
            child: None,
        };
        // The schema, the signing key (written back into sydent.conf) and the first pepper, made
        // before the server reads them.
        sydent.provision(&[]);
        sydent.run();
        Some(sydent)
    }

    /// `http://127.0.0.1:PORT`, the identity server's base URL.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sydent's database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("sydent.db")
    }

    /// An account `user_id` with a new identity-server access token, which it returns (what
    /// `/account/register` gives an app for its user's `OpenID` token).
    pub fn create_token(&mut self, user_id: &str) -> String {
        let token = format!(
            "syd_{}",
            user_id.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        self.provision(&[json!({"op": "token", "user_id": user_id, "token": token})]);
        token
    }

    /// Binds `address` of `medium` (`email`, `msisdn`) to the Matrix user `mxid`.
    pub fn bind(&mut self, medium: &str, address: &str, mxid: &str) {
        self.provision(&[
            json!({"op": "bind", "medium": medium, "address": address, "mxid": mxid}),
        ]);
    }

    /// Binds each (medium, address, Matrix user id), in one provisioning run.
    pub fn bind_all(&mut self, bindings: &[(&str, &str, &str)]) {
        let operations: Vec<Value> = bindings
            .iter()
            .map(|(medium, address, mxid)| {
                json!({"op": "bind", "medium": medium, "address": address, "mxid": mxid})
            })
            .collect();
        self.provision(&operations);
    }

    /// Removes that binding.
    pub fn unbind(&mut self, medium: &str, address: &str, mxid: &str) {
        self.provision(&[
            json!({"op": "unbind", "medium": medium, "address": address, "mxid": mxid}),
        ]);
    }

    /// The lookup pepper Sydent serves.
    ///
    /// # Panics
    /// When the database cannot be read (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn pepper(&self) -> String {
        let db = rusqlite::Connection::open(self.db_path()).unwrap();
        db.query_row("SELECT lookup_pepper FROM hashing_metadata", [], |row| {
            row.get(0)
        })
        .unwrap()
    }

    /// A new lookup pepper, every stored hash re-hashed (a running Sydent keeps the pepper it
    /// started with; [`Sydent::provision`] restarts it, as a deployment would be).
    pub fn change_pepper(&mut self, pepper: &str) {
        self.provision(&[json!({"op": "pepper", "pepper": pepper})]);
    }

    /// Runs tests/sydent/provision.py over these operations with Sydent's Python, with the server
    /// stopped, then starts it again on the same port. Stopped because Sydent's connection keeps
    /// read transactions open between requests (its `SQLite` file would be locked to a second
    /// writer), and because the pepper is read once, at start.
    ///
    /// # Panics
    /// When the script fails (its output is in the message).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn provision(&mut self, operations: &[Value]) {
        let was_running = self.child.is_some();
        self.stop();
        // From the tests crate or the CLI's tests (which include this file): both sit one level
        // below the workspace's root.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sydent/provision.py");
        let mut child = Command::new(venv().join("bin/python"))
            .arg(script)
            .env("SYDENT_CONF", self.dir.path().join("sydent.conf"))
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = serde_json::to_vec(operations).unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "provision.py failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if was_running {
            self.run();
        }
    }

    /// Starts the server and waits until it answers `GET /_matrix/identity/v2`.
    #[allow(clippy::unwrap_used, clippy::panic, reason = "test helper")]
    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("sydent.log")).unwrap();
        let child = Command::new(venv().join("bin/sydent"))
            .env("SYDENT_CONF", self.dir.path().join("sydent.conf"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .new_agent();
        let url = format!("{}/_matrix/identity/v2", self.base_url());
        let started = Instant::now();
        loop {
            if agent
                .get(&url)
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
            {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || started.elapsed() > READY_WITHIN {
                let log = std::fs::read_to_string(self.dir.path().join("sydent.log"));
                panic!(
                    "Sydent did not become ready on port {} ({exited:?}):\n{}",
                    self.port,
                    log.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sydent {
    fn drop(&mut self) {
        self.stop();
    }
}
