// swift-tools-version:5.9
//
// The contactsync Swift package, as built from this repository: it links the Rust library built by
// cargo on this machine (`scripts/generate-bindings.sh` builds it and generates the bindings). Apps
// take the release variant instead — the same sources over a prebuilt XCFramework
// (`release/Package.swift`, filled in by `scripts/build-xcframework.sh`).
//
// Three targets, from the bottom up:
// - `ContactSyncFFIC`: the C declarations of the Rust library's exported functions (a header
//   UniFFI generates from the library) and the library to link.
// - `ContactSyncFFI`: the Swift bindings UniFFI generates (`Engine`, the records, the errors).
//   Generated, never edited; compiled in Swift 5 mode as UniFFI 0.32 requires.
// - `ContactSync`: what apps import — the async layer (`ContactSync`), the `URLSession`
//   transport and the contacts adapter. It re-exports `ContactSyncFFI`.
import PackageDescription

let strictConcurrency: [SwiftSetting] = [.enableExperimentalFeature("StrictConcurrency")]

let package = Package(
    name: "ContactSync",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "ContactSync", targets: ["ContactSync"]),
    ],
    targets: [
        .systemLibrary(name: "ContactSyncFFIC", path: "Sources/ContactSyncFFIC"),
        .target(
            name: "ContactSyncFFI",
            dependencies: ["ContactSyncFFIC"],
            path: "Sources/ContactSyncFFI",
            // UniFFI 0.32's Swift compiles without a single strict-concurrency diagnostic; keep
            // it checked so a regression in a UniFFI update shows.
            swiftSettings: strictConcurrency
        ),
        .target(
            name: "ContactSync",
            dependencies: ["ContactSyncFFI"],
            path: "Sources/ContactSync",
            // The privacy manifest Xcode merges into the app's privacy report.
            resources: [.copy("PrivacyInfo.xcprivacy")],
            swiftSettings: strictConcurrency
        ),
        // scripts/bench.sh: what a call through the bindings costs (docs/performance.md).
        .executableTarget(
            name: "ContactSyncBench",
            dependencies: ["ContactSync"],
            path: "Benchmarks/ContactSyncBench"
        ),
        .testTarget(
            name: "ContactSyncTests",
            dependencies: ["ContactSync"],
            path: "Tests/ContactSyncTests",
            swiftSettings: strictConcurrency
        ),
    ],
    swiftLanguageVersions: [.v5]
)
