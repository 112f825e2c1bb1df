//! A strict reader of the Prometheus text exposition format (version 0.0.4), for what `/metrics`
//! answers: any line that does not follow the format fails the test.
//!
//! (The `prometheus-parse` crate was tried first: it skips lines it cannot read, and cannot read
//! a label value holding `}` — every route template with a parameter, `/v1/invites/{code}`.)
//!
//! Checked: every sample's family has a `# TYPE` line before its samples and at most one; names
//! and label names are well-formed; label values are quoted with only `\\`, `\"` and `\n` escaped;
//! values are floats (or `+Inf`, `-Inf`, `NaN`); no sample appears twice; a histogram's buckets
//! are cumulative, end with `le="+Inf"`, and that bucket equals its `_count`.

use std::collections::BTreeMap;

/// A scrape: each sample as `name{label=value,...}` (labels sorted) → value, and each family's
/// type and HELP text.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: BTreeMap<String, f64>,
    pub types: BTreeMap<String, String>,
    pub help: BTreeMap<String, String>,
}

impl Exposition {
    /// A sample's value, 0 when absent (a counter not yet incremented).
    pub fn get(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn is_name(name: &str, colons: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'))
}

fn value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => text
            .parse()
            .unwrap_or_else(|e| panic!("value {text:?}: {e}")),
    }
}

/// `{name="value",...}` at the start of `text`: the labels and what follows.
fn labels(text: &str) -> (BTreeMap<String, String>, &str) {
    let mut out = BTreeMap::new();
    let mut rest = text;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (out, after);
        }
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label in {text:?}"));
        assert!(is_name(name, false), "label name {name:?}");
        let mut label = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => label.push('\\'),
                    Some((_, '"')) => label.push('"'),
                    Some((_, 'n')) => label.push('\n'),
                    other => panic!("escape {other:?} in {text:?}"),
                },
                Some((_, c)) => label.push(c),
                None => panic!("unterminated label value in {text:?}"),
            }
        };
        assert!(
            out.insert(name.to_owned(), label).is_none(),
            "label {name} twice"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The family a sample name belongs to, given the declared types.
fn family<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram")
        {
            return base;
        }
    }
    name
}

fn key(name: &str, labels: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// Reads `text`, failing on anything the format does not allow.
pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    let mut sampled = std::collections::BTreeSet::new();
    // (family, labels without le) → (le, cumulative count), in order.
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if let Some(help) = comment.strip_prefix("HELP ") {
                let (name, doc) = help.split_once(' ').unwrap_or((help, ""));
                assert!(is_name(name, true), "HELP name {name:?}");
                assert!(
                    out.help.insert(name.to_owned(), doc.to_owned()).is_none(),
                    "HELP {name} twice"
                );
            } else if let Some(declared) = comment.strip_prefix("TYPE ") {
                let (name, kind) = declared
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("{line:?}"));
                assert!(is_name(name, true), "TYPE name {name:?}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line:?}"
                );
                assert!(!sampled.contains(name), "TYPE after samples: {line:?}");
                assert!(
                    out.types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "TYPE {name} twice"
                );
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
        let name = &line[..name_end];
        assert!(is_name(name, true), "sample name {name:?}");
        let (mut labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(inner) => labels(inner),
            None => (BTreeMap::new(), &line[name_end..]),
        };
        let mut fields = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("{line:?}"))
            .split(' ');
        let sample = value(fields.next().unwrap_or_else(|| panic!("{line:?}")));
        if let Some(timestamp) = fields.next() {
            timestamp
                .parse::<i64>()
                .unwrap_or_else(|e| panic!("timestamp in {line:?}: {e}"));
        }
        assert!(fields.next().is_none(), "{line:?}");
        let family = family(name, &out.types);
        assert!(out.types.contains_key(family), "no TYPE for {line:?}");
        sampled.insert(family.to_owned());
        if name.ends_with("_bucket") && family != name {
            let le = value(&labels.remove("le").unwrap_or_else(|| panic!("{line:?}")));
            buckets
                .entry(key(family, &labels))
                .or_default()
                .push((le, sample));
            continue;
        }
        assert!(
            out.samples.insert(key(name, &labels), sample).is_none(),
            "twice: {line:?}"
        );
    }
    for (series, counts) in buckets {
        assert!(
            counts
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{series}: {counts:?}"
        );
        let &(le, total) = counts.last().unwrap();
        assert!(le.is_infinite(), "{series} has no +Inf bucket");
        let (family, labels) = series.split_once('{').unwrap();
        assert_eq!(
            out.samples.get(&format!("{family}_count{{{labels}")),
            Some(&total),
            "{series}"
        );
        // The +Inf bucket stands for the histogram's series.
        out.samples.insert(series, total);
    }
    out
}

#[test]
#[allow(clippy::float_cmp, reason = "a whole number, exact in an f64")]
fn a_malformed_line_fails() {
    let ok = "# TYPE a counter\na{r=\"/x/{y}\",m=\"a\\\"b\"} 1\n";
    assert_eq!(parse(ok).get("a{m=a\"b,r=/x/{y}}"), 1.0);
    for bad in [
        "a 1\n",
        "# TYPE a counter\na{r=/x} 1\n",
        "# TYPE a counter\na{r=\"x\"} one\n",
        "# TYPE a counter\na 1\na 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad:?}");
    }
}
