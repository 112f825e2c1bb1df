#!/usr/bin/env bash
# Builds the Rust side the Swift package needs and generates its UniFFI bindings.
#
#   generate-bindings.sh [debug|release]
#
# It builds the `contactsync_ffi` library (linked by the package), the `contactsync` CLI (the
# reference server the end-to-end tests start) and `sydent-fixture` (the Matrix tests' Sydent,
# which test.sh starts), then runs the workspace's pinned uniffi-bindgen in
# library mode, which reads bindings/uniffi.toml and core/uniffi.toml for the module names. It writes
#   Sources/ContactSyncFFI/ContactSyncFFI.swift       the Swift bindings of contactsync-ffi
#   Sources/ContactSyncFFI/ContactSyncCore.swift      those of the core's records and enums
#   Sources/ContactSyncFFIC/ContactSyncFFIC.h         the C declarations they call, one header
#   Sources/ContactSyncFFIC/ContactSyncCoreFFIC.h     per UniFFI namespace
# (never committed: regenerated from the library on every build so they cannot drift from the
# Rust code; the committed module.modulemap beside the header names the library to link), and
# prints the directory holding the built library, CLI and fixture on stdout, for the linker and the
# tests.
set -euo pipefail

profile="${1:-debug}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(cd "$here/.." && pwd)"
workspace="$(cd "$package/../.." && pwd)"
cd "$workspace"

library="$("$workspace/bindings/scripts/build-host.sh" "$profile")"
profile_dir="$(dirname "$library")"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cargo uniffi-bindgen generate --library "$library" --language swift --no-format --out-dir "$out"
# Replace only what changed, so SwiftPM does not recompile the 5,000 generated lines for nothing.
install_if_changed() {
  cmp -s "$1" "$2" || cp "$1" "$2"
}
# The generated target's directory holds nothing else, so a fresh clone does not have it.
mkdir -p "$package/Sources/ContactSyncFFI"
# Two UniFFI namespaces (the FFI crate's and the core's), compiled into one Swift module and one C
# module, so apps name every type the same way.
for file in ContactSyncFFI.swift ContactSyncCore.swift; do
  install_if_changed "$out/$file" "$package/Sources/ContactSyncFFI/$file"
done
for file in ContactSyncFFIC.h ContactSyncCoreFFIC.h; do
  install_if_changed "$out/$file" "$package/Sources/ContactSyncFFIC/$file"
done

echo "$profile_dir"
