import ContactSync
import Foundation
import XCTest

/// The list calls (one crossing per list) answer exactly what the single-value calls answer one by
/// one, in order, through the real generated bindings and library — bad values included: a value
/// the single call throws for is that value's own `.invalid` (or `nil`, `false`) in the list, never
/// a failure of the whole call. The Kotlin twin is `BulkCallsTest.kt`.
final class BulkCallsTests: XCTestCase {
    /// Values that stress the normaliser: valid ones, rejected ones, empty, huge, non-ASCII.
    private let awkward = [
        "030 1234567", "+49 151 23456789", "12", "", "   ", String(repeating: "x", count: 10_000),
        "0151 ٢٣٤٥٦٧٨٩", "Alice.Example@Example.COM", "not an address", "\u{0}", "😀",
        "google:1078543", "https://twitter.com/jack", "@eva_k", "ABCD-EFGH-JKMN",
    ]
    private let kinds: [String: IdentifierKind] = [
        "phone": .phone, "email": .email, "handle": .handle, "account": .account, "invite": .invite,
    ]

    private func single(_ run: () throws -> Identifier) -> Normalized {
        do {
            return .valid(identifier: try run())
        } catch ContactsyncError.InvalidValue(let reason) {
            return .invalid(reason: reason)
        } catch {
            return .invalid(reason: "unexpected \(error)")
        }
    }

    func testListNormalisingGuessingAndHashingAnswerAsTheSingleCallsDo() throws {
        // The shared vectors, per region and kind, plus the awkward values under every kind.
        let data = try Data(contentsOf: TestEnv.vectors.appendingPathComponent("identifiers.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var lists: [String: [String]] = [:]  // "region kind" -> inputs
        for item in try XCTUnwrap(root["cases"] as? [[String: Any]]) {
            let key = "\(item["region"] as? String ?? "US") \(try XCTUnwrap(item["kind"] as? String))"
            lists[key, default: []].append(try XCTUnwrap(item["input"] as? String))
        }
        for kind in kinds.keys { lists["DE \(kind)", default: []] += awkward }

        let key = try HashKey(keyId: "k1", secret: Data((0..<32).map { UInt8($0) }))
        var valid = 0
        var invalid = 0
        for (regionAndKind, values) in lists {
            let parts = regionAndKind.split(separator: " ").map(String.init)
            let kind = try XCTUnwrap(kinds[parts[1]])
            let normalizer = try Normalizer(region: parts[0])
            let bulk = normalizer.normalizeAll(kind: kind, raws: values)
            XCTAssertEqual(bulk, values.map { v in single { try normalizer.normalize(kind: kind, raw: v) } }, regionAndKind)
            XCTAssertEqual(
                normalizer.normalizeAutoAll(raws: values),
                values.map { v in single { try normalizer.normalizeAuto(raw: v) } }, regionAndKind)
            let identifiers = bulk.compactMap { outcome -> Identifier? in
                if case .valid(let identifier) = outcome { return identifier }
                invalid += 1
                return nil
            }
            XCTAssertEqual(key.hashAll(identifiers: identifiers), identifiers.map { key.hash(identifier: $0) }, regionAndKind)
            valid += identifiers.count
        }
        XCTAssertEqual(guessKinds(raws: awkward), awkward.map { guessKind(raw: $0) })
        XCTAssertGreaterThan(valid, 100)
        XCTAssertGreaterThan(invalid, 100)
        XCTAssertEqual(try Normalizer(region: "DE").normalizeAll(kind: .phone, raws: []), [])
        XCTAssertEqual(key.hashAll(identifiers: []), [])
    }

    func testAScreensContactsMatchesAndAMultiSelectExclusionInOneCallEach() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        try server.putUser("u_clara", [("email", "clara@example.com")])
        try server.putUser("u_eva", [("handle", "eva_k")])
        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        let book = [
            person("1", "Ana", [(.phone, "0151 23456789"), (.phone, "12")]),
            person("3", "Clara", [(.email, "Clara@Example.com")]),
            person("5", "Eva", [(.handle, "eva_k")]),
            person("7", "Gus", [(.phone, "0170 7654321")]),
        ] + (100..<300).map { generatedContact($0) }
        _ = try await sync.importSnapshot(book)
        _ = try await sync.sync(transport: try server.transport(token: registration.token), options: quickSync)

        // Unknown ids, repeats and a contact with a rejected value, in an odd order.
        let screen = ["7", "404", "1", "3", "1", "", "5"] + (100..<300).map(String.init)
        let rows = try await sync.contacts(sourceIds: screen)
        var singles: [ContactView?] = []
        for id in screen { singles.append(try await sync.contact(sourceId: id)) }
        XCTAssertEqual(rows, singles)
        XCTAssertNotNil(rows[0])
        XCTAssertNil(rows[1])
        XCTAssertEqual(rows[2]?.rejected.first?.reason, "phone.unassigned")
        let none = try await sync.contacts(sourceIds: [])
        XCTAssertEqual(none, [])

        let all = try await sync.matches()
        var expected: [String: [Match]] = [:]
        for id in Set(screen) {
            let held = all.filter { $0.sourceId == id }
            if !held.isEmpty { expected[id] = held }
        }
        let found = try await sync.matches(for: screen)
        XCTAssertEqual(found, expected)
        XCTAssertEqual(Set(found.keys), ["1", "3", "5"])

        // Exclusion: the list call answers what the single call answers for each id.
        let chosen = ["1", "404", "5", "1"]
        let excluded = try await sync.setContactsExcluded(sourceIds: chosen, excluded: true)
        XCTAssertEqual(excluded, [true, false, true, true])
        var each: [Bool] = []
        for id in chosen { each.append(try await sync.setContactExcluded(sourceId: id, excluded: true)) }
        XCTAssertEqual(each, excluded)
        let afterExclusion = try await sync.matches(for: screen)
        XCTAssertEqual(Set(afterExclusion.keys), ["3"])
        try await sync.setContactsExcluded(sourceIds: ["1", "5"], excluded: false)

        // A bad value among good ones is its own outcome, and the good ones are set.
        let values = ["0170 7654321", "12", "", "+49 151 23456789"]
        let outcomes = try await sync.setIdentifiersExcluded(kind: .phone, values: values, excluded: true)
        let normalizer = try Normalizer(region: "DE")
        var one: [Normalized] = []
        for value in values {
            do {
                try await sync.setIdentifierExcluded(kind: .phone, value: value, excluded: true)
                one.append(.valid(identifier: try normalizer.normalize(kind: .phone, raw: value)))
            } catch ContactsyncError.InvalidArgument(let detail) {
                one.append(.invalid(reason: String(detail.dropFirst("identifier: ".count))))
            }
        }
        XCTAssertEqual(outcomes, one)
        XCTAssertEqual(outcomes.first, .valid(identifier: Identifier(kind: .phone, canonical: "+491707654321")))
        let gus = try await sync.contact(sourceId: "7")
        XCTAssertEqual(gus?.identifiers.first?.excluded, true)
        let last = try await sync.matches(for: screen)
        XCTAssertEqual(Set(last.keys), ["3", "5"], "Eva back, Ana's number excluded")
    }
}
