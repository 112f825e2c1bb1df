#!/usr/bin/env bash
# The whole-process first import, contactsync against a JVM pipeline doing the same work, side by
# side in one run (issue 21: contactsync at least 6x faster). docs/performance.md has the figures.
#
#   tools/bench/import-vs-jvm.sh [RUNS]      100,000 contacts, release build, RUNS pairs (default 9)
#   tools/bench/import-vs-jvm.sh --quick     2,000 contacts, debug build, one pair: a check that
#                                            both pipelines still run and agree, not figures
#
# The book is the import benchmark's (tests/src/synthetic/, written as vCard by the tests crate's
# `bench_book`, less its linked accounts, which no file format carries). Each run is cold: a new
# process and a fresh database — for contactsync a copy of an empty database holding only the
# bench's hashing key (so it hashes as it stores, as `cargo bench --bench import` does), for the
# JVM no file at all. The two alternate (A B, then B A) so that the machine's other load falls on
# both; the figures are medians of wall time, CPU time (user + sys: less moved by other load than
# wall time) and peak RSS (/usr/bin/time's maximum resident set). After the first pair the two
# databases are compared: the same contacts, the same distinct identifiers with the same keyed
# hashes (tools/import-jvm/README.md lists what may differ).
# Exits 1 when they disagree beyond that (or in --quick mode when the JVM's identifiers are not
# within 1% of the core's), 2 when a pipeline could not run.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=false
runs=9
contacts=100000
profile=release
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true; runs=1; contacts=2000; profile=debug ;;
    ''|*[!0-9]*) echo "usage: $0 [--quick] [RUNS]" >&2; exit 2 ;;
    *) runs="$arg" ;;
  esac
done

die() { echo "import-vs-jvm.sh: $*" >&2; exit 2; }

# --- the JVM side's packages (Debian) and /usr/bin/time ---------------------------------------
PHONE_JAR=/usr/share/java/libphonenumber.jar
SQLITE_JAR=/usr/share/java/sqlite-jdbc.jar
if [ ! -f "$PHONE_JAR" ] || [ ! -f "$SQLITE_JAR" ] || ! command -v javac >/dev/null || [ ! -x /usr/bin/time ]; then
  command -v apt-get >/dev/null || die "need $PHONE_JAR, $SQLITE_JAR, javac and /usr/bin/time"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  pkgs="libphonenumber8-java libxerial-sqlite-jdbc-java time"
  command -v javac >/dev/null || pkgs="$pkgs default-jdk-headless"
  echo "== installing $pkgs"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
    || { $SUDO apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; } \
    || die "could not install $pkgs"
fi
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

# --- build both before anything is timed ----------------------------------------------------------
cargo_profile=()
[ "$profile" = release ] && cargo_profile=(--release)
echo "== cargo build ${cargo_profile[*]} (contactsync, bench_book)"
cargo build -q --locked "${cargo_profile[@]}" -p contactsync-cli -p contactsync-tests \
  --bin contactsync --bin bench_book || die "cargo could not build"
bin="target/$profile/contactsync"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== javac tools/import-jvm/ImportJvm.java"
classpath="$PHONE_JAR:$SQLITE_JAR:$work/classes"
javac -nowarn -d "$work/classes" -cp "$classpath" tools/import-jvm/ImportJvm.java || die "javac failed"

echo "== the book: $contacts contacts"
"target/$profile/bench_book" --contacts "$contacts" --out "$work/book.vcf" --keyed-db "$work/keyed.db" \
  | tee "$work/book.txt" || die "bench_book failed"
expected=$(sed -n 's/.*distinct identifiers \([0-9]*\).*/\1/p' "$work/book.txt")

# --- one cold run of each ---------------------------------------------------------------------------
# Prints "seconds rss_kib cpu_seconds" and leaves the run's output in $work/<side>.out.
run_rust() {
  rm -f "$work"/rust.db*
  for f in "$work"/keyed.db*; do cp "$f" "$work/rust.db${f#"$work"/keyed.db}"; done
  timed rust "$bin" import --region DE --db "$work/rust.db" --json "$work/book.vcf"
}
run_jvm() {
  rm -f "$work"/jvm.db*
  timed jvm java -cp "$classpath" ImportJvm "$work/book.vcf" "$work/jvm.db" --region DE
}
timed() {
  local side=$1 start end
  shift
  start=$(date +%s%N)
  /usr/bin/time -f '%M %U %S' -o "$work/$side.rss" "$@" >"$work/$side.out" 2>"$work/$side.err" \
    || { cat "$work/$side.err" >&2; die "$side failed"; }
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000 )) $(tail -n 1 "$work/$side.rss")" \
    | awk '{printf "%.4f %d %.2f\n", $1 / 1e6, $2, $3 + $4}'
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== $runs cold runs of each, alternating; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/rust.times"
: >"$work/jvm.times"
for i in $(seq "$runs"); do
  if [ $((i % 2)) = 1 ]; then
    run_rust >>"$work/rust.times"
    run_jvm >>"$work/jvm.times"
  else
    run_jvm >>"$work/jvm.times"
    run_rust >>"$work/rust.times"
  fi
  printf 'run %d: contactsync %s s, %s KiB, %s s CPU; jvm %s s, %s KiB, %s s CPU\n' "$i" \
    $(tail -n 1 "$work/rust.times") $(tail -n 1 "$work/jvm.times")
  if [ "$i" = 1 ]; then
    echo "== contactsync: $(tr -d '\n' <"$work/rust.out" | head -c 400)"
    echo "== jvm: $(cat "$work/jvm.out")"
    echo "== the two databases compared"
    python3 - "$work/rust.db" "$work/jvm.db" "$expected" "$quick" <<'PY' || exit 1
import sqlite3, sys
rust, jvm = (sqlite3.connect(p) for p in sys.argv[1:3])
expected, quick = int(sys.argv[3]), sys.argv[4] == "true"
ids = lambda db: {(k, c): (d, h) for k, c, d, h in
                  db.execute("SELECT kind, canonical, digest, holders FROM identifiers")}
contacts = lambda db: {s: (f, i) for s, f, i in
                       db.execute("SELECT source_id, fingerprint, identifiers FROM contacts")}
r, j = ids(rust), ids(jvm)
common = r.keys() & j.keys()
same_digest = sum(r[k][0] == j[k][0] for k in common)
same_holders = sum(r[k][1] == j[k][1] for k in common)
kinds = {1: "phone", 2: "email", 3: "handle"}
only = lambda a, b: ", ".join(f"{kinds.get(k, k)} {sum(1 for x in a - b if x[0] == k)}" for k in kinds)
print(f"identifiers: contactsync {len(r)} (bench_book expects {expected}), jvm {len(j)}, in both {len(common)}")
print(f"  only in contactsync: {only(r.keys(), j.keys())}; only in jvm: {only(j.keys(), r.keys())}")
print(f"  of those in both: same keyed hash {same_digest}, same holder count {same_holders}")
rc, jc = contacts(rust), contacts(jvm)
both = rc.keys() & jc.keys()
print(f"contacts: contactsync {len(rc)}, jvm {len(jc)}, in both {len(both)}; "
      f"same content fingerprint {sum(rc[s][0] == jc[s][0] for s in both)}, "
      f"same identifier list {sum(rc[s][1] == jc[s][1] for s in both)}")
bad = []
if len(r) != expected: bad.append("contactsync's identifiers are not the book's")
if same_digest != len(common): bad.append("keyed hashes differ")
if len(rc) != len(jc) or len(both) != len(rc): bad.append("not the same contacts")
if quick and abs(len(j) - len(r)) > len(r) / 100: bad.append("the JVM's identifiers differ by more than 1%")
if bad:
    print("DISAGREE: " + "; ".join(bad)); sys.exit(1)
print("AGREE")
PY
  fi
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

rust_s=$(cut -d' ' -f1 "$work/rust.times" | median)
jvm_s=$(cut -d' ' -f1 "$work/jvm.times" | median)
rust_kib=$(cut -d' ' -f2 "$work/rust.times" | median)
jvm_kib=$(cut -d' ' -f2 "$work/jvm.times" | median)
rust_cpu=$(cut -d' ' -f3 "$work/rust.times" | median)
jvm_cpu=$(cut -d' ' -f3 "$work/jvm.times" | median)
echo "== medians of $runs cold runs, $contacts contacts ($profile build; Java $(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p'), libphonenumber $(version libphonenumber8-java), sqlite-jdbc $(version libxerial-sqlite-jdbc-java))"
awk -v r="$rust_s" -v j="$jvm_s" -v rk="$rust_kib" -v jk="$jvm_kib" -v rc="$rust_cpu" \
  -v jc="$jvm_cpu" -v quick="$quick" 'BEGIN {
  printf "| | wall time | CPU time (user + sys) | peak RSS |\n|---|---|---|---|\n"
  printf "| contactsync import | %.3f s | %.2f s | %.1f MiB |\n", r, rc, rk / 1024
  printf "| JVM pipeline (tools/import-jvm) | %.3f s | %.2f s | %.1f MiB |\n", j, jc, jk / 1024
  printf "| ratio | %.2fx | %.2fx | %.2fx |\n", j / r, (rc > 0 ? jc / rc : 0), jk / rk
  if (quick == "true") print "(--quick: a check that both run and agree, not figures)"
  else printf "target: >= 6x: %s\n", (j / r >= 6 ? "met" : "missed")
}'
