import ContactSync
import Foundation
import XCTest

/// `sync(onUnauthorized:)` against the real reference server: the app's backend revokes the device,
/// the next sync calls the hook once (it registers anew and stores the token the transport reads)
/// and sends everything again; a hook that throws leaves the 401.
final class ReregisterTests: XCTestCase {
    /// The app's secure storage, read by the transport on every request; and the hook's calls.
    private final class Stored: @unchecked Sendable {
        // All access holds the lock.
        private let lock = NSLock()
        private var value: String
        private var count = 0

        init(_ value: String) { self.value = value }

        var token: String { lock.lock(); defer { lock.unlock() }; return value }
        var calls: Int { lock.lock(); defer { lock.unlock() }; return count }

        func called(replacingTokenWith token: String? = nil) {
            lock.lock()
            defer { lock.unlock() }
            count += 1
            if let token { value = token }
        }
    }

    private struct BackendDown: Error {}

    func testARevokedDeviceRegistersAgainOnceAndAFailingHookIsThe401() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        let first = try await ContactSync.registerDevice(transport: try server.transport())
        let stored = Stored(first.token)
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: server.session, token: { stored.token })
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        let book = [
            RawContact(sourceId: "1", displayName: "Ana", values: [Labelled(kind: .phone, label: nil, value: "0151 23456789")], version: nil),
            RawContact(sourceId: "2", displayName: "Bernd", values: [Labelled(kind: .phone, label: nil, value: "030 1234567")], version: nil),
        ]
        _ = try await sync.importSnapshot(book)
        _ = try await sync.sync(transport: transport, options: quickSync)
        try server.revokeClient(first.clientId)

        let failing = Stored("")
        do {
            _ = try await sync.sync(transport: transport, options: quickSync) {
                failing.called()
                throw BackendDown()
            }
            XCTFail("a failing hook leaves the 401")
        } catch ContactsyncError.Server(let status, let code, _) {
            XCTAssertEqual(status, 401)
            XCTAssertEqual(code, "unauthorized")
        }
        XCTAssertEqual(failing.calls, 1)

        let fresh = try server.transport()
        let report = try await sync.sync(transport: transport, options: quickSync) {
            stored.called(replacingTokenWith: try await ContactSync.registerDevice(transport: fresh).token)
        }
        XCTAssertEqual(stored.calls, 1)
        XCTAssertEqual(report.added, 2, "everything again, under the new registration: \(report)")
        let names = try await sync.matches().map(\.displayName)
        XCTAssertEqual(names, ["Ana"])
    }

    /// A background run (``BackgroundSync``) with the app's re-registration succeeds where it
    /// would otherwise fail until the app is next opened.
    func testABackgroundRunWithTheHookRegistersAgainAndSucceeds() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        let stored = Stored("revoked-token")
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: server.session, token: { stored.token })
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot([
            RawContact(sourceId: "1", displayName: "Ana", values: [Labelled(kind: .phone, label: nil, value: "0151 23456789")], version: nil)
        ])
        let fresh = try server.transport()
        let outcome = await BackgroundSync(
            contactSync: sync, importContacts: nil, transport: transport, options: quickSync,
            onUnauthorized: { stored.called(replacingTokenWith: try await ContactSync.registerDevice(transport: fresh).token) }
        ).run()
        XCTAssert(outcome.succeeded, "\(outcome)")
        XCTAssertEqual(stored.calls, 1)
        let names = try await sync.matches().map(\.displayName)
        XCTAssertEqual(names, ["Ana"])
    }
}
