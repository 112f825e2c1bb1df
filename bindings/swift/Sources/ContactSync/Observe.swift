import ContactSyncFFI
import Foundation

extension ContactSync {
    /// The contacts who use the app (``matches()``), now and again after every change that may
    /// alter them — an import, a sync, an exclusion, a wipe, a redeemed invite — whichever
    /// ``ContactSync`` or background task on the same file made it. What a contacts screen binds to:
    ///
    /// ```swift
    /// .task {
    ///     do {
    ///         for try await matches in contactSync.observeMatches() { self.matches = matches }
    ///     } catch { self.error = error }
    /// }
    /// ```
    ///
    /// See ``observe(relevant:_:)`` for how it works and what it does not see.
    public func observeMatches() -> AsyncThrowingStream<[Match], Error> {
        observe(relevant: { $0.matches }) { try await $0.matches() }
    }

    /// The invites this device created (``invites()``), now and again after every change that may
    /// alter them: one created or revoked, a redemption a sync learned (a change of the matches),
    /// leaving the server, a wipe. See ``observe(relevant:_:)``.
    public func observeInvites() -> AsyncThrowingStream<[InviteView], Error> {
        observe(relevant: { $0.invites || $0.matches }) { try await $0.invites() }
    }

    /// `read` now, and again after every change to the database made in this process that
    /// `relevant` accepts, as a stream.
    ///
    /// The Rust engine tells a ``ChangeObserver`` after each committed change; the stream
    /// subscribes *before* its first read, so no change falls between the read and the
    /// subscription. Signals are conflated: a slow consumer (or a burst of changes during one read)
    /// gets one more read, never a queue of stale ones, and the Rust thread never waits. The
    /// subscription ends when the stream terminates: the iterating task is cancelled, or the stream
    /// is released; a read that throws ends the stream with its error.
    ///
    /// Not observed: another *process* writing the same file (the CLI, an app extension). Nothing
    /// in this process runs when it commits; read again when you know it did.
    public func observe<T: Sendable>(
        relevant: @escaping @Sendable (Changes) -> Bool = { _ in true },
        _ read: @escaping @Sendable (ContactSync) async throws -> T
    ) -> AsyncThrowingStream<T, Error> {
        let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let subscription = engine.subscribe(observer: Signal { if relevant($0) { signal.yield() } })
        // The first read, queued after subscribing: a change committed meanwhile is read as well.
        signal.yield()
        let (stream, output) = AsyncThrowingStream<T, Error>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let reading = Task { [self] in
            for await _ in signals {
                do {
                    output.yield(try await read(self))
                } catch {
                    output.finish(throwing: error)
                    return
                }
            }
            output.finish()
        }
        output.onTermination = { _ in
            subscription.cancel()
            signal.finish()
            reading.cancel()
        }
        return stream
    }
}

/// The engine's observer: hands each change to `onChange`, on the engine's thread.
private final class Signal: ChangeObserver, Sendable {
    private let onChange: @Sendable (Changes) -> Void

    init(_ onChange: @escaping @Sendable (Changes) -> Void) {
        self.onChange = onChange
    }

    func onChange(changes: Changes) throws {
        onChange(changes)
    }
}
