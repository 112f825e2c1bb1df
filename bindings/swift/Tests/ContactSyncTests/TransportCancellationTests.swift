import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Cancelling the task of a sync cancels the URLSession request the engine is blocked in: against a
/// real loopback server that accepts the request and never answers, with a session whose timeouts
/// are ten minutes, the sync still ends with `CancellationError`, the client closes the connection,
/// and the engine records no backoff (the next sync, against the real reference server, runs at
/// once without forcing).
///
/// No wall-time assertion: the guards are generous (a minute) and only keep a regression from
/// hanging the run; without the abort the sync would wait out the session's ten minutes.
final class TransportCancellationTests: XCTestCase {
    private let patient: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 600
        configuration.timeoutIntervalForResource = 600
        return URLSession(configuration: configuration)
    }()

    func testCancellingTheTaskCancelsTheRequestInFlightAndEndsTheSyncAsCancelled() async throws {
        let dir = try temporaryDirectory(self)
        let sync = try await ContactSync.open(
            path: dir.appendingPathComponent("device.db").path, config: Config(region: "DE"))
        _ = try await sync.importSnapshot((0..<20).map { generatedContact($0) })

        let stalled = try StallingServer()
        defer { stalled.stop() }
        let transport = try URLSessionTransport(baseURL: stalled.baseURL, session: patient, token: "device-token")
        let ended = try await cancelWhileInFlight(stalled) {
            try await sync.sync(transport: transport, options: SyncOptions(maxAttempts: 3, force: true))
        }
        guard let ended else { return XCTFail("the sync did not end once cancelled") }
        guard case .failure(let error) = ended, error is CancellationError else {
            return XCTFail("the sync ended with \(ended)")
        }
        let closed = await offThePool { stalled.awaitClientClosed() }
        XCTAssert(closed, "the request was abandoned, not cancelled")

        // No backoff was recorded for the aborted request: a sync that does not force its way past
        // one runs at once against a server that answers.
        let server = try ReferenceServer()
        defer { server.stop() }
        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let report = try await sync.sync(transport: try server.transport(token: registration.token))
        XCTAssertGreaterThanOrEqual(report.batchesSent, 1, "\(report)")
    }

    func testARequestRegisteredAfterTheCancellationIsAbortedAtOnceAsANetworkError() throws {
        let stalled = try StallingServer()
        defer { stalled.stop() }
        let transport = try URLSessionTransport(baseURL: stalled.baseURL, session: patient, token: nil)
        let inFlight = InFlightRequests()
        inFlight.cancel()
        // Without the abort this would wait out the session's ten minutes.
        XCTAssertThrowsError(
            try transport.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()), inFlight: inFlight)
        ) { error in
            guard case ContactsyncError.Network = error else { return XCTFail("\(error)") }
        }
    }
}
