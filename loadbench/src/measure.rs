//! What one phase measured: goose's per-request metrics, reduced to what the table shows, and
//! where the machine's CPU went meanwhile (the server processes, this generator, the rest, idle
//! and waiting for the disk), read from /proc before and after.
//!
//! On a 2-core machine the generator and the server share the CPU: which of them takes it, and
//! whether the disk (fsync) leaves it idle, is what bounds the throughput, so it is measured
//! rather than guessed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use goose::metrics::GooseMetrics;
use goose::test_plan::TestPlanStepAction;

/// Clock ticks per second of /proc's CPU times (`USER_HZ`: 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// One request name's results.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// Requests, answered or not.
    pub count: usize,
    /// 2xx answers.
    pub ok: usize,
    /// Answers by status code.
    pub codes: BTreeMap<u16, usize>,
    /// Response times: milliseconds → count (goose's resolution: whole milliseconds, exact up
    /// to 100 ms, then rounded to 10 ms, 100 ms and 1 s).
    pub times: BTreeMap<usize, usize>,
}

impl Endpoint {
    /// The `q` quantile (0–1) in milliseconds, `None` without requests.
    pub fn quantile(&self, q: f64) -> Option<usize> {
        quantile(&self.times, q)
    }
}

/// The `q` quantile of a millisecond histogram: the smallest time at or under which at least
/// `q` of the requests were answered.
pub fn quantile(times: &BTreeMap<usize, usize>, q: f64) -> Option<usize> {
    let total: usize = times.values().sum();
    if total == 0 {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank among at most billions of requests"
    )]
    let rank = ((q * total as f64).ceil() as usize).max(1);
    let mut seen = 0;
    times.iter().find_map(|(&ms, &n)| {
        seen += n;
        (seen >= rank).then_some(ms)
    })
}

/// One phase: the time it measured (goose's steady span, after all users started) and its
/// requests by name.
#[derive(Debug, Clone, Default)]
pub struct Phase {
    pub seconds: f64,
    pub endpoints: BTreeMap<String, Endpoint>,
    pub cpu: CpuSplit,
}

impl Phase {
    pub fn from_goose(metrics: &GooseMetrics, cpu: CpuSplit) -> Self {
        let mut endpoints = BTreeMap::<String, Endpoint>::new();
        for aggregate in metrics.requests.values() {
            let e = endpoints.entry(aggregate.path.clone()).or_default();
            e.count += aggregate.success_count + aggregate.fail_count;
            e.ok += aggregate.success_count;
            for (&code, &n) in &aggregate.status_code_counts {
                *e.codes.entry(code).or_default() += n;
            }
            for (&ms, &n) in &aggregate.raw_data.times {
                *e.times.entry(ms).or_default() += n;
            }
        }
        Phase {
            seconds: steady_seconds(metrics),
            endpoints,
            cpu,
        }
    }

    /// The requests whose names `keep` accepts, merged into one.
    pub fn merged(&self, keep: impl Fn(&str) -> bool) -> Endpoint {
        let mut all = Endpoint::default();
        for (name, e) in &self.endpoints {
            if !keep(name) {
                continue;
            }
            all.count += e.count;
            all.ok += e.ok;
            for (&code, &n) in &e.codes {
                *all.codes.entry(code).or_default() += n;
            }
            for (&ms, &n) in &e.times {
                *all.times.entry(ms).or_default() += n;
            }
        }
        all
    }

    /// Per second of the measured span.
    pub fn rate(&self, n: usize) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let n = n as f64;
        if self.seconds > 0.0 {
            n / self.seconds
        } else {
            0.0
        }
    }
}

/// The span goose measured: from the metrics reset (all users started) to the shutdown, from
/// its test-plan history; goose's own `duration` is in whole seconds.
fn steady_seconds(metrics: &GooseMetrics) -> f64 {
    let history = &metrics.history;
    for (i, step) in history.iter().enumerate() {
        if matches!(step.action, TestPlanStepAction::Maintaining)
            && let Some(next) = history.get(i + 1)
        {
            #[expect(clippy::cast_precision_loss, reason = "milliseconds of a run")]
            let ms = (next.timestamp - step.timestamp).num_milliseconds() as f64;
            if ms > 0.0 {
                return ms / 1000.0;
            }
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "seconds of a run")]
    let seconds = metrics.duration as f64;
    seconds
}

/// Where the CPU went during a phase, each as a share of the wall time (1.0 = one core busy).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSplit {
    /// The server processes (all instances).
    pub server: f64,
    /// This load generator.
    pub generator: f64,
    /// PostgreSQL's processes (every `postgres` process on the machine), when measured.
    pub database: f64,
    /// Everything else that ran (other users of the machine included).
    pub other: f64,
    /// Cores idle, waiting for I/O.
    pub iowait: f64,
    /// Cores idle otherwise.
    pub idle: f64,
}

/// CPU counters at one moment.
#[derive(Debug, Clone)]
pub struct CpuSample {
    at: Instant,
    server: u64,
    generator: u64,
    database: u64,
    /// busy, iowait, idle: the machine's ticks from /proc/stat.
    machine: (u64, u64, u64),
}

impl CpuSample {
    pub fn now(server_pids: &[u32], with_database: bool) -> Self {
        CpuSample {
            at: Instant::now(),
            server: server_pids
                .iter()
                .map(|&p| process_ticks(&p.to_string()))
                .sum(),
            generator: process_ticks("self"),
            database: if with_database { postgres_ticks() } else { 0 },
            machine: machine_ticks(),
        }
    }

    /// The split between `self` and a later sample.
    pub fn split(&self, later: &CpuSample) -> CpuSplit {
        let wall = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        #[expect(clippy::cast_precision_loss, reason = "tick counts")]
        let share = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SECOND / wall;
        let server = share(self.server, later.server);
        let generator = share(self.generator, later.generator);
        let database = share(self.database, later.database);
        let busy = share(self.machine.0, later.machine.0);
        CpuSplit {
            server,
            generator,
            database,
            other: (busy - server - generator - database).max(0.0),
            iowait: share(self.machine.1, later.machine.1),
            idle: share(self.machine.2, later.machine.2),
        }
    }
}

/// utime + stime of a process (`self` or a pid), in ticks; 0 once it is gone.
fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name is in parentheses and may hold spaces: count fields after its end.
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after it.
    let Some(end) = stat.rfind(')') else {
        return 0;
    };
    let fields: Vec<&str> = stat[end + 1..].split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU ticks of every process named `postgres` (the server and its backends).
fn postgres_ticks() -> u64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| process_ticks(&pid))
        .sum()
}

/// The machine's (busy, iowait, idle) ticks, all cores.
fn machine_ticks() -> (u64, u64, u64) {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return (0, 0, 0);
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user).
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    (busy, at(4), at(3))
}

/// How long a 4 KiB append plus `fdatasync` takes in `dir`: the floor of one SQLite commit
/// there (WAL, `synchronous = FULL`: every commit syncs the WAL, and commits are serialised, so
/// one over this is the most commits a second one database file can take). The median and the
/// 99th percentile of `n` syncs.
pub fn fsync_latency(dir: &Path, n: usize) -> Result<(Duration, Duration), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("fsync-probe-{}", std::process::id()));
    let mut file = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let block = [0u8; 4096];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        file.write_all(&block)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        times.push(start.elapsed());
    }
    drop(file);
    let _ = fs::remove_file(&path);
    times.sort();
    let at = |q: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a short list"
        )]
        let i = ((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1));
        times.get(i).copied().unwrap_or_default()
    };
    Ok((at(0.5), at(0.99)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_histogram() {
        let times: BTreeMap<usize, usize> = [(0, 50), (1, 40), (5, 9), (40, 1)].into();
        assert_eq!(quantile(&times, 0.5), Some(0));
        assert_eq!(quantile(&times, 0.9), Some(1));
        assert_eq!(quantile(&times, 0.99), Some(5));
        assert_eq!(quantile(&times, 1.0), Some(40));
        assert_eq!(quantile(&BTreeMap::new(), 0.5), None);
    }

    #[test]
    fn fsync_is_timed() {
        let dir = std::env::temp_dir().join("loadbench-fsync-test");
        let (median, p99) = fsync_latency(&dir, 5).expect("a writable temp dir");
        assert!(median <= p99);
        let _ = fs::remove_dir(&dir);
    }

    #[test]
    fn own_cpu_is_read() {
        let before = CpuSample::now(&[], false);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let split = before.split(&CpuSample::now(&[], false));
        assert!(split.generator >= 0.0 && split.idle >= 0.0);
    }
}
