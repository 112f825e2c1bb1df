//! The figures of a run, and their medians over runs as a Markdown table (pasted as is into
//! docs/performance.md).

use std::fmt::Write as _;

use crate::measure::{CpuSplit, Endpoint, Phase};
use crate::workload::{ABUSER, ABUSER_POLL, SETUP};

/// How a figure is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Per second, whole numbers.
    Rate,
    /// Milliseconds (goose's resolution: 0 means under 1 ms).
    Ms,
    /// A count.
    Count,
    /// Cores busy (1.00 = one core all the time).
    Cores,
}

/// One row of a run.
#[derive(Debug, Clone)]
pub struct Figure {
    pub label: String,
    pub unit: Unit,
    pub value: f64,
}

/// The rows of one run, in print order.
#[derive(Debug, Default)]
pub struct Figures(pub Vec<Figure>);

impl Figures {
    fn push(&mut self, label: impl Into<String>, unit: Unit, value: f64) {
        self.0.push(Figure {
            label: label.into(),
            unit,
            value,
        });
    }

    fn latency(&mut self, prefix: &str, name: &str, e: &Endpoint) {
        for (q, tag) in [(0.5, "p50"), (0.99, "p99")] {
            if let Some(ms) = e.quantile(q) {
                #[expect(clippy::cast_precision_loss, reason = "milliseconds")]
                self.push(format!("{prefix}{name} {tag}"), Unit::Ms, ms as f64);
            }
        }
    }

    fn cpu(&mut self, prefix: &str, cpu: &CpuSplit, database: bool) {
        self.push(format!("{prefix}CPU: server"), Unit::Cores, cpu.server);
        if database {
            self.push(
                format!("{prefix}CPU: PostgreSQL"),
                Unit::Cores,
                cpu.database,
            );
        }
        self.push(
            format!("{prefix}CPU: load generator"),
            Unit::Cores,
            cpu.generator,
        );
        self.push(
            format!("{prefix}CPU: other processes"),
            Unit::Cores,
            cpu.other,
        );
        self.push(
            format!("{prefix}CPU: idle, waiting for I/O"),
            Unit::Cores,
            cpu.iowait,
        );
        self.push(format!("{prefix}CPU: idle"), Unit::Cores, cpu.idle);
    }

    /// The first-sync phase: throughput of new devices' full batches.
    pub fn first_syncs(&mut self, phase: &Phase, book: usize, database: bool) {
        let p = "first syncs: ";
        let full = phase.endpoints.get(crate::workload::FULL_BATCH);
        let syncs = full.map_or(0, |e| e.ok);
        self.push(
            format!("{p}hashes looked up/s"),
            Unit::Rate,
            phase.rate(syncs * book),
        );
        self.push(format!("{p}first syncs/s"), Unit::Rate, phase.rate(syncs));
        let all = phase.merged(|_| true);
        self.push(format!("{p}requests/s"), Unit::Rate, phase.rate(all.count));
        self.push(format!("{p}non-2xx answers"), Unit::Count, non_ok(&all));
        for (name, e) in &phase.endpoints {
            self.latency(p, name, e);
        }
        self.cpu(p, &phase.cpu, database);
    }

    /// A steady phase, with or without the abuser. Returns the well-behaved devices' requests
    /// merged (for the checks).
    pub fn steady(&mut self, phase: &Phase, abuser: bool, database: bool) -> Endpoint {
        let p = if abuser {
            "steady + abuser: "
        } else {
            "steady: "
        };
        let devices = phase.merged(well_behaved);
        let delta = phase.endpoints.get(crate::workload::DELTA_BATCH);
        let deltas = delta.map_or(0, |e| e.ok);
        self.push(
            format!("{p}requests/s (devices)"),
            Unit::Rate,
            phase.rate(devices.count),
        );
        self.push(format!("{p}delta syncs/s"), Unit::Rate, phase.rate(deltas));
        self.push(
            format!("{p}non-2xx answers (devices)"),
            Unit::Count,
            non_ok(&devices),
        );
        for (name, e) in &phase.endpoints {
            if well_behaved(name) {
                self.latency(p, name, e);
            }
        }
        self.latency(p, "devices, all requests", &devices);
        if let Some(a) = phase.endpoints.get(ABUSER_POLL) {
            self.push(
                format!("{p}abuser requests/s"),
                Unit::Rate,
                phase.rate(a.count),
            );
            #[expect(clippy::cast_precision_loss, reason = "counts")]
            let refused = a.codes.get(&429).copied().unwrap_or(0) as f64;
            self.push(format!("{p}abuser 429 answers"), Unit::Count, refused);
            #[expect(clippy::cast_precision_loss, reason = "counts")]
            let served = a.ok as f64;
            self.push(format!("{p}abuser 2xx answers"), Unit::Count, served);
        }
        self.cpu(p, &phase.cpu, database);
        devices
    }
}

/// A latency histogram in one line, `ms:count` for each millisecond that has requests.
pub fn histogram(e: &Endpoint) -> String {
    let mut out = String::new();
    for (ms, n) in &e.times {
        let _ = write!(out, "{ms}:{n} ");
    }
    out.trim_end().to_owned()
}

/// A steady device's request (not the abuser's, not a fallback setup).
pub fn well_behaved(name: &str) -> bool {
    !name.starts_with(ABUSER) && !name.starts_with(SETUP)
}

#[expect(clippy::cast_precision_loss, reason = "counts")]
fn non_ok(e: &Endpoint) -> f64 {
    e.count.saturating_sub(e.ok) as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => f64::midpoint(values[n / 2 - 1], values[n / 2]),
    }
}

fn format(unit: Unit, v: f64) -> String {
    if v.is_nan() {
        return "–".to_owned();
    }
    match unit {
        Unit::Ms if v < 1.0 => "<1".to_owned(),
        Unit::Ms => format!("{v:.0}"),
        Unit::Rate | Unit::Count => thousands(v),
        Unit::Cores => format!("{v:.2}"),
    }
}

/// `1234567.8` → `1,234,568`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// One row over runs: its median and range.
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub unit: Unit,
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl Row {
    fn title(&self) -> String {
        let unit = match self.unit {
            Unit::Ms => " (ms)",
            Unit::Cores => " (cores)",
            Unit::Rate | Unit::Count => "",
        };
        format!("{}{unit}", self.label)
    }
}

/// Each row of the first run, with its median and range over all runs.
pub fn medians(runs: &[Figures]) -> Vec<Row> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .0
        .iter()
        .map(|row| {
            let mut values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.0.iter().find(|f| f.label == row.label))
                .map(|f| f.value)
                .collect();
            let (low, high) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            Row {
                label: row.label.clone(),
                unit: row.unit,
                median: median(&mut values),
                low,
                high,
            }
        })
        .collect()
}

/// One target's table: per row, the median over `runs` runs and the range.
pub fn table(title: &str, runs: usize, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n### {title} (median of {runs} runs)\n");
    let _ = writeln!(out, "| | median | min – max |");
    let _ = writeln!(out, "|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} – {} |",
            row.title(),
            format(row.unit, row.median),
            format(row.unit, row.low),
            format(row.unit, row.high)
        );
    }
    out
}

/// The headline rows, one column per target (medians).
const SUMMARY: [&str; 10] = [
    "first syncs: hashes looked up/s",
    "first syncs: requests/s",
    "first syncs: POST /v1/batches (full) p99",
    "steady: requests/s (devices)",
    "steady: devices, all requests p50",
    "steady: devices, all requests p99",
    "steady + abuser: devices, all requests p99",
    "steady + abuser: abuser 429 answers",
    "steady: CPU: server",
    "steady: CPU: load generator",
];

/// The targets side by side, on the headline rows.
pub fn summary(targets: &[(String, Vec<Row>)]) -> String {
    let mut out = String::from("\n### Summary (medians)\n\n|");
    for (name, _) in targets {
        let _ = write!(out, " | {name}");
    }
    out.push_str(" |\n|---|");
    out.push_str(&"---|".repeat(targets.len()));
    out.push('\n');
    for label in SUMMARY {
        let Some(any) = targets
            .iter()
            .find_map(|(_, rows)| rows.iter().find(|r| r.label == label))
        else {
            continue;
        };
        let _ = write!(out, "| {}", any.title());
        for (_, rows) in targets {
            let cell = rows
                .iter()
                .find(|r| r.label == label)
                .map_or_else(|| "–".to_owned(), |r| format(r.unit, r.median));
            let _ = write!(out, " | {cell}");
        }
        out.push_str(" |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_for_people() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(format(Unit::Ms, 0.0), "<1");
        assert_eq!(format(Unit::Cores, 0.456), "0.46");
        assert_eq!(format(Unit::Count, median(&mut [3.0, 1.0, 2.0])), "2");
        assert_eq!(
            format(Unit::Cores, median(&mut [4.0, 1.0, 2.0, 3.0])),
            "2.50"
        );
    }
}
