import Foundation

/// One change the platform's change history reports, shaped like the subclasses of
/// `CNChangeHistoryEvent` (`CNChangeHistoryDropEverythingEvent`, `...AddContactEvent`,
/// `...UpdateContactEvent`, `...DeleteContactEvent`, and the group events).
public enum ContactChangeEvent<Record: ContactRecord> {
    /// Everything known so far must be dropped: the history starts over (the first fetch without
    /// a token, or after the platform reset its history). What follows is an add for every
    /// contact; ``ContactChangeReducer`` answers a full snapshot instead.
    case dropEverything
    /// A contact was added.
    case addContact(Record)
    /// A contact was changed; the record holds its whole new content.
    case updateContact(Record)
    /// A contact was deleted (or, with unified results, absorbed into another by linking).
    case deleteContact(identifier: String)
    /// A group was added, changed or deleted, or its members changed. Ignored: groups hold no
    /// identifier, and a contact leaving a group is still in the address book.
    case groupChange
}

extension ContactChangeEvent: Sendable where Record: Sendable {}
extension ContactChangeEvent: Equatable where Record: Equatable {}

/// What a change-history fetch returned: its events, in the order the platform reported them, and
/// the token that marks the point in history they lead to (`CNFetchResult.currentHistoryToken`).
public struct ContactChangeHistory<Record: ContactRecord> {
    /// The events since the starting token, oldest first.
    public var events: [ContactChangeEvent<Record>]
    /// Where the next fetch starts, once these events are stored; `nil` if the platform gave none,
    /// or if the read stopped before the end of the history (at "drop everything": a token taken
    /// from an enumeration that was not read to its end is not documented as final). After a
    /// ``ContactChangeEvent/dropEverything`` it is not used either way
    /// (``ContactChangeReducer/feed(since:changes:)``).
    public var token: Data?

    /// A fetch's result.
    public init(events: [ContactChangeEvent<Record>], token: Data?) {
        self.events = events
        self.token = token
    }
}

extension ContactChangeHistory: Sendable where Record: Sendable {}
extension ContactChangeHistory: Equatable where Record: Equatable {}

/// The change history cannot answer: a ``ContactSource`` throws it from
/// ``ContactSource/changes(since:)``, and ``ContactsImporter`` answers with a full snapshot, never
/// an error for the app.
public enum ContactHistoryError: Error, Sendable, Equatable {
    /// The token is too old or unknown; read everything again. The platform no longer keeps
    /// history that old (`CNError.Code.changeHistoryExpired`), or the token is not one it issued
    /// (`.changeHistoryInvalidAnchor`: a token restored onto another device, or from before a
    /// reset).
    case expired
    /// This system offers no change history (`CNContactStore` does not answer the selector that
    /// runs a `CNChangeHistoryFetchRequest`, or answered neither a result nor an error). Every
    /// import is then a full snapshot: slower than a delta, but never wrong, whereas throwing
    /// would leave the engine stale until the app thought of passing `forceFull`.
    case unavailable
}

/// Why an import reads the whole address book (``ContactChangeFeed/fullSnapshot(_:)``).
public enum FullSnapshotReason: Sendable, Hashable {
    /// No history token is stored: the first import, or the last one did not complete, or the
    /// token store was cleared.
    case noToken
    /// The change history answered "drop everything".
    case dropEverything
    /// The stored token is too old or unknown to the platform (``ContactHistoryError/expired``).
    case tokenExpired
    /// The platform offers no change history (``ContactHistoryError/unavailable``).
    case historyUnavailable
    /// The app has limited access (iOS 18): see ``ContactsImporter``.
    case limitedAccess
    /// The engine holds no contact although a token exists: its database is new, was wiped, or
    /// consent was withdrawn. A delta would only bring what changed lately.
    case engineEmpty
    /// More contacts changed than ``ContactsImporter/maxDeltaContacts``: a snapshot streamed in
    /// chunks costs less than one transaction over all of them.
    case deltaTooLarge
    /// The caller asked for one.
    case forced
}

/// What the engine needs to be brought up to date: everything again, or a change feed.
public enum ContactChangeFeed: Sendable, Equatable {
    /// Read the whole address book as a full snapshot (contacts not in it are removed).
    case fullSnapshot(FullSnapshotReason)
    /// Apply these changes with ``ContactSync/applyChanges(upserts:deleted:)``: contacts added or
    /// changed, in source-id order, and the source ids to remove, sorted. No id is in both.
    case delta(upserts: [RawContact], deleted: [String])
}

/// Turns change-history events into what the engine needs: a ``ContactChangeFeed``.
///
/// Pure functions; the platform reads are ``ContactSource``'s and the engine calls
/// ``ContactsImporter``'s.
public enum ContactChangeReducer {
    /// The feed for a sequence of events, oldest first:
    ///
    /// - a ``ContactChangeEvent/dropEverything`` anywhere means a full snapshot (the events after
    ///   it would be an add for every contact: streaming the book in chunks does the same without
    ///   holding it in memory);
    /// - otherwise, per contact, **the latest event wins**: add then delete is a deletion only;
    ///   delete then add is an upsert; add then update is one upsert with the updated content;
    /// - a contact added or updated that holds nothing to discover
    ///   (``ContactMapper/discoverableContact(from:)`` is `nil`) becomes a deletion, as on Android:
    ///   the engine must drop what it held for it, and a full snapshot would not contain it either;
    /// - group events are ignored.
    ///
    /// A deletion of a contact the engine never held is harmless (the engine ignores it), so
    /// deletions are not checked against anything.
    public static func reduce<Record: ContactRecord>(
        _ events: some Sequence<ContactChangeEvent<Record>>
    ) -> ContactChangeFeed {
        var latest: [String: RawContact?] = [:]
        for event in events {
            switch event {
            case .dropEverything:
                return .fullSnapshot(.dropEverything)
            case let .addContact(record), let .updateContact(record):
                latest.updateValue(ContactMapper.discoverableContact(from: record), forKey: record.identifier)
            case let .deleteContact(identifier):
                latest.updateValue(nil, forKey: identifier)
            case .groupChange:
                continue
            }
        }
        let upserts = latest.values.compactMap { $0 }.sorted { $0.sourceId < $1.sourceId }
        let deleted = latest.filter { $0.value == nil }.keys.sorted()
        return .delta(upserts: upserts, deleted: deleted)
    }

    /// The feed since `token`, reading the history with `changes` only when there is a token:
    ///
    /// - no token: a full snapshot (``FullSnapshotReason/noToken``); the history is not read (asked
    ///   without a token, it answers "drop everything" and then every contact, in memory);
    /// - `changes` throws ``ContactHistoryError/expired``: a full snapshot
    ///   (``FullSnapshotReason/tokenExpired``); ``ContactHistoryError/unavailable``: a full snapshot
    ///   (``FullSnapshotReason/historyUnavailable``); any other error is thrown;
    /// - else ``reduce(_:)`` of what it read.
    ///
    /// - Returns: the feed, and for a delta the history's token: the one to keep once the delta is
    ///   stored. It was taken before anything of the feed is read, so a contact changed meanwhile is
    ///   in the next delta rather than lost. `nil` for a full snapshot, which takes the store's
    ///   current token before its own read (``ContactSource/historyToken()``); in particular after
    ///   "drop everything", where the read stops early and the history's token, taken from an
    ///   enumeration not read to its end, is not documented as final.
    public static func feed<Record: ContactRecord>(
        since token: Data?,
        changes: (Data) async throws -> ContactChangeHistory<Record>
    ) async rethrows -> (feed: ContactChangeFeed, token: Data?) {
        guard let token else {
            return (.fullSnapshot(.noToken), nil)
        }
        let history: ContactChangeHistory<Record>
        do {
            history = try await changes(token)
        } catch ContactHistoryError.expired {
            return (.fullSnapshot(.tokenExpired), nil)
        } catch ContactHistoryError.unavailable {
            return (.fullSnapshot(.historyUnavailable), nil)
        }
        let feed = reduce(history.events)
        if case .fullSnapshot = feed {
            return (feed, nil)
        }
        return (feed, history.token)
    }
}

// MARK: - Token stores

/// Where ``ContactsImporter`` keeps the change-history token: the point in the platform's history
/// up to which the engine holds the address book.
///
/// Losing it is harmless (the next import is a full snapshot); keeping one that is newer than the
/// engine's content is not (changes in between would never be read). That is why the importer
/// clears it before it reads anything, saves the new one only after the engine committed, and
/// ignores it while the engine holds no contact.
public protocol HistoryTokenStore: Sendable {
    /// The stored token, or `nil` if none (or if it cannot be read: the next import is then a full
    /// snapshot, which is always safe).
    func load() -> Data?

    /// Stores `token`, or removes the stored one when `nil`.
    func save(_ token: Data?) throws
}

/// A ``HistoryTokenStore`` in a small file, written atomically.
///
/// The recommended store: put the file beside the engine's database
/// (``beside(database:)``), in a directory excluded from backups as
/// ``ContactSync/defaultDatabaseURL()``'s is. Restored onto another device, a token would name a
/// point in that device's history (the platform answers "invalid", costing a full snapshot) and
/// the database it belongs to would not be there.
///
/// Written to a temporary file and renamed over the old one, so a process killed mid-write leaves
/// the old token or the new one, never half of one. A file that cannot be read reads as "no token".
public struct FileHistoryTokenStore: HistoryTokenStore {
    /// The file.
    public let url: URL

    /// A store in the file at `url` (its directory is created on the first save).
    ///
    /// - Throws: ``HistoryTokenStoreError/notAFileURL(_:)`` when `url` is not a `file:` URL. An
    ///   error rather than a trap: the URL may come from configuration, and a release build must
    ///   not crash the app over it.
    public init(url: URL) throws {
        guard url.isFileURL else { throw HistoryTokenStoreError.notAFileURL(url) }
        self.url = url
    }

    /// A store beside the database at `database`: `<database>.history-token`.
    ///
    /// - Throws: ``HistoryTokenStoreError/notAFileURL(_:)`` when `database` is not a `file:` URL.
    public static func beside(database: URL) throws -> FileHistoryTokenStore {
        try FileHistoryTokenStore(url: database.appendingPathExtension("history-token"))
    }

    public func load() -> Data? {
        guard let data = try? Data(contentsOf: url), !data.isEmpty else { return nil }
        return data
    }

    public func save(_ token: Data?) throws {
        let files = FileManager.default
        guard let token, !token.isEmpty else {
            if files.fileExists(atPath: url.path) {
                try files.removeItem(at: url)
            }
            return
        }
        try files.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try token.write(to: url, options: .atomic)
    }
}

/// A ``HistoryTokenStore`` could not be made.
public enum HistoryTokenStoreError: Error, Sendable, Hashable {
    /// ``FileHistoryTokenStore`` needs a `file:` URL; this one is not.
    case notAFileURL(URL)
}

/// A ``HistoryTokenStore`` in `UserDefaults`, for apps that keep such state there.
///
/// Prefer ``FileHistoryTokenStore`` beside the database: `UserDefaults` are part of device backups,
/// so a restored device gets a token without the database it belongs to. That is safe (the
/// importer takes a full snapshot while the engine is empty, and the platform rejects a foreign
/// token) but costs a full snapshot and a history fetch for nothing.
///
/// Holds the suite's name rather than a `UserDefaults` object, which makes it `Sendable`; the
/// defaults are looked up on each call (they are cached by Foundation).
public struct UserDefaultsHistoryTokenStore: HistoryTokenStore {
    /// The key the token is stored under.
    public let key: String
    /// The suite (`UserDefaults(suiteName:)`, e.g. an app group), or `nil` for `.standard`.
    public let suiteName: String?

    /// A store under `key` in the suite `suiteName` (`nil`: the standard defaults).
    public init(key: String = "io.github.contactsync.contacts.history-token", suiteName: String? = nil) {
        self.key = key
        self.suiteName = suiteName
    }

    private var defaults: UserDefaults {
        suiteName.flatMap(UserDefaults.init(suiteName:)) ?? .standard
    }

    public func load() -> Data? {
        guard let data = defaults.data(forKey: key), !data.isEmpty else { return nil }
        return data
    }

    public func save(_ token: Data?) {
        if let token, !token.isEmpty {
            defaults.set(token, forKey: key)
        } else {
            defaults.removeObject(forKey: key)
        }
    }
}

/// A ``HistoryTokenStore`` in memory: for tests, and for apps that import once per process.
public final class InMemoryHistoryTokenStore: HistoryTokenStore, @unchecked Sendable {
    // `token` is only read and written with `lock` held, which is why the class can be
    // @unchecked Sendable.
    private let lock = NSLock()
    private var token: Data?

    /// A store holding `token` at first.
    public init(_ token: Data? = nil) {
        self.token = token
    }

    public func load() -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return token
    }

    public func save(_ token: Data?) {
        lock.lock()
        self.token = token
        lock.unlock()
    }
}
