import ContactSync
import Foundation
import XCTest

/// Private discovery from Swift, against the real reference server in the private mode
/// (`contactsync serve --mode private`): the same ``ContactSync`` calls as the keyed-hash mode, the
/// mode chosen by the server. The device finds exactly its contacts who are users (by phone,
/// e-mail, linked account and handle), evaluates each identifier once, hears of a user who
/// registers later through the filter's changes, and withdrawing consent clears its matches.
final class PrivateDiscoveryTests: XCTestCase {
    func testADeviceDiscoversBlindThroughTheSameAPIAndFollowsAUserWhoJoins() async throws {
        let server = try ReferenceServer(["--mode", "private", "--private-filter-rebuild-s", "1"])
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        try server.putUser("u_clara", [("email", "clara@example.com")])
        try server.putUser("u_dario", [("account", "google:1078543")])
        try server.putUser("u_eva", [("handle", "eva_k")])

        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let transport = RecordingTransport(try server.transport(token: registration.token))
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        let before = try await sync.discovery()
        XCTAssertEqual(before, .hashed, "before the first sync")
        _ = try await sync.importSnapshot(Self.book)

        let first = try await sync.sync(transport: transport, options: quickSync)
        var found = try await matchesByName(sync)
        XCTAssertEqual(found, ["Ana u_ana", "Clara u_clara", "Dario u_dario", "Eva u_eva"])
        XCTAssertEqual(first.newMatches, 4, "\(first)")
        // 8 distinct identifiers (Bernd and Gül share a number; Hiro's is rejected), each
        // evaluated once.
        XCTAssertEqual(first.added, 8, "\(first)")
        let mode = try await sync.discovery()
        XCTAssertEqual(mode, .private, "the server chose the mode")
        let paths = Set(transport.requests.map(\.path))
        XCTAssert(paths.contains("/v1/private/evaluate"), "\(paths)")
        XCTAssertFalse(paths.contains("/v1/batches"), "no keyed hash is sent: \(paths)")

        // Frank registers after the first sync: the next sync finds him through the filter's
        // changes, without evaluating anything again.
        let version = try server.filterVersion()
        try server.putUser("u_frank", [("email", "frank@nowhere.test")])
        try server.awaitFilter(past: version)
        let sent = transport.requests.count
        let second = try await sync.sync(transport: transport, options: quickSync)
        XCTAssertEqual(second.newMatches, 1, "\(second)")
        XCTAssertEqual(second.added, 0, "\(second)")
        found = try await matchesByName(sync)
        XCTAssert(found.contains("Frank u_frank"), "\(found)")
        let later = transport.requests.dropFirst(sent).map(\.path)
        XCTAssertFalse(later.contains("/v1/private/evaluate"), "nothing is evaluated twice: \(later)")
        XCTAssert(later.contains { $0.hasPrefix("/v1/private/filter/changes") }, "\(later)")

        // Consent withdrawn: the server forgets the device, the local matches go.
        _ = try await sync.forget(transport: transport)
        let left = try await sync.matches()
        XCTAssertEqual(left.count, 0)
        let status = try await sync.status()
        XCTAssertEqual(status.contacts, 0, "\(status)")
    }

    /// Users by each kind of identifier, non-users, a shared number and a rejected value.
    private static let book = [
        person("1", "Ana", [(.phone, "0151 23456789"), (.email, "ana@example.org")]),
        person("2", "Bernd", [(.phone, "+49 30 1234567")]),
        person("3", "Clara", [(.email, "Clara@Example.COM")]),
        person("4", "Dario", [(.account, "google:1078543")]),
        person("5", "Eva", [(.handle, "@eva_k")]),
        person("6", "Frank", [(.phone, "0171 9876543"), (.email, "frank@nowhere.test")]),
        person("7", "Gül", [(.phone, "030 1234567")]),
        person("8", "Hiro", [(.phone, "not a number")]),
    ]
}
