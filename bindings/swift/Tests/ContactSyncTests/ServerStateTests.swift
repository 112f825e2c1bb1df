import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the device keeps of its server, against the real reference server:
/// ``ContactSync/syncSchedule()`` after a completed sync (the server's check interval, which skips
/// the next unforced sync) and after a failed one (the backoff a later sync honours), and
/// ``ContactSync/leaveServer()`` for a device whose server moved: nothing of the old server is left,
/// the contacts stay, and the first sync with the new one sends everything.
final class ServerStateTests: XCTestCase {
    private let ana = person("1", "Ana", [(.phone, "0151 23456789")])
    private let unforced = SyncOptions(maxAttempts: 1, maxWaitMs: 0)
    private let nothingYet = SyncSchedule(nextCheckAt: nil, backoffUntil: nil, backoffAttempts: 0, deferredUntil: nil)

    private func openEngine() async throws -> ContactSync {
        try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
    }

    func testTheScheduleShowsTheNextCheckAfterASyncAndTheBackoffAfterAFailure() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let token = try await ContactSync.registerDevice(transport: try server.transport()).token
        let transport = try server.transport(token: token)
        let sync = try await openEngine()
        let fresh = try await sync.syncSchedule()
        XCTAssertEqual(fresh, nothingYet, "nothing before the first sync")
        _ = try await sync.importSnapshot([ana])
        let before = Int64(Date().timeIntervalSince1970)
        _ = try await sync.sync(transport: transport, options: quickSync)
        let checked = try await sync.syncSchedule()
        let nextCheck = try XCTUnwrap(checked.nextCheckAt, "\(checked)")
        XCTAssertGreaterThan(nextCheck, before, "the next check is to come")
        XCTAssertNil(checked.backoffUntil)
        XCTAssertEqual(checked.backoffAttempts, 0)
        // What the next check means: nothing new to send before it, an unforced sync is skipped.
        let skipped = try await sync.sync(transport: transport, options: unforced)
        XCTAssertTrue(skipped.skipped, "\(skipped)")

        let closed = try RefusingPort()
        let offline = try URLSessionTransport(
            baseURL: URL(string: "http://127.0.0.1:\(closed.port)/")!, session: URLSession(configuration: .ephemeral),
            token: token)
        do {
            _ = try await sync.sync(transport: offline, options: quickSync)
            XCTFail("synced through a closed port")
        } catch ContactsyncError.Network {}
        let failed = try await sync.syncSchedule()
        let backoff = try XCTUnwrap(failed.backoffUntil, "\(failed)")
        XCTAssertGreaterThanOrEqual(backoff, before)
        XCTAssertEqual(failed.backoffAttempts, 1)
        XCTAssertEqual(failed.nextCheckAt, nextCheck, "a failure leaves the check interval")
        // The backoff is what an unforced sync honours, without a request.
        do {
            _ = try await sync.sync(transport: transport, options: unforced)
            XCTFail("the backoff was not honoured")
        } catch ContactsyncError.RetryLater(let until) {
            XCTAssertEqual(until, backoff)
        }
    }

    func testADeviceThatLeavesItsServerKeepsItsContactsAndSendsEverythingToTheNext() async throws {
        let sync = try await openEngine()
        _ = try await sync.importSnapshot([ana, person("2", "Bo", [(.email, "bo@example.org")])])
        let old = try ReferenceServer()
        defer { old.stop() }
        try old.putUser("u_ana", [("phone", "+4915123456789")])
        let oldToken = try await ContactSync.registerDevice(transport: try old.transport()).token
        _ = try await sync.sync(transport: try old.transport(token: oldToken), options: quickSync)
        var matched = try await sync.matches().map(\.userRef)
        XCTAssertEqual(matched, ["u_ana"])
        let oldKey = try await sync.status().keyId
        XCTAssertNotNil(oldKey)

        try await sync.leaveServer()
        let left = try await sync.status()
        XCTAssertNil(left.keyId, "no server's key: \(left)")
        XCTAssertEqual(left.matches, 0)
        XCTAssertTrue(left.fullResync)
        XCTAssertEqual(left.contacts, 2, "the contacts stay")
        XCTAssertEqual(left.pendingAdd, 2, "every identifier to send")
        let schedule = try await sync.syncSchedule()
        XCTAssertEqual(schedule, nothingYet)
        let invites = try await sync.invites()
        XCTAssertEqual(invites, [])

        let moved = try ReferenceServer()
        defer { moved.stop() }
        try moved.putUser("u_ana", [("phone", "+4915123456789")])
        let token = try await ContactSync.registerDevice(transport: try moved.transport()).token
        let report = try await sync.sync(transport: try moved.transport(token: token), options: quickSync)
        XCTAssertEqual(report.added, 2, "\(report)")
        XCTAssertEqual(report.newMatches, 1, "\(report)")
        matched = try await sync.matches().map(\.userRef)
        XCTAssertEqual(matched, ["u_ana"])
        let newKey = try await sync.status().keyId
        XCTAssertNotEqual(newKey, oldKey, "the new server's key")
    }
}
