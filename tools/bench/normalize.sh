#!/usr/bin/env bash
# Throughput of `contactsync normalize --kind phone` on a 100,000-line phone file, end to end
# (process start, metadata load, parsing, JSON output), median of several runs.
#
#   tools/bench/normalize.sh [RUNS]        default 7 runs
#
# The file is made from the phone corpus (tests/vectors/phone_corpus.jsonl, ~70% valid numbers
# written every way people write them, the rest invalid), cycled to 100,000 lines, read with
# default region DE. A baseline in the same run: `wc -l` over the same file, to show the cost of
# merely reading it.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-7}"
lines=100000

cargo build --release --locked -p contactsync-cli >/dev/null 2>&1 || cargo build --release --locked -p contactsync-cli
bin=target/release/contactsync
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$lines" > "$work/phones.txt" <<'PY'
import json, sys
n = int(sys.argv[1])
inputs = [json.loads(l)["input"] for l in open("tests/vectors/phone_corpus.jsonl", encoding="utf-8")]
inputs = [i for i in inputs if "\n" not in i and "\r" not in i and len(i) < 200]
for k in range(n):
    print(inputs[k % len(inputs)])
PY

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
time_run() { # prints seconds
  local start end
  start=$(date +%s.%N); "$@" > /dev/null; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

"$bin" normalize --region DE --kind phone < "$work/phones.txt" > "$work/out.jsonl"
valid=$(grep -c '"canonical"' "$work/out.jsonl" || true)
echo "input: $lines lines ($valid valid numbers), region DE, $runs runs"

cat "$work/phones.txt" "$work/phones.txt" > "$work/phones2.txt"
secs=$(for _ in $(seq "$runs"); do time_run "$bin" normalize --region DE --kind phone < "$work/phones.txt"; done | median)
secs2=$(for _ in $(seq "$runs"); do time_run "$bin" normalize --region DE --kind phone < "$work/phones2.txt"; done | median)
base=$(for _ in $(seq "$runs"); do time_run wc -l "$work/phones.txt"; done | median)
printf 'contactsync normalize, 100,000 lines: median %.3f s = %.0f lines/s (whole process)\n' "$secs" "$(echo "$lines / $secs" | bc -l)"
printf 'contactsync normalize, 200,000 lines: median %.3f s\n' "$secs2"
# The second 100,000 lines cost only parsing: libphonenumber's patterns for each region are
# compiled once, on first use, and that one-off cost is most of the first figure.
printf 'marginal rate (second 100,000 lines): %.0f lines/s\n' "$(echo "$lines / ($secs2 - $secs)" | bc -l)"
printf 'baseline (wc -l, 100,000 lines): median %.3f s\n' "$base"
