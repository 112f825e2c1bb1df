import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the `BGAppRefreshTask` and `CNContactStoreDidChange` glue runs, on Linux: a background run
/// against the real engine and reference server (or a refusing port, or a server that never
/// answers), the complete-once state machine with its expiry cancelling the Rust work, the
/// debounce, the observer, and the next refresh date.
final class BackgroundTests: XCTestCase {
    private func openEngine() async throws -> ContactSync {
        let dir = try temporaryDirectory(self)
        return try await ContactSync.open(path: dir.appendingPathComponent("device.db").path, config: Config(region: "DE"))
    }

    private let ana = RawContact(
        sourceId: "1", displayName: "Ana", values: [Labelled(kind: .phone, label: "mobile", value: "0151 23456789")],
        version: "1")

    func testARunImportsSyncsAndSucceedsWithTheMatch() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        let token = try await ContactSync.registerDevice(transport: try server.transport()).token
        let sync = try await openEngine()
        let contact = ana
        let work = BackgroundSync(
            contactSync: sync, importContacts: { _ = try await sync.importSnapshot([contact]) },
            transport: try server.transport(token: token))
        let outcome = await work.run()
        guard case .success(let report?) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(report.newMatches, 1)
        XCTAssert(outcome.succeeded)
        let matches = try await sync.matches()
        XCTAssertEqual(matches.map(\.userRef), ["u_ana"])
    }

    func testOfflineIsARetryWithoutADateThenTheEnginesBackoffGivesOne() async throws {
        let closed = try RefusingPort()
        let sync = try await openEngine()
        _ = try await sync.importSnapshot([ana])
        let transport = try URLSessionTransport(
            baseURL: URL(string: "http://127.0.0.1:\(closed.port)/")!, session: URLSession(configuration: .ephemeral),
            token: "device-token")
        let work = BackgroundSync(
            contactSync: sync, importContacts: nil, transport: transport, options: SyncOptions(maxAttempts: 1, maxWaitMs: 0))
        guard case .retry(nil, ContactsyncError.Network) = await work.run() else { return XCTFail("not an offline retry") }
        // The engine persisted a backoff: the next run does not touch the network and gives a date.
        guard case .retry(let notBefore?, ContactsyncError.RetryLater) = await work.run() else {
            return XCTFail("not a retry at the engine's time")
        }
        XCTAssertGreaterThan(notBefore, Date().addingTimeInterval(-1))
    }

    func testAnUnknownTokenIsAFailureNotARetry() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let sync = try await openEngine()
        _ = try await sync.importSnapshot([ana])
        let outcome = await BackgroundSync(
            contactSync: sync, importContacts: nil, transport: try server.transport(token: "not-a-token")
        ).run()
        guard case .failure(ContactsyncError.Server(401, _, _)) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertFalse(outcome.succeeded)
    }

    func testAnExpiredRunCancelsTheSyncInFlightAndCompletesOnceWithFalse() async throws {
        let stalled = try StallingServer()
        defer { stalled.stop() }
        let sync = try await openEngine()
        _ = try await sync.importSnapshot([ana])
        let patient = URLSessionConfiguration.ephemeral
        patient.timeoutIntervalForRequest = 600
        let work = BackgroundSync(
            contactSync: sync, importContacts: nil,
            transport: try URLSessionTransport(baseURL: stalled.baseURL, session: URLSession(configuration: patient), token: "t"))
        let completions = Completions()
        let ended = DispatchSemaphore(value: 0)
        let outcome = Box<BackgroundOutcome?>(nil)
        let run = BackgroundRun { completions.record($0) }
        run.start {
            let result = await work.run()
            outcome.value = result
            ended.signal()
            return result.succeeded
        }
        let requested = await offThePool { stalled.awaitRequest() }
        XCTAssert(requested, "the run never reached the sync")
        // The system's expirationHandler.
        run.expire()
        XCTAssertEqual(completions.all, [false], "completed at once on expiry")
        let done = await offThePool { ended.wait(timeout: .now() + 60) == .success }
        XCTAssert(done, "the sync did not end once cancelled")
        guard case .cancelled = outcome.value else { return XCTFail("\(String(describing: outcome.value))") }
        XCTAssertEqual(completions.all, [false], "the work's own end completes nothing more")
        let closed = await offThePool { stalled.awaitClientClosed() }
        XCTAssert(closed, "the request was abandoned, not cancelled")
    }

    func testARunCompletesOnceWithItsWorksResultAndAnExpiryAfterwardsChangesNothing() async throws {
        let completions = Completions()
        let ended = DispatchSemaphore(value: 0)
        let run = BackgroundRun { completions.record($0) }
        run.start {
            ended.signal()
            return true
        }
        let done = await offThePool { ended.wait(timeout: .now() + 60) == .success }
        XCTAssert(done)
        while !run.isCompleted { await Task.yield() }
        run.expire()
        XCTAssertEqual(completions.all, [true])

        let early = Completions()
        let expired = BackgroundRun { early.record($0) }
        expired.expire()
        expired.start { XCTFail("an expired run must not start"); return true }
        XCTAssertEqual(early.all, [false])
    }

    func testABurstOfSignalsRunsTheActionOnceAndASignalDuringARunRunsItOnceMoreAfter() async throws {
        let counter = RunCounter()
        let debouncer = Debouncer(delay: 0.2) { await counter.run() }
        for _ in 0..<10 { debouncer.signal() }
        await debouncer.idle()
        XCTAssertEqual(counter.runs, 1)

        // A signal while the action runs: one more run, after it, never at the same time.
        counter.hold = true
        debouncer.signal()
        while counter.started < 2 { await Task.yield() }
        debouncer.signal()
        debouncer.signal()
        counter.release()
        await debouncer.idle()
        XCTAssertEqual(counter.runs, 3)
        XCTAssertEqual(counter.maxConcurrent, 1)
    }

    func testTheObserverDebouncesNotificationsAndStopsOnStop() async throws {
        let center = NotificationCenter()
        let name = Notification.Name("contacts-changed")
        let counter = RunCounter()
        let observer = ContactChangeObserver(name: name, delay: 0.2, center: center) { await counter.run() }
        for _ in 0..<5 { center.post(name: name, object: nil) }
        await observer.idle()
        XCTAssertEqual(counter.runs, 1)
        observer.stop()
        center.post(name: name, object: nil)
        await observer.idle()
        XCTAssertEqual(counter.runs, 1, "a stopped observer runs nothing")
    }

    func testTheNextRefreshHonoursTheServersDateAndRetriesSoonerAfterAnExpiry() {
        let plan = BackgroundRefreshPlan(interval: 4 * 3600, retryInterval: 900)
        let now = Date(timeIntervalSince1970: 1_000_000)
        XCTAssertEqual(plan.nextBegin(after: nil, now: now), now.addingTimeInterval(4 * 3600))
        XCTAssertEqual(plan.nextBegin(after: .success(nil), now: now), now.addingTimeInterval(4 * 3600))
        XCTAssertEqual(plan.nextBegin(after: .cancelled, now: now), now.addingTimeInterval(900))
        let offline = BackgroundOutcome.retry(notBefore: nil, error: ContactsyncError.Network(detail: "offline"))
        XCTAssertEqual(plan.nextBegin(after: offline, now: now), now.addingTimeInterval(900))
        let later = now.addingTimeInterval(7200)
        XCTAssertEqual(plan.nextBegin(after: .retry(notBefore: later, error: ContactsyncError.RetryLater(until: 0)), now: now), later)
        let soon = now.addingTimeInterval(10)
        XCTAssertEqual(
            plan.nextBegin(after: .retry(notBefore: soon, error: ContactsyncError.RetryLater(until: 0)), now: now),
            now.addingTimeInterval(900), "never sooner than the retry interval")
        guard case .cancelled = BackgroundSync.classify(CancellationError()) else { return XCTFail("cancellation") }
    }
}

/// The completions a ``BackgroundRun`` made, in order.
private final class Completions: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Bool] = []

    func record(_ success: Bool) {
        lock.lock()
        values.append(success)
        lock.unlock()
    }

    var all: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// Counts runs of a debounced action, the most at once, and can hold a run until released.
private final class RunCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var _runs = 0
    private var _started = 0
    private var running = 0
    private var _maxConcurrent = 0
    private var _hold = false

    var runs: Int { locked { _runs } }
    var started: Int { locked { _started } }
    var maxConcurrent: Int { locked { _maxConcurrent } }
    var hold: Bool {
        get { locked { _hold } }
        set { locked { _hold = newValue } }
    }

    func release() { hold = false }

    func run() async {
        locked {
            _started += 1
            running += 1
            _maxConcurrent = max(_maxConcurrent, running)
        }
        while hold { await Task.yield() }
        locked {
            running -= 1
            _runs += 1
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
