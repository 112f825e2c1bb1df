#!/usr/bin/env bash
# Builds the Rust side the Kotlin package needs and generates its UniFFI bindings.
#
#   generate-bindings.sh <profile> <sources-dir> <native-dir>
#
#   profile      debug or release: the cargo profile of the FFI library and the CLI.
#   sources-dir  where the generated Kotlin sources go (Maven: target/generated-sources/uniffi).
#   native-dir   where links to the built cdylib, the `contactsync` CLI and `sydent-fixture` go
#                (Maven: target/native); the tests get it as `jna.library.path`.
#
# It builds the `contactsync_ffi` cdylib (loaded by JNA), the `contactsync` CLI (the reference
# server the end-to-end tests start) and `sydent-fixture` (the Matrix mode's Sydent), then runs the workspace's pinned uniffi-bindgen in library
# mode, which reads bindings/uniffi.toml and core/uniffi.toml for the Kotlin package names. The
# generated sources are never committed: they are rebuilt from the library on every build so they
# cannot drift from the Rust code.
#
# The cargo target directory is asked from cargo itself, so CARGO_TARGET_DIR and
# .cargo/config.toml are honoured; Maven only ever sees native-dir. Silent on success.
set -euo pipefail

profile="${1:?usage: generate-bindings.sh <debug|release> <sources-dir> <native-dir>}"
sources_dir="${2:?usage: generate-bindings.sh <debug|release> <sources-dir> <native-dir>}"
native_dir="${3:?usage: generate-bindings.sh <debug|release> <sources-dir> <native-dir>}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"
cd "$workspace"

library="$("$workspace/bindings/scripts/build-host.sh" "$profile")"
profile_dir="$(dirname "$library")"
library_name="$(basename "$library")"

# Regenerate from scratch so a type removed from the Rust side cannot linger as a stale file.
rm -rf "$sources_dir"
mkdir -p "$sources_dir"
cargo uniffi-bindgen generate --library "$profile_dir/$library_name" --language kotlin \
  --no-format --out-dir "$sources_dir"

# The core's records and enums, generated into a package of their own, under the names apps import.
"$here/core-type-aliases.sh" "$sources_dir"

# Links rather than copies: a debug cdylib is large, and a link always points at the build just
# made. Replaced each time, so switching profiles switches what the tests load.
mkdir -p "$native_dir"
ln -sfn "$profile_dir/$library_name" "$native_dir/$library_name"
ln -sfn "$profile_dir/contactsync" "$native_dir/contactsync"
ln -sfn "$profile_dir/sydent-fixture" "$native_dir/sydent-fixture"
