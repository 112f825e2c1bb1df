import ContactSyncFFI
import Foundation

/// The HTTP requests one engine call has in flight, and the switch that aborts them: how a
/// cancelled Swift task reaches a request the engine is blocked in.
///
/// The engine calls its ``Transport`` synchronously, on the dispatch thread running the sync, and
/// polls the task's cancellation only between requests. Without this, a cancelled sync (a
/// `BGAppRefreshTask` whose time ran out) would wait for the request under way to answer or time
/// out. ``ContactSync`` makes one per sync, hands it to an ``AbortableTransport`` with every
/// request, and calls ``cancel()`` from the task's cancellation handler; the transport cancels the
/// request (``URLSessionTransport`` cancels the task running `URLSession.data(for:)`), the engine
/// sees it fail while its listener reports the cancellation, and ends the sync as cancelled (no
/// backoff recorded: it was no network failure).
///
/// Thread-safe; ``register(_:)`` and ``cancel()`` may race from any threads, and a request
/// registered after ``cancel()`` is aborted at once, so none slips through.
public final class InFlightRequests: @unchecked Sendable {
    // All state is read and written with the lock held, which is why the class can be
    // @unchecked Sendable; the aborts run outside it.
    private let lock = NSLock()
    private var cancelled = false
    private var nextId = 0
    private var aborts: [Int: @Sendable () -> Void] = [:]

    public init() {}

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// Registers how to abort one request until the returned handle's `end()`; when ``cancel()``
    /// was already called, `abort` runs at once, before this returns.
    public func register(_ abort: @escaping @Sendable () -> Void) -> Registration {
        lock.lock()
        let id = nextId
        nextId += 1
        let already = cancelled
        if !already { aborts[id] = abort }
        lock.unlock()
        if already { abort() }
        return Registration(requests: self, id: id)
    }

    /// Aborts every request registered and every one registered later. Idempotent.
    public func cancel() {
        lock.lock()
        if cancelled {
            lock.unlock()
            return
        }
        cancelled = true
        let toAbort = Array(aborts.values)
        aborts.removeAll()
        lock.unlock()
        for abort in toAbort { abort() }
    }

    fileprivate func end(_ id: Int) {
        lock.lock()
        aborts[id] = nil
        lock.unlock()
    }

    /// One registered request; ``end()`` it when the request ended.
    public struct Registration: Sendable {
        fileprivate let requests: InFlightRequests
        fileprivate let id: Int

        /// The request ended: nothing to abort any more.
        public func end() {
            requests.end(id)
        }
    }
}

/// A ``Transport`` whose requests can be aborted while in flight: ``ContactSync/sync(transport:options:onUnauthorized:)``
/// and ``ContactSync/syncEvents(transport:options:)`` then cancel the request under way when their
/// task is cancelled, instead of waiting for it to answer or time out. ``URLSessionTransport`` is
/// one; a transport of the app's own can be one too.
public protocol AbortableTransport: Transport {
    /// Sends `request` as `send(request:)` does, registering with `inFlight` how to abort it for as
    /// long as it is under way. An aborted request throws `ContactsyncError.Network`, as any request
    /// without an answer does.
    func send(request: HttpRequest, inFlight: InFlightRequests) throws -> HttpResponse
}

/// `transport` with every request registered with `inFlight`: what the engine gets for one sync.
final class BoundTransport: Transport, @unchecked Sendable {
    // Both are immutable and thread-safe themselves.
    private let transport: AbortableTransport
    private let inFlight: InFlightRequests

    init(_ transport: AbortableTransport, _ inFlight: InFlightRequests) {
        self.transport = transport
        self.inFlight = inFlight
    }

    func send(request: HttpRequest) throws -> HttpResponse {
        try transport.send(request: request, inFlight: inFlight)
    }
}
