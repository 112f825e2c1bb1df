#!/usr/bin/env bash
# Builds the Rust library for Android and generates its Kotlin bindings, for the Gradle module
# beside this script:
#
#   src/main/jniLibs/<abi>/libcontactsync_ffi.so   one per ABI, 16 KB page-aligned on 64-bit
#   generated/uniffi/io/github/contactsync/ffi/    the UniFFI bindings, generated from that library
#
# Usage:
#   bindings/kotlin/android/build-android.sh [--debug]
#
# Needs: a Rust toolchain (rustup, to add the Android targets), cargo-ndk 4 (`cargo install
# cargo-ndk --locked`), and the Android NDK, found through ANDROID_NDK_HOME (or
# ANDROID_NDK_ROOT), e.g. $ANDROID_HOME/ndk/28.2.13676358. NDK r28 or newer is recommended.
#
# Environment:
#   ANDROID_ABIS      ABIs to build (default "arm64-v8a armeabi-v7a x86_64": phones, older 32-bit
#                     phones, and the emulator on x86_64 hosts)
#   ANDROID_MIN_API   the API level the library is linked for (default 24, the module's minSdk)
#
# The outputs are build products, ignored by git: run this again after any change to the Rust
# code, so the bindings and the libraries always come from the same build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"
jni_dir="$here/src/main/jniLibs"
generated_dir="$here/generated/uniffi"

profile=release
case "${1:-}" in
  "") ;;
  --debug) profile=debug ;;
  -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "build-android.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

abis="${ANDROID_ABIS:-arm64-v8a armeabi-v7a x86_64}"
min_api="${ANDROID_MIN_API:-24}"

fail() {
  echo "build-android.sh: $*" >&2
  exit 1
}

# --- What is needed, checked before anything is built ---------------------------------------

command -v cargo >/dev/null 2>&1 || fail "cargo not found: install Rust from https://rustup.rs"

if ! cargo ndk --version >/dev/null 2>&1; then
  fail "cargo-ndk not found. Install it with:
    cargo install cargo-ndk --locked
(version 4 or newer; it sets up the NDK's compilers and linkers for each Android target)"
fi

ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
if [[ -z "$ndk" ]]; then
  fail "the Android NDK was not found: set ANDROID_NDK_HOME to its root directory, e.g.
    export ANDROID_NDK_HOME=\$ANDROID_HOME/ndk/28.2.13676358
(install it with Android Studio's SDK Manager, or: sdkmanager 'ndk;28.2.13676358')"
fi
if [[ ! -f "$ndk/source.properties" ]]; then
  fail "ANDROID_NDK_HOME=$ndk is not an NDK (no source.properties in it)"
fi
ndk_revision="$(sed -n 's/^Pkg\.Revision *= *//p' "$ndk/source.properties" | tr -d '[:space:]')"
ndk_major="${ndk_revision%%.*}"
if [[ ! "$ndk_major" =~ ^[0-9]+$ ]]; then
  fail "could not read the NDK's version from $ndk/source.properties"
fi
export ANDROID_NDK_HOME="$ndk"

# ABI → Rust target.
targets=()
for abi in $abis; do
  case "$abi" in
    arm64-v8a) targets+=(aarch64-linux-android) ;;
    armeabi-v7a) targets+=(armv7-linux-androideabi) ;;
    x86_64) targets+=(x86_64-linux-android) ;;
    x86) targets+=(i686-linux-android) ;;
    *) fail "unknown ABI '$abi' (arm64-v8a, armeabi-v7a, x86_64 or x86)" ;;
  esac
done

if command -v rustup >/dev/null 2>&1; then
  # A no-op when they are installed already; honours the workspace's rust-toolchain, if any.
  (cd "$workspace" && rustup target add "${targets[@]}" >/dev/null)
else
  echo "build-android.sh: rustup not found; assuming the Rust targets ${targets[*]} are installed" >&2
fi

# --- 16 KB pages ---------------------------------------------------------------------------
#
# Devices with 16 KB memory pages (Android 15+) only load shared libraries whose LOAD segments
# are aligned to 16 KB, and Google Play requires it of apps targeting Android 15+. NDK r28 and
# newer link 64-bit libraries that way by default; older NDKs need the flag below (cargo-ndk 4
# adds it for them too). We pass it for every 64-bit target regardless, so the result does not
# depend on which NDK or cargo-ndk a machine has, and verify it after the build. 32-bit ABIs
# never run with 16 KB pages and keep the default.
if [[ -n "${RUSTFLAGS:-}" || -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]]; then
  echo "build-android.sh: warning: RUSTFLAGS/CARGO_ENCODED_RUSTFLAGS is set and takes precedence over" \
    "the per-target flags that request 16 KB alignment; the check after the build still applies" >&2
fi
page_flags="-C link-arg=-Wl,-z,max-page-size=16384"
for triple in aarch64-linux-android x86_64-linux-android; do
  var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
  export "$var"="${!var:+${!var} }$page_flags"
done
if (( ndk_major < 28 )); then
  echo "build-android.sh: NDK $ndk_revision is older than r28; 16 KB alignment comes from the explicit linker flag" >&2
fi

# --- Build ---------------------------------------------------------------------------------

abi_args=()
for abi in $abis; do abi_args+=(-t "$abi"); done
profile_args=()
[[ "$profile" == release ]] && profile_args=(--release)

echo "build-android.sh: building contactsync-ffi ($profile) for $abis, API $min_api, NDK $ndk_revision"
rm -rf "$jni_dir"
mkdir -p "$jni_dir"
(
  cd "$workspace"
  cargo ndk "${abi_args[@]}" --platform "$min_api" -o "$jni_dir" \
    build "${profile_args[@]}" --locked -p contactsync-ffi
)

# --- Check what was built --------------------------------------------------------------------

readelf=""
for candidate in "$ndk"/toolchains/llvm/prebuilt/*/bin/llvm-readelf; do
  [[ -x "$candidate" ]] && readelf="$candidate" && break
done
for abi in $abis; do
  lib="$jni_dir/$abi/libcontactsync_ffi.so"
  [[ -f "$lib" ]] || fail "cargo ndk did not produce $lib"
  case "$abi" in
    arm64-v8a | x86_64)
      if [[ -z "$readelf" ]]; then
        echo "build-android.sh: llvm-readelf not found in the NDK; 16 KB alignment of $abi not checked" >&2
        continue
      fi
      # Every LOAD segment's alignment (last column of `readelf -lW`, in hex) must be >= 16 KB.
      aligns="$("$readelf" -lW "$lib" | awk '$1 == "LOAD" { print $NF }')"
      [[ -n "$aligns" ]] || fail "could not read the program headers of $lib"
      for align in $aligns; do
        if (( align < 16384 )); then
          fail "$lib has a LOAD segment aligned to $align; 16 KB (0x4000) is required"
        fi
      done
      ;;
  esac
done

# --- Bindings --------------------------------------------------------------------------------
#
# Generated from the Android library just built (UniFFI's library mode reads the interface
# from the binary itself, whatever its architecture), so the Kotlin side always matches the
# native side. The package names come from bindings/uniffi.toml and core/uniffi.toml.
first_abi="${abis%% *}"
rm -rf "$generated_dir"
mkdir -p "$generated_dir"
(
  cd "$workspace"
  cargo uniffi-bindgen generate --library "$jni_dir/$first_abi/libcontactsync_ffi.so" \
    --language kotlin --no-format --out-dir "$generated_dir"
)
[[ -f "$generated_dir/io/github/contactsync/ffi/contactsync_ffi.kt" ]] \
  || fail "uniffi-bindgen did not write the bindings to $generated_dir"
# The core's records and enums, generated into a package of their own, under the names apps import.
"$workspace/bindings/kotlin/scripts/core-type-aliases.sh" "$generated_dir"

echo "build-android.sh: done"
for abi in $abis; do
  echo "  ${jni_dir#"$workspace"/}/$abi/libcontactsync_ffi.so"
done
echo "  ${generated_dir#"$workspace"/}/io/github/contactsync/ffi/contactsync_ffi.kt"
