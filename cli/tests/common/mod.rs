//! What the CLI test files share: the binary, run with a neutral environment, and a `serve`
//! child on a free port.

// Not every test file uses every helper.
#![allow(dead_code, reason = "shared by several test files")]

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

/// The binary with a neutral environment: no locale region, no database or admin-token override.
pub fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_contactsync"));
    c.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("CONTACTSYNC_DB")
        .env_remove("CONTACTSYNC_ADMIN_TOKEN")
        .env("LANG", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs the binary to the end.
pub fn run(args: &[&str]) -> Output {
    cmd().args(args).output().expect("run contactsync")
}

/// The admin token of the test servers.
pub const ADMIN: &str = "test-admin-token-0123456789";

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a verb that must succeed.
pub fn ok(args: &[&str]) -> String {
    succeed(&mut cmd(), args)
}

/// Runs a verb that must succeed with `command` (the binary, with the environment a test needs).
pub fn succeed(command: &mut Command, args: &[&str]) -> String {
    let out = command.args(args).output().expect("run contactsync");
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    text(&out.stdout)
}

/// Runs a verb that must succeed and print JSON lines.
pub fn ok_json(args: &[&str]) -> Vec<Value> {
    ok(args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {l}: {e}")))
        .collect()
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A file of the demo's sample address book (`cli/demo/`).
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join(name)
}

/// Imports sample files (region US) into `db`.
pub fn import_samples(db: &Path, names: &[&str]) {
    let files: Vec<PathBuf> = names.iter().map(|n| sample(n)).collect();
    let mut args = vec!["import", "--region", "US", "--db", s(db)];
    args.extend(files.iter().map(|f| s(f)));
    ok(&args);
}

/// A `contactsync serve` child on a free loopback port; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// Every line the server wrote on stderr so far (drained by a thread: the server never
    /// blocks on a full pipe).
    pub stderr: Arc<Mutex<Vec<String>>>,
}

/// `serve` arguments: open registration, with limits no test on one address reaches.
pub const OPEN_REGISTRATION_UNLIMITED: &[&str] = &[
    "--open-registration",
    "--registrations-per-ip-burst",
    "1000000",
    "--registrations-per-ip-per-hour",
    "3600000",
    "--registrations-global-per-minute",
    "60000",
    "--open-identifiers-per-ip-per-day",
    "4000000000",
    "--open-identifiers-global-per-day",
    "4000000000",
];

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::on(s(&dir.join("server.db")), &[])
    }

    /// `serve --db DB` with more arguments, and open registration without the per-address
    /// limits: devices register themselves, all from 127.0.0.1 (server/tests/registration.rs
    /// tests those limits).
    pub fn on(db: &str, args: &[&str]) -> Server {
        Server::listening(db, "127.0.0.1:0", args)
    }

    /// [`Server::on`] on the address `listen`.
    pub fn listening(db: &str, listen: &str, args: &[&str]) -> Server {
        Server::spawn_on(db, listen, &[OPEN_REGISTRATION_UNLIMITED, args].concat())
    }

    /// `serve --db DB` with more arguments, and nothing else of the tests' own (registration
    /// vouched only, as `serve`'s default).
    pub fn spawn(db: &str, args: &[&str]) -> Server {
        Server::spawn_on(db, "127.0.0.1:0", args)
    }

    fn spawn_on(db: &str, listen: &str, args: &[&str]) -> Server {
        let mut all = vec![
            "--db",
            db,
            "--listen",
            listen,
            "--admin-token",
            ADMIN,
            "--check-interval",
            "1",
        ];
        all.extend_from_slice(args);
        Server::with(cmd(), &all)
    }

    /// `serve` with exactly these arguments, from `command` (its environment).
    pub fn with(mut command: Command, args: &[&str]) -> Server {
        let mut child = command
            .arg("serve")
            .args(args)
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line.clone());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(url) = first.strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve's first stderr line: {first:?}\n{}",
                lines.lock().unwrap().join("\n")
            );
        };
        Server {
            url: url.trim().to_owned(),
            child,
            stderr: lines,
        }
    }

    /// The stderr lines so far, as one text.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// App users (reference, identifiers) whom the sample address book lists: a device that imports
/// it finds Amara Okafor, Bruno Costa and Dana Whitfield.
pub const SAMPLE_USERS: &[(&str, &[&str])] = &[
    ("u_amara", &["+44 7911 123456"]),
    ("u_bruno", &["(202) 555-0186"]),
    ("u_dana", &["email:dana@example.org"]),
];

/// Their names, as `matches` shows them.
pub const SAMPLE_MATCHES: [&str; 3] = ["Amara Okafor", "Bruno Costa", "Dana Whitfield"];

/// Registers app users through `admin user put`, each run by `command()`.
pub fn put_users_with(command: impl Fn() -> Command, url: &str, users: &[(&str, &[&str])]) {
    for (user_ref, ids) in users {
        let mut args = vec![
            "admin",
            "user",
            "put",
            "--server",
            url,
            "--admin-token",
            ADMIN,
            "--region",
            "US",
            "--user-ref",
            user_ref,
        ];
        args.extend_from_slice(ids);
        let out = succeed(&mut command(), &args);
        assert!(out.contains(user_ref), "{out}");
    }
}

/// Imports the sample address books into the device database `db`, run by `command`.
pub fn import_samples_with(command: &mut Command, db: &Path) {
    succeed(
        command,
        &[
            "import",
            "--region",
            "US",
            "--db",
            s(db),
            s(&sample("sample.vcf")),
            s(&sample("sample.csv")),
        ],
    );
}

/// Skips a test whose tool is not installed, saying so on the terminal (the harness captures
/// `eprintln!`); on CI (`CONTACTSYNC_CI` set), which skips nothing, fails it instead.
pub fn skip_without(tool: &str, install: &str) {
    assert!(
        std::env::var_os("CONTACTSYNC_CI").is_none(),
        "CI never skips this test, and {tool} is not installed ({install})"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {tool} not installed ({install})"
    );
}

/// Registers app users through `admin user put`.
pub fn put_users(server: &Server, users: &[(&str, &[&str])]) {
    put_users_with(cmd, &server.url, users);
}

/// Waits, if needed, so that the next `seconds` stay within one UTC minute (the rate window; a
/// day ends on a minute's end, so within one day too).
pub fn clear_of_the_minute_edge(seconds: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 + seconds >= 60 {
        std::thread::sleep(Duration::from_secs(61 - now % 60));
    }
}
