#!/usr/bin/env bash
# The Swift package's tests, as CI runs them (scripts/test calls this): builds the Rust library and
# the CLI, regenerates the bindings, then, with Swift 6.0 (scripts/swift: a Debian 13 root on a
# Debian 12 machine, or the machine's own Swift),
#   1. builds the package and its tests with warnings as errors (the ContactSync and generated
#      targets are checked with complete strict-concurrency checking, Package.swift);
#   2. builds the ContactSync library once more in the Swift 6 language mode, where data-race
#      safety is enforced, not only warned about;
#   3. runs the XCTest suite against the real library, the real reference server and, for the
#      Matrix mode, a real Sydent (started here, see below).
#
#   scripts/test.sh [swift test arguments, e.g. --filter EndToEndTests]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(cd "$here/.." && pwd)"
workspace="$(cd "$package/../.." && pwd)"
swift_env="$workspace/scripts/swift"

lib_dir="$("$here/generate-bindings.sh" debug)"
# scripts/swift binds CARGO_TARGET_DIR into the Swift root when it lies outside the repository.
CARGO_TARGET_DIR="$(dirname "$lib_dir")"
export CARGO_TARGET_DIR
# The reference server the end-to-end tests start.
export CONTACTSYNC_CLI_BIN="$lib_dir/contactsync"

link=(-Xlinker -L"$lib_dir" -Xlinker -rpath -Xlinker "$lib_dir")
cd "$package"
# SwiftPM does not notice every change of the generated C headers (a header added to the module,
# as when the core got a UniFFI namespace of its own): built products from before crash at the
# first callback. A build is reused only for the headers it was made with.
stamp="$(cat Sources/ContactSyncFFIC/*.h Sources/ContactSyncFFIC/module.modulemap | sha256sum | cut -d' ' -f1)"
if [[ "$(cat .build/.ffi-headers 2>/dev/null || true)" != "$stamp" ]]; then
  rm -rf .build
  mkdir -p .build
  echo "$stamp" >.build/.ffi-headers
fi
echo "swift: $("$swift_env" run swift --version 2>/dev/null | sed -n 1p)"
"$swift_env" run swift build --build-tests -Xswiftc -warnings-as-errors "${link[@]}"
"$swift_env" run swift build --target ContactSync --scratch-path .build/swift6 \
  -Xswiftc -swift-version -Xswiftc 6 -Xswiftc -warnings-as-errors

# The Matrix mode's Sydent: `sydent-fixture` (tests/src/bin/sydent-fixture.rs, built beside the
# CLI) runs on the host, because Sydent's Python environment cannot run in the Swift root, while
# loopback is shared. Its first stdout line gives the control URL the tests read from
# CONTACTSYNC_SYDENT_FIXTURE; it ends, killing Sydent, on SIGTERM or when its stdin (held here)
# closes. Without Sydent it says `skipped` and the Matrix tests skip themselves; with
# CONTACTSYNC_CI set it fails instead, and so does this script.
fixture_pid=""
stop_fixture() {
  if [[ -n "$fixture_pid" ]]; then
    kill -TERM "$fixture_pid" 2>/dev/null || true
    wait "$fixture_pid" 2>/dev/null || true
  fi
}
trap stop_fixture EXIT
coproc FIXTURE { exec "$lib_dir/sydent-fixture"; }
fixture_pid="$FIXTURE_PID"
fixture_line=""
read -r -t 180 -u "${FIXTURE[0]}" fixture_line || true
control_url="$(sed -n 's/.*"control_url":"\([^"]*\)".*/\1/p' <<<"$fixture_line")"
if [[ -n "$control_url" ]]; then
  export CONTACTSYNC_SYDENT_FIXTURE="$control_url"
elif [[ "$fixture_line" == *'"skipped"'* ]]; then
  echo "sydent-fixture: $fixture_line: the Matrix tests skip themselves" >&2
else
  echo "sydent-fixture did not start (its reason is on stderr above)" >&2
  exit 1
fi

# A guard against a hung test (a deadlock), not a time limit on the work: CI would otherwise wait
# for its own limit.
"$swift_env" run sh -c 'if command -v timeout >/dev/null; then exec timeout 1800 "$@"; else exec "$@"; fi' \
  sh swift test --skip-build "$@"
