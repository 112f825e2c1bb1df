import Combine
import ContactSync
import Foundation

/// The sample's state and its one flow: read the address book, register this device (once), sync
/// with the discovery server, list the contacts who use the app.
///
/// Main-actor isolated, as a SwiftUI model is. Every `ContactSync` call is `async` and runs its
/// blocking Rust work on the library's own dispatch queue, and the Contacts reads run on the
/// source's queue, so the flow is written straight from the main actor and never blocks it.
/// Progress comes from ``ContactSync/progressUpdates``.
@MainActor
final class SampleModel: ObservableObject {
    /// A contact who uses the app, as the list shows it.
    struct Friend: Identifiable, Hashable {
        let id: String
        let name: String
        let identifier: String
    }

    /// What the flow is doing, or how it ended.
    @Published private(set) var status = "Tap “Find friends” to look for your contacts on the server."
    /// Whether `status` reports a failure.
    @Published private(set) var failed = false
    @Published private(set) var isRunning = false
    @Published private(set) var friends: [Friend] = []
    /// The app's contacts access, as last read; `.limited` shows the "share more contacts" button.
    @Published private(set) var authorization: ContactAuthorization

    /// The discovery server (`ContactSyncServerURL` in Info.plist, from the project's
    /// `CONTACTSYNC_SERVER_URL` build setting).
    let serverURL: URL?
    /// One session for the whole app: its configuration (timeouts, proxies) and delegate (where
    /// certificate pinning would go) apply to the library's requests too.
    private let session: URLSession
    private let credentials = DeviceCredentials()
    private let source = CNContactStoreSource()
    /// Opened on first use: one engine per database file in the process.
    private var opened: (contactSync: ContactSync, importer: ContactsImporter<CNContactStoreSource>)?
    private var running: Task<Void, Never>?

    init(bundle: Bundle = .main) {
        serverURL = (bundle.object(forInfoDictionaryKey: "ContactSyncServerURL") as? String).flatMap(URL.init(string:))
        let configuration = URLSessionConfiguration.default
        // Fail fast when the server is not running: the engine retries with backoff anyway.
        configuration.timeoutIntervalForRequest = 15
        session = URLSession(configuration: configuration)
        authorization = source.authorization
    }

    /// Starts the flow, unless it is running already.
    func findFriends() {
        guard running == nil else { return }
        running = Task {
            await discover()
            running = nil
        }
    }

    /// Cancels the flow: the Rust work stops at its next check point, what was committed stays, and
    /// the next run continues from there.
    func stop() {
        running?.cancel()
    }

    /// The whole flow. Every failure ends up in `status`: nothing is thrown out of a `Task`.
    private func discover() async {
        isRunning = true
        failed = false
        defer { isRunning = false }
        do {
            guard let serverURL else { throw SampleError.noServerURL }

            // Ask in context, right after the user asked to find friends. The system asks once;
            // afterwards only Settings changes the answer, and this returns it without asking.
            // On iOS 18 the user may share only some contacts (`.limited`).
            authorization = try await source.requestAccess()

            let (contacts, importer) = try await openEngine()
            let progress = Task { [weak self] in
                for await value in contacts.progressUpdates {
                    if let value { self?.show(value) }
                }
            }
            defer { progress.cancel() }

            report("Reading your contacts…")
            // A full snapshot the first time (and under limited access), then only what the
            // change history reports (docs/ios.md, "The change history").
            let imported = try await importer.importContacts()

            let transport = try URLSessionTransport(baseURL: serverURL, session: session) { [credentials] in
                // Read on every request, on the engine's thread: a token saved by `register`
                // below is used by the next request.
                credentials.token
            }
            if credentials.token == nil {
                try await register(transport)
            }
            report("Looking for friends…")
            do {
                _ = try await contacts.sync(transport: transport, options: SyncOptions(force: true))
            } catch ContactsyncError.Server(status: 401, code: _, detail: _) {
                // The server no longer knows this device (its database was reset, or the device
                // was forgotten): register again and send everything again.
                try credentials.clear()
                try await register(transport)
                try await contacts.resetSync()
                _ = try await contacts.sync(transport: transport, options: SyncOptions(force: true))
            }
            show(try await contacts.matches(), after: imported)
        } catch {
            show(failure: error)
        }
    }

    /// The engine and its importer, opened on first use. The database is in Application Support,
    /// excluded from backups, and the importer's change-history token beside it (docs/ios.md,
    /// "Backups").
    private func openEngine() async throws -> (ContactSync, ContactsImporter<CNContactStoreSource>) {
        if let opened { return opened }
        let url = try ContactSync.defaultDatabaseURL()
        let contactSync = try await ContactSync.open(url: url, config: Config(region: Self.region))
        let importer = ContactsImporter(
            contactSync: contactSync, source: source, tokenStore: try FileHistoryTokenStore.beside(database: url))
        opened = (contactSync, importer)
        return (contactSync, importer)
    }

    /// Open registration: the reference server's demo mode. A real app's backend vouches for the
    /// device instead (docs/protocol.md, "Registration").
    private func register(_ transport: URLSessionTransport) async throws {
        report("Registering this device…")
        let registration = try await ContactSync.registerDevice(transport: transport)
        // First thing after registering: a token lost here could not be had again.
        try credentials.save(registration)
    }

    /// National numbers in the address book are read in the user's region. A region that is no
    /// country ("001", the world) falls back to US; international numbers read alike in any.
    private static var region: String {
        let code: String?
        if #available(iOS 16, *) {
            code = Locale.current.region?.identifier
        } else {
            code = Locale.current.regionCode
        }
        guard let code, code.count == 2, code.allSatisfy({ $0.isASCII && $0.isLetter }) else { return "US" }
        return code.uppercased()
    }

    // MARK: Showing

    private func report(_ text: String) {
        status = text
        failed = false
    }

    private func show(_ progress: SyncProgress) {
        let what: String
        switch progress.stage {
        case .`import`, .remove: what = "Reading your contacts…"
        case .rehash, .upload: what = "Looking for friends…"
        }
        status = progress.total.map { "\(what) \(progress.done)/\($0)" } ?? "\(what) \(progress.done)"
    }

    private func show(_ matches: [Match], after imported: ContactsImportResult) {
        // One line per contact, whichever of their identifiers matched.
        var seen = Set<String>()
        friends = matches
            .filter { seen.insert($0.sourceId ?? $0.userRef).inserted }
            .map { Friend(id: $0.sourceId ?? $0.userRef, name: $0.displayName, identifier: $0.canonical) }
            .sorted { $0.name.localizedCaseInsensitiveCompare($1.name) == .orderedAscending }
        let read: String
        switch imported.mode {
        case .delta: read = "\(imported.report.added + imported.report.changed) changed contacts read"
        case .fullSnapshot: read = "address book read in full"
        }
        let rejected = imported.report.rejected > 0 ? ", \(imported.report.rejected) values not usable" : ""
        let found = friends.isEmpty
            ? "None of your contacts uses the app yet."
            : "\(friends.count) of your contacts use the app."
        report("\(found) (\(read)\(rejected))")
    }

    private func show(failure error: Error) {
        failed = true
        switch error {
        case is CancellationError:
            status = "Stopped. The next run continues where this one stopped."
            failed = false
        case let error as ContactsAccessError:
            switch error {
            case .denied:
                status = "Contacts access is off for this app: turn it on in Settings › Privacy & Security › Contacts."
            case .restricted:
                status = "Contacts access is restricted on this device (Screen Time or device management)."
            case .notDetermined:
                status = "Contacts access was not granted."
            }
        case let error as ContactsyncError:
            status = Self.describe(error, server: serverURL)
        case let error as ContactSyncInternalError:
            // A panic inside the Rust library: a bug there; the library stays usable.
            status = "Internal error in the library: \(error.message)"
        case let error as SampleError:
            status = error.description
        default:
            // Keychain, file system, the Contacts framework (CNError).
            status = "Failed: \(error.localizedDescription)"
        }
    }

    /// The engine's errors never carry contact data: safe to show and to log.
    private static func describe(_ error: ContactsyncError, server: URL?) -> String {
        switch error {
        case let .Network(detail):
            return "The server at \(server?.absoluteString ?? "?") could not be reached. Is it running? (\(detail))"
        case let .Server(status, code, detail):
            return "The server refused: \(status) \(code) (\(detail))"
        case let .RetryLater(until):
            let when = Date(timeIntervalSince1970: TimeInterval(until))
            return "The server asked to wait until \(when.formatted(date: .omitted, time: .standard))."
        default:
            return "Failed: \(error)"
        }
    }
}

/// Failures of the sample's own setup.
enum SampleError: Error, CustomStringConvertible {
    case noServerURL

    var description: String {
        switch self {
        case .noServerURL:
            return "No usable ContactSyncServerURL in Info.plist (set CONTACTSYNC_SERVER_URL in project.yml)."
        }
    }
}
