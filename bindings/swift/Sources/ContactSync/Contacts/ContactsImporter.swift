import Foundation

/// Whether the app may read the address book: `CNAuthorizationStatus`, in plain Swift.
public enum ContactAuthorization: Sendable, Hashable {
    /// The user has not been asked yet. The importer does not ask: asking is the app's decision,
    /// in context ("find friends"), with `CNContactStoreSource.requestAccess()`.
    case notDetermined
    /// Access is blocked by restrictions the user cannot change (parental controls, device
    /// management).
    case restricted
    /// The user refused access.
    case denied
    /// Full access to the address book.
    case authorized
    /// iOS 18 limited access: the app sees only the contacts the user chose to share, and the user
    /// changes that set in Settings or through `ContactAccessButton` / `contactAccessPicker`.
    case limited
}

/// The address book an import reads: the platform part of ``ContactsImporter``.
///
/// On a device `CNContactStoreSource` answers with `CNContactStore`; tests answer from records
/// written out in them. Everything that decides something (full or delta, how records become
/// contacts, when to keep the token) is in ``ContactsImporter``, ``ContactChangeReducer`` and
/// ``ContactMapper``, which run and are tested on Linux.
///
/// The reads block on a device (they are database queries), so a conforming type runs them off
/// the calling task's thread, on a dispatch queue of its own: the `async` functions and
/// ``BlockingChunkSequence`` exist for that.
public protocol ContactSource: Sendable {
    /// What the source reads a contact as: `Sendable`, because records cross from the source's
    /// reading thread to the importing task (the `CNContactStore` source copies each `CNContact`
    /// into a ``ContactValues``).
    associatedtype Record: ContactRecord & Sendable
    /// The chunks of a full read.
    associatedtype Chunks: AsyncSequence where Chunks.Element == [Record]

    /// Whether the app may read the address book now. Cheap, callable from any thread.
    var authorization: ContactAuthorization { get }

    /// The current point in the change history (`CNContactStore.currentHistoryToken`), or `nil`
    /// if the source has none. Read *before* a full read, so that whatever changes during the
    /// read is in the next delta (again, at worst) rather than lost between two reads.
    func historyToken() async throws -> Data?

    /// Every contact, in chunks of at most `chunkSize` records, each contact once. The read starts
    /// when the sequence is iterated and must stop when the iteration stops early; an error thrown
    /// by the sequence abandons the import (nothing is removed from the engine).
    func fetchAll(chunkSize: Int) -> Chunks

    /// What changed since `token` (the platform's history from that point: `nil` means from the
    /// beginning, i.e. "drop everything" followed by every contact), with the token to continue
    /// from. Throws ``ContactHistoryError/expired`` when the platform can no longer answer from
    /// `token`, ``ContactHistoryError/unavailable`` when it has no change history at all (the
    /// importer takes a full snapshot for either). The importer has cleared its stored token
    /// before it calls this, so a read that crashes the process costs one full snapshot, not a
    /// crash on every later import.
    func changes(since token: Data?) async throws -> ContactChangeHistory<Record>
}

/// The app may not read the address book: the import did not start, and nothing was changed.
public enum ContactsAccessError: Error, Sendable, Hashable {
    /// The user has not been asked yet (ask with `CNContactStoreSource.requestAccess()`).
    case notDetermined
    /// The user refused access; only Settings can change that.
    case denied
    /// Restrictions the user cannot change block access.
    case restricted
}

/// What one ``ContactsImporter/importContacts(forceFull:)`` did.
public struct ContactsImportResult: Sendable, Equatable {
    /// How the address book was read.
    public enum Mode: Sendable, Hashable {
        /// The whole book, streamed as a full snapshot; why.
        case fullSnapshot(FullSnapshotReason)
        /// Only what the change history reported, applied as one change feed.
        case delta
    }

    /// How the address book was read.
    public let mode: Mode
    /// The engine's report of the import.
    public let report: ImportReport

    /// A result (public for tests of code that handles one).
    public init(mode: Mode, report: ImportReport) {
        self.mode = mode
        self.report = report
    }
}

/// Brings a ``ContactSync`` up to date with the device's address book, as cheaply as the platform
/// allows: the changes the platform's change history reports since the last import
/// (`CNChangeHistoryFetchRequest` from a stored token), else a full snapshot streamed in chunks.
/// The Swift counterpart of the Kotlin `ContactsImporter`.
///
/// One import:
/// 1. checks access (``ContactSource/authorization``): not determined, denied or restricted throw
///    ``ContactsAccessError`` before anything is read or changed;
/// 2. **clears the stored token** (when one is stored) before it reads anything — see "The stored
///    token" below;
/// 3. decides (``ContactChangeReducer/feed(since:changes:)``): a full snapshot when forced, under
///    limited access, without a stored token, when the engine holds no contact, when the history
///    says the token expired, "drop everything" or that there is no history, or when more than
///    ``maxDeltaContacts`` contacts changed; else a delta;
/// 4. full: takes the store's current history token first (``ContactSource/historyToken()``),
///    then streams the book through ``ContactMapper`` into ``ContactSync/importSnapshot(chunks:)``
///    in chunks of ``chunkSize`` contacts (one engine transaction each, never the whole book in
///    memory); delta: applies the reduced changes with
///    ``ContactSync/applyChanges(upserts:deleted:)`` in one transaction;
/// 5. saves the new token **only once the engine committed**, and only if access is still full
///    (``ContactAuthorization/authorized``) — otherwise the token stays cleared.
///
/// ## The stored token
/// A stored token promises that the engine holds the address book, as full access sees it, up to
/// that point of the history. The importer keeps that promise by clearing the token before any
/// read and saving the next one after the commit. Whatever happens in between — an error, a
/// cancellation, the app killed, or a crash — the next import finds no token and takes a full
/// snapshot. Why clear rather than leave the old token in place:
/// - **No crash loop.** `CNContactStoreSource` reads the change history through an Objective-C
///   enumerator, which Apple documents "may throw an exception" on an error, and Swift cannot
///   catch one: the app crashes. Had the token stayed, every later import would re-run the same
///   enumeration from it and crash again. Cleared, the next import is a full snapshot instead.
/// - **Limited access.** Under limited access a full snapshot removes the contacts the user did
///   not share; a full-access token surviving it (a failed clear after the commit, the app killed
///   in between) would let a later full-access import apply a delta from that token, and the
///   hidden contacts, unchanged, would never come back. Cleared first, that cannot happen.
/// - **Access dropping during a read.** If access goes from full to limited while a full-access
///   read runs, the read may have seen only the shared contacts; the authorization is read again
///   after the commit and the token is then not saved.
///
/// The cost: an import that fails or is cancelled after the token was cleared makes the next one
/// a full snapshot rather than a delta. That is cheap (unchanged contacts cost the engine a
/// fingerprint comparison, nothing is uploaded for them) and never wrong: an unfinished snapshot
/// removes nothing, an unfinished change feed is rolled back, and a full snapshot reads
/// everything again. Failing to clear the token throws before anything is read; failing to save
/// the new one after a committed import is thrown too: the import is stored, and the next import
/// is a full snapshot, which is safe.
///
/// ## Limited access (iOS 18)
/// Under `CNAuthorizationStatus.limited` every import is a **full snapshot of the shared
/// contacts**, and no token is kept: it is cleared before the read and none is saved. Why:
/// - Apple documents limited access as "access to a limited subset of contacts, chosen by the
///   person using the app", a set the person "can maintain ... by managing them in the Settings
///   app" (and grow through `ContactAccessButton` and `contactAccessPicker`). The change-history
///   documentation (`CNChangeHistoryFetchRequest`, `CNContactStore.enumeratorForChangeHistoryFetchRequest:error:`,
///   TN3149 "Fetching Contacts change history events") says nothing about limited access: nowhere
///   is it promised that taking a contact out of the shared set (or adding one that was not
///   edited) shows up as a delete (or add) event. A delta that missed an un-shared contact would
///   keep its hashes on the discovery server after the user withdrew it — a privacy bug, not just
///   a stale list. A full snapshot removes every contact the app can no longer see.
/// - It is cheap: the shared set is hand-picked and small, and unchanged contacts cost the engine
///   a fingerprint comparison, not a re-upload.
/// - No token is kept so that when the user later grants full access, the first import is a full
///   snapshot: the contacts that were hidden did not change, so no delta would bring them. The
///   token is cleared *before* the read (see above) so that no failure or kill can leave the old
///   full-access token behind a limited snapshot. Going from full to limited access needs nothing
///   special: the next import is a full snapshot, which removes the contacts no longer shared.
///
/// Not meant to run twice at once on the same engine and token store: schedule imports from one
/// place (one task, a `BGProcessingTask`, the app's foreground refresh).
public final class ContactsImporter<Source: ContactSource>: Sendable {
    /// The engine imported into.
    public let contactSync: ContactSync
    /// The address book read.
    public let source: Source
    /// Where the change-history token is kept between imports.
    public let tokenStore: any HistoryTokenStore
    /// Contacts per chunk of a full snapshot (one engine transaction each); 500 by default, as on
    /// Android: small enough to bound memory, large enough to batch.
    public let chunkSize: Int
    /// The most changed contacts applied as one delta. `applyChanges` is one transaction over a
    /// list held in memory; past this size (a sync that rewrote the whole book, a large merge) a
    /// snapshot streamed in chunks costs less memory for the same result. 2,000 by default, as on
    /// Android.
    public let maxDeltaContacts: Int

    /// An importer of `source` into `contactSync`, keeping its token in `tokenStore`.
    public init(
        contactSync: ContactSync,
        source: Source,
        tokenStore: any HistoryTokenStore,
        chunkSize: Int = 500,
        maxDeltaContacts: Int = 2_000
    ) {
        precondition(chunkSize > 0, "chunkSize must be positive")
        precondition(maxDeltaContacts >= 0, "maxDeltaContacts must not be negative")
        self.contactSync = contactSync
        self.source = source
        self.tokenStore = tokenStore
        self.chunkSize = chunkSize
        self.maxDeltaContacts = maxDeltaContacts
    }

    /// Imports what changed in the address book (see the class documentation).
    ///
    /// - Parameter forceFull: take a full snapshot whatever the token says (the user's "re-read
    ///   my contacts", or a periodic self-check: some changes leave no trace in any history).
    /// - Throws: ``ContactsAccessError`` without access (nothing read, nothing changed); what the
    ///   source, the engine (``ContactsyncError``) or the token store throws; `CancellationError`
    ///   when the task is cancelled.
    public func importContacts(forceFull: Bool = false) async throws -> ContactsImportResult {
        let authorization = source.authorization
        switch authorization {
        case .notDetermined: throw ContactsAccessError.notDetermined
        case .denied: throw ContactsAccessError.denied
        case .restricted: throw ContactsAccessError.restricted
        case .authorized, .limited: break
        }
        let stored = tokenStore.load()
        if stored != nil {
            // Before anything is read: whatever happens from here on (an error, a cancellation, a
            // crash in the history enumeration, the app killed), the next import is a full
            // snapshot rather than a delta from a token the engine may no longer match, or a
            // re-run of an enumeration that crashed. See "The stored token".
            try tokenStore.save(nil)
        }
        if authorization == .limited {
            return try await fullSnapshot(.limitedAccess, keepToken: false)
        }
        if forceFull {
            return try await fullSnapshot(.forced)
        }
        if stored != nil, try await contactSync.status().contacts == 0 {
            // A new or wiped database (or consent withdrawn) with a token left over.
            return try await fullSnapshot(.engineEmpty)
        }
        let (feed, token) = try await ContactChangeReducer.feed(since: stored) { try await self.source.changes(since: $0) }
        switch feed {
        case let .fullSnapshot(reason):
            // Expired, unavailable, "drop everything", no token: the feed gives no token (after
            // "drop everything" the history's is not documented as final), the snapshot takes
            // the store's current one before its read.
            return try await fullSnapshot(reason)
        case let .delta(upserts, deleted) where upserts.count + deleted.count > maxDeltaContacts:
            // The history was read to its end: its token covers every change the snapshot reads.
            return try await fullSnapshot(.deltaTooLarge, token: token)
        case let .delta(upserts, deleted):
            let report = try await contactSync.applyChanges(upserts: upserts, deleted: deleted)
            try keep(token)
            return ContactsImportResult(mode: .delta, report: report)
        }
    }

    /// Streams the whole book into the engine as a full snapshot, then keeps `token` (or the
    /// history token read before the snapshot when `nil`); keeps none when `keepToken` is false.
    /// The stored token was cleared before (``importContacts(forceFull:)``).
    private func fullSnapshot(
        _ reason: FullSnapshotReason, token known: Data? = nil, keepToken: Bool = true
    ) async throws -> ContactsImportResult {
        // Before the read: a contact changed while it runs comes again in the next delta.
        var token: Data?
        if keepToken {
            if let known {
                token = known
            } else {
                token = try await source.historyToken()
            }
        }
        let chunks = source.fetchAll(chunkSize: chunkSize).map { records in
            records.compactMap { ContactMapper.discoverableContact(from: $0) }
        }
        let report = try await contactSync.importSnapshot(chunks: chunks)
        if keepToken {
            try keep(token)
        }
        return ContactsImportResult(mode: .fullSnapshot(reason), report: report)
    }

    /// Saves `token` after the engine committed what was read up to it, if access is still full.
    /// Access may have dropped to limited during the read, which may then have seen only the
    /// shared contacts: the engine no longer holds the book as full access sees it, so no token
    /// is kept (it was cleared before the read) and the next import is a full snapshot.
    private func keep(_ token: Data?) throws {
        guard source.authorization == .authorized else { return }
        try tokenStore.save(token)
    }
}
