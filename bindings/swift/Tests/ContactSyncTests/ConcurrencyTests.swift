@testable import ContactSync
import Foundation
import XCTest

/// Eight tasks on one ``ContactSync`` and one set of shared objects: one applies change feeds
/// while seven normalise, hash, and read status, matches and contact pages, all at once.
///
/// What they see is checked against a second engine that went through the same history in one
/// task: every status, match list and contact a reader sees must be one the single-threaded engine
/// passed through (each read is a consistent snapshot, never half a change feed), every normalised
/// value and hash must equal the single-threaded answer, and the final state must equal the
/// single-threaded final state. No call may throw.
final class ConcurrencyTests: XCTestCase {
    private static let tasks = 8
    private static let base = 2_000
    private static let steps = 6
    private static let minRounds = 10
    private static let page: UInt64 = 50

    private let baseBook: [RawContact] = (0..<ConcurrencyTests.base).map { generatedContact($0) }

    /// The writer's change feeds: edits, new contacts and deletions, a matched contact among each.
    private let feeds: [(upserts: [RawContact], deleted: [String])] = (0..<ConcurrencyTests.steps).map { k in
        let edits = (k * 100..<k * 100 + 50).map { generatedContact($0, version: 1) }
        let added = (base + k * 50..<base + (k + 1) * 50).map { generatedContact($0) }
        let deleted = (1_500 + k * 20..<1_500 + (k + 1) * 20).map(String.init) + [String(k * 100 + 60)]
        return (edits + added, deleted)
    }

    func testEightTasksAtOnceSeeOnlyConsistentStatesAndSingleThreadedAnswers() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let normalizer = try Normalizer(region: "DE")
        // Users with the phone numbers of a few contacts each step touches, so matches change.
        for k in 0..<Self.steps {
            for i in [k * 100 + 3, k * 100 + 60, k * 100 + 70] {
                let phone = try normalizer.normalize(kind: .phone, raw: generatedContact(i).values[0].value)
                try server.putUser("u_\(i)", [("phone", phone.canonical)])
            }
        }
        let dir = try temporaryDirectory(self)
        let shared = try await ContactSync.open(path: dir.appendingPathComponent("shared.db").path, config: Config(region: "DE"))
        _ = try await shared.importSnapshot(baseBook)
        let sharedToken = try await ContactSync.registerDevice(transport: try server.transport()).token
        _ = try await shared.sync(transport: try server.transport(token: sharedToken), options: quickSync)

        // The single-threaded history: every state the reference engine passes through.
        let reference = try Engine.open(path: dir.appendingPathComponent("reference.db").path, config: Config(region: "DE"))
        _ = try reference.importSnapshot(contacts: baseBook, listener: nil)
        let referenceToken = try registerDevice(transport: try server.transport()).token
        _ = try reference.sync(transport: try server.transport(token: referenceToken), options: quickSync, listener: nil)
        var statuses = [try reference.status()]
        var matchLists = [try matchesOf(try reference.matches())]
        var views: [String: Set<ContactView>] = [:]
        func recordViews() throws {
            for view in try reference.contactsAfter(after: nil, limit: 1_000_000) {
                views[view.sourceId, default: []].insert(view)
            }
        }
        try recordViews()
        for feed in feeds {
            _ = try reference.applyChanges(upserts: feed.upserts, deleted: feed.deleted, listener: nil)
            statuses.append(try reference.status())
            matchLists.append(try matchesOf(try reference.matches()))
            try recordViews()
        }
        let initial = try await shared.status()
        XCTAssertEqual(statuses.first, initial, "both engines start from the same state")
        XCTAssertEqual(Set(statuses).count, Self.steps + 1, "every step changes the status")

        // Single-threaded answers of the normaliser and the key.
        let key = try HashKey(keyId: "concurrency-test", secret: Data((0..<32).map { UInt8($0) }))
        let inputs = Self.normalizeInputs()
        let expected = inputs.map { Self.answer(normalizer, key, $0.0, $0.1) }

        let history = History(statuses: statuses, matchLists: matchLists, views: views)
        let writerDone = CancellationFlag()  // the layer's set-once flag, here "the writer is done"
        let feeds = self.feeds
        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for index in 0..<Self.tasks {
                group.addTask {
                    if index == 0 {
                        defer { writerDone.set() }
                        for feed in feeds {
                            _ = try await shared.applyChanges(upserts: feed.upserts, deleted: feed.deleted)
                        }
                        return []
                    }
                    var failures: [String] = []
                    var round = 0
                    while !writerDone.isSet || round < Self.minRounds {
                        failures += try await Self.read(
                            index: index, round: round, sync: shared, normalizer: normalizer, key: key,
                            inputs: inputs, expected: expected, history: history)
                        round += 1
                    }
                    return failures
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        XCTAssert(failures.isEmpty, "\(failures.count) inconsistencies:\n" + failures.prefix(20).joined(separator: "\n"))

        let final = try await shared.status()
        XCTAssertEqual(final, statuses.last, "the final state is the single-threaded one")
        let finalMatches = try await shared.matches()
        XCTAssertEqual(try matchesOf(finalMatches), matchLists.last)
        let sharedContacts = try await shared.contacts(after: nil, limit: 1_000_000)
        XCTAssertEqual(sharedContacts, try reference.contactsAfter(after: nil, limit: 1_000_000))
    }

    /// What the readers compare with: every state of the single-threaded engine.
    private struct History: Sendable {
        let statuses: [Status]
        let matchLists: [Set<String>]
        let views: [String: Set<ContactView>]
    }

    /// One reader round: every kind of query, each answer checked.
    private static func read(
        index: Int, round: Int, sync: ContactSync, normalizer: Normalizer, key: HashKey,
        inputs: [(IdentifierKind, String)], expected: [String], history: History
    ) async throws -> [String] {
        var failures: [String] = []
        // Each task starts at another input, so different values cross the FFI at once.
        for n in inputs.indices {
            let i = (n + index * 7 + round) % inputs.count
            let got = answer(normalizer, key, inputs[i].0, inputs[i].1)
            if got != expected[i] {
                failures.append("normalize \(inputs[i].0) '\(inputs[i].1)': \(got), single-threaded \(expected[i])")
            }
        }
        let status = try await sync.status()
        if !history.statuses.contains(status) {
            failures.append("a status no single-threaded step produced: \(status)")
        }
        let matches = try matchesOf(try await sync.matches())
        if !history.matchLists.contains(matches) {
            failures.append("a match list no single-threaded step produced: \(matches.sorted())")
        }
        let offset = UInt64((round * 131 + index * 17) % (base + steps * 50))
        let page = try await sync.contacts(offset: offset, limit: Self.page)
        if page.map(\.sourceId) != page.map(\.sourceId).sorted() {
            failures.append("a page out of source-id order")
        }
        for view in page where !(history.views[view.sourceId]?.contains(view) ?? false) {
            failures.append("contact \(view.sourceId) in a state never stored: \(view)")
        }
        return failures
    }

    /// A value's canonical form and hash, or its rejection code, as one comparable string.
    private static func answer(_ normalizer: Normalizer, _ key: HashKey, _ kind: IdentifierKind, _ raw: String) -> String {
        do {
            let id = try normalizer.normalize(kind: kind, raw: raw)
            return "\(id.kind) \(id.canonical) \(key.hash(identifier: id))"
        } catch ContactsyncError.InvalidValue(let reason) {
            return "rejected \(reason)"
        } catch {
            return "failed \(error)"
        }
    }

    private static func normalizeInputs() -> [(IdentifierKind, String)] {
        var inputs: [(IdentifierKind, String)] = []
        for i in 0..<20 {
            inputs.append((.phone, "0151 \(30_000_000 + i * 7919)"))
            inputs.append((.phone, "+49 (30) \(1_000_000 + i * 37)"))
            inputs.append((.email, "  Person.\(i)@Example.ORG "))
            inputs.append((.handle, "@user_\(i)"))
        }
        inputs += [(.phone, "12"), (.email, "no-at-sign"), (.phone, "not a number"), (.email, "Ünïcødé@Bücher.example")]
        return inputs
    }
}

/// What a match means to the user; `matchedAt` is a clock reading, different per engine.
private func matchesOf(_ matches: [Match]) throws -> Set<String> {
    Set(matches.map { "\($0.sourceId ?? "-") \($0.canonical) \($0.userRef)" })
}
