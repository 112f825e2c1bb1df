import ContactSync
import Foundation
import XCTest

/// The whole path an iOS app takes, against the real reference server on loopback: contacts shaped
/// like `CNContact`s (Apple's label constants, an IM address, social profiles), mapped by
/// ``ContactMapper``, imported through ``ContactSync``, synced through ``URLSessionTransport`` over
/// real HTTP (FoundationNetworking on Linux); then an edited address book synced as a delta. Also
/// checks what leaves the device: no raw value, canonical form or name in any request body, and hash
/// lists holding nothing but 16-byte digests.
final class EndToEndTests: XCTestCase {
    /// JSON bodies: this test reads them as text.
    private let jsonSync = SyncOptions(maxAttempts: 1, maxWaitMs: 0, force: true, cbor: false)

    func testADeviceFindsItsContactsThenSyncsOnlyTheEdits() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        // The app's backend registers its users with canonical identifiers.
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        try server.putUser("u_clara", [("email", "clara@example.com")])
        try server.putUser("u_dario", [("account", "facebook:1078543")])
        try server.putUser("u_eva", [("handle", "eva_k")])

        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let transport = RecordingTransport(try server.transport(token: registration.token))
        let normalizer = try Normalizer(region: "DE")
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))

        // 1. The first import and sync.
        let book = addressBook(edited: false)
        let imported = try await sync.importSnapshot(book)
        XCTAssertEqual(imported.added, UInt64(book.count), "\(imported)")
        XCTAssertEqual(imported.rejected, 1, "Hiro's 'not a number': \(imported)")

        let first = try await sync.sync(transport: transport, options: jsonSync)
        XCTAssertGreaterThanOrEqual(first.batchesSent, 1, "\(first)")
        XCTAssertEqual(first.newMatches, 4, "\(first)")
        let firstMatches = try await matchTriples(sync)
        XCTAssertEqual(firstMatches, [
            "1 +4915123456789 u_ana", "3 clara@example.com u_clara", "4 facebook:1078543 u_dario", "5 eva_k u_eva",
        ])
        let names = Dictionary(uniqueKeysWithValues: book.map { ($0.sourceId, $0.displayName) })
        for match in try await sync.matches() {
            XCTAssertEqual(match.displayName, names[match.sourceId ?? ""], "\(match)")
        }
        let afterFirst = try await sync.status()
        XCTAssertEqual(afterFirst.acknowledged, UInt64(identifiers(book, normalizer).count), "\(afterFirst)")
        XCTAssertEqual([afterFirst.pendingAdd, afterFirst.pendingRemove, afterFirst.inFlight], [0, 0, 0], "\(afterFirst)")

        // 2. Ana's number changed, Frank was deleted, Ines was added; Ines uses the app. The edited
        //    book arrives streamed, two contacts per chunk, as ContactsImporter streams a store.
        try server.putUser("u_ines", [("phone", "+4917612345678")])
        let edited = addressBook(edited: true)
        let before = Dictionary(uniqueKeysWithValues: book.map { ($0.sourceId, $0) })
        let after = Dictionary(uniqueKeysWithValues: edited.map { ($0.sourceId, $0) })
        let chunks = stride(from: 0, to: edited.count, by: 2).map { Array(edited[$0..<min($0 + 2, edited.count)]) }
        let reimported = try await sync.importSnapshot(chunks: AsyncStream { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        })
        let beforeIds = Set(before.keys)
        let afterIds = Set(after.keys)
        XCTAssertEqual(reimported.added, UInt64(afterIds.subtracting(beforeIds).count), "\(reimported)")
        XCTAssertEqual(reimported.removed, UInt64(beforeIds.subtracting(afterIds).count), "\(reimported)")
        XCTAssertEqual(
            reimported.changed, UInt64(beforeIds.intersection(afterIds).filter { before[$0] != after[$0] }.count),
            "\(reimported)")

        let oldIds = identifiers(book, normalizer)
        let newIds = identifiers(edited, normalizer)
        let expectedAdded = UInt64(newIds.subtracting(oldIds).count)
        let expectedRemoved = UInt64(oldIds.subtracting(newIds).count)
        XCTAssert(expectedAdded > 0 && expectedRemoved > 0, "the edits add and remove identifiers")

        let batchesBefore = transport.requests.filter { $0.path == "/v1/batches" }.count
        var events: [SyncEvent] = []
        for try await event in sync.syncEvents(transport: transport, options: jsonSync) {
            events.append(event)
        }
        guard case .finished(let second)? = events.last else {
            return XCTFail("the last event is not the report: \(events)")
        }
        XCTAssert(events.dropLast().allSatisfy { if case .progress = $0 { true } else { false } }, "\(events)")
        XCTAssertEqual(second.added, expectedAdded, "\(second)")
        XCTAssertEqual(second.removed, expectedRemoved, "\(second)")
        XCTAssertEqual(second.batchesSent, 1, "\(second)")
        XCTAssertEqual(second.newMatches, 1, "Ines: \(second)")

        // Only the delta went out, in one batch.
        let deltas = transport.requests.filter { $0.path == "/v1/batches" }.dropFirst(batchesBefore)
        XCTAssertEqual(deltas.count, 1)
        let delta = try XCTUnwrap(try JSONSerialization.jsonObject(with: XCTUnwrap(deltas.first).body) as? [String: Any])
        XCTAssertEqual(delta["mode"] as? String, "delta")
        // Padded to one of the server's buckets with trailing dummies it drops
        // (docs/protocol.md, "Padded batches"): the real adds are the rest.
        let adds = try XCTUnwrap(delta["add"] as? [Any]).count
        let removes = try XCTUnwrap(delta["remove"] as? [Any]).count
        let padding = (delta["padding"] as? Int) ?? 0
        XCTAssertEqual(adds - padding, Int(expectedAdded))
        XCTAssertEqual(removes, Int(expectedRemoved))
        XCTAssertEqual(adds + removes, 16, "the smallest default bucket")

        let secondMatches = try await matchTriples(sync)
        XCTAssertEqual(secondMatches, [
            "3 clara@example.com u_clara", "4 facebook:1078543 u_dario", "5 eva_k u_eva", "8 +4917612345678 u_ines",
        ])
        let inesView = try await sync.contact(sourceId: "8")
        let ines = try XCTUnwrap(inesView)
        XCTAssertEqual(ines.identifiers.map { "\($0.canonical) \($0.state) \($0.userRef ?? "-")" },
                       ["+4917612345678 acknowledged u_ines"])
        let acknowledged = try await sync.status().acknowledged
        XCTAssertEqual(acknowledged, UInt64(newIds.count))

        // 3. Nothing changed: nothing is sent.
        let third = try await sync.sync(transport: transport, options: jsonSync)
        XCTAssertEqual([third.batchesSent, third.newMatches], [0, 0], "\(third)")

        // 4. What the server saw: hashes, never contact data.
        try assertNothingRawWasSent(transport.requests, contacts: book + edited, normalizer: normalizer)
    }

    /// The address book of this scenario, as an iOS app builds it: `CNContact`-shaped records (the
    /// raw `_$!<Mobile>!$_` label constants, an IM address with its service, a Facebook social
    /// profile with its user id) through ``ContactMapper``. Edits: Ana's mobile number changes,
    /// Frank (6) is deleted, Ines (8) is added.
    private func addressBook(edited: Bool) -> [RawContact] {
        let mobile = "_$!<Mobile>!$_"
        let home = "_$!<Home>!$_"
        var records = [
            ContactValues(
                identifier: "1", givenName: "Ana",
                labeledPhoneNumbers: [ContactLabeledValue(label: mobile, value: edited ? "0151 98765432" : "0151 23456789")],
                labeledEmailAddresses: [ContactLabeledValue(label: home, value: "ana@example.org")]),
            ContactValues(
                identifier: "2", givenName: "Bernd",
                labeledPhoneNumbers: [ContactLabeledValue(label: "_$!<Work>!$_", value: "+49 30 1234567")]),
            ContactValues(
                identifier: "3", givenName: "Clara",
                labeledEmailAddresses: [ContactLabeledValue(label: "_$!<Work>!$_", value: "Clara@Example.COM")]),
            ContactValues(
                identifier: "4", givenName: "Dario",
                labeledSocialProfiles: [ContactLabeledValue(value: ContactSocialProfile(
                    service: "Facebook", username: "dario.r", userIdentifier: "1078543",
                    urlString: "http://www.facebook.com/dario.r"))]),
            ContactValues(
                identifier: "5", givenName: "Eva",
                labeledInstantMessageAddresses: [ContactLabeledValue(
                    label: home, value: ContactInstantMessageAddress(service: "Signal", username: "@eva_k"))]),
            ContactValues(
                identifier: "7", givenName: "Hiro",
                labeledPhoneNumbers: [ContactLabeledValue(label: mobile, value: "not a number")]),
        ]
        if !edited {
            records.append(ContactValues(
                identifier: "6", givenName: "Frank",
                labeledPhoneNumbers: [ContactLabeledValue(label: mobile, value: "0171 9876543")],
                labeledEmailAddresses: [ContactLabeledValue(label: home, value: "frank@nowhere.test")]))
        } else {
            records.append(ContactValues(
                identifier: "8", givenName: "Ines",
                labeledPhoneNumbers: [ContactLabeledValue(label: mobile, value: "0176 12345678")]))
        }
        return records.map { ContactMapper.rawContact(from: $0) }.sorted { $0.sourceId < $1.sourceId }
    }

    /// The distinct identifiers `contacts` hold, as the engine normalises them.
    private func identifiers(_ contacts: [RawContact], _ normalizer: Normalizer) -> Set<String> {
        Set(contacts.flatMap(\.values).compactMap { value in
            (try? normalizer.normalize(kind: value.kind, raw: value.value)).map { "\($0.kind) \($0.canonical)" }
        })
    }

    private func matchTriples(_ sync: ContactSync) async throws -> [String] {
        try await sync.matches().map { "\($0.sourceId ?? "-") \($0.canonical) \($0.userRef)" }.sorted()
    }

    /// No request body carries a name, a raw value or a canonical form (nor E.164 without its `+`),
    /// and the hash lists hold only base64url 16-byte digests. Hash lists and random ids are set aside
    /// before the text search: 22 random characters may contain a short name by chance. The syncs
    /// here send JSON (`cbor: false`) so the bodies read as text; CBOR payloads are decoded and
    /// checked by the Rust and Kotlin end-to-end tests.
    private func assertNothingRawWasSent(_ requests: [HttpRequest], contacts: [RawContact], normalizer: Normalizer) throws {
        var secrets = Set<String>()
        for contact in contacts {
            if contact.displayName.count >= 3 { secrets.insert(contact.displayName) }
            for value in contact.values {
                let raw = value.value.trimmingCharacters(in: .whitespaces)
                if raw.count >= 4 { secrets.insert(raw) }
                if let canonical = try? normalizer.normalize(kind: value.kind, raw: value.value).canonical {
                    secrets.insert(canonical)
                    if value.kind == .phone { secrets.insert(String(canonical.dropFirst())) }
                }
            }
        }
        let lowered = secrets.map { $0.lowercased() }
        XCTAssert(requests.contains { $0.path == "/v1/batches" }, "no batch was recorded")
        var hashes = 0
        for request in requests {
            var body: Any = NSNull()
            if !request.body.isEmpty {
                body = try JSONSerialization.jsonObject(with: request.body)
            }
            if var object = body as? [String: Any] {
                for name in ["add", "remove"] {
                    guard let list = object[name] as? [String] else { continue }
                    for item in list {
                        XCTAssertEqual(base64URLDecode(item)?.count, 16, "a hash list holds only 16-byte digests")
                        hashes += 1
                    }
                    object[name] = []
                }
                for name in ["batch_id", "key_id", "code"] { object[name] = nil }
                body = object
            }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: ["b": body]), as: UTF8.self)
            let payload = "\(request.method) \(request.path) \(text)".lowercased()
            for secret in lowered where payload.contains(secret) {
                XCTFail("a \(request.method) \(request.path) body carries contact data")
            }
        }
        XCTAssertGreaterThan(hashes, 0, "no hash was sent")
    }
}
