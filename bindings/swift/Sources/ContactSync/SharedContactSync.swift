import Foundation

/// The app's one ``ContactSync``, opened on first use: what the contacts screen, the background
/// refresh, the contacts-change observer and an opened invite link share, so that one's changes
/// reach the others' ``ContactSync/observeMatches()`` (docs/engine.md).
///
/// Made synchronously — where a `BGAppRefreshTask` handler must be registered before launch ends —
/// and opened by the first ``get()``; concurrent first calls wait for the same opening. A failed
/// opening (a busy or full disk) is thrown to the callers that were waiting, and the next
/// ``get()`` tries again. It saves every app the lazy, once-only opener it would otherwise write.
///
/// ```swift
/// let contacts = SharedContactSync { try await ContactSync.open(url: databaseURL, config: config) }
/// // anywhere, in a task:
/// let sync = try await contacts.get()
/// ```
public actor SharedContactSync {
    private let open: @Sendable () async throws -> ContactSync
    private var engine: ContactSync?
    private var opening: Task<ContactSync, Error>?

    public init(open: @escaping @Sendable () async throws -> ContactSync) {
        self.open = open
    }

    /// The engine, opening it if no call has yet.
    public func get() async throws -> ContactSync {
        if let engine { return engine }
        if let opening { return try await opening.value }
        let task = Task { [open] in try await open() }
        opening = task
        defer { opening = nil }
        let opened = try await task.value
        engine = opened
        return opened
    }
}
