import Foundation

/// One background run that completes exactly once, whichever comes first: its work finishing, or
/// the system taking the time back (a `BGAppRefreshTask`'s `expirationHandler`). The state machine
/// ``ContactSyncBackgroundRefresh`` drives, in plain Swift so it is tested on Linux.
///
/// ``expire()`` cancels the Swift task running the work — which cancels the Rust work through
/// ``ContactSync``'s listener and the request in flight through ``InFlightRequests`` — and
/// completes with `false` at once: the system wants `setTaskCompleted` promptly after expiry, not
/// once the work has wound down. A completion that comes later (the work's own) is dropped.
public final class BackgroundRun: @unchecked Sendable {
    // `completed` and `task` are read and written with the lock held, which is why the class can be
    // @unchecked Sendable; `complete` is called outside it, once.
    private let lock = NSLock()
    private var completed = false
    private var expired = false
    private var task: Task<Void, Never>?
    private let complete: @Sendable (Bool) -> Void

    /// - Parameter complete: called exactly once with whether the run succeeded
    ///   (`BGTask.setTaskCompleted(success:)`).
    public init(complete: @escaping @Sendable (Bool) -> Void) {
        self.complete = complete
    }

    /// Starts `work` in a task of its own; its result completes the run unless it expired first.
    /// A run that expired before it started completes at once without starting anything.
    public func start(_ work: @escaping @Sendable () async -> Bool) {
        lock.lock()
        guard !expired, task == nil else {
            lock.unlock()
            return
        }
        task = Task { [self] in
            let success = await work()
            self.finish(success)
        }
        lock.unlock()
    }

    /// The system's time is up: cancels the work and completes with `false`.
    public func expire() {
        lock.lock()
        expired = true
        let running = task
        lock.unlock()
        running?.cancel()
        finish(false)
    }

    /// Whether the run has completed.
    public var isCompleted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return completed
    }

    private func finish(_ success: Bool) {
        lock.lock()
        let first = !completed
        completed = true
        lock.unlock()
        if first { complete(success) }
    }
}

/// Runs an action a quiet moment after the last of a burst of signals, never two at once: what a
/// `CNContactStoreDidChange` burst (a sync of the user's accounts writes many contacts) turns into —
/// one incremental import after it, not one per notification.
///
/// A signal while the action runs schedules one more run after it (the running one may have read
/// the address book before the change); signals during the wait push it back.
public final class Debouncer: @unchecked Sendable {
    // `generation` and `last` are read and written with the lock held, which is why the class can
    // be @unchecked Sendable.
    private let lock = NSLock()
    private let delayNanoseconds: UInt64
    private let action: @Sendable () async -> Void
    private var generation = 0
    private var last: Task<Void, Never>?

    /// - Parameters:
    ///   - delay: the quiet time, in seconds, after the last signal.
    ///   - action: what to run (an incremental import, then a sync).
    public init(delay: TimeInterval, action: @escaping @Sendable () async -> Void) {
        delayNanoseconds = UInt64(max(0, delay) * 1_000_000_000)
        self.action = action
    }

    /// Something changed: run the action after the quiet time.
    public func signal() {
        lock.lock()
        generation += 1
        let mine = generation
        let previous = last
        last = Task { [self] in
            try? await Task.sleep(nanoseconds: self.delayNanoseconds)
            // Runs never overlap: every task, superseded or not, waits for the one before it, so
            // the chain always passes through an action under way.
            await previous?.value
            guard self.isCurrent(mine), !Task.isCancelled else { return }
            await self.action()
        }
        lock.unlock()
    }

    /// Drops a pending run and cancels one under way (the observer stopped).
    public func cancel() {
        lock.lock()
        generation += 1
        let running = last
        lock.unlock()
        running?.cancel()
    }

    /// Waits until the latest scheduled run (if any) has ended: for tests and orderly shutdown.
    public func idle() async {
        await latest()?.value
    }

    /// The latest scheduled task; a plain function, as locks may not be taken in async code.
    private func latest() -> Task<Void, Never>? {
        lock.lock()
        defer { lock.unlock() }
        return last
    }

    private func isCurrent(_ mine: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return generation == mine
    }
}
