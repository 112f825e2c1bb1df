import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real HTTP peer on loopback that accepts connections, reads what the client sends and never
/// answers: the stalled server (or dead mobile link) a cancellation must get a sync out of. Not a
/// mock: URLSession connects, writes its request and waits for an answer, as against a real server
/// that hangs.
///
/// ``awaitRequest(timeout:)`` waits until a request's first bytes arrived, so a test cancels while
/// the request is provably in flight; ``awaitClientClosed(timeout:)`` until the client closed that
/// connection, which is what a cancelled request does (an abandoned one keeps it open).
final class StallingServer: @unchecked Sendable {
    // The descriptors are written once in init; the semaphores are thread-safe.
    let port: UInt16
    private let fd: Int32
    private let requested = DispatchSemaphore(value: 0)
    private let clientClosed = DispatchSemaphore(value: 0)

    init() throws {
        (fd, port) = try listenOnLoopback(backlog: 8)
        Thread { [self] in self.acceptLoop() }.start()
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    /// Whether a request arrived within `timeout` seconds (a hang guard, not a timing).
    func awaitRequest(timeout: TimeInterval = 60) -> Bool {
        requested.wait(timeout: .now() + timeout) == .success
    }

    /// Whether the client closed a connection within `timeout` seconds (a hang guard, not a timing).
    func awaitClientClosed(timeout: TimeInterval = 60) -> Bool {
        clientClosed.wait(timeout: .now() + timeout) == .success
    }

    /// Stops accepting; connections still open are left to the client (the test's process ends them).
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            Thread { [self] in self.drain(client) }.start()
        }
    }

    private func drain(_ client: Int32) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var signalled = false
        while true {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { break }
            if !signalled {
                signalled = true
                requested.signal()
            }
        }
        close(client)
        clientClosed.signal()
    }
}

/// Runs `work` in a task of its own, cancels that task once a request reached `server` (what the
/// system does to a `BGAppRefreshTask` whose time ran out, or a screen to a sync it no longer
/// shows), and returns how `work` ended: its result or the error it threw. `nil` when it did not
/// end within a minute — the hang guard, far beyond any real cancellation, never a timing.
func cancelWhileInFlight<T: Sendable>(
    _ server: StallingServer, _ work: @escaping @Sendable () async throws -> T
) async throws -> Result<T, Error>? {
    let ended = DispatchSemaphore(value: 0)
    let outcome = Box<Result<T, Error>?>(nil)
    let task = Task {
        let result: Result<T, Error>
        do {
            result = .success(try await work())
        } catch {
            result = .failure(error)
        }
        outcome.value = result
        ended.signal()
    }
    guard await offThePool({ server.awaitRequest() }) else {
        throw TestFailure("no request reached the stalling server")
    }
    task.cancel()
    let done = await offThePool { ended.wait(timeout: .now() + 60) == .success }
    return done ? outcome.value : nil
}

/// A blocking wait run on a dispatch thread, not one of Swift concurrency's few pool threads (the
/// request under test runs on those).
func offThePool(_ wait: @escaping @Sendable () -> Bool) async -> Bool {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: wait()) }
    }
}

/// A TCP socket listening on a free loopback port: its descriptor and the port.
func listenOnLoopback(backlog: Int32) throws -> (fd: Int32, port: UInt16) {
    let (fd, port) = try bindLoopback()
    guard listen(fd, backlog) == 0 else {
        close(fd)
        throw TestFailure("cannot listen on loopback")
    }
    return (fd, port)
}
