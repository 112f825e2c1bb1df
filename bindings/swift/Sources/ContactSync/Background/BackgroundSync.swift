import ContactSyncFFI
import Foundation

/// One background run — import what changed in the address book, then sync — and what it means
/// for the next one: the work a `BGAppRefreshTask` (``ContactSyncBackgroundRefresh``) or a
/// contacts-change observer (``ContactChangeObserver``) runs, in plain Swift so it is tested on
/// Linux against the real engine and server.
///
/// Cancelling the task running ``run()`` (an expired `BGAppRefreshTask`) stops the Rust work and
/// the request in flight; ``run()`` then returns ``BackgroundOutcome/cancelled``. Nothing is lost:
/// an import commits in transactions and a sync resumes.
public struct BackgroundSync: Sendable {
    /// The app's engine.
    public let contactSync: ContactSync
    /// The import, e.g. `{ _ = try await importer.importContacts() }`; `nil` to sync only.
    public let importContacts: (@Sendable () async throws -> Void)?
    /// The device's transport; `nil` while it has no token yet (the run then imports only).
    public let transport: Transport?
    /// The sync's options; a server's wait longer than `maxWaitMs` comes back as ``BackgroundOutcome/retry(notBefore:error:)``.
    public let options: SyncOptions
    /// The app's re-registration, called at most once on a `401` (as in
    /// ``ContactSync/sync(transport:options:onUnauthorized:)``): register again and store the new
    /// token where `transport` reads it, and the run succeeds instead of failing until the app is
    /// next opened; `nil` makes a 401 a ``BackgroundOutcome/failure(_:)``.
    public let onUnauthorized: (@Sendable () async throws -> Void)?

    public init(
        contactSync: ContactSync,
        importContacts: (@Sendable () async throws -> Void)?,
        transport: Transport?,
        options: SyncOptions = SyncOptions(),
        onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) {
        self.contactSync = contactSync
        self.importContacts = importContacts
        self.transport = transport
        self.options = options
        self.onUnauthorized = onUnauthorized
    }

    /// Imports, then syncs; never throws: the outcome says what happened (see ``classify(_:)``).
    public func run() async -> BackgroundOutcome {
        do {
            try await importContacts?()
            guard let transport else { return .success(nil) }
            return .success(
                try await contactSync.sync(transport: transport, options: options, onUnauthorized: onUnauthorized))
        } catch {
            return Self.classify(error)
        }
    }

    /// What a failed run means for the next one, from the engine's typed errors:
    ///
    /// | Error | Outcome |
    /// |---|---|
    /// | `CancellationError` (the task was cancelled: expiry) | ``BackgroundOutcome/cancelled`` |
    /// | `.RetryLater(until)` (the server's wait, or the engine's persisted backoff) | ``BackgroundOutcome/retry(notBefore:error:)`` at `until` |
    /// | `.Network` (offline, DNS, a timeout), `.Storage` (busy, full disk) | ``BackgroundOutcome/retry(notBefore:error:)`` without a date |
    /// | `.Server` 401/403, ``ContactsAccessError`` (access revoked), anything else | ``BackgroundOutcome/failure(_:)`` |
    public static func classify(_ error: Error) -> BackgroundOutcome {
        switch error {
        case is CancellationError:
            return .cancelled
        case ContactsyncError.RetryLater(let until):
            return .retry(notBefore: Date(timeIntervalSince1970: TimeInterval(until)), error: error)
        case ContactsyncError.Network, ContactsyncError.Storage:
            return .retry(notBefore: nil, error: error)
        default:
            return .failure(error)
        }
    }
}

/// How a background run ended.
public enum BackgroundOutcome: Sendable {
    /// Done; the sync's report (`nil` without a transport).
    case success(SyncReport?)
    /// Worth running again: not before `notBefore` when the server gave a time.
    case retry(notBefore: Date?, error: Error)
    /// Running again will not help until something changes (a new token, contacts access).
    case failure(Error)
    /// The task was cancelled (the system's time ran out).
    case cancelled

    /// What `BGTask.setTaskCompleted(success:)` is told.
    public var succeeded: Bool {
        if case .success = self { return true }
        return false
    }
}

/// When to ask for the next `BGAppRefreshTask`: its `earliestBeginDate`. The system decides when
/// the refresh actually runs (from the app's use, battery, network); this is only the floor.
public struct BackgroundRefreshPlan: Sendable, Equatable {
    /// The floor after a run that succeeded or failed for good; 4 hours by default.
    public var interval: TimeInterval
    /// The floor after a run that should be retried (offline, expired) without a server's date;
    /// 15 minutes by default.
    public var retryInterval: TimeInterval

    public init(interval: TimeInterval = 4 * 3600, retryInterval: TimeInterval = 15 * 60) {
        self.interval = interval
        self.retryInterval = retryInterval
    }

    /// The next refresh's `earliestBeginDate` after `outcome` (`nil`: before the run, as scheduled
    /// at its start so an expiry still leaves one scheduled). A server's date is honoured, never
    /// brought forward.
    public func nextBegin(after outcome: BackgroundOutcome?, now: Date) -> Date {
        switch outcome {
        case nil, .success, .failure:
            return now.addingTimeInterval(interval)
        case .cancelled, .retry(.none, _):
            return now.addingTimeInterval(retryInterval)
        case .retry(let notBefore?, _):
            return max(notBefore, now.addingTimeInterval(retryInterval))
        }
    }
}
