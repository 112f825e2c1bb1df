import ContactSync
import Foundation
import XCTest

/// The engine's log lines through ``TextLogSink``, at the level installed. The logger is
/// process-wide: the test silences it again when done.
final class LoggingTests: XCTestCase {
    func testLinesReachTheSinkAtTheInstalledLevelAndAbove() async throws {
        let dir = try temporaryDirectory(self)
        let file = dir.appendingPathComponent("engine.log")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        defer {
            ContactSyncLogging.install(TextLogSink(handle), level: .off)
            try? handle.close()
        }
        let lines = { String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self).split(separator: "\n") }
        let sync = try await ContactSync.open(path: dir.appendingPathComponent("log.db").path, config: Config(region: "DE"))
        let contact = { (id: String) in
            RawContact(
                sourceId: id, displayName: "Contact \(id)",
                values: [Labelled(kind: .phone, label: nil, value: "0151 2345678\(id)")], version: nil)
        }

        ContactSyncLogging.install(TextLogSink(handle), level: .info)
        _ = try await sync.importSnapshot([contact("1"), contact("2")])
        let info = lines()
        XCTAssertTrue(
            info.contains { $0.hasPrefix("INFO contactsync_core::engine::import: import: full snapshot done") },
            info.joined(separator: "\n"))
        XCTAssertFalse(info.contains { $0.hasPrefix("DEBUG") }, "nothing below INFO")

        ContactSyncLogging.install(TextLogSink(handle), level: .debug)
        _ = try await sync.importSnapshot([contact("3")])
        XCTAssertTrue(lines().contains { $0.hasPrefix("DEBUG") }, "DEBUG lines once asked for")

        ContactSyncLogging.install(TextLogSink(handle), level: .off)
        let before = lines().count
        try await sync.wipe()
        XCTAssertEqual(lines().count, before, "silenced")
    }
}
