import ContactSync
import Foundation
import XCTest

/// Every way a call can fail, as the app sees it: each failure arrives as the documented Swift
/// error (see ``ContactSync``), leaves the store consistent, and the same engine works afterwards.
final class FailuresTests: XCTestCase {
    private let big: [RawContact] = (0..<20_000).map { generatedContact($0) }

    /// Contacts outside `big`, imported first: an unfinished snapshot must not remove them.
    private let earlier: [RawContact] = (30_000..<30_010).map { generatedContact($0) }

    // MARK: Transports that fail

    func testAThrowingTransportIsANetworkErrorAndTheSameEngineThenSyncs() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let book = (0..<20).map { generatedContact($0) }
        let phone = try Normalizer(region: "DE").normalize(kind: .phone, raw: book[3].values[0].value).canonical
        try server.putUser("u_three", [("phone", phone)])

        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot(book)
        let pending = try await sync.status().pendingAdd
        XCTAssertGreaterThan(pending, 0)

        // Nothing listens on this port: a URLError.
        let refusing = try RefusingPort()
        let unreachable = try URLSessionTransport(
            baseURL: URL(string: "http://127.0.0.1:\(refusing.port)/")!, token: registration.token)
        do {
            _ = try await sync.sync(transport: unreachable, options: quickSync)
            XCTFail("a sync to a closed port succeeded")
        } catch ContactsyncError.Network(let detail) {
            XCTAssert(detail.contains("/v1/"), "the detail names the request: \(detail)")
            XCTAssertFalse(detail.contains(registration.token), "the detail carries the token")
        }

        // An app transport with a bug: a Swift error that is not a ContactsyncError.
        struct Broken: Error, CustomStringConvertible {
            var description: String { "the app's transport is broken" }
        }
        final class Throwing: Transport {
            func send(request: HttpRequest) throws -> HttpResponse { throw Broken() }
        }
        do {
            _ = try await sync.sync(transport: Throwing(), options: quickSync)
            XCTFail("a sync through a throwing transport succeeded")
        } catch ContactsyncError.Network(let detail) {
            XCTAssert(detail.contains("Broken") || detail.contains("broken"), detail)
        }

        // Nothing was lost, and the same engine syncs with a working transport.
        let kept = try await sync.status()
        XCTAssertEqual(kept.pendingAdd, pending, "\(kept)")
        XCTAssertEqual(kept.acknowledged, 0, "\(kept)")
        let report = try await sync.sync(transport: try server.transport(token: registration.token), options: quickSync)
        XCTAssertEqual(report.added, pending, "\(report)")
        let matches = try await sync.matches()
        XCTAssertEqual(matches.map { "\($0.sourceId ?? "-") \($0.userRef)" }, ["3 u_three"])
        let acknowledged = try await sync.status().acknowledged
        XCTAssertEqual(acknowledged, pending)
    }

    // MARK: Cancellation

    func testAListenerCancellingALargeImportStopsItWithCancelledRemovingNothing() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("device.db").path
        let engine = try Engine.open(path: path, config: Config(region: "DE", chunkSize: 1000))
        _ = try engine.importSnapshot(contacts: earlier, listener: nil)
        let listener = CancelOnFirstProgress()
        XCTAssertThrowsError(try engine.importSnapshot(contacts: big, listener: listener)) { error in
            guard case ContactsyncError.Cancelled = error else { return XCTFail("expected Cancelled, got \(error)") }
        }
        XCTAssert(listener.progressed, "the engine reported progress before stopping")
        try assertConsistentAfterCancel(
            contacts: try engine.status().contacts,
            listed: try engine.contactsAfter(after: nil, limit: 100_000).map(\.sourceId))

        // A new import completes, and as a full snapshot it does remove what it lacks.
        let report = try engine.importSnapshot(contacts: big, listener: nil)
        XCTAssertEqual(report.removed, UInt64(earlier.count), "\(report)")
        try assertCompleteImport(try engine.status())
    }

    func testCancellingTheTaskStopsALargeImportWithCancellationError() async throws {
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path,
            config: Config(region: "DE", chunkSize: 1000))
        _ = try await sync.importSnapshot(earlier)

        let book = big
        var updates = sync.progressUpdates.makeAsyncIterator()
        // The stream's first value is the current one (nil): taken before the import starts, so
        // the next value is the import's first progress — or, if the import somehow ran to its
        // end unobserved, its final nil (the test then fails below instead of waiting for ever).
        _ = await updates.next()
        let importing = Task { try await sync.importSnapshot(book) }
        // Cancel as soon as the engine reports progress: the Rust work must stop part-way.
        if let progress = await updates.next(), progress != nil {
            importing.cancel()
        }
        do {
            _ = try await importing.value
            XCTFail("the cancelled import ran to the end")
        } catch is CancellationError {
            // As documented: the task's cancellation, not the engine's `.Cancelled`.
        }
        XCTAssertNil(sync.currentProgress, "no long operation is left under way")
        try assertConsistentAfterCancel(
            contacts: try await sync.status().contacts,
            listed: try await sync.contacts(after: nil, limit: 100_000).map(\.sourceId))

        let report = try await sync.importSnapshot(book)
        XCTAssertEqual(report.removed, UInt64(earlier.count), "\(report)")
        try assertCompleteImport(try await sync.status())
    }

    func testAStreamedSnapshotThatIsCancelledOrFailsKeepsItsChunksAndRemovesNothing() async throws {
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot(earlier)
        let first = Array(big[0..<1000])
        let second = Array(big[1000..<2000])

        // Cancelled after two chunks were pushed: the sequence then waits for ever.
        let (pushed, pushedContinuation) = AsyncStream<Void>.makeStream()
        let importing = Task {
            try await sync.importSnapshot(chunks: ChunksThenSignal(chunks: [first, second], signal: pushedContinuation))
        }
        for await _ in pushed { break }
        importing.cancel()
        _ = await importing.result
        let afterCancel = try await sync.status().contacts
        XCTAssertEqual(afterCancel, UInt64(earlier.count + 2000))

        // The reading fails (a contact store throwing, say) after one more chunk.
        struct StoreWentAway: Error {}
        let failing = AsyncThrowingStream<[RawContact], Error> { continuation in
            continuation.yield(Array(big[2000..<3000]))
            continuation.finish(throwing: StoreWentAway())
        }
        do {
            _ = try await sync.importSnapshot(chunks: failing)
            XCTFail("a failing sequence finished the snapshot")
        } catch is StoreWentAway {
            // The sequence's own error, as it was thrown.
        }
        let afterFailure = try await sync.status().contacts
        XCTAssertEqual(afterFailure, UInt64(earlier.count + 3000))
        for contact in earlier {
            let stored = try await sync.contact(sourceId: contact.sourceId)
            XCTAssertNotNil(stored, contact.sourceId)
        }
    }

    func testARegistrationWhoseTaskIsCancelledMeanwhileStillHandsBackItsToken() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let slow = HeldTransport(try server.transport())
        // Detached: XCTest runs async tests on the main actor, which a plain Task would inherit.
        let registering = Task.detached { try await ContactSync.registerDevice(transport: slow) }
        // Polled, not waited for: blocking the test's actor would block what it waits for.
        var waited = 0
        while slow.entered.wait(timeout: .now()) != .success {
            waited += 1
            if waited > 6000 { return XCTFail("the registration never reached the transport") }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        registering.cancel()
        slow.release.signal()
        let registration = try await registering.value
        XCTAssertFalse(registration.token.isEmpty, "the server registered the device: its token must not be dropped")
    }

    // MARK: Errors of the engine

    func testAnUnknownRegionIsAnInvalidArgument() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("device.db").path
        XCTAssertThrowsError(try Engine.open(path: path, config: Config(region: "XX"))) { error in
            guard case ContactsyncError.InvalidArgument = error else { return XCTFail("\(error)") }
        }
        do {
            _ = try await ContactSync.open(path: path, config: Config(region: "XX"))
            XCTFail("region XX was accepted")
        } catch ContactsyncError.InvalidArgument {
        }
        XCTAssertThrowsError(try Normalizer(region: "XX")) { error in
            guard case ContactsyncError.InvalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    func testADirectoryIsNotADatabaseAsAStorageError() async throws {
        let directory = try temporaryDirectory(self).appendingPathComponent("not-a-file.db")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        do {
            _ = try await ContactSync.open(path: directory.path, config: Config(region: "DE"))
            XCTFail("a directory opened as a database")
        } catch ContactsyncError.Storage {
        }
    }

    func testATokenTheServerDoesNotKnowIsRefusedAsServer401Unauthorized() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot((0..<5).map { generatedContact($0) })
        do {
            _ = try await sync.sync(transport: try server.transport(token: "a-token-this-server-never-issued"), options: quickSync)
            XCTFail("an unknown token was accepted")
        } catch ContactsyncError.Server(let status, let code, _) {
            XCTAssertEqual(status, 401)
            XCTAssertEqual(code, "unauthorized")
        }
        // The engine is still usable.
        let contacts = try await sync.status().contacts
        XCTAssertEqual(contacts, 5)
    }

    // MARK: A panic in Rust

    func testARustPanicIsACatchableErrorAndTheLibraryKeepsWorking() async throws {
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot((0..<5).map { generatedContact($0) })
        for _ in 0..<2 {
            XCTAssertThrowsError(try debugPanicForTests(message: "boom")) { error in
                XCTAssertFalse(error is ContactsyncError, "a panic is not an engine error: \(error)")
                XCTAssert(error.localizedDescription.contains("boom"), "the panic's message reaches Swift: \(error)")
            }
        }
        let contacts = try await sync.status().contacts
        XCTAssertEqual(contacts, 5)
        XCTAssertEqual(try Normalizer(region: "DE").normalize(kind: .phone, raw: "0151 23456789").canonical, "+4915123456789")
    }

    // MARK: Helpers

    /// The store after a cancelled snapshot of `big`: everything that was there before (an
    /// unfinished snapshot removes nothing), plus at most the chunks committed before the
    /// cancellation — never the whole book — and the count agrees with the rows listed.
    private func assertConsistentAfterCancel(contacts: UInt64, listed: [String]) throws {
        XCTAssertEqual(contacts, UInt64(listed.count), "status and listing agree")
        let missing = Set(earlier.map(\.sourceId)).subtracting(listed)
        XCTAssert(missing.isEmpty, "the cancelled snapshot removed \(missing.sorted())")
        let imported = listed.count - earlier.count
        XCTAssertLessThan(imported, big.count, "the import ran to the end: \(imported) of \(big.count) stored")
    }

    /// The store after a complete import of `big`, counted independently of the engine's import.
    private func assertCompleteImport(_ status: Status) throws {
        let normalizer = try Normalizer(region: "DE")
        var valid: UInt64 = 0
        var invalid: UInt64 = 0
        for value in big.flatMap(\.values) {
            if (try? normalizer.normalize(kind: value.kind, raw: value.value)) != nil {
                valid += 1
            } else {
                invalid += 1
            }
        }
        XCTAssertEqual(status.contacts, UInt64(big.count))
        XCTAssertEqual(status.identifiers, valid, "every generated identifier is distinct")
        XCTAssertEqual(status.rejected, invalid)
    }
}

/// Reports cancelled from the first progress report on, as a "Cancel" button would.
private final class CancelOnFirstProgress: ProgressListener, @unchecked Sendable {
    // `flag` is guarded by `lock`.
    private let lock = NSLock()
    private var flag = false

    var progressed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flag
    }

    func onProgress(progress: SyncProgress) {
        lock.lock()
        flag = true
        lock.unlock()
    }

    func isCancelled() -> Bool { progressed }
}

/// Holds the request until released, then passes it on.
private final class HeldTransport: Transport {
    let entered = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    private let inner: Transport

    init(_ inner: Transport) {
        self.inner = inner
    }

    func send(request: HttpRequest) throws -> HttpResponse {
        entered.signal()
        guard release.wait(timeout: .now() + 60) == .success else {
            throw ContactsyncError.Network(detail: "the test never released the request")
        }
        return try inner.send(request: request)
    }
}

/// Passes on its chunks; asked for one more (so every chunk was pushed), signals, then waits until
/// the task is cancelled.
private struct ChunksThenSignal: AsyncSequence {
    typealias Element = [RawContact]
    let chunks: [[RawContact]]
    let signal: AsyncStream<Void>.Continuation

    struct AsyncIterator: AsyncIteratorProtocol {
        var left: ArraySlice<[RawContact]>
        let signal: AsyncStream<Void>.Continuation

        mutating func next() async throws -> [RawContact]? {
            if left.isEmpty {
                signal.yield()
                // Never ends on its own: only the task's cancellation gets the import out of here.
                while !Task.isCancelled {
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
                throw CancellationError()
            }
            return left.popFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(left: chunks[...], signal: signal)
    }
}
