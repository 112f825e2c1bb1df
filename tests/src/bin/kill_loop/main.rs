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
//!   random instant (see [`client_loop::client_loop`]), until N kills.
//! - **server**: each round imports the book and syncs; the server is killed while the sync's
//!   k-th batch is at the server, `PRAGMA integrity_check` runs on its file, and it is restarted
//!   on the same file (see [`server_loop::server_loop`]), until N kills.
//!
//! Then one clean round (import + sync) on the device, the same final book on a fresh reference
//! device, and the checks of check.rs. The last line of a run is
//! `N kills: L lost, D duplicated, S stuck`. Exit code 0 when everything held; 1 when a check
//! failed (the work directory is kept for a look); 2 when the harness itself could not run.

mod book;
mod check;
mod client_loop;
mod procs;
mod proxy;
mod rig;
mod server_loop;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use book::mix;
use client_loop::client_loop;
use rig::Rig;
use server_loop::server_loop;

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
