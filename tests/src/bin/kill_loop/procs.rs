//! The `contactsync` child processes: verbs run to the end, verbs killed at an instant, and the
//! server.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;

/// The admin token of the loops' servers.
pub const ADMIN_TOKEN: &str = "kill-loop-admin-token-0123456789";

/// The `contactsync` binary under test, and where its children's output goes.
#[derive(Debug, Clone)]
pub struct Cli {
    pub bin: PathBuf,
    /// Each child's stdout and stderr, overwritten by the next child with the same label.
    pub logs: PathBuf,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(ExitStatus),
    /// Killed by us (`SIGKILL`) before it exited.
    Killed,
}

impl Cli {
    /// A command with a neutral environment: no locale region, no database or token override.
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("CONTACTSYNC_DB")
            .env_remove("CONTACTSYNC_ADMIN_TOKEN")
            .env("LANG", "C")
            .stdin(Stdio::null());
        c
    }

    fn log_path(&self, label: &str) -> PathBuf {
        self.logs.join(format!("{label}.log"))
    }

    /// Starts a verb with its output in `<logs>/<label>.log`.
    pub fn spawn<S: AsRef<OsStr>>(&self, label: &str, args: &[S]) -> Result<Child> {
        let log = File::create(self.log_path(label))?;
        let err = log.try_clone()?;
        Ok(self
            .command(args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.bin.display()))?)
    }

    /// The log of the last child with this label.
    pub fn log(&self, label: &str) -> String {
        std::fs::read_to_string(self.log_path(label)).unwrap_or_default()
    }

    /// Runs a verb that must succeed; returns its stdout and stderr.
    pub fn ok<S: AsRef<OsStr>>(&self, label: &str, args: &[S]) -> Result<String> {
        let mut child = self.spawn(label, args)?;
        let status = child.wait()?;
        if !status.success() {
            let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
            return Err(format!(
                "contactsync {} failed ({status}):\n{}",
                shown.join(" "),
                self.log(label)
            )
            .into());
        }
        Ok(self.log(label))
    }
}

/// Waits for `child` until `deadline`, then kills it (`SIGKILL`). A child that exits on its
/// own in the same instant counts as exited: only a death by our signal is a kill.
pub fn run_until(child: &mut Child, deadline: Instant) -> Result<Ended> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ended::Exited(status));
        }
        let now = Instant::now();
        if now >= deadline {
            child.kill()?;
            let status = child.wait()?;
            return Ok(if status.signal() == Some(9) {
                Ended::Killed
            } else {
                Ended::Exited(status)
            });
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
    }
}

/// A `contactsync serve` child.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub url: String,
}

impl Server {
    /// Starts `serve` on `db` and a free port, with limits that never refuse the loops'
    /// traffic (thousands of requests a minute, millions of new hashes a day): a refusal
    /// would test the limits, not crash safety. Its log is appended to `log`.
    pub fn start(cli: &Cli, db: &Path, log: &Path) -> Result<Server> {
        let mut child = cli
            .command(&[
                OsStr::new("serve"),
                OsStr::new("--db"),
                db.as_os_str(),
                OsStr::new("--listen"),
                OsStr::new("127.0.0.1:0"),
                OsStr::new("--admin-token"),
                OsStr::new(ADMIN_TOKEN),
                OsStr::new("--rate-limit"),
                OsStr::new("1000000"),
                OsStr::new("--daily-quota"),
                OsStr::new("4000000000"),
                OsStr::new("--max-set-size"),
                OsStr::new("4000000000"),
                // Devices register themselves, all from loopback.
                OsStr::new("--open-registration"),
                OsStr::new("--registrations-per-ip-burst"),
                OsStr::new("1000000"),
                OsStr::new("--registrations-per-ip-per-hour"),
                OsStr::new("3600000"),
                OsStr::new("--registrations-global-per-minute"),
                OsStr::new("60000"),
                OsStr::new("--open-identifiers-per-ip-per-day"),
                OsStr::new("4000000000"),
                OsStr::new("--open-identifiers-global-per-day"),
                OsStr::new("4000000000"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {} serve: {e}", cli.bin.display()))?;
        let stderr = child.stderr.take().ok_or("serve: no stderr")?;
        let mut out = OpenOptions::new().create(true).append(true).open(log)?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let first = lines.next().and_then(std::result::Result::ok);
            let _ = writeln!(out, "{}", first.as_deref().unwrap_or("(no output)"));
            let _ = tx.send(first);
            // Drained to the end, so the server never blocks on a full pipe.
            for line in lines.map_while(std::result::Result::ok) {
                let _ = writeln!(out, "{line}");
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .ok()
            .flatten()
            .unwrap_or_default();
        let Some(url) = first.strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("serve's first line: {first:?} (log: {})", log.display()).into());
        };
        let url = url.trim().to_owned();
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| format!("serve's address {url:?}: {e}"))?;
        Ok(Server { child, addr, url })
    }

    /// `SIGKILL`, and waits for the process to be gone.
    pub fn kill(mut self) -> Result<ExitStatus> {
        self.child.kill()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
