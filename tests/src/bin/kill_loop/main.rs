//! The kill loops of docs/reliability.md: the real `contactsync` CLI killed (`SIGKILL`) at
//! random instants, then a check that nothing was lost, applied twice or left stuck.
//!
//! ```text
//! kill_loop client|server [N] --bin PATH [--seed S] [--contacts N] [--churn N] [--edits N]
//!           [--work-root DIR] [--keep]
//! ```
//!
//! `scripts/kill-loop` builds the release CLI and runs this. Both loops run a real
//! `contactsync serve` on a database file, the device's `import` and `sync` as child processes
//! talking to it through a recording proxy (proxy.rs), and the same deterministic, changing
//! address book (book.rs):
//!
//! - **client**: each round imports the round's book and syncs, and kills one of the two at a
//!   random instant (see [`client_loop`]), until N kills.
//! - **server**: each round imports the book and syncs; the server is killed while the sync's
//!   k-th batch is at the server, `PRAGMA integrity_check` runs on its file, and it is restarted
//!   on the same file (see [`server_loop`]), until N kills.
//!
//! Then one clean round (import + sync) on the device, the same final book on a fresh reference
//! device, and the checks of check.rs. The last line of a run is
//! `N kills: L lost, D duplicated, S stuck`. Exit code 0 when everything held; 1 when a check
//! failed (the work directory is kept for a look); 2 when the harness itself could not run.

mod book;
mod check;
mod procs;
mod proxy;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use book::{Book, Rng, mix};
use procs::{ADMIN_TOKEN, Cli, Ended, Server, run_until};
use proxy::{Event, Proxy};

/// Errors that stop the harness.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A check that failed during the loop (a child that should have succeeded, a damaged file):
/// a finding about the code under test, not a harness error.
#[derive(Debug)]
struct Finding(String);

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Finding {}

fn finding<T>(message: String) -> Result<T> {
    Err(Box::new(Finding(message)))
}

/// Which process the loop kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Client,
    Server,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Client => "client",
            Target::Server => "server",
        }
    }
}

#[derive(Debug)]
struct Args {
    target: Target,
    kills: u64,
    seed: u64,
    bin: PathBuf,
    contacts: usize,
    churn: usize,
    edits: usize,
    work_root: PathBuf,
    keep: bool,
}

const USAGE: &str = "usage: kill_loop client|server [N] --bin PATH [--seed S] [--contacts N] \
                     [--churn N] [--edits N] [--work-root DIR] [--keep]";

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let target = match it.next().as_deref() {
        Some("client") => Target::Client,
        Some("server") => Target::Server,
        _ => return Err(USAGE.into()),
    };
    let number = |text: &str| -> Result<u64> {
        text.parse::<u64>()
            .map_err(|e| format!("{text:?}: {e}\n{USAGE}").into())
    };
    let mut args = Args {
        target,
        kills: if target == Target::Client { 1000 } else { 100 },
        seed: 0,
        bin: PathBuf::new(),
        contacts: 20_000,
        churn: 0,
        edits: 0,
        work_root: PathBuf::from("target/kill-loop"),
        keep: false,
    };
    let (mut seed, mut churn, mut edits) = (None, None, None);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--seed" => seed = Some(number(&value()?)?),
            "--bin" => args.bin = PathBuf::from(value()?),
            "--contacts" => args.contacts = usize::try_from(number(&value()?)?)?,
            "--churn" => churn = Some(usize::try_from(number(&value()?)?)?),
            "--edits" => edits = Some(usize::try_from(number(&value()?)?)?),
            "--work-root" => args.work_root = PathBuf::from(value()?),
            "--keep" => args.keep = true,
            n if !n.starts_with('-') => args.kills = number(n)?,
            _ => return Err(format!("unknown option {arg}\n{USAGE}").into()),
        }
    }
    if args.bin.as_os_str().is_empty() {
        return Err(format!("--bin is required\n{USAGE}").into());
    }
    if args.kills == 0 || args.contacts < 100 {
        return Err(format!("N must be positive and --contacts at least 100\n{USAGE}").into());
    }
    // A fifth of the book replaced and a tenth edited each round: about seven batches of
    // changes, so that a sync has batches in flight most of its time, as a first sync does.
    args.churn = churn.unwrap_or(args.contacts / 5);
    args.edits = edits.unwrap_or(args.contacts / 10);
    args.seed = seed.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        // Small enough to type back: the seed is printed for a rerun.
        mix(u64::from(nanos), u64::from(std::process::id())) % 1_000_000
    });
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kill-loop: {e}");
            return ExitCode::from(2);
        }
    };
    let work = work_dir(&args);
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) if e.is::<Finding>() => {
            eprintln!("kill-loop: FAILED: {e}");
            eprintln!("kill-loop: work directory kept: {}", work.display());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("kill-loop: {e}");
            eprintln!("kill-loop: work directory kept: {}", work.display());
            ExitCode::from(2)
        }
    }
}

fn work_dir(args: &Args) -> PathBuf {
    args.work_root
        .join(format!("{}-{}", args.target.name(), args.seed))
}

/// "0.21 s", or "12 ms" below a second.
fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// The server, the proxy, the files and the book of one run.
struct Rig {
    args: Args,
    cli: Cli,
    work: PathBuf,
    server_db: PathBuf,
    server_log: PathBuf,
    book_path: PathBuf,
    proxy: Proxy,
    server: Option<Server>,
}

impl Rig {
    fn new(args: Args) -> Result<Rig> {
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

    fn start_server(&mut self) -> Result<()> {
        let server = Server::start(&self.cli, &self.server_db, &self.server_log)?;
        self.proxy.set_upstream(Some(server.addr));
        self.server = Some(server);
        Ok(())
    }

    fn kill_server(&mut self) -> Result<()> {
        self.proxy.set_upstream(None);
        if let Some(server) = self.server.take() {
            server.kill()?;
        }
        Ok(())
    }

    fn book(&self) -> Book {
        Book::new(
            self.args.seed,
            self.args.contacts,
            self.args.churn,
            self.args.edits,
        )
    }

    /// The app's users, through `contactsync admin user put`: one in 100 of the book's
    /// universe, so matches come with the first upload and keep coming and going.
    fn register_users(&self) -> Result<usize> {
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
    fn register(&self, db: &Path) -> Result<()> {
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

    fn import_args<'a>(&'a self, db: &'a Path) -> [&'a OsStr; 6] {
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
    fn sync_args<'a>(db: &'a Path, url: &'a str, force: bool) -> Vec<&'a OsStr> {
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
    fn clean_round(&self, db: &Path, force: bool) -> Result<(Duration, Duration)> {
        let t = Instant::now();
        self.cli.ok("import", &self.import_args(db))?;
        let import = t.elapsed();
        let url = self.proxy.url();
        let t = Instant::now();
        self.cli.ok("sync", &Rig::sync_args(db, &url, force))?;
        Ok((import, t.elapsed()))
    }
}

/// What a loop reports besides the final check.
#[derive(Debug, Default)]
struct Tally {
    kills: u64,
    rounds: u64,
    lines: Vec<String>,
}

fn run(args: Args) -> Result<bool> {
    let started = Instant::now();
    let target = args.target;
    let name = target.name();
    let (kills, seed) = (args.kills, args.seed);
    eprintln!(
        "kill-loop {name}: {kills} kills, seed {seed} (rerun: scripts/kill-loop {name} {kills} \
         --seed {seed}); a book of {} contacts, {} replaced and {} edited each round",
        args.contacts, args.churn, args.edits
    );
    let mut rig = Rig::new(args)?;
    let users = rig.register_users()?;
    eprintln!(
        "kill-loop: {users} app users; work directory {}",
        rig.work.display()
    );

    let tally = match target {
        Target::Client => client_loop(&mut rig)?,
        Target::Server => server_loop(&mut rig)?,
    };

    // One clean round on the device, then the same final book on a fresh device.
    let device = rig.work.join("device.db");
    let (i, s) = rig
        .clean_round(&device, target == Target::Server)
        .map_err(|e| Finding(format!("the clean round after the kills: {e}")))?;
    eprintln!(
        "kill-loop: clean round on the device: import {}, sync {}",
        secs(i),
        secs(s)
    );
    let reference = rig.work.join("reference.db");
    rig.register(&reference)?;
    let (i, s) = rig.clean_round(&reference, false)?;
    eprintln!(
        "kill-loop: reference device (the final book, never killed): import {}, sync {}",
        secs(i),
        secs(s)
    );
    rig.kill_server()?;

    let findings = rig.proxy.with_log(|log| {
        check::final_check(
            &check::Subjects {
                server: &rig.server_db,
                device: &device,
                reference: &reference,
            },
            log,
        )
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "kill loop ({name}), seed {seed}: {} kills in {} rounds, {}",
        tally.kills,
        tally.rounds,
        secs(started.elapsed())
    )?;
    for line in tally.lines.iter().chain(&findings.notes) {
        writeln!(out, "  {line}")?;
    }
    for problem in &findings.problems {
        writeln!(out, "  FAILED: {problem}")?;
    }
    if findings.lost() > 0 {
        writeln!(
            out,
            "  FAILED: {} hashes of the clean run missing from the device's server set, {} there \
             that the clean run does not have",
            findings.missing, findings.extra
        )?;
    }
    writeln!(
        out,
        "{} kills: {} lost, {} duplicated, {} stuck",
        tally.kills,
        findings.lost(),
        findings.duplicated,
        findings.stuck
    )?;
    let clean = findings.clean();
    if clean && !rig.args.keep {
        std::fs::remove_dir_all(&rig.work)?;
    } else {
        writeln!(out, "work directory kept: {}", rig.work.display())?;
    }
    Ok(clean)
}

/// The client loop's kill windows, measured on clean rounds of a device of its own, on this
/// machine under its current load.
#[derive(Debug)]
struct ClientWindows {
    import: Duration,
    sync: Duration,
}

fn calibrate_client(rig: &Rig) -> Result<ClientWindows> {
    let calibration = rig.work.join("calibration.db");
    rig.register(&calibration)?;
    let mut book = rig.book();
    book.write_vcard(&rig.book_path)?;
    let (import0, sync0) = rig.clean_round(&calibration, false)?;
    book.advance();
    book.write_vcard(&rig.book_path)?;
    let (import1, sync1) = rig.clean_round(&calibration, false)?;
    eprintln!(
        "kill-loop: clean rounds: first import {} + sync {}, next import {} + sync {}",
        secs(import0),
        secs(sync0),
        secs(import1),
        secs(sync1),
    );
    // The sync's window is a clean sync of a round like the loop's (the first is a full upload,
    // three times as long: with it, half the rounds' syncs would end before their instant).
    Ok(ClientWindows {
        import: import0.max(import1),
        sync: sync1,
    })
}

/// Kills during import and during sync, each without (`[0]`) and with (`[1]`) a batch in
/// flight at the kill: planned and not answered (being sent, at the server, or left by an
/// earlier kill).
#[derive(Debug, Default)]
struct ClientKills {
    import: [u64; 2],
    sync: [u64; 2],
    /// Rounds whose children ended before the kill's instant.
    unkilled: u64,
    /// Kills after which the device's file existed and passed `integrity_check`.
    checked: u64,
}

/// The client loop: import + sync of each round's book, one of them killed at a random instant.
///
/// Three rounds in four aim at the sync, where the batches are: the import runs to its end, and
/// the sync is killed at an instant uniform over a clean sync of a round's changes (a sync after
/// earlier kills has more to send, so the instant mostly falls among its batches). The fourth
/// aims at the import: an instant uniform over a clean import, from the round's start, killing
/// whichever child runs then (after a quick import, the sync's start). A round whose children
/// end before the instant is not killed; the loop goes on until N kills. After each kill the
/// device's file must pass `integrity_check`.
fn client_loop(rig: &mut Rig) -> Result<Tally> {
    let windows = calibrate_client(rig)?;
    let device = rig.work.join("device.db");
    rig.register(&device)?;
    let mut rng = Rng::new(mix(rig.args.seed, 0x4B11));
    let mut book = rig.book();
    let mut tally = Tally::default();
    let mut kills = ClientKills::default();
    let progress_every = (rig.args.kills / 20).max(1);
    while tally.kills < rig.args.kills {
        if tally.rounds > 0 {
            book.advance();
        }
        book.write_vcard(&rig.book_path)?;
        tally.rounds += 1;
        let aim_at_sync = rng.below(4) != 0;
        let window = if aim_at_sync {
            windows.sync
        } else {
            windows.import
        };
        let delay = Duration::from_nanos(rng.below(nanos(window)));
        let Some(in_sync) = client_round(rig, &device, aim_at_sync, delay, tally.rounds)? else {
            kills.unkilled += 1;
            continue;
        };
        tally.kills += 1;
        let phase = if in_sync {
            &mut kills.sync
        } else {
            &mut kills.import
        };
        // The file is as the kill left it (every state change is a commit): a batch in flight?
        // A sound file?
        if device.exists() {
            let conn = check::open(&device)?;
            phase[usize::from(check::device_batches(&conn)? > 0)] += 1;
            drop(conn);
            if let Some(e) = check::integrity(&device)? {
                return finding(format!(
                    "round {}: integrity_check of the device after kill {}: {e}",
                    tally.rounds, tally.kills
                ));
            }
            kills.checked += 1;
        } else {
            phase[0] += 1;
        }
        if tally.kills % progress_every == 0 {
            eprintln!(
                "kill-loop: {} kills in {} rounds ({} during sync, {} during import; {} with a \
                 batch in flight)",
                tally.kills,
                tally.rounds,
                kills.sync[0] + kills.sync[1],
                kills.import[0] + kills.import[1],
                kills.import[1] + kills.sync[1]
            );
        }
    }
    tally.lines.push(format!(
        "kill instants: 3 rounds in 4 uniform over a clean sync of a round ({}), 1 in 4 over a \
         clean import ({})",
        secs(windows.sync),
        secs(windows.import)
    ));
    tally.lines.push(format!(
        "kills: {} during sync ({} with a batch in flight), {} during import ({} with a batch of \
         an earlier sync in flight): {} of {} with a batch in flight; {} rounds ended before \
         their instant",
        kills.sync[0] + kills.sync[1],
        kills.sync[1],
        kills.import[0] + kills.import[1],
        kills.import[1],
        kills.import[1] + kills.sync[1],
        tally.kills,
        kills.unkilled
    ));
    tally.lines.push(format!(
        "integrity_check ok on the device after each of {} kills (the others came before the \
         file existed)",
        kills.checked
    ));
    Ok(tally)
}

/// One round of the client loop: `Some(in_sync)` when a child was killed, `None` when both
/// ended first. A child that fails on its own is a finding.
fn client_round(
    rig: &Rig,
    device: &Path,
    aim_at_sync: bool,
    delay: Duration,
    round: u64,
) -> Result<Option<bool>> {
    let start = Instant::now();
    let deadline = if aim_at_sync {
        start + Duration::from_secs(3600)
    } else {
        start + delay
    };
    let mut child = rig.cli.spawn("import", &rig.import_args(device))?;
    match run_until(&mut child, deadline)? {
        Ended::Killed => return Ok(Some(false)),
        Ended::Exited(code) if code.success() => {}
        Ended::Exited(code) => {
            return finding(format!(
                "round {round}: import failed ({code}):\n{}",
                rig.cli.log("import")
            ));
        }
    }
    let deadline = if aim_at_sync {
        Instant::now() + delay
    } else {
        deadline
    };
    let url = rig.proxy.url();
    let mut child = rig
        .cli
        .spawn("sync", &Rig::sync_args(device, &url, false))?;
    match run_until(&mut child, deadline)? {
        Ended::Killed => Ok(Some(true)),
        Ended::Exited(code) if code.success() => Ok(None),
        Ended::Exited(code) => finding(format!(
            "round {round}: sync failed ({code}):\n{}",
            rig.cli.log("sync")
        )),
    }
}

/// The server loop's kill window: a batch's time at the server, and the batches a round sends.
#[derive(Debug)]
struct ServerWindow {
    batch: Duration,
    per_round: u64,
}

/// Measures, through the proxy's events, how long the server takes over a batch (the median,
/// from the request written to the answer read) and how many batches a round after the first
/// sends, on clean rounds of a device of its own.
fn calibrate_server(rig: &Rig) -> Result<ServerWindow> {
    let calibration = rig.work.join("calibration.db");
    rig.register(&calibration)?;
    let (tx, rx) = mpsc::channel();
    rig.proxy.set_events(Some(tx));
    let mut book = rig.book();
    book.write_vcard(&rig.book_path)?;
    rig.clean_round(&calibration, false)?;
    let mut events: Vec<Event> = rx.try_iter().collect();
    book.advance();
    book.write_vcard(&rig.book_path)?;
    rig.clean_round(&calibration, false)?;
    rig.proxy.set_events(None);
    let second: Vec<Event> = rx.try_iter().collect();
    let per_round = second
        .iter()
        .filter(|e| matches!(e, Event::BatchForwarded { .. }))
        .count();
    events.extend(second);
    let mut sent = HashMap::new();
    let mut times = Vec::new();
    for e in &events {
        match e {
            Event::BatchForwarded { seq, at, .. } => {
                sent.insert(*seq, *at);
            }
            Event::BatchDone { seq, at } => {
                if let Some(start) = sent.get(seq) {
                    times.push(*at - *start);
                }
            }
        }
    }
    times.sort();
    let batch = times
        .get(times.len() / 2)
        .copied()
        .ok_or("no batch in the calibration rounds")?;
    eprintln!(
        "kill-loop: a batch takes {} at the server (median of {}); {per_round} batches in a \
         round after the first",
        secs(batch),
        times.len(),
    );
    Ok(ServerWindow {
        batch,
        per_round: u64::try_from(per_round)?.max(1),
    })
}

/// Where server kills fell relative to their batch, and how the syncs ended.
#[derive(Debug, Default)]
struct ServerKills {
    before_commit: u64,
    committed_unanswered: u64,
    after_answer: u64,
    synced: u64,
    gave_up: u64,
}

/// The server loop: each round imports its book (never killed) and syncs with `--force`;
/// while the sync runs, the server is killed once its k-th batch of the round (k uniform over
/// the batches a round sends) has been written to it, after a delay uniform over a batch's
/// median time at the server, so most kills fall while the server is working on the batch.
/// Then `integrity_check` on the server's file, and a restart on the same file; the sync retries
/// meanwhile (its failures while the server is down are expected) or gives up, and the next
/// round syncs again. Until N kills.
fn server_loop(rig: &mut Rig) -> Result<Tally> {
    let window = calibrate_server(rig)?;
    let device = rig.work.join("device.db");
    rig.register(&device)?;
    let mut rng = Rng::new(mix(rig.args.seed, 0x5E4B));
    let mut book = rig.book();
    let mut tally = Tally::default();
    let mut kills = ServerKills::default();
    let progress_every = (rig.args.kills / 10).max(1);
    while tally.kills < rig.args.kills {
        if tally.rounds > 0 {
            book.advance();
        }
        book.write_vcard(&rig.book_path)?;
        tally.rounds += 1;
        rig.cli
            .ok("import", &rig.import_args(&device))
            .map_err(|e| Finding(format!("round {}: {e}", tally.rounds)))?;
        let k = 1 + rng.below(window.per_round);
        let delay = Duration::from_nanos(rng.below(nanos(window.batch)));
        if server_round(rig, &device, k, delay, &mut kills, &tally)? {
            tally.kills += 1;
            if tally.kills % progress_every == 0 {
                eprintln!(
                    "kill-loop: {} server kills in {} rounds",
                    tally.kills, tally.rounds
                );
            }
        }
    }
    tally.lines.push(format!(
        "kill instants: after the k-th batch of a round (k in 1..={}) was written to the server, \
         uniform over {} (a batch's median time there)",
        window.per_round,
        secs(window.batch)
    ));
    tally.lines.push(format!(
        "kills: {} before the batch committed, {} after its commit and before its answer, {} \
         after its answer",
        kills.before_commit, kills.committed_unanswered, kills.after_answer
    ));
    tally.lines.push(format!(
        "integrity_check ok on the server after each of {} kills; syncs: {} completed, {} gave \
         up while the server was down",
        tally.kills, kills.synced, kills.gave_up
    ));
    Ok(tally)
}

/// One sync of the server loop; kills and restarts the server at its k-th batch. True when
/// it did.
fn server_round(
    rig: &mut Rig,
    device: &Path,
    k: u64,
    delay: Duration,
    kills: &mut ServerKills,
    tally: &Tally,
) -> Result<bool> {
    let (tx, rx) = mpsc::channel();
    rig.proxy.set_events(Some(tx));
    let url = rig.proxy.url();
    let mut child = rig.cli.spawn("sync", &Rig::sync_args(device, &url, true))?;
    let mut seen = 0u64;
    let mut killed = false;
    let exit = loop {
        if let Some(code) = child.try_wait()? {
            break code;
        }
        let Ok(event) = rx.recv_timeout(Duration::from_millis(2)) else {
            continue;
        };
        let Event::BatchForwarded { seq, batch_id, at } = event else {
            continue;
        };
        seen += 1;
        if killed || seen != k {
            continue;
        }
        std::thread::sleep((at + delay).saturating_duration_since(Instant::now()));
        rig.kill_server()?;
        killed = true;
        classify(rig, seq, &batch_id, kills)?;
        if let Some(e) = check::integrity(&rig.server_db)? {
            return finding(format!(
                "round {}: integrity_check of the server after kill {}: {e}",
                tally.rounds,
                tally.kills + 1
            ));
        }
        rig.start_server()?;
    };
    rig.proxy.set_events(None);
    match exit.code() {
        Some(0) => kills.synced += 1,
        // Still no server after the sync's retries: expected; the next round syncs again.
        Some(2) => kills.gave_up += 1,
        _ => {
            return finding(format!(
                "round {}: sync ended with {exit}:\n{}",
                tally.rounds,
                rig.cli.log("sync")
            ));
        }
    }
    Ok(killed)
}

/// Where a server kill fell: before the batch's commit, between its commit and its answer,
/// or after its answer.
fn classify(rig: &Rig, seq: u64, batch_id: &str, kills: &mut ServerKills) -> Result<()> {
    // The proxy's relay of that request ends once the dead server's socket is closed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let outcome = loop {
        if let Some(o) = rig.proxy.with_log(|log| log.outcomes.get(&seq).copied()) {
            break o;
        }
        if Instant::now() > deadline {
            return Err(format!("the proxy never finished batch request {seq}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let committed = check::server_has_batch(&check::open(&rig.server_db)?, batch_id)?;
    match (outcome.is_some(), committed) {
        (true, _) => kills.after_answer += 1,
        (false, true) => kills.committed_unanswered += 1,
        (false, false) => kills.before_commit += 1,
    }
    Ok(())
}
