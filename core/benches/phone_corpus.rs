//! Single-thread throughput of `identifier::phone::normalize` over the phone corpus
//! (`tests/vectors/phone_corpus.jsonl`, libphonenumber's verdicts; see
//! tools/phone-corpus/README.md).
//!
//! Method, shared with `tools/phone-corpus/java/PhoneBench.java` so that the two compare: read
//! the corpus and its regions up front; warm up; then 7 timed runs, each normalising the whole
//! corpus `passes` times (calibrated so that a run lasts about half a second); report the median
//! rate. `tools/phone-corpus/bench.sh` runs both and compares.
//!
//! `cargo bench -p contactsync-core --bench phone_corpus`

// A benchmark binary reports on stdout; that is its job.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use contactsync_core::identifier::phone::{self, Region};
use serde::Deserialize;

const RUNS: usize = 7;
const TARGET_RUN: Duration = Duration::from_millis(500);
const WARM_UP: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct Line {
    region: String,
    input: String,
    e164: Option<String>,
    error: Option<String>,
}

struct Case {
    region: Region,
    input: String,
    /// libphonenumber's E.164, `None` when it rejects the input.
    expected: Option<String>,
}

fn load() -> Result<Vec<Case>, Box<dyn Error>> {
    // `PHONE_CORPUS=<file>` measures another corpus of the same format (e.g. a subset).
    let path = std::env::var_os("PHONE_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/phone_corpus.jsonl"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line =
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        if line.e164.is_some() == line.error.is_some() {
            return Err(format!(
                "{}:{}: needs exactly one of e164 / error",
                path.display(),
                i + 1
            )
            .into());
        }
        let region = Region::new(&line.region)
            .map_err(|e| format!("{}:{}: {e}: {}", path.display(), i + 1, line.region))?;
        cases.push(Case {
            region,
            input: line.input,
            expected: line.e164,
        });
    }
    if cases.is_empty() {
        return Err(format!("{} is empty", path.display()).into());
    }
    Ok(cases)
}

/// One pass over the corpus; returns a checksum so that nothing is optimised away.
fn pass(cases: &[Case]) -> usize {
    let mut ok = 0usize;
    for case in cases {
        if black_box(phone::normalize(black_box(&case.input), case.region)).is_ok() {
            ok += 1;
        }
    }
    ok
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn main() -> Result<(), Box<dyn Error>> {
    let cases = load()?;
    let n = cases.len();

    // Agreement with the oracle (the test asserts it; here it shows that the bench measures
    // the real thing).
    let agree = cases
        .iter()
        .filter(|c| phone::normalize(&c.input, c.region).ok() == c.expected)
        .count();

    // Warm-up (the agreement pass above already decoded the metadata and compiled every
    // region's patterns): caches, branch predictors, CPU frequency.
    let start = Instant::now();
    let mut one_pass = Duration::MAX;
    let mut sink = 0usize;
    while start.elapsed() < WARM_UP {
        let t = Instant::now();
        sink = sink.wrapping_add(pass(&cases));
        one_pass = one_pass.min(t.elapsed());
    }
    let passes = (TARGET_RUN.as_secs_f64() / one_pass.as_secs_f64().max(1e-9))
        .ceil()
        .max(1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small positive
    let passes = passes as usize;

    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..passes {
                sink = sink.wrapping_add(pass(&cases));
            }
            (n * passes) as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    black_box(sink);
    rates.sort_by(f64::total_cmp);
    let median = rates[RUNS / 2];

    println!(
        "rust phone_corpus: {n} inputs, agreement with libphonenumber {agree}/{n} ({:.3} %)",
        100.0 * agree as f64 / n as f64
    );
    println!(
        "rust phone_corpus: {RUNS} runs x {passes} passes, numbers/s min {:.0} median {median:.0} max {:.0}",
        rates[0],
        rates[RUNS - 1]
    );
    // Read by tools/phone-corpus/bench.sh.
    println!("RESULT rust_numbers_per_sec={median:.0}");
    println!("RESULT rust_best_numbers_per_sec={:.0}", rates[RUNS - 1]);
    Ok(())
}
