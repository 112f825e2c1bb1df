@testable import ContactSync
import Foundation
import XCTest

/// What ``ContactSync`` does with the errors of the calls it runs: the engine's own as they are,
/// anything else UniFFI throws (a Rust panic) as ``ContactSyncInternalError``.
final class RunningTests: XCTestCase {
    func testAPanicThroughTheLayerArrivesAsContactSyncInternalError() async throws {
        for _ in 0..<2 {
            do {
                try await Blocking.run { try debugPanicForTests(message: "boom") }
                XCTFail("the panic did not arrive")
            } catch let error as ContactSyncInternalError {
                XCTAssert(error.message.contains("boom"), "the panic's message is kept: \(error)")
            }
        }
        // The library stays usable.
        XCTAssertEqual(try Normalizer(region: "DE").normalize(kind: .phone, raw: "0151 23456789").canonical, "+4915123456789")
    }

    func testTheEnginesErrorsPassUnchanged() async throws {
        do {
            _ = try await Blocking.run { try Normalizer(region: "XX") }
            XCTFail("region XX was accepted")
        } catch ContactsyncError.InvalidArgument {
        }
    }

    func testANonFileURLIsAnInvalidArgument() async throws {
        do {
            _ = try await ContactSync.open(url: URL(string: "https://example.org/db")!, config: Config(region: "DE"))
            XCTFail("a remote URL was opened")
        } catch ContactsyncError.InvalidArgument {
        }
    }
}
