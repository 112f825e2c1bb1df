#!/usr/bin/env bash
# Builds, for this machine, what the Kotlin and Swift packages' tests need from the Rust side: the
# `contactsync_ffi` shared library (the bindings are generated from it and load it), the
# `contactsync` CLI (the reference server their end-to-end tests start) and `sydent-fixture` (the
# Matrix mode's tests' Sydent, driven over its control API: tests/src/bin/sydent-fixture.rs).
#
#   build-host.sh <debug|release>
#
# Prints the path of the built shared library on stdout; the CLI and the fixture are beside it. The cargo target
# directory is asked from cargo itself, so CARGO_TARGET_DIR and .cargo/config.toml are honoured.
# Shared by bindings/kotlin/scripts/generate-bindings.sh and bindings/swift/scripts/generate-bindings.sh.
set -euo pipefail

profile="${1:?usage: build-host.sh <debug|release>}"
workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$workspace"

case "$profile" in
  debug) profile_flag=() ;;
  release) profile_flag=(--release) ;;
  *) echo "build-host.sh: unknown profile '$profile' (debug or release)" >&2; exit 2 ;;
esac

cargo build --quiet --locked "${profile_flag[@]}" -p contactsync-ffi -p contactsync-cli
cargo build --quiet --locked "${profile_flag[@]}" -p contactsync-tests --bin sydent-fixture

# `cargo metadata` prints one line of JSON; no jq needed to pick one string out of it.
target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$target_dir" ]] || { echo "build-host.sh: could not read cargo's target directory" >&2; exit 1; }
profile_dir="$target_dir/$profile"

case "$(uname -s)" in
  Darwin) library="$profile_dir/libcontactsync_ffi.dylib" ;;
  *) library="$profile_dir/libcontactsync_ffi.so" ;;
esac
for built in "$library" "$profile_dir/contactsync" "$profile_dir/sydent-fixture"; do
  [[ -f "$built" ]] || { echo "build-host.sh: $built was not built" >&2; exit 1; }
done
echo "$library"
