@testable import ContactSync
import Foundation
import XCTest

/// `onUnauthorized` against the real reference server: the app's backend revokes the device, the
/// next sync calls the hook once (it registers anew and stores the token the transport reads) and
/// sends everything again; a hook that throws fails the call with its own error. The same for
/// every other call that sends the token: invites and `forget`.
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

    /// The app's own error, with what an app would want back from it.
    private struct BackendDown: Error, Equatable {
        let status: Int
    }

    func testARevokedDeviceRegistersAgainOnceAndAFailingHookThrowsItsOwnError() async throws {
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
                throw BackendDown(status: 503)
            }
            XCTFail("a failing hook's error is thrown")
        } catch let error as BackendDown {
            XCTAssertEqual(error, BackendDown(status: 503))
        }
        XCTAssertEqual(failing.calls, 1)
        // The raw engine (no wrapper) keeps the 401, the hook's error described in its message.
        do {
            _ = try sync.engine.sync(
                transport: transport, options: quickSync, reregister: Reregistering { throw BackendDown(status: 502) })
            XCTFail("a failing hook is the 401")
        } catch ContactsyncError.Server(let status, let code, let message) {
            XCTAssertEqual(status, 401)
            XCTAssertEqual(code, "unauthorized")
            XCTAssertTrue(message.contains("BackendDown(status: 502)"), message)
        }

        let fresh = try server.transport()
        let report = try await sync.sync(transport: transport, options: quickSync) {
            stored.called(replacingTokenWith: try await ContactSync.registerDevice(transport: fresh).token)
        }
        XCTAssertEqual(stored.calls, 1)
        XCTAssertEqual(report.added, 2, "everything again, under the new registration: \(report)")
        let names = try await sync.matches().map(\.displayName)
        XCTAssertEqual(names, ["Ana"])
    }

    /// Invites and `forget` with a token the server does not know: the hook runs once and the call
    /// succeeds; a failing hook's own error is thrown, and `forget` wipes nothing without a receipt.
    func testInvitesAndForgetRegisterAgainOnceAndAFailingHookThrowsItsOwnError() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let ana = Stored("t_unknown_to_the_server")
        let bo = Stored("t_unknown_to_the_server")
        let anaWire = try URLSessionTransport(baseURL: server.baseURL, session: server.session, token: { ana.token })
        let boWire = try URLSessionTransport(baseURL: server.baseURL, session: server.session, token: { bo.token })
        let dir = try temporaryDirectory(self)
        let inviter = try await ContactSync.open(path: dir.appendingPathComponent("ana.db").path, config: Config(region: "DE"))
        let invited = try await ContactSync.open(path: dir.appendingPathComponent("bo.db").path, config: Config(region: "DE"))
        let failing = Stored("")
        let backendDown: @Sendable () async throws -> Void = {
            failing.called()
            throw BackendDown(status: 503)
        }

        await assertThrowsBackendDown { _ = try await inviter.createInvite(transport: anaWire, onUnauthorized: backendDown) }
        let invite = try await inviter.createInvite(transport: anaWire) {
            ana.called(replacingTokenWith: try server.vouchDevice("u_ana"))
        }
        await assertThrowsBackendDown { _ = try await invited.redeemInvite(transport: boWire, code: invite.code, onUnauthorized: backendDown) }
        let opened = try XCTUnwrap(URL(string: invite.link))
        let inviterRef = try await invited.redeemInvite(transport: boWire, url: opened) {
            bo.called(replacingTokenWith: try server.vouchDevice("u_bo"))
        }
        XCTAssertEqual(inviterRef, "u_ana")
        XCTAssertEqual([ana.calls, bo.calls], [1, 1])

        // Bo withdraws consent after his token was lost.
        bo.called(replacingTokenWith: "t_unknown_to_the_server")
        await assertThrowsBackendDown { _ = try await invited.forget(transport: boWire, onUnauthorized: backendDown) }
        let kept = try await invited.status().matches
        XCTAssertEqual(kept, 1, "nothing wiped without a receipt")
        let receipt = try await invited.forget(transport: boWire) {
            bo.called(replacingTokenWith: try server.vouchDevice("u_bo"))
        }
        XCTAssertEqual(receipt.hashes, 0)
        let left = try await invited.status().matches
        XCTAssertEqual(left, 0)
        XCTAssertEqual([failing.calls, bo.calls], [3, 3])
    }

    private func assertThrowsBackendDown(_ call: () async throws -> Void, line: UInt = #line) async {
        do {
            try await call()
            XCTFail("a failing hook's error is thrown", line: line)
        } catch let error as BackendDown {
            XCTAssertEqual(error, BackendDown(status: 503), line: line)
        } catch {
            XCTFail("not the hook's error: \(error)", line: line)
        }
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
