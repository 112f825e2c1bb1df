#!/usr/bin/env bash
# Builds the release of the contactsync Swift package: the Rust library as an XCFramework of static
# `.framework` bundles for iOS devices, the iOS simulator and Mac Catalyst, the Swift bindings
# generated from that very library, and the package apps add by URL.
#
# Usage:
#   bindings/swift/scripts/build-xcframework.sh [--url-base URL] [--out DIR] [--no-verify]
#
#   --url-base URL   where ContactSyncFFIC.xcframework.zip will be published (https; the file
#                    name is appended). Default: <repository>/releases/download/v<version>, from
#                    the workspace's Cargo.toml.
#   --out DIR        where everything is written (default: bindings/swift/dist).
#   --no-verify      skip compiling the finished package against the local XCFramework.
#
#   CONTACTSYNC_RELEASE_PROFILE  the cargo profile of the library (default: release).
#
# Writes, under DIR (assemble-xcframework.sh does everything after the build, and says why the
# slices are framework bundles with their own module maps):
#   ContactSyncFFIC.xcframework        ios-arm64, ios-arm64_x86_64-simulator and
#                                      ios-arm64_x86_64-maccatalyst, each ContactSyncFFIC.framework
#                                      with Headers/ and Modules/module.modulemap
#   ContactSyncFFIC.xcframework.zip    the file to upload to URL (and .sha256 beside it)
#   swift-package/                     the release package: Package.swift (release/Package.swift.in
#                                      with URL and checksum filled in), Sources/ContactSync (copied),
#                                      Sources/ContactSyncFFI/*.swift (generated), licences.
#                                      Publish it as the root of a repository and tag it <version>.
#
# Needs macOS with Xcode (not only the Command Line Tools: the iOS SDKs and xcodebuild come with
# Xcode), rustup (the targets are added if missing) and cargo. The outputs are build products,
# ignored by git: build again after any change to the Rust or Swift code, so the library, the
# bindings and the checksum always come from one build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(cd "$here/.." && pwd)"
workspace="$(cd "$package/../.." && pwd)"

fail() {
  echo "build-xcframework.sh: $*" >&2
  exit 1
}
usage_error() {
  echo "build-xcframework.sh: $* (try --help)" >&2
  exit 2
}

out="$package/dist"
url_base=""
verify=true
while (($#)); do
  case "$1" in
    --url-base)
      (($# >= 2)) || usage_error "--url-base needs a URL"
      url_base="$2"
      shift 2
      ;;
    --url-base=*) url_base="${1#*=}"; shift ;;
    --out)
      (($# >= 2)) || usage_error "--out needs a directory"
      out="$2"
      shift 2
      ;;
    --out=*) out="${1#*=}"; shift ;;
    --no-verify) verify=false; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

# --- What is needed, checked before anything is built ---------------------------------------
#
# In this order so that the first message names what is really missing: on Linux, macOS itself.

if [[ "$(uname -s)" != Darwin ]]; then
  fail "an XCFramework can only be built on macOS with Xcode, and this is $(uname -s).
The iOS SDKs, xcodebuild and lipo exist only there. On Linux, the Swift package builds and tests
against the library built for this machine instead: bindings/swift/scripts/test.sh (see
bindings/swift/README.md)."
fi
if ! command -v xcodebuild >/dev/null 2>&1; then
  fail "xcodebuild not found: install Xcode (App Store or developer.apple.com), open it once, then
    sudo xcode-select --switch /Applications/Xcode.app/Contents/Developer"
fi
if ! xcodebuild -version >/dev/null 2>&1; then
  fail "xcodebuild does not run: the selected developer directory is probably the Command Line Tools
($(xcode-select -p 2>/dev/null || echo unknown)), which have no iOS SDK. Install Xcode, then
    sudo xcode-select --switch /Applications/Xcode.app/Contents/Developer"
fi
for sdk in iphoneos iphonesimulator; do
  xcrun --sdk "$sdk" --show-sdk-path >/dev/null 2>&1 \
    || fail "the $sdk SDK is missing from $(xcode-select -p): install the iOS platform in Xcode (Settings > Components)"
done
for tool in lipo strip; do
  xcrun --find "$tool" >/dev/null 2>&1 || fail "xcrun cannot find $tool: reinstall Xcode's command line tools"
done
command -v cargo >/dev/null 2>&1 || fail "cargo not found: install Rust from https://rustup.rs"
for tool in swift ditto shasum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (it comes with macOS and Xcode)"
done

cd "$workspace"

# `cargo pkgid` ends in `#<version>` or `...@<version>`.
pkgid="$(cargo pkgid --locked -p contactsync-ffi)"
version="${pkgid##*[#@]}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "could not read contactsync-ffi's version from '$pkgid'"

if [[ -z "$url_base" ]]; then
  repository="$(sed -n 's/^repository *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)"
  [[ -n "$repository" ]] || fail "no --url-base given and no repository in Cargo.toml to derive one from"
  url_base="$repository/releases/download/v$version"
  echo "build-xcframework.sh: publishing URL not given; using $url_base (pass --url-base to change it)" >&2
fi
url_base="${url_base%/}"
# SwiftPM fetches remote binary targets over https only. The URL is also pasted into the manifest
# (a Swift string) by sed, so characters that would end the string or the sed expression are
# refused rather than escaped.
if [[ ! "$url_base" =~ ^https://[^[:space:]\"\\|\&?#]+$ ]]; then
  fail "--url-base must be an https URL without spaces, quotes, '|', '&', '\\', a query or a fragment: '$url_base'"
fi
zip_name="ContactSyncFFIC.xcframework.zip"
url="$url_base/$zip_name"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
xcframework="$out/ContactSyncFFIC.xcframework"
zip="$out/$zip_name"
release_package="$out/swift-package"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- Build ---------------------------------------------------------------------------------

profile="${CONTACTSYNC_RELEASE_PROFILE:-release}"
device_target=aarch64-apple-ios
simulator_targets=(aarch64-apple-ios-sim x86_64-apple-ios)        # Apple silicon and Intel Macs
catalyst_targets=(aarch64-apple-ios-macabi x86_64-apple-ios-macabi)
targets=("$device_target" "${simulator_targets[@]}" "${catalyst_targets[@]}")

if command -v rustup >/dev/null 2>&1; then
  # A no-op when they are installed already; honours the workspace's rust-toolchain, if any.
  rustup target add "${targets[@]}" >/dev/null
else
  echo "build-xcframework.sh: rustup not found; assuming the Rust targets ${targets[*]} are installed" >&2
fi

target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$target_dir" ]] || fail "could not read cargo's target directory"
case "$profile" in dev) profile_dir=debug ;; *) profile_dir="$profile" ;; esac

# Only the staticlib: the crate also declares a cdylib (for Android and the JVM), and linking an
# iOS dylib nobody ships would only cost time. The workspace's $profile profile applies (panic =
# "unwind": UniFFI turns a panic into a Swift error; "abort" would kill the app).
# IPHONEOS_DEPLOYMENT_TARGET is read by rustc and by the cc crate that compiles the bundled SQLite
# (Mac Catalyst targets read it too: a Catalyst app's minimum is an iOS version), so both agree
# with the package's iOS 15 minimum and the app's linker does not warn about newer objects.
echo "build-xcframework.sh: building contactsync-ffi $version ($profile, staticlib) for ${targets[*]}"
for target in "${targets[@]}"; do
  IPHONEOS_DEPLOYMENT_TARGET=15.0 cargo rustc --locked --profile "$profile" -p contactsync-ffi --lib \
    --crate-type staticlib --target "$target"
  built="$target_dir/$target/$profile_dir/libcontactsync_ffi.a"
  [[ -f "$built" ]] || fail "cargo did not produce $built"
  mkdir -p "$work/$target"
  # Copies: cargo's own outputs stay as cargo made them.
  cp "$built" "$work/$target/libcontactsync_ffi.a"
done

# --- Bindings --------------------------------------------------------------------------------
#
# Generated from the device library just built, so the Swift side matches the native side it
# ships with (the generated code checks UniFFI's contract version and API checksums against the
# library at first use). UniFFI's library mode reads static archives as well as dynamic
# libraries: it finds the metadata symbols through the archive's symbol index. The module names
# come from bindings/uniffi.toml and core/uniffi.toml (the core's records and enums are a UniFFI
# namespace of their own, compiled into the same Swift and C modules).
generated="$work/generated"
cargo uniffi-bindgen generate --library "$work/$device_target/libcontactsync_ffi.a" \
  --language swift --no-format --out-dir "$generated"

# --- Libraries: strip, merge the simulator and Mac Catalyst slices --------------------------
#
# The release profile's `strip = "debuginfo"` is a linker option and does nothing to a static
# library, which is never linked; the archive still carries the DWARF of the standard library's
# precompiled code. `strip -S` removes debug information only: the global symbols stay, since the
# app's linker resolves the FFI functions through them (a full strip would break the link). The
# app's own link (dead-stripping) and the App Store's processing shrink it further.
for target in "${targets[@]}"; do
  xcrun strip -S "$work/$target/libcontactsync_ffi.a" \
    || fail "strip -S failed on the $target library"
done

# An XCFramework holds one library per platform variant, so the two architectures of the
# simulator, and of Mac Catalyst, each go into one fat archive.
merge() { # slice-id target...
  local slice="$1"
  shift
  mkdir -p "$work/slices/$slice"
  xcrun lipo -create "${@/#/$work/}" -output "$work/slices/$slice/libcontactsync_ffi.a"
  local archs
  archs="$(xcrun lipo -archs "$work/slices/$slice/libcontactsync_ffi.a")"
  [[ " $archs " == *" arm64 "* && " $archs " == *" x86_64 "* ]] \
    || fail "the $slice library holds '$archs', expected arm64 and x86_64"
}
for target in "${targets[@]}"; do
  mv "$work/$target/libcontactsync_ffi.a" "$work/$target.a"
  rmdir "$work/$target"
done
mkdir -p "$work/slices/ios-arm64"
cp "$work/$device_target.a" "$work/slices/ios-arm64/libcontactsync_ffi.a"
merge ios-arm64_x86_64-simulator "${simulator_targets[@]/%/.a}"
merge ios-arm64_x86_64-maccatalyst "${catalyst_targets[@]/%/.a}"

# --- Frameworks, XCFramework, zip, checksum, the release package -----------------------------

checksum="$("$here/assemble-xcframework.sh" --libraries "$work/slices" --generated "$generated" \
  --version "$version" --url "$url" --out "$out" | tail -n 1)"
(cd "$release_package" && swift package dump-package >/dev/null) \
  || fail "SwiftPM cannot read the release manifest $release_package/Package.swift"

# --- Verify ------------------------------------------------------------------------------------
#
# The published URL does not serve the zip yet, so the check compiles a copy of the release
# package whose binary target points at the local XCFramework instead, for the simulator and for
# devices. That exercises what only an Apple toolchain can: the module map found inside the
# XCFramework, the generated Swift importing ContactSyncFFIC, the sources compiling for iOS.
# (Linking happens in the app; a package library target is not linked on its own.)
if $verify; then
  check="$work/verify"
  cp -R "$release_package" "$check"
  cp -R "$xcframework" "$check/ContactSyncFFIC.xcframework"
  sed -e 's|url: "[^"]*",[[:space:]]*checksum: "[^"]*"|path: "ContactSyncFFIC.xcframework"|' \
    "$release_package/Package.swift" >"$check/Package.swift"
  grep -q 'path: "ContactSyncFFIC.xcframework"' "$check/Package.swift" \
    || fail "could not point the verification copy of the manifest at the local XCFramework"
  for destination in "generic/platform=iOS Simulator" "generic/platform=iOS" \
    "generic/platform=macOS,variant=Mac Catalyst"; do
    echo "build-xcframework.sh: verifying: xcodebuild build -scheme ContactSync -destination '$destination'"
    (cd "$check" && xcodebuild build -quiet -scheme ContactSync -destination "$destination" \
      -derivedDataPath "$work/derived-data" CODE_SIGNING_ALLOWED=NO) \
      || fail "the release package does not build for $destination (see above)"
  done
fi

echo "build-xcframework.sh: done"
echo "  ${xcframework#"$workspace"/}"
echo "  ${zip#"$workspace"/}   checksum $checksum"
echo "  ${release_package#"$workspace"/}/   version $version"
echo "Next: upload the zip to $url, then publish swift-package/ as the root of the package's"
echo "repository and tag it $version (the checksum is in its Package.swift)."
