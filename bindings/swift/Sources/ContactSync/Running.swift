import ContactSyncFFI
import Dispatch
import Foundation

/// Where the blocking Rust calls run: a private concurrent dispatch queue.
///
/// Not the cooperative thread pool of Swift concurrency: it has about one thread per core and
/// every `async` function in the app shares it, so a call blocked for seconds in SQLite or on the
/// network there would stall unrelated tasks. Dispatch adds threads to a queue whose work blocks.
/// Not the main queue either: the main actor must never wait for the engine. The queue has no
/// quality of service of its own, so each call runs at its caller's: a user's "find friends" at
/// user-initiated, a background refresh at background.
enum Blocking {
    static let queue = DispatchQueue(label: "io.github.contactsync.engine", attributes: .concurrent)

    /// Runs `work` on ``queue`` and returns its result. The continuation resumes whatever the
    /// task's cancellation state, so a result (a token, an opened engine) is never dropped; long
    /// calls stop through their listener instead (``ContactSync``'s Cancellation).
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            queue.async {
                continuation.resume(with: Result { try mapped(work) })
            }
        }
    }

    /// The engine's own errors as they are; anything else UniFFI throws (its internal error type,
    /// which apps cannot name: a Rust panic) as ``ContactSyncInternalError``.
    private static func mapped<T>(_ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as ContactsyncError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw ContactSyncInternalError(message: String(describing: error.localizedDescription))
        }
    }
}

/// A flag set once, read from any thread (the task's cancellation handler sets it, the engine's
/// thread reads it).
final class CancellationFlag: @unchecked Sendable {
    // All access holds the lock, which is why the class can be @unchecked Sendable.
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

/// The listener handed to Rust: called on the engine's thread every few hundred items, so it only
/// reads a flag and hands progress on, and it never throws (a throwing `isCancelled` would cancel
/// the work, a throwing `onProgress` would be ignored).
final class TaskListener: ProgressListener {
    private let flag: CancellationFlag
    private let sink: @Sendable (SyncProgress) -> Void

    init(flag: CancellationFlag, sink: @escaping @Sendable (SyncProgress) -> Void) {
        self.flag = flag
        self.sink = sink
    }

    func onProgress(progress: SyncProgress) {
        sink(progress)
    }

    func isCancelled() -> Bool {
        flag.isSet
    }
}

/// The state behind ``ContactSync/progressUpdates``: the latest progress while at least one long
/// operation is under way, `nil` otherwise, fanned out to every open stream.
final class ProgressHub: @unchecked Sendable {
    // All state is read and written with the lock held, which is why the class can be
    // @unchecked Sendable. Yielding to a continuation never blocks (the streams buffer one value).
    private let lock = NSLock()
    private var running = 0
    private var latest: SyncProgress?
    private var nextId = 0
    private var subscribers: [Int: AsyncStream<SyncProgress?>.Continuation] = [:]

    var current: SyncProgress? {
        lock.lock()
        defer { lock.unlock() }
        return latest
    }

    /// A new stream starting with the current value.
    func stream() -> AsyncStream<SyncProgress?> {
        let (stream, continuation) = AsyncStream<SyncProgress?>.makeStream(bufferingPolicy: .bufferingNewest(1))
        lock.lock()
        let id = nextId
        nextId += 1
        subscribers[id] = continuation
        continuation.yield(latest)
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.lock()
            self.subscribers[id] = nil
            self.lock.unlock()
        }
        return stream
    }

    /// A long operation starts. Nested ones (each chunk of a streamed snapshot inside the whole
    /// snapshot) count once each, so the outer one keeps the progress alive between the inner ones.
    func begin() {
        lock.lock()
        running += 1
        lock.unlock()
    }

    /// A long operation ended; the last one to end resets the progress to `nil`.
    func end() {
        lock.lock()
        defer { lock.unlock() }
        running -= 1
        if running == 0 {
            set(nil)
        }
    }

    func publish(_ progress: SyncProgress) {
        lock.lock()
        defer { lock.unlock() }
        if running > 0 {
            set(progress)
        }
    }

    /// With the lock held.
    private func set(_ value: SyncProgress?) {
        guard value != latest else { return }
        latest = value
        for continuation in subscribers.values {
            continuation.yield(value)
        }
    }

    deinit {
        for continuation in subscribers.values {
            continuation.finish()
        }
    }
}

/// The app's async hook as the engine's ``Reregister``. The engine calls it on the call's thread, a
/// thread of ``Blocking/queue`` (never the cooperative pool), which waits here for the hook's task:
/// blocking that thread is what it is for. The engine turns a hook that threw into the 401;
/// ``around(_:_:)`` then throws the hook's own error instead.
final class Reregistering: Reregister, Sendable {
    private let hook: @Sendable () async throws -> Void
    private let outcome = Outcome()

    init(_ hook: @escaping @Sendable () async throws -> Void) {
        self.hook = hook
    }

    /// Runs `call` (an engine call given the hook) with `onUnauthorized` as its hook. When the hook
    /// threw, the call throws what the hook threw, as the same retry written around the call would:
    /// the app gets its own error, not only its description in the engine's 401.
    static func around<T>(
        _ onUnauthorized: (@Sendable () async throws -> Void)?,
        _ call: (Reregistering?) async throws -> T
    ) async throws -> T {
        let hook = onUnauthorized.map(Reregistering.init)
        do {
            return try await call(hook)
        } catch {
            throw hook?.outcome.error ?? error
        }
    }

    func reregister() throws {
        let done = DispatchSemaphore(value: 0)
        Task { [hook, outcome] in
            do {
                try await hook()
            } catch {
                outcome.fail(error)
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            // The engine adds this to its 401's message: the full description, not only the type.
            throw ContactsyncError.Callback(detail: "the re-registration hook threw \(String(reflecting: error))")
        }
    }

    /// The hook's error, handed from its task to the waiting thread and on to ``around(_:_:)``.
    private final class Outcome: @unchecked Sendable {
        // Written and read with the lock held: by the hook's task, the engine's thread and the
        // caller's task once the engine's call returned.
        private let lock = NSLock()
        private var failure: Error?

        var error: Error? {
            lock.lock()
            defer { lock.unlock() }
            return failure
        }

        func fail(_ error: Error) {
            lock.lock()
            failure = error
            lock.unlock()
        }
    }
}
