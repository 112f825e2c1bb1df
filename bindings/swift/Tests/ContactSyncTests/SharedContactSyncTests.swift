import ContactSync
import Foundation
import XCTest

/// ``SharedContactSync``: concurrent first uses open the real engine once; a failed opening is
/// tried again by the next use.
final class SharedContactSyncTests: XCTestCase {
    private final class Counter: @unchecked Sendable {
        // All access holds the lock.
        private let lock = NSLock()
        private var count = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; count += 1; return count }
        var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    }

    private struct DiskBusy: Error {}

    func testConcurrentFirstUsesOpenOneEngineAndAFailedOpeningIsTriedAgain() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("device.db").path
        let opens = Counter()
        let shared = SharedContactSync {
            if opens.next() == 1 { throw DiskBusy() }
            try await Task.sleep(nanoseconds: 50_000_000)  // the other callers arrive while it opens
            return try await ContactSync.open(path: path, config: Config(region: "DE"))
        }
        do {
            _ = try await shared.get()
            XCTFail("the first opening fails")
        } catch is DiskBusy {}
        let engines = try await withThrowingTaskGroup(of: ContactSync.self) { group in
            for _ in 0..<8 { group.addTask { try await shared.get() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(opens.value, 2, "one failed opening, then one for all eight callers")
        XCTAssertEqual(engines.count, 8)
        XCTAssert(engines.allSatisfy { $0 === engines[0] })
        let status = try await engines[0].status()
        XCTAssertEqual(status.contacts, 0)
    }
}
