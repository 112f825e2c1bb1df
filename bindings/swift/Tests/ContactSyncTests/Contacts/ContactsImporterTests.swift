import ContactSync
import Foundation
import XCTest

/// The importer against the real engine (the Rust library on a temporary SQLite file), with an
/// address book that answers like `CNContactStore`: what an iOS app runs, minus the Contacts
/// framework.
final class ContactsImporterTests: XCTestCase {
    private var source = FakeContactSource()
    private var tokens = InMemoryHistoryTokenStore()

    override func setUp() {
        super.setUp()
        source = FakeContactSource()
        tokens = InMemoryHistoryTokenStore()
    }

    private func openEngine() async throws -> ContactSync {
        let dir = try contactsTestDirectory(self)
        return try await ContactSync.open(path: dir.appendingPathComponent("contacts.db").path, config: Config(region: "DE"))
    }

    private func importer(_ sync: ContactSync, maxDeltaContacts: Int = 2_000) -> ContactsImporter<FakeContactSource> {
        ContactsImporter(contactSync: sync, source: source, tokenStore: tokens, chunkSize: 2, maxDeltaContacts: maxDeltaContacts)
    }

    private func ids(_ sync: ContactSync) async throws -> [String] {
        try await sync.contacts(offset: 0, limit: 100).map(\.sourceId)
    }

    private func person(_ id: String, phone: String? = nil, email: String? = nil) -> ContactValues {
        ContactValues(
            identifier: id,
            givenName: id.capitalized,
            labeledPhoneNumbers: phone.map { [ContactLabeledValue(label: "_$!<Mobile>!$_", value: $0)] } ?? [],
            labeledEmailAddresses: email.map { [ContactLabeledValue(label: "_$!<Home>!$_", value: $0)] } ?? [])
    }

    private func fillBook() {
        source.put(person("ana", phone: "+49 151 23456789"))
        source.put(person("bob", email: "bob@example.com"))
        source.put(person("carol", phone: "+49 30 90182000"))
    }

    /// An engine with the book imported once: a full snapshot, its history token stored.
    private func imported() async throws -> ContactSync {
        let sync = try await openEngine()
        fillBook()
        _ = try await importer(sync).importContacts()
        return sync
    }

    func testTheFirstImportIsAStreamedFullSnapshotTheNextOnesDeltas() async throws {
        let sync = try await openEngine()
        fillBook()
        source.put(person("dora"))  // a name only: nothing to discover, not in the engine

        let first = try await importer(sync).importContacts()
        XCTAssertEqual(first.mode, .fullSnapshot(.noToken))
        XCTAssertEqual(first.report.added, 3)
        XCTAssertEqual(tokens.load(), source.currentToken)
        XCTAssertEqual(source.historyReads, 0)
        let readIds = try await ids(sync)
        XCTAssertEqual(readIds, ["ana", "bob", "carol"])

        // Bob deleted, Ana's number replaced, Dan added, Carol left without any number.
        source.delete("bob")
        source.put(person("ana", phone: "+49 151 99999999"))
        source.put(person("dan", email: "dan@example.org"))
        source.put(person("carol"))
        let second = try await importer(sync).importContacts()
        XCTAssertEqual(second.mode, .delta)
        XCTAssertEqual(second.report.added, 1)  // Dan
        XCTAssertEqual(second.report.changed, 1)  // Ana
        XCTAssertEqual(second.report.removed, 2)  // Bob, and Carol who has nothing to discover left
        let afterDelta = try await ids(sync)
        XCTAssertEqual(afterDelta, ["ana", "dan"])
        let ana = try await sync.contact(sourceId: "ana")
        XCTAssertEqual(ana?.identifiers.map(\.canonical), ["+4915199999999"])
        XCTAssertEqual(tokens.load(), source.currentToken)
        XCTAssertEqual(source.fullReads, 1)

        // Nothing changed: an empty delta, nothing to do.
        let third = try await importer(sync).importContacts()
        XCTAssertEqual(third.mode, .delta)
        XCTAssertEqual(third.report.added + third.report.changed + third.report.removed, 0)
    }

    func testAStreamThatFailsClearsTheTokenAndRemovesNothing() async throws {
        let sync = try await openEngine()
        fillBook()
        source.put(person("dan", email: "dan@example.org"))
        _ = try await importer(sync).importContacts()
        XCTAssertNotNil(tokens.load())

        // The history no longer reaches back: a full snapshot, whose read dies after one chunk.
        source.delete("carol")
        source.pruneHistory()
        source.failAfterChunks = 1
        do {
            _ = try await importer(sync).importContacts()
            XCTFail("expected the source's error")
        } catch FakeContactSource.Failure.readFailed {}
        XCTAssertNil(tokens.load())  // cleared before the read: the next import is a full snapshot
        let kept = try await ids(sync)
        XCTAssertEqual(kept, ["ana", "bob", "carol", "dan"])  // an unfinished snapshot removes nothing

        source.failAfterChunks = nil
        let retried = try await importer(sync).importContacts()
        XCTAssertEqual(retried.mode, .fullSnapshot(.noToken))
        XCTAssertEqual(retried.report.removed, 1)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["ana", "bob", "dan"])
        XCTAssertEqual(tokens.load(), source.currentToken)
    }

    func testAHistoryThatCannotBeReadClearsTheTokenAndRemovesNothing() async throws {
        let sync = try await imported()
        XCTAssertNotNil(tokens.load())

        // The token is gone while the history is read: had the read crashed the app (an
        // Objective-C exception in the enumeration), the next launch would not run it again.
        let tokenStore = tokens
        let readWithATokenStored = ContactsTestCounter()
        source.onHistoryRead = {
            if tokenStore.load() != nil {
                readWithATokenStored.increment()
            }
        }
        source.delete("ana")
        source.failHistory = true
        do {
            _ = try await importer(sync).importContacts()
            XCTFail("expected the source's error")
        } catch FakeContactSource.Failure.historyFailed {}
        XCTAssertEqual(source.historyReads, 1)
        XCTAssertEqual(readWithATokenStored.value, 0)
        XCTAssertNil(tokens.load())
        let kept = try await ids(sync)
        XCTAssertEqual(kept, ["ana", "bob", "carol"])

        // The next import does not read the history again: a full snapshot.
        source.failHistory = false
        let retried = try await importer(sync).importContacts()
        XCTAssertEqual(retried.mode, .fullSnapshot(.noToken))
        XCTAssertEqual(retried.report.removed, 1)
        XCTAssertEqual(source.historyReads, 1)
        XCTAssertEqual(tokens.load(), source.currentToken)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["bob", "carol"])

        // And deltas again, each read with no token stored.
        source.delete("bob")
        let delta = try await importer(sync).importContacts()
        XCTAssertEqual(delta.mode, .delta)
        XCTAssertEqual(delta.report.removed, 1)
        XCTAssertEqual(source.historyReads, 2)
        XCTAssertEqual(readWithATokenStored.value, 0)
        XCTAssertEqual(tokens.load(), source.currentToken)
    }

    func testWithoutAChangeHistoryEveryImportIsAFullSnapshot() async throws {
        let sync = try await imported()

        source.historyUnavailable = true
        source.delete("bob")
        let outcome = try await importer(sync).importContacts()
        XCTAssertEqual(outcome.mode, .fullSnapshot(.historyUnavailable))
        XCTAssertEqual(outcome.report.removed, 1)
        XCTAssertEqual(outcome.report.unchanged, 2)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["ana", "carol"])
        XCTAssertEqual(tokens.load(), source.currentToken)

        let again = try await importer(sync).importContacts()
        XCTAssertEqual(again.mode, .fullSnapshot(.historyUnavailable))
    }

    func testACancelledImportKeepsNoToken() async throws {
        let sync = try await openEngine()
        fillBook()
        source.put(person("dan", email: "dan@example.org"))
        source.put(person("eve", email: "eve@example.org"))
        let importer = importer(sync)
        let secondChunkRead = DispatchSemaphore(value: 0)
        let proceed = DispatchSemaphore(value: 0)
        source.onChunk = { index in
            if index == 1 {
                secondChunkRead.signal()
                _ = proceed.wait(timeout: .now() + 10)
            }
        }
        let task = Task { try await importer.importContacts() }
        let reached = await contactsWait(for: secondChunkRead)
        XCTAssertTrue(reached)
        task.cancel()
        proceed.signal()
        do {
            _ = try await task.value
            XCTFail("expected the cancellation")
        } catch is CancellationError {}
        XCTAssertNil(tokens.load())

        // What was pushed before may stay; the next import (a full snapshot again: no token)
        // completes the book.
        source.onChunk = nil
        let next = try await importer.importContacts()
        XCTAssertEqual(next.mode, .fullSnapshot(.noToken))
        let all = try await ids(sync)
        XCTAssertEqual(all, ["ana", "bob", "carol", "dan", "eve"])
    }

    func testATokenThatCannotBeSavedIsAnErrorAfterTheImportWasStored() async throws {
        let sync = try await openEngine()
        fillBook()
        let dir = try contactsTestDirectory(self)
        let blocker = dir.appendingPathComponent("not-a-directory")
        _ = FileManager.default.createFile(atPath: blocker.path, contents: Data("x".utf8))
        let store = try FileHistoryTokenStore(url: blocker.appendingPathComponent("token"))
        let importer = ContactsImporter(contactSync: sync, source: source, tokenStore: store, chunkSize: 2)
        do {
            _ = try await importer.importContacts()
            XCTFail("expected the store's error")
        } catch {}
        XCTAssertNil(store.load())
        let stored = try await ids(sync)
        XCTAssertEqual(stored, ["ana", "bob", "carol"])
    }

    func testAnExpiredTokenMeansAFullSnapshotWhichAlsoCatchesLostDeletions() async throws {
        let sync = try await imported()

        source.delete("bob")
        source.pruneHistory()
        let outcome = try await importer(sync).importContacts()
        XCTAssertEqual(outcome.mode, .fullSnapshot(.tokenExpired))
        XCTAssertEqual(outcome.report.removed, 1)
        XCTAssertEqual(outcome.report.unchanged, 2)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["ana", "carol"])
        XCTAssertEqual(tokens.load(), source.currentToken)

        // A token the store never issued (restored from another device) reads as expired too.
        tokens.save(Data("another device".utf8))
        let foreign = try await importer(sync).importContacts()
        XCTAssertEqual(foreign.mode, .fullSnapshot(.tokenExpired))
    }

    func testDropEverythingMeansAFullSnapshot() async throws {
        let sync = try await imported()

        source.resetHistory()
        source.delete("ana")
        let outcome = try await importer(sync).importContacts()
        XCTAssertEqual(outcome.mode, .fullSnapshot(.dropEverything))
        XCTAssertEqual(outcome.report.removed, 1)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["bob", "carol"])
        // The store's token taken before the snapshot, not the one of the history read that
        // stopped at "drop everything" (the fake answers the point where it stopped).
        XCTAssertEqual(tokens.load(), source.currentToken)
    }

    func testLimitedAccessReadsTheSharedContactsInFullEveryTimeAndKeepsNoToken() async throws {
        let sync = try await imported()
        XCTAssertNotNil(tokens.load())

        // The user switches to limited access and shares only Ana and Carol.
        source.authorization = .limited
        source.share(["ana", "carol"])
        let limited = try await importer(sync).importContacts()
        XCTAssertEqual(limited.mode, .fullSnapshot(.limitedAccess))
        XCTAssertEqual(limited.report.removed, 1)
        XCTAssertNil(tokens.load())
        XCTAssertEqual(source.historyReads, 0)
        let shared = try await ids(sync)
        XCTAssertEqual(shared, ["ana", "carol"])

        // Un-sharing a contact leaves no trace in any history: the next full read removes it.
        source.share(["ana"])
        let again = try await importer(sync).importContacts()
        XCTAssertEqual(again.mode, .fullSnapshot(.limitedAccess))
        XCTAssertEqual(again.report.removed, 1)
        XCTAssertEqual(again.report.unchanged, 1)
        XCTAssertEqual(source.historyReads, 0)

        // Full access granted: the contacts that were hidden did not change, so only a full
        // snapshot brings them, and then deltas again.
        source.authorization = .authorized
        source.share(nil)
        let full = try await importer(sync).importContacts()
        XCTAssertEqual(full.mode, .fullSnapshot(.noToken))
        let everyone = try await ids(sync)
        XCTAssertEqual(everyone, ["ana", "bob", "carol"])
        XCTAssertEqual(tokens.load(), source.currentToken)
        let delta = try await importer(sync).importContacts()
        XCTAssertEqual(delta.mode, .delta)
    }

    func testUnderLimitedAccessTheTokenIsGoneBeforeTheRead() async throws {
        let sync = try await imported()
        XCTAssertNotNil(tokens.load())

        // The app killed at any point of a limited snapshot (after its commit included) must not
        // leave the full-access token behind: no token while the shared contacts are read.
        let tokenStore = tokens
        let chunkReadWithATokenStored = ContactsTestCounter()
        source.onChunk = { _ in
            if tokenStore.load() != nil {
                chunkReadWithATokenStored.increment()
            }
        }
        source.authorization = .limited
        source.share(["ana"])
        let limited = try await importer(sync).importContacts()
        XCTAssertEqual(limited.mode, .fullSnapshot(.limitedAccess))
        XCTAssertEqual(chunkReadWithATokenStored.value, 0)
        XCTAssertNil(tokens.load())
    }

    func testUnderLimitedAccessATokenThatCannotBeClearedStopsTheImportBeforeTheRead() async throws {
        let sync = try await openEngine()
        fillBook()
        let store = ClearFailingTokenStore()
        let importer = ContactsImporter(contactSync: sync, source: source, tokenStore: store, chunkSize: 2)
        _ = try await importer.importContacts()
        let fullAccessToken = store.load()
        XCTAssertNotNil(fullAccessToken)

        // Limited access, Bob not shared, and the token cannot be cleared: nothing is read, so
        // the engine still holds the book the full-access token belongs to.
        source.authorization = .limited
        source.share(["ana", "carol"])
        store.failClear = true
        do {
            _ = try await importer.importContacts()
            XCTFail("expected the store's error")
        } catch ClearFailingTokenStore.Failure.cannotClear {}
        XCTAssertEqual(source.fullReads, 1)
        XCTAssertEqual(store.load(), fullAccessToken)
        let unchanged = try await ids(sync)
        XCTAssertEqual(unchanged, ["ana", "bob", "carol"])

        // Full access again: a delta from the old token is right, and Bob, never removed, is
        // there. (Had the limited snapshot run and removed him, the delta would not bring him
        // back: he did not change.)
        store.failClear = false
        source.authorization = .authorized
        source.share(nil)
        let full = try await importer.importContacts()
        XCTAssertEqual(full.mode, .delta)
        let everyone = try await ids(sync)
        XCTAssertEqual(everyone, ["ana", "bob", "carol"])
    }

    func testAccessDroppingToLimitedDuringAFullReadKeepsNoToken() async throws {
        let sync = try await openEngine()
        fillBook()
        // The user switches to limited access while the first full read runs: what was read may
        // be only the shared contacts, so its token must not be kept.
        let book = source
        source.onChunk = { index in
            if index == 0 {
                book.share(["ana"])
                book.authorization = .limited
            }
        }
        let first = try await importer(sync).importContacts()
        XCTAssertEqual(first.mode, .fullSnapshot(.noToken))
        XCTAssertNil(tokens.load())

        source.onChunk = nil
        let limited = try await importer(sync).importContacts()
        XCTAssertEqual(limited.mode, .fullSnapshot(.limitedAccess))
        let shared = try await ids(sync)
        XCTAssertEqual(shared, ["ana"])

        // Full access again: a full snapshot (no token), which brings everyone back.
        source.authorization = .authorized
        source.share(nil)
        let full = try await importer(sync).importContacts()
        XCTAssertEqual(full.mode, .fullSnapshot(.noToken))
        let everyone = try await ids(sync)
        XCTAssertEqual(everyone, ["ana", "bob", "carol"])
        XCTAssertEqual(tokens.load(), source.currentToken)
    }

    func testWithoutAccessNothingIsReadOrImported() async throws {
        let sync = try await openEngine()
        fillBook()
        tokens.save(Data("kept".utf8))
        let expected: [(ContactAuthorization, ContactsAccessError)] = [
            (.notDetermined, .notDetermined), (.denied, .denied), (.restricted, .restricted),
        ]
        for (authorization, error) in expected {
            source.authorization = authorization
            do {
                _ = try await importer(sync).importContacts(forceFull: true)
                XCTFail("expected \(error)")
            } catch let thrown as ContactsAccessError {
                XCTAssertEqual(thrown, error)
            }
        }
        XCTAssertEqual(source.fullReads, 0)
        XCTAssertEqual(source.historyReads, 0)
        XCTAssertEqual(tokens.load(), Data("kept".utf8))
        let status = try await sync.status()
        XCTAssertEqual(status.contacts, 0)
    }

    func testAnEmptyEngineIgnoresAStaleToken() async throws {
        // The database was wiped (or this is a new one) but the token survived.
        let sync = try await openEngine()
        fillBook()
        tokens.save(source.currentToken)
        let outcome = try await importer(sync).importContacts()
        XCTAssertEqual(outcome.mode, .fullSnapshot(.engineEmpty))
        XCTAssertEqual(outcome.report.added, 3)
        XCTAssertEqual(source.historyReads, 0)
    }

    func testTooManyChangesBecomeAFullSnapshot() async throws {
        let sync = try await imported()
        source.put(person("dan", email: "dan@example.org"))
        source.delete("bob")
        let historyToken = source.currentToken
        let outcome = try await importer(sync, maxDeltaContacts: 1).importContacts()
        XCTAssertEqual(outcome.mode, .fullSnapshot(.deltaTooLarge))
        XCTAssertEqual(outcome.report.added, 1)
        XCTAssertEqual(outcome.report.removed, 1)
        XCTAssertEqual(tokens.load(), historyToken)
        let after = try await ids(sync)
        XCTAssertEqual(after, ["ana", "carol", "dan"])
    }

    func testForceFullReadsEverything() async throws {
        let sync = try await imported()
        let outcome = try await importer(sync).importContacts(forceFull: true)
        XCTAssertEqual(outcome.mode, .fullSnapshot(.forced))
        XCTAssertEqual(outcome.report.unchanged, 3)
        XCTAssertEqual(source.historyReads, 0)
    }
}

/// A token store whose clearing (`save(nil)`) can be made to fail.
private final class ClearFailingTokenStore: HistoryTokenStore, @unchecked Sendable {
    enum Failure: Error {
        case cannotClear
    }

    // Both properties are only touched with `lock` held, which is why the class can be
    // @unchecked Sendable.
    private let lock = NSLock()
    private var token: Data?
    private var clearFails = false

    var failClear: Bool {
        get {
            lock.lock()
            defer { lock.unlock() }
            return clearFails
        }
        set {
            lock.lock()
            clearFails = newValue
            lock.unlock()
        }
    }

    func load() -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return token
    }

    func save(_ token: Data?) throws {
        lock.lock()
        defer { lock.unlock() }
        if token == nil, clearFails {
            throw Failure.cannotClear
        }
        self.token = token
    }
}
