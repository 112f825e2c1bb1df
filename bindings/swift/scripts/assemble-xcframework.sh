#!/usr/bin/env bash
# Assembles the XCFramework of the release from libraries already built, and the release package
# that downloads it: real `.framework` bundles with their own module maps, the XCFramework, its
# zip, the zip's checksum, and Package.swift with URL and checksum filled in.
#
# Usage:
#   assemble-xcframework.sh --libraries DIR --generated DIR --version V --url URL --out DIR
#                           [--epoch SECONDS]
#
#   --libraries DIR  one static library per slice: DIR/<slice>/libcontactsync_ffi.a for the slices
#                    ios-arm64, ios-arm64_x86_64-simulator, ios-arm64_x86_64-maccatalyst (the
#                    simulator's and Mac Catalyst's already merged by lipo)
#   --generated DIR  what `uniffi-bindgen generate --language swift` wrote: the Swift files, the
#                    C headers and the module maps, one per UniFFI namespace
#   --version V      the package's version (Info.plists, Package.swift)
#   --url URL        where the zip will be published (https)
#   --out DIR        where ContactSyncFFIC.xcframework, its zip and swift-package/ are written
#   --epoch SECONDS  the time stamp of every file in the zip (default: $SOURCE_DATE_EPOCH, else
#                    the last commit's), so the same inputs give the same zip and checksum
#
# Portable on purpose: build-xcframework.sh calls it on macOS after building the libraries, and
# it runs on Linux too (test-assembly.sh, with stand-in libraries) so that everything but the
# Apple build itself is tested in CI. With xcodebuild on PATH the XCFramework is made by
# `xcodebuild -create-xcframework -framework ...` (which reads the slices' platforms from the
# binaries); without it, its Info.plist is written here in the same format.
#
# Why framework bundles: Xcode 26.4 and later no longer look for module maps in subdirectories of
# an XCFramework's Headers (worldcoin/walletkit#440), so a library slice with
# Headers/ContactSyncFFIC/module.modulemap is no longer found. A framework carries its module
# map where clang always looks for one: ContactSyncFFIC.framework/Modules/module.modulemap, a
# `framework module` whose headers are the framework's Headers/. Every slice is a static
# framework (the library is an archive), so nothing is embedded or signed in the app.
#
# The module map is UniFFI's, one per namespace merged into one module (both namespaces declare
# `ContactSyncFFIC`), as a `framework module`, without the `use "_Builtin_stdbool"` and
# `use "_Builtin_stdint"` lines: some toolchains (Xcode 26 and later) cannot resolve those
# builtin modules, the C module then fails to build, `canImport(ContactSyncFFIC)` in the generated
# Swift is false and nothing compiles (mozilla/uniffi-rs#2917). They only matter to builds that
# check module uses (-fmodules-decluse).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="$(cd "$here/.." && pwd)"
workspace="$(cd "$package/../.." && pwd)"

fail() {
  echo "assemble-xcframework.sh: $*" >&2
  exit 1
}

libraries="" generated="" version="" url="" out="" epoch="${SOURCE_DATE_EPOCH:-}"
while (($#)); do
  case "$1" in
    --libraries) libraries="${2:?}"; shift 2 ;;
    --generated) generated="${2:?}"; shift 2 ;;
    --version) version="${2:?}"; shift 2 ;;
    --url) url="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --epoch) epoch="${2:?}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "assemble-xcframework.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$libraries" && -n "$generated" && -n "$version" && -n "$url" && -n "$out" ]] \
  || { echo "assemble-xcframework.sh: --libraries, --generated, --version, --url and --out are needed (try --help)" >&2; exit 2; }
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version must be MAJOR.MINOR.PATCH: '$version'"
# SwiftPM fetches binary targets over https only; the URL is pasted into a Swift string by sed.
[[ "$url" =~ ^https://[^[:space:]\"\\|\&?#]+$ ]] \
  || fail "--url must be an https URL without spaces, quotes, '|', '&', '\\', a query or a fragment: '$url'"
if [[ -z "$epoch" ]]; then
  epoch="$(git -C "$workspace" log -1 --format=%ct 2>/dev/null || echo 315532800)"
fi

module=ContactSyncFFIC
bundle_id="io.github.contactsync.$module"
# Slice id, platform, variant (empty: device), architectures: the id is what xcodebuild names it.
slices=(
  "ios-arm64|ios||arm64"
  "ios-arm64_x86_64-simulator|ios|simulator|arm64 x86_64"
  "ios-arm64_x86_64-maccatalyst|ios|maccatalyst|arm64 x86_64"
)

for entry in "${slices[@]}"; do
  id="${entry%%|*}"
  [[ -f "$libraries/$id/libcontactsync_ffi.a" ]] || fail "missing $libraries/$id/libcontactsync_ffi.a"
done
for file in ContactSyncFFI.swift ContactSyncCore.swift ContactSyncFFIC.h ContactSyncCoreFFIC.h \
  ContactSyncFFIC.modulemap ContactSyncCoreFFIC.modulemap; do
  [[ -f "$generated/$file" ]] || fail "$generated lacks $file (module names changed in bindings/uniffi.toml or core/uniffi.toml?)"
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- The module map ----------------------------------------------------------------------------

# UniFFI's maps: `module ContactSyncFFIC { header "..."; export *; use "..." }`, one per namespace.
for map in "$generated"/*.modulemap; do
  grep -q "^module $module {" "$map" || fail "$(basename "$map") does not declare module $module"
done
{
  echo "framework module $module {"
  # Every namespace's header, once, in a stable order; then the other declarations once each,
  # less the builtin modules' `use` lines.
  cat "$generated"/*.modulemap | sed -n 's/^[[:space:]]*\(header "[^"]*"\)[[:space:]]*$/    \1/p' | sort -u
  cat "$generated"/*.modulemap | grep -v '^module \|^}\|^[[:space:]]*header ' \
    | grep -v 'use "_Builtin_' | sed 's/^[[:space:]]*/    /' | awk 'NF && !seen[$0]++' || true
  echo "}"
} >"$work/module.modulemap"
grep -q '_Builtin_' "$work/module.modulemap" && fail "the module map still uses a _Builtin_ module"
for header in ContactSyncFFIC.h ContactSyncCoreFFIC.h; do
  grep -q "header \"$header\"" "$work/module.modulemap" || fail "the module map lacks $header"
done

# --- The framework bundles ---------------------------------------------------------------------

# A framework's Info.plist. Mac Catalyst frameworks are macOS bundles.
framework_plist() { # platform-variant
  local platforms minimum
  case "$1" in
    device) platforms="<string>iPhoneOS</string>"; minimum="<key>MinimumOSVersion</key>
	<string>15.0</string>" ;;
    simulator) platforms="<string>iPhoneSimulator</string>"; minimum="<key>MinimumOSVersion</key>
	<string>15.0</string>" ;;
    maccatalyst) platforms="<string>MacOSX</string>"; minimum="<key>LSMinimumSystemVersion</key>
	<string>12.0</string>" ;;
  esac
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleDevelopmentRegion</key>
	<string>en</string>
	<key>CFBundleExecutable</key>
	<string>$module</string>
	<key>CFBundleIdentifier</key>
	<string>$bundle_id</string>
	<key>CFBundleInfoDictionaryVersion</key>
	<string>6.0</string>
	<key>CFBundleName</key>
	<string>$module</string>
	<key>CFBundlePackageType</key>
	<string>FMWK</string>
	<key>CFBundleShortVersionString</key>
	<string>$version</string>
	<key>CFBundleSupportedPlatforms</key>
	<array>
		$platforms
	</array>
	<key>CFBundleVersion</key>
	<string>$version</string>
	$minimum
</dict>
</plist>
EOF
}

frameworks="$work/frameworks"
for entry in "${slices[@]}"; do
  IFS='|' read -r id _ variant _ <<<"$entry"
  fw="$frameworks/$id/$module.framework"
  library="$libraries/$id/libcontactsync_ffi.a"
  if [[ "$variant" == maccatalyst ]]; then
    # A versioned bundle: Versions/A holds everything, the top level links to Versions/Current.
    contents="$fw/Versions/A"
    mkdir -p "$contents/Headers" "$contents/Modules" "$contents/Resources"
    cp "$library" "$contents/$module"
    framework_plist maccatalyst >"$contents/Resources/Info.plist"
    ln -s A "$fw/Versions/Current"
    for link in "$module" Headers Modules Resources; do
      ln -s "Versions/Current/$link" "$fw/$link"
    done
  else
    contents="$fw"
    mkdir -p "$contents/Headers" "$contents/Modules"
    cp "$library" "$contents/$module"
    framework_plist "${variant:-device}" >"$contents/Info.plist"
  fi
  cp "$generated/ContactSyncFFIC.h" "$generated/ContactSyncCoreFFIC.h" "$contents/Headers/"
  cp "$work/module.modulemap" "$contents/Modules/module.modulemap"
done

# --- The XCFramework -------------------------------------------------------------------------

xcframework="$out/$module.xcframework"
rm -rf "$xcframework"
if command -v xcodebuild >/dev/null 2>&1; then
  args=()
  for entry in "${slices[@]}"; do
    args+=(-framework "$frameworks/${entry%%|*}/$module.framework")
  done
  xcodebuild -create-xcframework "${args[@]}" -output "$xcframework" >/dev/null
else
  mkdir -p "$xcframework"
  {
    cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>AvailableLibraries</key>
	<array>
EOF
    for entry in "${slices[@]}"; do
      IFS='|' read -r id platform variant archs <<<"$entry"
      cp -R "$frameworks/$id" "$xcframework/$id"
      echo "		<dict>"
      echo "			<key>BinaryPath</key>"
      if [[ "$variant" == maccatalyst ]]; then
        echo "			<string>$module.framework/Versions/A/$module</string>"
      else
        echo "			<string>$module.framework/$module</string>"
      fi
      echo "			<key>LibraryIdentifier</key>"
      echo "			<string>$id</string>"
      echo "			<key>LibraryPath</key>"
      echo "			<string>$module.framework</string>"
      echo "			<key>SupportedArchitectures</key>"
      echo "			<array>"
      for arch in $archs; do echo "				<string>$arch</string>"; done
      echo "			</array>"
      echo "			<key>SupportedPlatform</key>"
      echo "			<string>$platform</string>"
      if [[ -n "$variant" ]]; then
        echo "			<key>SupportedPlatformVariant</key>"
        echo "			<string>$variant</string>"
      fi
      echo "		</dict>"
    done
    cat <<'EOF'
	</array>
	<key>CFBundlePackageType</key>
	<string>XFWK</string>
	<key>XCFrameworkFormatVersion</key>
	<string>1.0</string>
</dict>
</plist>
EOF
  } >"$xcframework/Info.plist"
fi
for entry in "${slices[@]}"; do
  id="${entry%%|*}"
  for file in "$module" Headers/ContactSyncFFIC.h Headers/ContactSyncCoreFFIC.h Modules/module.modulemap; do
    [[ -f "$xcframework/$id/$module.framework/$file" ]] || fail "the XCFramework lacks $id/$module.framework/$file"
  done
done

# --- Zip and checksum --------------------------------------------------------------------------
#
# The .xcframework directory at the root of the archive (where SwiftPM looks for it), symbolic
# links kept (the Mac Catalyst bundle's), every file stamped with one time and listed in one
# order, so the checksum depends only on the contents.
zip_name="$module.xcframework.zip"
zip_path="$out/$zip_name"
rm -f "$zip_path"
find "$xcframework" -exec touch -h -d "@$epoch" {} +
if command -v ditto >/dev/null 2>&1; then
  (cd "$out" && ditto -c -k --sequesterRsrc --keepParent "$module.xcframework" "$zip_name")
else
  (cd "$out" && find "$module.xcframework" | LC_ALL=C sort | zip -q -X --symlinks "$zip_name" -@)
fi
if command -v sha256sum >/dev/null 2>&1; then
  checksum="$(sha256sum "$zip_path" | cut -d' ' -f1)"
else
  checksum="$(shasum -a 256 "$zip_path" | cut -d' ' -f1)"
fi
[[ "$checksum" =~ ^[0-9a-f]{64}$ ]] || fail "could not compute the zip's SHA-256"
# `swift package compute-checksum` is the same SHA-256; where SwiftPM is at hand, it must agree.
if command -v swift >/dev/null 2>&1 && [[ "$(uname -s)" == Darwin ]]; then
  swiftpm="$(cd "$work" && swift package compute-checksum "$zip_path")"
  [[ "$swiftpm" == "$checksum" ]] || fail "swift package compute-checksum says $swiftpm, sha256 $checksum"
fi
echo "$checksum  $zip_name" >"$out/$zip_name.sha256"

# --- The release package -----------------------------------------------------------------------

release_package="$out/swift-package"
rm -rf "$release_package"
mkdir -p "$release_package/Sources/ContactSyncFFI"
cp -R "$package/Sources/ContactSync" "$release_package/Sources/ContactSync"
cp "$generated/ContactSyncFFI.swift" "$generated/ContactSyncCore.swift" "$release_package/Sources/ContactSyncFFI/"
cp "$workspace/LICENSE-APACHE" "$workspace/LICENSE-MIT" "$release_package/"
sed -e "s|@URL@|$url|g" -e "s|@CHECKSUM@|$checksum|g" -e "s|@VERSION@|$version|g" \
  "$package/release/Package.swift.in" >"$release_package/Package.swift"
if grep -n '@[A-Z_]*@' "$release_package/Package.swift" >&2; then
  fail "placeholders left unfilled in $release_package/Package.swift (above)"
fi
echo "$checksum"
