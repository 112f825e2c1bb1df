#!/usr/bin/env bash
# Phone normalisation throughput, Rust (rlibphonenumber through contactsync's normalize) against
# Google's Java libphonenumber (Debian's libphonenumber8-java), on the same corpus
# (tests/vectors/phone_corpus.jsonl), single thread each, median of 7 runs after a warm-up.
# Target: Rust >= 5x Java. Prints PASS or FAIL; exits 0 on PASS, 1 on FAIL, 2 if a bench could
# not run. Run from anywhere: bash tools/phone-corpus/bench.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

CORPUS="tests/vectors/phone_corpus.jsonl"
JAR="/usr/share/java/libphonenumber.jar"
JAVA_DIR="tools/phone-corpus/java"
BUILD="$JAVA_DIR/build"
TARGET_RATIO=5

die() { echo "bench.sh: $*" >&2; exit 2; }

[ -s "$CORPUS" ] || die "$CORPUS is missing: see tools/phone-corpus/README.md"

# --- Java libphonenumber (Debian package) and a JDK --------------------------------------------
if [ ! -f "$JAR" ] || ! command -v javac >/dev/null; then
    command -v apt-get >/dev/null || die "need $JAR (Debian package libphonenumber8-java) and javac"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    PKGS="libphonenumber8-java"
    command -v javac >/dev/null || PKGS="$PKGS default-jdk-headless"
    echo "== installing $PKGS"
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $PKGS >/dev/null \
        || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $PKGS >/dev/null; } \
        || die "could not install $PKGS"
fi
JAVA_LPN_VERSION="$(dpkg-query -W -f='${Version}' libphonenumber8-java 2>/dev/null || echo unknown)"

# Build everything first, so that no compiler runs while either bench is timed.
echo "== building the Rust bench (release profile, LTO: minutes the first time)"
cargo bench -q -p contactsync-core --bench phone_corpus --no-run \
    || die "cargo could not build the Rust bench"

echo "== compiling $JAVA_DIR/PhoneBench.java"
mkdir -p "$BUILD"
javac -nowarn -d "$BUILD" -cp "$JAR" "$JAVA_DIR/PhoneBench.java"

echo "== Java libphonenumber $JAVA_LPN_VERSION ($(java -version 2>&1 | head -n1))"
JAVA_OUT="$(java -cp "$JAR:$BUILD" PhoneBench "$CORPUS")" || die "Java bench failed"
echo "$JAVA_OUT" | grep -v '^RESULT'

echo "== Rust: cargo bench -p contactsync-core --bench phone_corpus"
RUST_OUT="$(cargo bench -q -p contactsync-core --bench phone_corpus)" || die "Rust bench failed"
echo "$RUST_OUT" | grep -v '^RESULT'

result() { echo "$1" | sed -n "s/^RESULT $2=//p"; }
JAVA_RATE="$(result "$JAVA_OUT" java_numbers_per_sec)"
RUST_RATE="$(result "$RUST_OUT" rust_numbers_per_sec)"
JAVA_BEST="$(result "$JAVA_OUT" java_best_numbers_per_sec)"
RUST_BEST="$(result "$RUST_OUT" rust_best_numbers_per_sec)"
[ -n "$JAVA_RATE" ] && [ -n "$RUST_RATE" ] && [ -n "$JAVA_BEST" ] && [ -n "$RUST_BEST" ] \
    || die "a bench printed no RESULT line"

echo "== comparison (same corpus, $(grep -c . "$CORPUS") inputs, single thread, median of 7 runs)"
awk -v r="$RUST_RATE" -v j="$JAVA_RATE" -v rb="$RUST_BEST" -v jb="$JAVA_BEST" \
    -v t="$TARGET_RATIO" 'BEGIN {
    ratio = r / j
    printf "          median of 7      best run\n"
    printf "Rust  %12.0f/s %12.0f/s\n", r, rb
    printf "Java  %12.0f/s %12.0f/s\n", j, jb
    printf "ratio %12.2fx  %11.2fx   (target: Rust >= %dx Java single-thread, on the medians)\n", \
        ratio, rb / jb, t
    # Other load on the machine moves both figures; the best runs show the quiet-machine ratio.
    if (ratio >= t) { print "PASS"; exit 0 } else { print "FAIL"; exit 1 }
}'
