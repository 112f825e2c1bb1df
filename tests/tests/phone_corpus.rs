//! Our phone normaliser against Google's libphonenumber.
//!
//! `tests/vectors/phone_corpus.jsonl` holds ~14,000 mixed inputs (every writing of real numbers,
//! other regions' numbers, short codes, garbage, hostile text) read in 55 default regions, each
//! with the verdict of libphonenumber's Python port at the metadata version `rlibphonenumber`
//! ships. It is made by `tools/phone-corpus/generate.py` (see tools/phone-corpus/README.md).
//!
//! Agreement means the same E.164 text, or both reject; the exact reason code is compared too
//! but is informational only. Throughput is measured by `core/benches/phone_corpus.rs`, never
//! here.

// An integration-test crate: its helpers fail the test by panicking, which clippy only
// recognises inside `#[test]` functions.
// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::BTreeMap;

use contactsync_core::identifier::phone::{self, METADATA_VERSION, Region};
use contactsync_tests::vectors_dir;
use serde::Deserialize;

/// Agreement required, in hundredths of a percent (99.95 %).
const MIN_AGREEMENT_BP: usize = 9_995;
const MIN_LINES: usize = 10_000;
const MIN_REGIONS: usize = 30;
const SHOW: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    region: String,
    input: String,
    #[serde(default)]
    e164: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl Line {
    /// The oracle's verdict: `Ok(e164)` or `Err(reason code)`.
    fn expected(&self) -> Result<&str, &str> {
        match (&self.e164, &self.error) {
            (Some(e164), None) => Ok(e164),
            (None, Some(error)) => Err(error),
            _ => panic!("corpus line needs exactly one of e164 / error: {self:?}"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Meta {
    oracle: Oracle,
    lines: usize,
}

#[derive(Debug, Deserialize)]
struct Oracle {
    version: String,
}

fn corpus() -> Vec<Line> {
    let path = vectors_dir().join("phone_corpus.jsonl");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn meta() -> Meta {
    let path = vectors_dir().join("phone_corpus.meta.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn show(r: &Result<String, phone::PhoneError>) -> String {
    match r {
        Ok(e164) => e164.clone(),
        Err(e) => format!("error {}", e.code()),
    }
}

#[test]
fn agrees_with_libphonenumber() {
    let lines = corpus();
    let mut regions: BTreeMap<&str, Region> = BTreeMap::new();
    let mut agree = 0usize;
    let mut both_rejected = 0usize;
    let mut same_reason = 0usize;
    let mut disagreements = Vec::new();
    let mut reason_mismatches: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();

    for line in &lines {
        let region = *regions.entry(&line.region).or_insert_with(|| {
            Region::new(&line.region)
                .unwrap_or_else(|_| panic!("corpus region {:?} unknown to us", line.region))
        });
        let ours = phone::normalize(&line.input, region);
        match (&ours, line.expected()) {
            (Ok(got), Ok(want)) if got == want => agree += 1,
            (Err(got), Err(want)) => {
                agree += 1;
                both_rejected += 1;
                if got.code() == want {
                    same_reason += 1;
                } else {
                    reason_mismatches
                        .entry((want.to_owned(), got.code().to_owned()))
                        .or_default()
                        .push(format!("{} {:?}", line.region, line.input));
                }
            }
            (_, want) => disagreements.push(format!(
                "  [{}] {:?}: libphonenumber {}, ours {}",
                line.region,
                line.input,
                want.map_or_else(|e| format!("error {e}"), str::to_owned),
                show(&ours),
            )),
        }
    }

    let total = lines.len();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "phone corpus: {agree}/{total} agree ({:.3} %) across {} regions, oracle phonenumbers {}",
        pct(agree, total),
        regions.len(),
        meta().oracle.version,
    );
    println!(
        "  rejected by both: {both_rejected}; same reason code: {same_reason} ({:.2} %, informational)",
        pct(same_reason, both_rejected),
    );
    for ((want, got), inputs) in &reason_mismatches {
        println!(
            "  reason libphonenumber {want} / ours {got}: {} line(s), e.g. {}",
            inputs.len(),
            inputs[..inputs.len().min(3)].join(", "),
        );
    }
    println!("  disagreements: {}", disagreements.len());
    for d in disagreements.iter().take(SHOW) {
        println!("{d}");
    }
    if disagreements.len() > SHOW {
        println!("  ... and {} more", disagreements.len() - SHOW);
    }

    assert!(
        total >= MIN_LINES,
        "corpus has {total} lines, want >= {MIN_LINES}"
    );
    assert!(
        regions.len() >= MIN_REGIONS,
        "corpus has {} regions, want >= {MIN_REGIONS}",
        regions.len()
    );
    assert!(
        agree * 10_000 >= total * MIN_AGREEMENT_BP,
        "agreement {agree}/{total} ({:.3} %) is below {}.{:02} %; disagreements above",
        pct(agree, total),
        MIN_AGREEMENT_BP / 100,
        MIN_AGREEMENT_BP % 100,
    );
}

/// The corpus must have been made with the metadata version we compile in: when the
/// `rlibphonenumber` pin moves, regenerate it (tools/phone-corpus/README.md).
#[test]
fn corpus_matches_our_metadata_version() {
    let meta = meta();
    assert_eq!(
        meta.oracle.version, METADATA_VERSION,
        "phone_corpus.jsonl was made with phonenumbers {}, we ship libphonenumber metadata {}: \
         regenerate it (tools/phone-corpus/README.md)",
        meta.oracle.version, METADATA_VERSION,
    );
    assert_eq!(
        meta.lines,
        corpus().len(),
        "phone_corpus.meta.json is stale"
    );
}

#[derive(Debug, Deserialize)]
struct Vectors {
    cases: Vec<serde_json::Value>,
}

/// The curated phone cases of the shared vectors (`identifiers.json`, which the Kotlin and Swift
/// tests read too) must match exactly, reason codes included. Hashes are checked with the hash
/// module's tests.
#[test]
fn shared_vector_phone_cases_match_exactly() {
    let path = vectors_dir().join("identifiers.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let vectors: Vectors =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut checked = 0usize;
    let mut wrong = Vec::new();
    for case in &vectors.cases {
        if case["kind"] != "phone" {
            continue;
        }
        let field = |k: &str| case[k].as_str().map(str::to_owned);
        let region_code = field("region").unwrap_or_else(|| panic!("no region: {case}"));
        let input = field("input").unwrap_or_else(|| panic!("no input: {case}"));
        let region =
            Region::new(&region_code).unwrap_or_else(|_| panic!("unknown region {region_code:?}"));
        let want = match (field("canonical"), field("error")) {
            (Some(c), None) => c,
            (None, Some(e)) => e,
            _ => panic!("phone case needs exactly one of canonical / error: {case}"),
        };
        let got = match phone::normalize(&input, region) {
            Ok(e164) => e164,
            Err(e) => format!("phone.{}", e.code()),
        };
        if got != want {
            wrong.push(format!(
                "  [{region_code}] {input:?}: want {want}, got {got}"
            ));
        }
        checked += 1;
    }
    println!(
        "identifiers.json: {checked} phone cases, {} wrong",
        wrong.len()
    );
    assert!(
        checked >= 170,
        "only {checked} phone cases in identifiers.json"
    );
    assert!(
        wrong.is_empty(),
        "phone cases that differ:\n{}",
        wrong.join("\n")
    );
}
