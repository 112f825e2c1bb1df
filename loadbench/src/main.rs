//! `contactsync-loadbench`: the discovery server under load, on loopback (docs/performance.md,
//! "Server load"). Run it through `scripts/bench-server`, which builds it and the release CLI.
//!
//! Each run starts the target's server processes on a fresh database, registers the app's
//! users through the admin API, then measures three phases with goose:
//!
//! 1. **first syncs**: newcomers register and upload a 500-hash book each, back to back, as fast
//!    as the server answers: the hashes looked up per second;
//! 2. **steady**: devices that finished their first sync send delta syncs and poll the change
//!    feed at a fixed rate under the rate limit: requests per second and latencies;
//! 3. **steady + abuser**: the same, plus one client at ten times the rate limit: its 429s, and
//!    what it costs the others (their p99 beside phase 2's).
//!
//! A benchmark, never a test: it prints figures. `--check` (CI's short run) only asserts that
//! the harness works: matches as expected, no errors for well-behaved devices, 429s for the
//! abuser.

mod measure;
mod report;
mod servers;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clap::Parser;
use contactsync_core::protocol::wire::{ConfigAnswer, UserEntry, UserIdentifier, UsersRequest};
use contactsync_core::{HashKey, Identifier, IdentifierKind, Region};
use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::measure::{CpuSample, Phase};
use crate::report::Figures;
use crate::servers::{ADMIN_TOKEN, Backend, ServerOptions, Servers};
use crate::workload::World;

/// The server under load: simulated devices on loopback (goose).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Targets to measure, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite")]
    backend: Vec<Backend>,
    /// The PostgreSQL server for the postgres targets (a fresh database is made on it per run,
    /// and dropped after).
    #[arg(
        long,
        default_value = "postgres://contactsync:contactsync@127.0.0.1:5432/contactsync"
    )]
    postgres_url: String,
    /// The `contactsync` binary to serve with.
    #[arg(long, default_value = "target/release/contactsync")]
    cli: PathBuf,
    /// Where the runs' SQLite files and server logs go (removed after each good run).
    #[arg(long, default_value = "target/loadbench")]
    work_dir: PathBuf,
    /// Seconds each phase is measured (after all its users started).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds the phase with the abuser is measured. At ten times the limit the abuser fills a
    /// one-minute window in 6 s, so only a phase of a minute or more shows it refused about 90%
    /// of the time; a phase under 13 s may see no 429 at all (the windows are wall-clock
    /// minutes, and one may begin during the phase).
    #[arg(long, default_value_t = 60)]
    abuser_seconds: u64,
    /// Connections the abuser sends from at once (one client token): enough to keep its rate
    /// while the server queues requests (32 at 300 ms each still make 100/s).
    #[arg(long, default_value_t = 32)]
    abuser_connections: usize,
    /// Runs per target; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The servers' `--rate-limit` (requests per device per minute).
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Newcomers doing first syncs at once (phase 1).
    #[arg(long, default_value_t = 16)]
    newcomers: usize,
    /// Steady devices (phases 2 and 3).
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// Requests per second the steady devices send together.
    #[arg(long, default_value_t = 1000.0)]
    rps: f64,
    /// App users registered through the admin API.
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// Hashes in a first sync's book.
    #[arg(long, default_value_t = 500)]
    book: usize,
    /// Percent of a book's hashes that are app users'.
    #[arg(long, default_value_t = 7)]
    match_percent: u64,
    /// Print each run's latency histograms (ms: requests) on stderr: where the tail sits.
    #[arg(long)]
    histogram: bool,
    /// Fail unless the harness worked: expected matches, no errors for well-behaved devices,
    /// 429s for the abuser (CI's short run).
    #[arg(long)]
    check: bool,
}

impl Args {
    /// The abuser's rate: ten times the rate limit.
    fn abuser_rps(&self) -> f64 {
        f64::from(self.rate_limit) / 60.0 * 10.0
    }

    /// Requests per second of one steady device.
    fn device_rps(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "a count of devices")]
        let devices = self.devices.max(1) as f64;
        self.rps / devices
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = ServerOptions {
        cli: args.cli.clone(),
        work_dir: args.work_dir.clone(),
        postgres_url: args.postgres_url.clone(),
        rate_limit: args.rate_limit,
    };
    let device_rps = args.device_rps();
    let limit_rps = f64::from(args.rate_limit) / 60.0;
    if device_rps >= limit_rps * 0.8 {
        eprintln!(
            "loadbench: {device_rps:.1} requests/s per device is too close to the rate limit \
             ({limit_rps:.1}/s): use more --devices or a higher --rate-limit"
        );
        return ExitCode::from(2);
    }
    println!("{}", machine());
    if args.backend.contains(&Backend::Sqlite) {
        match measure::fsync_latency(&args.work_dir, 200) {
            Ok((median, p99)) => println!(
                "fsync in {} (4 KiB append + fdatasync, 200 times): median {:.2} ms, p99 {:.2} ms \
                 (at most {:.0} serialised commits/s)",
                args.work_dir.display(),
                median.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                1.0 / median.as_secs_f64().max(1e-6)
            ),
            Err(e) => eprintln!("loadbench: fsync probe: {e}"),
        }
    }
    println!(
        "{} s per phase ({} s with the abuser); {} newcomers; {} devices at {device_rps:.2} requests/s each \
         ({} requests/s); rate limit {}/min; abuser at {:.0} requests/s (10x); {} app users, \
         books of {} hashes, {}% matching",
        args.seconds,
        args.abuser_seconds,
        args.newcomers,
        args.devices,
        args.rps,
        args.rate_limit,
        args.abuser_rps(),
        args.users,
        args.book,
        args.match_percent
    );
    let mut failed = false;
    let mut measured = Vec::new();
    for &backend in &args.backend {
        let mut runs = Vec::new();
        for run in 0..args.runs {
            eprintln!("loadbench: {backend}, run {} of {}", run + 1, args.runs);
            match run_once(&args, &options, backend, run).await {
                Ok((figures, problems)) => {
                    for p in &problems {
                        eprintln!("loadbench: {backend}, run {}: {p}", run + 1);
                    }
                    failed |= args.check && !problems.is_empty();
                    runs.push(figures);
                }
                Err(e) => {
                    eprintln!("loadbench: {backend}: {e}");
                    failed = true;
                    break;
                }
            }
        }
        if !runs.is_empty() {
            let rows = report::medians(&runs);
            println!("{}", report::table(&backend.to_string(), runs.len(), &rows));
            measured.push((backend.to_string(), rows));
        }
    }
    if !measured.is_empty() {
        println!("{}", report::summary(&measured));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One run of the three phases on fresh servers: the figures and what `--check` would refuse.
async fn run_once(
    args: &Args,
    options: &ServerOptions,
    backend: Backend,
    run: usize,
) -> Result<(Figures, Vec<String>), String> {
    let servers = Servers::start(backend, options, run)?;
    let world = Arc::new(setup(args, &servers.urls).await?);
    let pg = backend.is_postgres();
    let mut figures = Figures::default();
    let mut problems = Vec::new();

    let newcomers = workload::newcomers(&world);
    let first = phase(&servers, pg, vec![newcomers], args.newcomers, args.seconds).await?;
    figures.first_syncs(&first, args.book, pg);
    if first
        .endpoints
        .get(workload::FULL_BATCH)
        .is_none_or(|e| e.ok == 0)
    {
        problems.push("no first sync succeeded".to_owned());
    }

    let device_rps = args.device_rps();
    let devices = workload::steady_devices(&world, 1, device_rps).map_err(goose_error)?;
    let steady = phase(&servers, pg, vec![devices], args.devices, args.seconds).await?;
    let calm = figures.steady(&steady, false, pg);

    let devices =
        workload::steady_devices(&world, args.devices, device_rps).map_err(goose_error)?;
    let abuser = workload::abuser(&world, args.abuser_connections).map_err(goose_error)?;
    let users = args.devices + args.abuser_connections;
    let stormy = phase(
        &servers,
        pg,
        vec![devices, abuser],
        users,
        args.abuser_seconds,
    )
    .await?;
    let rough = figures.steady(&stormy, true, pg);
    if args.histogram {
        let full = first.merged(|name| name == workload::FULL_BATCH);
        for (what, e) in [
            ("first syncs, full batches", &full),
            ("steady, devices", &calm),
            ("steady + abuser, devices", &rough),
        ] {
            eprintln!(
                "loadbench: {backend}, run {}, {what}: {}",
                run + 1,
                report::histogram(e)
            );
        }
    }

    let mismatches = world.mismatches.load(Ordering::Relaxed);
    if mismatches > 0 {
        problems.push(format!(
            "{mismatches} answers with other matches (or key) than the harness expected"
        ));
    }
    for (what, e) in [("steady", &calm), ("steady + abuser", &rough)] {
        if e.count == 0 || e.ok < e.count {
            problems.push(format!(
                "{what}: {} of {} device requests failed (status codes {:?})",
                e.count - e.ok,
                e.count,
                e.codes
            ));
        }
    }
    let refused = stormy
        .endpoints
        .get(workload::ABUSER_POLL)
        .and_then(|a| a.codes.get(&429).copied())
        .unwrap_or(0);
    if refused == 0 {
        problems.push("the abuser got no 429".to_owned());
    }
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(servers.dir());
    } else {
        eprintln!("loadbench: server logs kept in {}", servers.dir().display());
    }
    Ok((figures, problems))
}

/// One goose attack of `users` users for `seconds`, with the CPU split of its span.
async fn phase(
    servers: &Servers,
    postgres: bool,
    scenarios: Vec<Scenario>,
    users: usize,
    seconds: u64,
) -> Result<Phase, String> {
    let mut config = GooseConfiguration::default();
    config.host.clone_from(&servers.urls[0]);
    config.users = Some(users);
    // Every user within about a second; goose resets its metrics once all have started.
    config.hatch_rate = Some(users.max(1).to_string());
    config.run_time = seconds.to_string();
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_websocket = true;
    config.no_gzip = true;
    config.timeout = Some("60".to_owned());
    let mut attack = GooseAttack::initialize_with_config(config).map_err(goose_error)?;
    for s in scenarios {
        attack = attack.register_scenario(s);
    }
    let before = CpuSample::now(&servers.pids(), postgres);
    let metrics = attack.execute().await.map_err(goose_error)?;
    // Ctrl-C stops goose's attack, not the benchmark: stop here, so that the servers are stopped
    // and the run's database dropped (a second Ctrl-C would exit at once, without either).
    if goose::is_killswitch_triggered() {
        return Err("interrupted".to_owned());
    }
    let cpu = before.split(&CpuSample::now(&servers.pids(), postgres));
    Ok(Phase::from_goose(&metrics, cpu))
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as map_err(goose_error)"
)]
fn goose_error(e: GooseError) -> String {
    format!("goose: {e}")
}

/// Registers `--users` app users through the admin API (half by phone, half by e-mail, as the
/// backend would: canonical values, which the server hashes) and hashes their identifiers as a
/// device would, with the key from `GET /v1/config`.
async fn setup(args: &Args, urls: &[String]) -> Result<World, String> {
    let http = reqwest::Client::new();
    let base = &urls[0];
    let config: ConfigAnswer = http
        .get(format!("{base}/v1/config"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("GET /v1/config: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GET /v1/config: {e}"))?;
    let key = HashKey::from_base64(&config.key_id, &config.key).map_err(|e| e.to_string())?;
    let region = Region::new("DE").map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(args.users);
    let mut hashes = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let (kind, raw) = if i % 2 == 0 {
            (
                IdentifierKind::Phone,
                format!("+49151{:08}", 10_000_000 + i),
            )
        } else {
            (IdentifierKind::Email, format!("user{i}@bench.example.org"))
        };
        let id = Identifier::parse(kind, &raw, region).map_err(|e| format!("{raw}: {e}"))?;
        hashes.push(key.hash(&id));
        entries.push(UserEntry {
            user_ref: format!("u{i}"),
            discoverable: true,
            identifiers: vec![UserIdentifier {
                kind: kind.as_str().to_owned(),
                value: id.canonical().to_owned(),
            }],
        });
    }
    let chunk = usize::try_from(config.limits.max_batch)
        .unwrap_or(1000)
        .max(1);
    for users in entries.chunks(chunk) {
        let body = UsersRequest {
            users: users.to_vec(),
        };
        let answer = http
            .post(format!("{base}/v1/admin/users"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| format!("POST /v1/admin/users: {e}"))?;
        if !answer.status().is_success() {
            let status = answer.status();
            let text = answer.text().await.unwrap_or_default();
            return Err(format!("POST /v1/admin/users: {status}: {text}"));
        }
    }
    Ok(World::new(
        urls.to_vec(),
        config.key_id,
        hashes,
        args.book,
        args.match_percent,
        args.abuser_rps(),
        args.abuser_connections,
    ))
}

/// The machine, for the record: cores, CPU model, load when the benchmark started.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |m| m.trim_start_matches([' ', '\t', ':']));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "machine: {cores} cores, {model}; load average {} at start",
        load.join(" ")
    )
}
