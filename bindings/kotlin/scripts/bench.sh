#!/usr/bin/env bash
# The FFI benchmarks against the release build of the library — the cost of a call
# (src/test/kotlin/io/github/contactsync/NormalizeBench.kt) and the private mode's cost per
# identifier (PrivateBench.kt), a list of 1,000 one call per item against one call for the list
# (BulkBench.kt) — and the size of that library once stripped (what an app would ship for this
# platform, before compression).
#
#   bindings/kotlin/scripts/bench.sh
#
# Builds with `-Dcontactsync.profile=release` (cargo build --release), so target/native then
# points at the release library; the next `mvn test` points it back at the debug one. The
# benchmarks run in JVMs of their own (exec:exec@bench, @bench-private and @bench-bulk in
# pom.xml), not inside Maven's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/../pom.xml"

mvn -f "$pom" -q -B -Dcontactsync.profile=release test-compile exec:exec@bench exec:exec@bench-private exec:exec@bench-bulk

native="$here/../target/native"
case "$(uname -s)" in
  Darwin) library="$native/libcontactsync_ffi.dylib"; strip_flags=(-x) ;;
  *) library="$native/libcontactsync_ffi.so"; strip_flags=(--strip-all) ;;
esac
library="$(cd "$(dirname "$library")" && pwd -P)/$(basename "$library")"
built="$(readlink "$library" 2>/dev/null || echo "$library")"

if command -v strip >/dev/null 2>&1; then
  stripped="$(mktemp)"
  trap 'rm -f "$stripped"' EXIT
  strip "${strip_flags[@]}" -o "$stripped" "$built" 2>/dev/null || cp "$built" "$stripped"
  size() { wc -c <"$1" | tr -d ' '; }
  echo
  echo "release cdylib $(basename "$built") ($(uname -m)):"
  printf '  %-10s %12s bytes\n' "as built" "$(size "$built")" "stripped" "$(size "$stripped")"
else
  echo "strip not found: library size not measured" >&2
fi
