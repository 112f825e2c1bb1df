import ContactSync
import Foundation
import XCTest

/// The Matrix identity-service mode from Swift, against a real Sydent (``SydentFixture``): the same
/// ``ContactSync`` calls, the mode chosen with `SyncOptions(matrix: MatrixOptions(accessToken:))` and
/// the transport pointed at the identity server. The device finds exactly the contacts bound to a
/// Matrix account, under their Matrix ids, sends nothing but the protocol's hashes, counts the
/// identifiers an identity server has no medium for, survives a new pepper, loses a user who
/// unbinds, and a wrong token is the typed refusal.
final class MatrixDiscoveryTests: XCTestCase {
    private static let hashDetails = "/_matrix/identity/v2/hash_details"
    private static let lookup = "/_matrix/identity/v2/lookup"

    private static let users: Set<String> = ["Ana @ana:sydent.test", "Bernd @bernd:sydent.test", "Clara @clara:sydent.test"]

    private func options(_ token: String, force: Bool = false) -> SyncOptions {
        SyncOptions(maxAttempts: 1, maxWaitMs: 0, force: force, matrix: MatrixOptions(accessToken: token))
    }

    func testADeviceFindsItsContactsMatrixIdsThroughTheIdentityServerAcrossANewPepper() async throws {
        let sydent = try SydentFixture.fromEnvironment()
        let sydentURL = try sydent.reset()
        let token = try sydent.createToken("@app:sydent.test")
        try sydent.bind([
            ("msisdn", "4915123456789", "@ana:sydent.test"),
            ("msisdn", "49301234567", "@bernd:sydent.test"),
            ("email", "clara@example.com", "@clara:sydent.test"),
        ])
        // No token of the transport's own: the engine sends the identity server's.
        let transport = RecordingTransport(try URLSessionTransport(baseURL: sydentURL, token: nil))
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot(Self.book)

        let first = try await sync.sync(transport: transport, options: options(token))
        var found = try await matchesByName(sync)
        XCTAssertEqual(found, Self.users)
        let mode = try await sync.discovery()
        XCTAssertEqual(mode, .matrix)
        XCTAssertEqual(first.newMatches, 3, "\(first)")
        // Ana's phone and e-mail, Bernd's phone, Clara's and Frank's e-mail, in one lookup.
        XCTAssertEqual(first.added, 5, "\(first)")
        XCTAssertEqual(first.batchesSent, 1, "\(first)")
        XCTAssertEqual(first.unsupported, 2, "Dario's account and handle are left out: \(first)")
        XCTAssertEqual(transport.requests.map(\.path), [Self.hashDetails, Self.lookup])
        try Self.assertOnlyHashes(transport.requests)

        // Within the re-lookup interval and nothing new: no request at all.
        let idle = try await sync.sync(transport: transport, options: options(token))
        XCTAssert(idle.skipped, "\(idle)")
        XCTAssertEqual(transport.requests.count, 2)

        // A new pepper while the device was idle: the user's "sync now" reads it in hash_details
        // and looks the whole book up under it, with the same matches.
        try sydent.changePepper("a-new-pepper")
        let before = transport.requests.count
        let second = try await sync.sync(transport: transport, options: options(token, force: true))
        found = try await matchesByName(sync)
        XCTAssertEqual(found, Self.users)
        XCTAssertEqual(second.added, 5, "\(second)")
        XCTAssertEqual(second.newMatches, 0, "\(second)")
        XCTAssertEqual(second.lostMatches, 0, "\(second)")
        let lookups = transport.requests.dropFirst(before).filter { $0.path == Self.lookup }
        XCTAssertEqual(lookups.count, 1)
        let body = try JSONSerialization.jsonObject(with: lookups.first?.body ?? Data()) as? [String: Any]
        XCTAssertEqual(body?["pepper"] as? String, "a-new-pepper")
        try Self.assertOnlyHashes(transport.requests)

        // Bernd unbinds his number: the next full lookup drops him.
        try sydent.unbind(medium: "msisdn", address: "49301234567", mxid: "@bernd:sydent.test")
        let third = try await sync.sync(transport: transport, options: options(token, force: true))
        XCTAssertEqual(third.lostMatches, 1, "\(third)")
        found = try await matchesByName(sync)
        XCTAssertEqual(found, Self.users.subtracting(["Bernd @bernd:sydent.test"]))
    }

    func testAWrongTokenIsTheIdentityServersTypedRefusalAndNothingIsStored() async throws {
        let sydent = try SydentFixture.fromEnvironment()
        let sydentURL = try sydent.reset()
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot(Self.book)
        do {
            _ = try await sync.sync(
                transport: try URLSessionTransport(baseURL: sydentURL, token: nil), options: options("not-a-token"))
            XCTFail("a wrong token synced")
        } catch ContactsyncError.Server(let status, let code, _) {
            XCTAssertEqual(status, 401)
            XCTAssertEqual(code, "M_UNAUTHORIZED")
        }
        let matches = try await sync.matches()
        XCTAssertEqual(matches.count, 0)
    }

    /// Every request is one of the protocol's two paths, and no lookup carries an identifier in
    /// any form but a SHA-256 (43 characters of unpadded base64url).
    private static func assertOnlyHashes(_ requests: [HttpRequest]) throws {
        let raw = ["4915123456789", "49301234567", "ana@example.org", "clara@example.com", "frank@", "1078543", "dario"]
        for request in requests {
            XCTAssert([hashDetails, lookup].contains(request.path), request.path)
            let body = String(decoding: request.body, as: UTF8.self)
            for value in raw {
                XCTAssertFalse(body.contains(value), "\(value) in \(body)")
            }
            guard request.path == lookup else { continue }
            let object = try JSONSerialization.jsonObject(with: request.body) as? [String: Any]
            XCTAssertEqual(object?["algorithm"] as? String, "sha256")
            let addresses = object?["addresses"] as? [String] ?? []
            XCTAssertFalse(addresses.isEmpty)
            for address in addresses {
                XCTAssertEqual(address.count, 43, address)
            }
        }
    }

    /// Users bound by phone (Ana, Bernd) and by e-mail in another case than bound (Clara), an
    /// unbound e-mail (Frank), a contact with only a linked account and a handle (no medium at an
    /// identity server) and a rejected value.
    private static let book = [
        person("1", "Ana", [(.phone, "0151 23456789"), (.email, "ana@example.org")]),
        person("2", "Bernd", [(.phone, "+49 30 1234567")]),
        person("3", "Clara", [(.email, "Clara@Example.COM")]),
        person("4", "Dario", [(.account, "google:1078543"), (.handle, "@dario")]),
        person("5", "Frank", [(.email, "frank@nowhere.test")]),
        person("6", "Hiro", [(.phone, "not a number")]),
    ]
}
