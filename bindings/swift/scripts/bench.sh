#!/usr/bin/env bash
# The Swift bindings' figures (docs/performance.md): builds the release library and a release Swift
# build of Benchmarks/ContactSyncBench, runs it, and prints the library's size as built and stripped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(cd "$here/.." && pwd)"
swift_env="$package/../../scripts/swift"

lib_dir="$("$here/generate-bindings.sh" release)"
CARGO_TARGET_DIR="$(dirname "$lib_dir")"
export CARGO_TARGET_DIR
cd "$package"
"$swift_env" run swift build -c release --product ContactSyncBench \
  -Xlinker -L"$lib_dir" -Xlinker -rpath -Xlinker "$lib_dir"
"$swift_env" run .build/release/ContactSyncBench
