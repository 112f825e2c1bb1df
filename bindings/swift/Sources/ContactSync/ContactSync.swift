@_exported import ContactSyncFFI
import Foundation

/// The contact-discovery engine for one user, with an `async` API: the handle an app keeps (one per
/// database file, typically created at launch and shared).
///
/// It wraps the generated ``Engine`` (the Rust engine through UniFFI). Every call into Rust blocks
/// until its work is done (disk, and for a sync the network), so every method here is `async` and
/// runs that call on a private concurrent dispatch queue — never on the caller's thread, never on
/// the main actor, and never on Swift concurrency's cooperative thread pool (whose few threads
/// must not block). All of them are safe to call from the main actor. The engine is thread-safe:
/// queries (``status()``, ``matches()``, ``contacts(offset:limit:)``) answer while an import or a
/// sync is under way, from any task.
///
/// ## Progress
/// ``progressUpdates`` is an `AsyncStream` of the progress of every long operation (imports,
/// change feeds, syncs), whichever task started it — e.g. a view observing a sync that a
/// background task runs; `nil` means none is under way. For one sync followed from start to end,
/// ``syncEvents(transport:options:)`` is a stream of that sync's progress ending with its report.
///
/// ## Cancellation
/// Cancelling the calling task stops the Rust work, not only the wait for it: each long call hands
/// the engine a listener that reports the task's cancellation, and the engine polls it between
/// items (every few hundred contacts, between batches, during backoff waits). The call then throws
/// `CancellationError`. A sync's HTTP request under way is cancelled too when the transport is an
/// ``AbortableTransport`` (as ``URLSessionTransport`` is): the sync ends at once instead of waiting
/// for an answer or the session's timeouts; another transport's request runs to its end first.
/// What a cancellation leaves behind:
/// - work committed before it stays, and the store stays consistent: an import commits in
///   transactions of `Config.chunkSize` contacts (a streamed snapshot, one per chunk) and the
///   transaction under way is rolled back; a sync keeps every batch the server acknowledged and
///   resumes where it stopped on the next call;
/// - a full snapshot that did not finish removes nothing: contacts missing from it are removed
///   only when a snapshot completes, so a cancelled import never deletes contacts;
/// - short calls (``status()``, ``forget(transport:onUnauthorized:)``, ...) are not interrupted: they finish and
///   return their result even if the task was cancelled meanwhile.
///
/// ## Matrix identity-service mode
/// An app on Matrix discovers through the identity server its users bound their addresses to
/// (docs/matrix.md), with the same calls: ``sync(transport:options:onUnauthorized:)`` with
/// `SyncOptions(matrix: MatrixOptions(accessToken: token))` and a transport whose base URL is the
/// identity server — the engine's paths are then `/_matrix/identity/v2/...` under it. The engine
/// sends the identity server's token (`Authorization: Bearer`) itself, on every request of the
/// mode, so the transport gets no token of its own (`URLSessionTransport(baseURL:
/// identityServerURL, session: session, token: nil)`: one would replace the engine's).
/// ``matches()`` then have Matrix user ids (`@ana:example.org`) as `userRef`, ``discovery()`` says
/// `.matrix`, and `SyncReport.unsupported` counts the identifiers an identity server has no medium
/// for (handles, linked accounts). A sync looks up new identifiers at once and the whole set again
/// after `MatrixOptions.relookupIntervalMs` (a day by default), after a new pepper, or with
/// `force: true`; otherwise it sends nothing (`SyncReport.skipped`). A refused token is
/// `ContactsyncError.Server` with `401` and `M_UNAUTHORIZED`. ``forget(transport:onUnauthorized:)`` and the
/// invites belong to a contactsync server, not to this mode. The generated `MatrixOptions`
/// prints its token in a `description` or `dump`: do not log the options.
///
/// ## One call per list
/// Everything an app does per contact or per value has a list call that crosses into Rust once:
/// ``importSnapshot(_:)`` and ``applyChanges(upserts:deleted:)`` for a book,
/// ``contacts(sourceIds:)`` and ``matches(for:)`` for a screen of contacts,
/// ``setContactsExcluded(sourceIds:excluded:)`` and
/// ``setIdentifiersExcluded(kind:values:excluded:)`` for a multi-select, and on the generated
/// `Normalizer` `normalizeAll` / `normalizeAutoAll` to validate a list of values (a bad value is
/// its own `.invalid`, not an error for the whole list). A crossing is cheap from Swift (about
/// 0.05 µs), but each of these wrapper calls is also a hop off the caller's executor, and the
/// Kotlin twin pays about 20 µs per crossing: one call per list keeps both platforms alike.
///
/// ## Errors
/// Every failure of the engine is a ``ContactsyncError``; its case says what to do:
///
/// | Thrown | When | What an app does |
/// |---|---|---|
/// | `.Storage` | the SQLite file failed: I/O, full disk, corruption, a lock held past `busyTimeoutMs` | report; retry later |
/// | `.NewerSchema` | a newer library version wrote the file (left untouched) | update the app |
/// | `.InvalidArgument` | an unusable argument: unknown region, empty source id, malformed key | a bug in the caller |
/// | `.InvalidValue` | only `Normalizer.normalize`: `reason` is the stable rejection code | show the user |
/// | `.InvalidState` | a call that does not fit the engine's state | a bug in the caller |
/// | `.Io` | a file could not be read or written outside SQLite | report; retry later |
/// | `.Network` | no answer after the sync's retries: the ``Transport`` threw (``URLSessionTransport`` throws `.Network` for a `URLError`), described in `detail` | retry later; nothing is lost |
/// | `.Server` | the server refused: `status`, the protocol's `code` (`unauthorized`, `forbidden`, `user_required`, ...) | 401: pass `onUnauthorized` (see Re-registration), or register again, then ``resetSync()``; `user_required` (403): invites need a device registered for a user |
/// | `.Protocol` | the server's answer broke the protocol; nothing of it was applied | report |
/// | `.RetryLater` | the server asked to wait longer than `SyncOptions.maxWaitMs` | schedule the next sync after `until` (Unix seconds) |
/// | `.Callback` | not raised by this version; reserved | nothing today |
/// | `.Cancelled` | never from this class, which throws `CancellationError` instead; the raw ``Engine`` throws it when its listener cancels | |
/// | `CancellationError` | the calling task was cancelled (see Cancellation) | nothing |
/// | ``ContactSyncInternalError`` | a panic in Rust: a bug in the library; the call failed, the library stays usable | report it |
///
/// The engine puts no contact data (names, numbers, hashes) in any error, so errors can be logged
/// and sent with crash reports; a `.Network` detail quotes what the app's own transport threw.
///
/// ## Re-registration
/// Every call that sends the device's token — ``sync(transport:options:onUnauthorized:)``,
/// ``forget(transport:onUnauthorized:)``, ``createInvite(transport:ttl:onUnauthorized:)``,
/// ``redeemInvite(transport:code:onUnauthorized:)`` — takes `onUnauthorized`, the app's answer to a
/// `401 unauthorized` (the app's backend revoked the device, the server lost its registration):
/// register again and store the new token where the transport reads it. The call runs it at most
/// once, on the first 401, then sends itself once more under the new registration (and the next
/// sync sends everything again in full). A second 401 throws that `.Server`. If the hook throws,
/// the call throws what it threw, as the same code written around the call would. `nil`: the 401
/// is thrown at once. The hook runs inside the call: do not call `sync`, `resetSync()`, `forget` or
/// `leaveServer()` from it (they would wait for the call forever; the engine resets the sync state
/// itself).
///
/// ``revokeInvite(transport:code:)`` sends the token too but takes no hook: a 401 there means the
/// registration that made the invite is gone, its invites with it, and a new one would have nothing
/// to revoke.
public final class ContactSync: Sendable {
    /// The generated engine, for what this class does not wrap (e.g. ``Engine/pendingUploads(limit:)``,
    /// ``Engine/beginSnapshot()`` with your own listener). Its calls block: make them off the main
    /// actor.
    public let engine: Engine

    private let hub = ProgressHub()

    private init(engine: Engine) {
        self.engine = engine
    }

    /// Opens (creating or migrating as needed) the engine's database at `path`.
    ///
    /// - Parameters:
    ///   - path: the SQLite file. Its directory must exist. Keep one ``ContactSync`` per file in
    ///     the process. ``defaultDatabaseURL()`` gives a file in Application Support that is
    ///     excluded from backups, where it belongs (docs/ios.md, "Backups").
    ///   - config: the user's region (national numbers are read in it) and tuning.
    /// - Throws: `.InvalidArgument` for an unknown region, `.Storage` when the file cannot be
    ///   opened or is not a database, `.NewerSchema` when a newer library version wrote it.
    public static func open(path: String, config: Config) async throws -> ContactSync {
        ContactSync(engine: try await Blocking.run { try Engine.open(path: path, config: config) })
    }

    /// Opens the engine's database at a file URL; see ``open(path:config:)``.
    public static func open(url: URL, config: Config) async throws -> ContactSync {
        guard url.isFileURL else {
            throw ContactsyncError.InvalidArgument(detail: "the database must be a file URL")
        }
        return try await open(path: url.path, config: config)
    }

    /// A database location for apps: `Application Support/contactsync/contactsync.sqlite`, the
    /// directory created if needed and, on Apple platforms, excluded from iCloud and device backups
    /// (the file holds the address book's identifiers and this device's server state; restored on
    /// another device it would be stale, and it is rebuilt from the address book anyway).
    public static func defaultDatabaseURL() throws -> URL {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        var directory = support.appendingPathComponent("contactsync", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        #if canImport(Darwin)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try directory.setResourceValues(values)
        #endif
        return directory.appendingPathComponent("contactsync.sqlite", isDirectory: false)
    }

    /// Registers this device with a discovery server that allows open registration. Keep
    /// `Registration.token` in the keychain and hand it to the transport (``URLSessionTransport``'s
    /// `token`); an app whose backend vouches for its users gets the token from its backend instead
    /// (docs/protocol.md, "Registration").
    ///
    /// Not interrupted by a cancellation once started, and its result is returned even if the task
    /// was cancelled meanwhile: the server has registered the device by the time it answers, and a
    /// token dropped then would be lost for good. Store the token before anything else.
    ///
    /// - Throws: `.Server` with code `forbidden` when the server only accepts devices its app's
    ///   backend vouches for; `.Network` without an answer.
    public static func registerDevice(transport: Transport) async throws -> Registration {
        try await Blocking.run { try ContactSyncFFI.registerDevice(transport: transport) }
    }

    // MARK: Imports

    /// Imports the whole address book as one full snapshot: stored contacts missing from
    /// `contacts` are removed (only once the whole list is stored; see Cancellation). Unchanged
    /// contacts cost a comparison, not a write, so importing the same book again is cheap.
    public func importSnapshot(_ contacts: [RawContact]) async throws -> ImportReport {
        try await long { [engine] listener in try engine.importSnapshot(contacts: contacts, listener: listener) }
    }

    /// Imports a full snapshot streamed in chunks, for books read page by page so the whole book
    /// never sits in memory (``ContactsImporter`` streams `CNContactStore` this way).
    ///
    /// Each chunk is stored in one transaction as it arrives; the snapshot is finished — stored
    /// contacts missing from every chunk removed — only after `chunks` ends normally. If the
    /// sequence throws or the task is cancelled, the snapshot is abandoned: the chunks pushed so far
    /// stay imported and nothing is removed. `chunks` is iterated in the caller's context; only the
    /// Rust calls move off it. ``progressUpdates`` stays on the last chunk's progress while the next
    /// one is read, so a progress bar does not flicker off between chunks.
    public func importSnapshot<Chunks: AsyncSequence>(chunks: Chunks) async throws -> ImportReport
    where Chunks.Element == [RawContact] {
        let snapshot = try await Blocking.run { [engine] in try engine.beginSnapshot() }
        hub.begin()
        defer { hub.end() }
        for try await chunk in chunks {
            try await long { listener in try snapshot.push(contacts: chunk, listener: listener) }
        }
        // A snapshot dropped unfinished (an error or a cancellation above) is freed by ARC on the
        // Rust side without being finished: nothing is removed.
        return try await long { listener in try snapshot.finish(listener: listener) }
    }

    /// Applies a change feed in one transaction: contacts added or edited since the last import
    /// (`upserts`) and the source ids deleted since (`deleted`). Cheaper than a snapshot when the
    /// platform tells what changed (`CNChangeHistoryFetchRequest`); a cancellation rolls the whole
    /// feed back.
    public func applyChanges(upserts: [RawContact], deleted: [String] = []) async throws -> ImportReport {
        try await long { [engine] listener in
            try engine.applyChanges(upserts: upserts, deleted: deleted, listener: listener)
        }
    }

    // MARK: Sync

    /// Brings the server up to date with the store (only what changed since the last sync is sent)
    /// and the store with the server's matches. One sync runs at a time per engine; a failed or
    /// cancelled one resumes where it stopped.
    ///
    /// - Parameters:
    ///   - transport: the app's HTTP client, e.g. ``URLSessionTransport`` with the device's token;
    ///     in the Matrix mode, to the identity server and without a token (see "Matrix
    ///     identity-service mode" above).
    ///   - options: retries, backoff and batch size; `SyncOptions(force: true)` for the user's
    ///     "sync now"; `SyncOptions(matrix: MatrixOptions(accessToken: token))` for the Matrix mode.
    ///   - onUnauthorized: called at most once when the server answers `401 unauthorized`:
    ///     register again and store the new token where `transport` reads it; the sync then sends
    ///     everything again in full under the new registration (see Re-registration above: a
    ///     second 401 throws it, a throwing hook's error is thrown).
    public func sync(
        transport: Transport, options: SyncOptions = SyncOptions(),
        onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) async throws -> SyncReport {
        try await Reregistering.around(onUnauthorized) { hook in
            try await networkLong(transport) { [engine] listener, bound in
                try engine.sync(transport: bound, options: options, listener: listener, reregister: hook)
            }
        }
    }

    /// The same sync as ``sync(transport:options:onUnauthorized:)``, as a stream: the sync starts when the stream
    /// is made, and the stream yields its progress, then ``SyncEvent/finished(_:)`` with the report
    /// as the last element. A failure is thrown from the iteration. Cancelling the task iterating
    /// it, or releasing the stream, cancels the sync; merely leaving a `for try await` loop over a
    /// stream still held does not (the stream lives on until released).
    ///
    /// Progress events are dropped rather than queued when the consumer is slow (the Rust thread
    /// never waits for it): the stream keeps the newest one. The final report is never dropped.
    public func syncEvents(
        transport: Transport, options: SyncOptions = SyncOptions()
    ) -> AsyncThrowingStream<SyncEvent, Error> {
        // Newest-one buffering: a slow consumer skips progress it has not read yet, and the final
        // report, yielded last, replaces any progress still buffered, so it is never dropped.
        let (stream, continuation) = AsyncThrowingStream<SyncEvent, Error>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        let task = Task { [self] in
            do {
                let report = try await networkLong(transport, onProgress: { continuation.yield(.progress($0)) }) {
                    [engine] listener, bound in
                    try engine.sync(transport: bound, options: options, listener: listener)
                }
                continuation.yield(.finished(report))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The progress of the long operations under way: each iteration gets a new stream that starts
    /// with the current value (`nil` when no long operation is under way) and then yields every
    /// change. Slow consumers see the newest value (the stream buffers one), which is all a progress
    /// bar needs; the Rust thread never waits. When several long operations run at once, it shows
    /// whichever reported last.
    public var progressUpdates: AsyncStream<SyncProgress?> { hub.stream() }

    /// The current progress, `nil` when no long operation is under way.
    public var currentProgress: SyncProgress? { hub.current }

    /// Makes the next sync send everything again in full mode (after registering again).
    public func resetSync() async throws {
        try await short { [engine] in try engine.resetSync() }
    }

    /// When the next sync will contact the server, as the last sync left it: what a background
    /// scheduler picks its next run from (`BGTaskRequest.earliestBeginDate`). Times are Unix
    /// seconds, `nil` when not set:
    /// - `backoffUntil`: after failed attempts (`backoffAttempts` in a row), a sync before it throws
    ///   `.RetryLater` without a request;
    /// - `nextCheckAt`: the server's check interval after the last completed sync; a sync before it
    ///   with nothing new to send is skipped (`SyncReport.skipped`);
    /// - `deferredUntil`: the server's daily quota for new identifiers ran out; the additions still
    ///   pending go after it.
    ///
    /// `SyncOptions(force: true)` (the user's "sync now") ignores the first two.
    public func syncSchedule() async throws -> SyncSchedule {
        try await short { [engine] in try engine.syncSchedule() }
    }

    /// Consent withdrawn: the server deletes everything it holds for this device, then the local
    /// store is wiped. A failure leaves both sides as they were, so it can simply be retried. Not
    /// interrupted by a cancellation once started.
    ///
    /// - Parameter onUnauthorized: the app's re-registration (see Re-registration above). A 401
    ///   means the server holds nothing under the token (a revoked device is deleted with its
    ///   data); with the hook, the new registration is deleted and its receipt returned, and the
    ///   store is wiped after it. Without it, the 401 is thrown and nothing is wiped.
    public func forget(
        transport: Transport, onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) async throws -> DeleteReceipt {
        try await Reregistering.around(onUnauthorized) { hook in
            try await short { [engine] in try engine.forget(transport: transport, reregister: hook) }
        }
    }

    /// Leaves the server without telling it: for a device whose server moved or is gone, or an
    /// account switch (call ``forget(transport:onUnauthorized:)`` first if the old account's data
    /// should go from the server, which keeps it otherwise). What that server gave goes — its key,
    /// ``matches()``, ``invites()``, the sync state and backoff — while the contacts and the user's
    /// exclusions stay. Register anew and hand the new token to the transport: the next sync sends
    /// everything in full. Waits for a sync under way to end.
    public func leaveServer() async throws {
        try await short { [engine] in try engine.leaveServer() }
    }

    // MARK: Invites

    /// Creates an invite code (to show as text or a QR code) for the user this device belongs to.
    /// A device registered without a user (open registration) gets `.Server` `403 user_required`
    /// (docs/invites.md, "Who can invite and redeem").
    ///
    /// - Parameters:
    ///   - ttl: how long it stays valid, in seconds (whole seconds, at least 1); `nil` for the
    ///     server's default.
    ///   - onUnauthorized: the app's re-registration (see Re-registration above).
    public func createInvite(
        transport: Transport, ttl: TimeInterval? = nil,
        onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) async throws -> Invite {
        let seconds: UInt32? = try ttl.map { ttl in
            guard ttl.isFinite, ttl >= 1 else {
                throw ContactsyncError.InvalidArgument(detail: "an invite's lifetime must be at least one second")
            }
            return UInt32(min(ttl.rounded(.down), Double(UInt32.max)))
        }
        return try await Reregistering.around(onUnauthorized) { hook in
            try await short { [engine] in try engine.createInvite(transport: transport, ttlS: seconds, reregister: hook) }
        }
    }

    /// Redeems someone's invite code (typed, or the link from a QR code) and returns the inviter's
    /// user reference; the inviter then shows up in ``matches()``. A device registered without a
    /// user gets `.Server` `403 user_required`, as for ``createInvite(transport:ttl:onUnauthorized:)``.
    ///
    /// - Parameter onUnauthorized: the app's re-registration (see Re-registration above).
    public func redeemInvite(
        transport: Transport, code: String, onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) async throws -> String {
        try await Reregistering.around(onUnauthorized) { hook in
            try await short { [engine] in try engine.redeemInvite(transport: transport, code: code, reregister: hook) }
        }
    }

    /// Redeems the invite link the app was opened with — a Universal Link `https://host/i/CODE`
    /// (with or without a trailing slash or query) from `onOpenURL` or
    /// `application(_:continue:restorationHandler:)`, or the app's own `scheme://i/CODE` — and
    /// returns the inviter's user reference. A URL without an invite code throws
    /// `ContactsyncError.InvalidArgument` before any request.
    public func redeemInvite(
        transport: Transport, url: URL, onUnauthorized: (@Sendable () async throws -> Void)? = nil
    ) async throws -> String {
        try await redeemInvite(transport: transport, code: url.absoluteString, onUnauthorized: onUnauthorized)
    }

    /// The invites this device created, newest first — a "my invites" screen: each one's code, when
    /// it was created and when it expires (`expiresAt`, Unix seconds), and who redeemed it
    /// (`redeemedBy`, once a sync learned it). Kept on the device: the server holds only the codes'
    /// hashes. ``observeInvites()`` follows it.
    public func invites() async throws -> [InviteView] {
        try await short { [engine] in try engine.invites() }
    }

    /// Closes an invite this device created (the user's "cancel invite"): the server redeems it no
    /// more, and it leaves ``invites()``. An unknown, used or expired code is `.Server`
    /// `404 not_found` (a listed one stays listed); text that is not an invite code is
    /// `.InvalidArgument`, before any request. No `onUnauthorized` (see Re-registration above). Not
    /// interrupted by a cancellation once started.
    public func revokeInvite(transport: Transport, code: String) async throws {
        try await short { [engine] in try engine.revokeInvite(transport: transport, code: code) }
    }

    // MARK: Queries

    /// Counts over the store: contacts, identifiers, upload state, matches.
    public func status() async throws -> Status {
        try await short { [engine] in try engine.status() }
    }

    /// How this device discovered in its last sync: the mode its server chose (`.hashed` before
    /// the first sync; `.private` when the server never sees a contact who is not a user). The
    /// app does nothing different in either: ``sync(transport:options:onUnauthorized:)`` follows the server.
    /// `.matrix` is the app's own choice (`SyncOptions.matrix`).
    public func discovery() async throws -> Discovery {
        try await short { [engine] in try engine.discovery() }
    }

    /// The contacts who use the app, and through which identifier.
    public func matches() async throws -> [Match] {
        try await short { [engine] in try engine.matches() }
    }

    /// Stored contacts in source-id order: `limit` of them from `offset` (for list UIs; prefer
    /// ``contacts(after:limit:)`` for long lists, which does not rescan the skipped rows).
    public func contacts(offset: UInt64, limit: UInt64) async throws -> [ContactView] {
        try await short { [engine] in try engine.contacts(offset: offset, limit: limit) }
    }

    /// Up to `limit` contacts after source id `after` (from the first when `nil`).
    public func contacts(after: String?, limit: UInt64) async throws -> [ContactView] {
        try await short { [engine] in try engine.contactsAfter(after: after, limit: limit) }
    }

    /// One stored contact by its source id, or `nil`. For a screen of rows use
    /// ``contacts(sourceIds:)``.
    public func contact(sourceId: String) async throws -> ContactView? {
        try await short { [engine] in try engine.contact(sourceId: sourceId) }
    }

    /// The stored contacts with these source ids, in the same order (`nil` for an unknown one), in
    /// one call and one hop off the caller's executor: what a contacts screen asks for its rows.
    public func contacts(sourceIds: [String]) async throws -> [ContactView?] {
        try await short { [engine] in try engine.contactsById(sourceIds: sourceIds) }
    }

    /// Which of these contacts use the app, and through which identifiers: the ``matches()`` of
    /// each source id in `sourceIds` that has any (an excluded contact has none), in one call —
    /// the "is this contact a user" of a contacts screen.
    public func matches<S: Sequence>(for sourceIds: S) async throws -> [String: [Match]]
    where S.Element == String {
        let wanted = Set(sourceIds)
        return Dictionary(grouping: try await matches().filter { $0.sourceId.map(wanted.contains) ?? false }) {
            $0.sourceId ?? ""
        }
    }

    /// Excludes a contact from discovery (the user's "don't look this one up"), or includes it
    /// again. Its hashes are withdrawn from the server on the next sync. Returns `false` for an
    /// unknown contact.
    @discardableResult
    public func setContactExcluded(sourceId: String, excluded: Bool) async throws -> Bool {
        try await short { [engine] in try engine.setContactExcluded(sourceId: sourceId, excluded: excluded) }
    }

    /// ``setContactExcluded(sourceId:excluded:)`` for several contacts in one call and one
    /// transaction (a multi-select): for each source id in order, whether it is a stored contact.
    @discardableResult
    public func setContactsExcluded(sourceIds: [String], excluded: Bool) async throws -> [Bool] {
        try await short { [engine] in try engine.setContactsExcluded(sourceIds: sourceIds, excluded: excluded) }
    }

    /// Excludes one identifier, whichever contacts hold it, or includes it again. `value` is read
    /// like a contact's value (normalised in the engine's region), so the user's own input works.
    /// A value that does not normalise throws `ContactsyncError.InvalidArgument`.
    public func setIdentifierExcluded(kind: IdentifierKind, value: String, excluded: Bool) async throws {
        try await short { [engine] in
            try engine.setIdentifierExcluded(kind: kind, value: value, excluded: excluded)
        }
    }

    /// ``setIdentifierExcluded(kind:value:excluded:)`` for several values of one kind in one call
    /// and one transaction: each value's outcome in order — `.valid` with the identifier set, or
    /// `.invalid` with the rejection code for a value that does not normalise (the others are set
    /// all the same).
    @discardableResult
    public func setIdentifiersExcluded(kind: IdentifierKind, values: [String], excluded: Bool) async throws
        -> [Normalized]
    {
        try await short { [engine] in
            try engine.setIdentifiersExcluded(kind: kind, values: values, excluded: excluded)
        }
    }

    /// The id of the hash key in use, once a sync fetched it.
    public func keyId() async -> String? {
        // Never throws; the wrapper only moves the call off the caller's thread.
        (try? await short { [engine] in engine.keyId() }) ?? nil
    }

    /// Deletes everything stored locally. Use ``forget(transport:onUnauthorized:)`` to have the server delete its
    /// part too.
    public func wipe() async throws {
        try await short { [engine] in try engine.wipe() }
    }

    // MARK: Running calls

    /// A short call: off the caller's thread, to completion, errors mapped.
    private func short<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Blocking.run(work)
    }

    /// A long call: off the caller's thread, with a listener that feeds ``progressUpdates`` (and
    /// `onProgress`) and reports the task's cancellation to Rust; the engine's `.Cancelled` caused
    /// by it becomes `CancellationError`.
    private func long<T: Sendable>(
        onProgress: (@Sendable (SyncProgress) -> Void)? = nil,
        inFlight: InFlightRequests? = nil,
        _ work: @escaping @Sendable (ProgressListener) throws -> T
    ) async throws -> T {
        let flag = CancellationFlag()
        let listener = TaskListener(flag: flag) { [hub] progress in
            hub.publish(progress)
            onProgress?(progress)
        }
        hub.begin()
        defer { hub.end() }
        return try await withTaskCancellationHandler {
            do {
                return try await Blocking.run { try work(listener) }
            } catch ContactsyncError.Cancelled where flag.isSet {
                // Only our listener cancels these calls, and only once the task is cancelled; the
                // check keeps a `.Cancelled` with another cause visible as what it is.
                throw CancellationError()
            }
        } onCancel: {
            flag.set()
            // The engine's thread may be blocked in a request that only this can end.
            inFlight?.cancel()
        }
    }

    /// A long call that sends requests through `transport`: when it is an ``AbortableTransport``,
    /// the engine gets it bound to this call's ``InFlightRequests``, which the task's cancellation
    /// aborts (see Cancellation above).
    private func networkLong<T: Sendable>(
        _ transport: Transport,
        onProgress: (@Sendable (SyncProgress) -> Void)? = nil,
        _ work: @escaping @Sendable (ProgressListener, Transport) throws -> T
    ) async throws -> T {
        guard let abortable = transport as? AbortableTransport else {
            return try await long(onProgress: onProgress) { listener in try work(listener, transport) }
        }
        let inFlight = InFlightRequests()
        let bound = BoundTransport(abortable, inFlight)
        return try await long(onProgress: onProgress, inFlight: inFlight) { listener in try work(listener, bound) }
    }
}

/// What ``ContactSync/syncEvents(transport:options:)`` yields.
public enum SyncEvent: Sendable, Equatable {
    /// The sync's progress so far (a stage, items done, the total when known).
    case progress(SyncProgress)
    /// The sync ended with this report; always the last event of a successful sync.
    case finished(SyncReport)
}

/// A panic inside the Rust library (a bug in it, never caused by the app's data): the call failed,
/// and the library stays usable. UniFFI reports it with an error type of its own that apps cannot
/// name, so ``ContactSync`` hands it over as this.
public struct ContactSyncInternalError: Error, CustomStringConvertible, Sendable {
    /// The panic's message as UniFFI reported it.
    public let message: String

    public var description: String { "contactsync internal error: \(message)" }
}
