#!/usr/bin/env bash
# Tests the XCFramework's assembly (assemble-xcframework.sh) where no Apple toolchain runs: the
# framework bundles, their module maps and Info.plists, the XCFramework's Info.plist, the zip and
# its checksum, and the release Package.swift — everything build-xcframework.sh does after the
# Apple build.
#
#   bindings/swift/scripts/test-assembly.sh [LIBRARY]
#
#   LIBRARY  the FFI library the bindings are generated from (default: the debug build for this
#            machine, target/debug/libcontactsync_ffi.so; built if missing). The generated headers
#            and module maps are the same for every target: they come from the library's metadata.
#
# STAND-INS: the slices' libraries here are not Apple binaries. Each is a small `ar` archive
# holding a text file that says so, made by this script, because no iOS or Mac Catalyst library
# can be built on Linux (no Apple SDK, no linker). So this proves the layout, the metadata, the
# module maps, the zip and the checksum; not that the libraries link, that clang finds the module
# in Xcode 26.4+, or that xcodebuild accepts the bundles: build-xcframework.sh's --verify step does
# that on a Mac.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"
cd "$workspace"

fail() {
  echo "test-assembly.sh: FAILED: $*" >&2
  exit 1
}

library="${1:-}"
if [[ -z "$library" ]]; then
  library="$(bindings/scripts/build-host.sh debug)"
fi
[[ -f "$library" ]] || fail "no library at $library"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo uniffi-bindgen generate --library "$library" --language swift --no-format --out-dir "$work/generated" >/dev/null
grep -q '_Builtin_stdbool' "$work/generated/ContactSyncFFIC.modulemap" \
  || echo "test-assembly.sh: note: UniFFI's module map no longer uses _Builtin_stdbool (uniffi-rs#2917 fixed?)" >&2

for slice in ios-arm64 ios-arm64_x86_64-simulator ios-arm64_x86_64-maccatalyst; do
  mkdir -p "$work/libraries/$slice" "$work/member"
  echo "STAND-IN for the $slice library: not an Apple binary (bindings/swift/scripts/test-assembly.sh)" \
    >"$work/member/STAND-IN.txt"
  (cd "$work/member" && ar rc "$work/libraries/$slice/libcontactsync_ffi.a" STAND-IN.txt)
done

url="https://example.org/releases/download/v9.8.7/ContactSyncFFIC.xcframework.zip"
run() { # out-dir
  bindings/swift/scripts/assemble-xcframework.sh --libraries "$work/libraries" \
    --generated "$work/generated" --version 9.8.7 --url "$url" --out "$1" --epoch 1700000000
}
checksum="$(run "$work/out" | tail -n 1)"
again="$(run "$work/again" | tail -n 1)"
[[ "$checksum" == "$again" ]] || fail "the same inputs gave two checksums: $checksum, $again"

python3 - "$work/out" "$checksum" "$url" <<'PY' || fail "see above"
import hashlib, os, plistlib, re, sys, zipfile

out, checksum, url = sys.argv[1:4]
module = "ContactSyncFFIC"
xcf = os.path.join(out, module + ".xcframework")
errors = []
def check(ok, what):
    if not ok:
        errors.append(what)

info = plistlib.load(open(os.path.join(xcf, "Info.plist"), "rb"))
check(info["CFBundlePackageType"] == "XFWK", "XCFramework package type")
check(info["XCFrameworkFormatVersion"] == "1.0", "format version")
libs = {lib["LibraryIdentifier"]: lib for lib in info["AvailableLibraries"]}
expected = {
    "ios-arm64": (None, ["arm64"]),
    "ios-arm64_x86_64-simulator": ("simulator", ["arm64", "x86_64"]),
    "ios-arm64_x86_64-maccatalyst": ("maccatalyst", ["arm64", "x86_64"]),
}
check(set(libs) == set(expected), f"slices {sorted(libs)}")
for ident, (variant, archs) in expected.items():
    lib = libs.get(ident, {})
    check(lib.get("SupportedPlatform") == "ios", f"{ident}: platform")
    check(lib.get("SupportedPlatformVariant") == variant, f"{ident}: variant")
    check(lib.get("SupportedArchitectures") == archs, f"{ident}: architectures")
    check(lib.get("LibraryPath") == module + ".framework", f"{ident}: library path")
    fw = os.path.join(xcf, ident, module + ".framework")
    binary = os.path.join(xcf, ident, lib.get("BinaryPath", ""))
    check(os.path.isfile(binary), f"{ident}: binary {lib.get('BinaryPath')}")
    check(open(binary, "rb").read(8) == b"!<arch>\n", f"{ident}: the binary is a static archive")
    # Where clang looks for a framework's module: Modules/module.modulemap, headers in Headers/.
    modmap = open(os.path.join(fw, "Modules", "module.modulemap")).read()
    check(modmap.startswith(f"framework module {module} {{"), f"{ident}: framework module")
    check("_Builtin_" not in modmap, f"{ident}: _Builtin_ use left in the module map")
    check("link " not in modmap, f"{ident}: no link line (SwiftPM links a binary target)")
    for header in re.findall(r'header "([^"]+)"', modmap):
        check(os.path.isfile(os.path.join(fw, "Headers", header)), f"{ident}: Headers/{header}")
    check(sorted(re.findall(r'header "([^"]+)"', modmap)) == ["ContactSyncCoreFFIC.h", "ContactSyncFFIC.h"], f"{ident}: headers")
    plist_path = os.path.join(fw, "Resources", "Info.plist") if variant == "maccatalyst" else os.path.join(fw, "Info.plist")
    fw_info = plistlib.load(open(plist_path, "rb"))
    check(fw_info["CFBundleExecutable"] == module, f"{ident}: executable")
    check(fw_info["CFBundlePackageType"] == "FMWK", f"{ident}: package type")
    check(re.fullmatch(r"[A-Za-z0-9.-]+", fw_info["CFBundleIdentifier"]) is not None, f"{ident}: bundle identifier")
    check(fw_info["CFBundleShortVersionString"] == "9.8.7", f"{ident}: version")
    if variant == "maccatalyst":
        # A macOS bundle: Versions/A, Versions/Current -> A, the top level links into it.
        check(os.readlink(os.path.join(fw, "Versions", "Current")) == "A", "catalyst: Versions/Current")
        for name in [module, "Headers", "Modules", "Resources"]:
            check(os.readlink(os.path.join(fw, name)) == "Versions/Current/" + name, f"catalyst: {name} link")

zip_path = os.path.join(out, module + ".xcframework.zip")
check(hashlib.sha256(open(zip_path, "rb").read()).hexdigest() == checksum, "the checksum is the zip's SHA-256")
with zipfile.ZipFile(zip_path) as z:
    names = z.namelist()
    check(all(n.startswith(module + ".xcframework/") for n in names), "the .xcframework at the zip's root")
    check(module + ".xcframework/Info.plist" in names, "Info.plist in the zip")
    links = [i for i in z.infolist() if (i.external_attr >> 16) & 0o170000 == 0o120000]
    check(len(links) == 5, f"the Mac Catalyst bundle's 5 symbolic links kept, found {len(links)}")

manifest = open(os.path.join(out, "swift-package", "Package.swift")).read()
check(f'url: "{url}"' in manifest, "the URL in Package.swift")
check(f'checksum: "{checksum}"' in manifest, "the checksum in Package.swift")
check(".macCatalyst(.v15)" in manifest, "Mac Catalyst in the platforms")
check(re.search(r"@[A-Z_]+@", manifest) is None, "placeholders left")
for f in ["Sources/ContactSyncFFI/ContactSyncFFI.swift", "Sources/ContactSyncFFI/ContactSyncCore.swift",
          "Sources/ContactSync/ContactSync.swift", "LICENSE-APACHE", "LICENSE-MIT"]:
    check(os.path.isfile(os.path.join(out, "swift-package", f)), f"swift-package/{f}")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY
echo "test-assembly.sh: the XCFramework's assembly is as expected (stand-in libraries; checksum $checksum)"
