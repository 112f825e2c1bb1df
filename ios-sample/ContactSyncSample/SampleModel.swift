import Combine
import ContactSync
import Foundation

/// The sample's state and its flows: read the address book, register this device (once), sync with
/// the discovery server; the contacts who use the app, as the engine has them; an invite link
/// redeemed; the same import and sync in the background.
///
/// Main-actor isolated, as a SwiftUI model is. Every `ContactSync` call is `async` and runs its
/// blocking Rust work on the library's own dispatch queue, and the Contacts reads run on the
/// source's queue, so the flow is written straight from the main actor and never blocks it.
/// Progress comes from ``ContactSync/progressUpdates``, the friends from
/// ``ContactSync/observeMatches()``.
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
    /// Development only, standing in for the app's backend: a token the server's admin API vouched
    /// for a user (`ContactSyncDeviceToken`, from `CONTACTSYNC_DEVICE_TOKEN`; README, "Invite
    /// links"). `nil`: the device registers itself (open registration) and cannot use invites.
    private let vouchedToken: String?
    /// One session for the whole app: its configuration (timeouts, proxies) and delegate (where
    /// certificate pinning would go) apply to the library's requests too.
    private let session: URLSession
    private let credentials = DeviceCredentials()
    private let source = CNContactStoreSource()
    /// The one engine of the process (one per database file), opened on first use, once however
    /// many flows ask at the same time, and again by the next flow after a failed opening. The
    /// database is in Application Support, excluded from backups (docs/ios.md, "Backups").
    private let engine = SharedContactSync {
        try await ContactSync.open(url: try ContactSync.defaultDatabaseURL(), config: Config(region: SampleModel.region))
    }
    private var running: Task<Void, Never>?
    /// An incremental import and sync a moment after the address book changed, while the app runs.
    private var changeObserver: ContactChangeObserver?

    private typealias Opened = (contactSync: ContactSync, importer: ContactsImporter<CNContactStoreSource>)

    /// The background refresh's task identifier: also in Info.plist's
    /// `BGTaskSchedulerPermittedIdentifiers`.
    static let refreshIdentifier = "io.github.contactsync.sample.refresh"

    init(bundle: Bundle = .main) {
        serverURL = (bundle.object(forInfoDictionaryKey: "ContactSyncServerURL") as? String).flatMap(URL.init(string:))
        vouchedToken = (bundle.object(forInfoDictionaryKey: "ContactSyncDeviceToken") as? String).flatMap { $0.isEmpty ? nil : $0 }
        let configuration = URLSessionConfiguration.default
        // Fail fast when the server is not running: the engine retries with backoff anyway.
        configuration.timeoutIntervalForRequest = 15
        session = URLSession(configuration: configuration)
        authorization = source.authorization
        changeObserver = ContactChangeObserver { [weak self] in _ = await self?.runInBackground() }
    }

    /// Registers the background refresh and asks for the first one. From the App's init: the
    /// handler must be registered before the app finishes launching (the system's rule).
    func registerBackgroundRefresh() {
        ContactSyncBackgroundRefresh.register(identifier: Self.refreshIdentifier) { [self] in
            await runInBackground()
        }
        ContactSyncBackgroundRefresh.schedule(identifier: Self.refreshIdentifier)
    }

    /// Binds `friends` to the engine's matches: the current ones, then again after every import,
    /// sync or redeemed invite — this screen's, the background refresh's or the change observer's.
    /// For SwiftUI's `.task`, which cancels it when the view goes away.
    func observeFriends() async {
        do {
            let (contacts, _) = try await openEngine()
            for try await matches in contacts.observeMatches() {
                friends = Self.friends(from: matches)
            }
        } catch is CancellationError {
            // The view went away.
        } catch {
            show(failure: error)
        }
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

            let transport = try makeTransport(serverURL)
            if credentials.token == nil {
                try await register(transport)
            }
            report("Looking for friends…")
            // A 401 (the server's database was reset, or the device was revoked): the hook
            // registers again, once, and the sync sends everything again under the new token.
            _ = try await contacts.sync(transport: transport, options: SyncOptions(force: true)) { [self] in
                try await register(transport)
            }
            show(imported)
        } catch {
            show(failure: error)
        }
    }

    /// Redeems the link the app was opened with (`onOpenURL`): a Universal Link
    /// `https://<invite host>/i/CODE`, or the app's own `contactsyncsample://i/CODE` (the invite
    /// page's "Open" button). The inviter then shows up in `friends` by itself.
    func redeemInvite(_ url: URL) {
        Task {
            do {
                guard let serverURL else { throw SampleError.noServerURL }
                let (contacts, _) = try await openEngine()
                let transport = try makeTransport(serverURL)
                if credentials.token == nil {
                    try await register(transport)
                }
                report("Accepting the invite…")
                // A 401: registered again once, and the code redeemed under the new token.
                _ = try await contacts.redeemInvite(transport: transport, url: url) { [self] in
                    try await register(transport)
                }
                report("Invite accepted: whoever invited you is now in your list.")
            } catch ContactsyncError.InvalidArgument {
                fail("This link is not an invite.")  // no request was made
            } catch ContactsyncError.Server(status: 404, code: _, detail: _) {
                fail("This invite was already used, or has expired.")
            } catch ContactsyncError.Server(status: 403, code: "user_required", detail: _) {
                // By design (docs/invites.md): a device that registered itself has no user to give
                // the inviter. The code stays open.
                fail("Only a device registered for a user can accept invites; this one registered itself (set CONTACTSYNC_DEVICE_TOKEN: README, “Invite links”).")
            } catch {
                show(failure: error)
            }
        }
    }

    /// One background run — the refresh's and the change observer's: an incremental import (once
    /// the user gave access) and a sync (once the device is registered). Never throws: the outcome
    /// decides when the next refresh is asked for.
    func runInBackground() async -> BackgroundOutcome {
        do {
            guard let serverURL else { throw SampleError.noServerURL }
            let (contacts, importer) = try await openEngine()
            var importContacts: (@Sendable () async throws -> Void)?
            if source.authorization == .authorized || source.authorization == .limited {
                importContacts = { _ = try await importer.importContacts() }
            }
            // No token yet: the run imports only; the device registers in the foreground.
            let transport: URLSessionTransport? = credentials.token != nil ? try makeTransport(serverURL) : nil
            // A revoked token re-registers here too, instead of failing until the app is opened.
            return await BackgroundSync(
                contactSync: contacts, importContacts: importContacts, transport: transport,
                onUnauthorized: { [self] in
                    guard let transport else { return }
                    try await register(transport)
                }
            ).run()
        } catch {
            return BackgroundSync.classify(error)
        }
    }

    /// The transport to the discovery server. The token is read on every request, on the engine's
    /// thread: a token saved by `register` is used by the next request. A vouched token, when set,
    /// wins over one stored by an earlier open registration (the keychain outlives the app).
    private func makeTransport(_ serverURL: URL) throws -> URLSessionTransport {
        try URLSessionTransport(baseURL: serverURL, session: session) { [credentials, vouchedToken] in
            vouchedToken ?? credentials.token
        }
    }

    /// The engine (``engine``) and its importer, whose change-history token is kept beside the
    /// database. The importer holds no state of its own but its settings: one per flow is fine.
    private func openEngine() async throws -> Opened {
        let contactSync = try await engine.get()
        let tokenStore = try FileHistoryTokenStore.beside(database: try ContactSync.defaultDatabaseURL())
        return (contactSync: contactSync, importer: ContactsImporter(contactSync: contactSync, source: source, tokenStore: tokenStore))
    }

    /// Registers this device and stores its token. Open registration: the reference server's demo
    /// mode, whose devices have no user (no invites); with `CONTACTSYNC_DEVICE_TOKEN` set, the
    /// token the admin API vouched for a user, as an app's backend would hand it over
    /// (docs/protocol.md, "Registration"). Also the calls' `onUnauthorized` hook (a 401): the stale
    /// token is dropped first, so the registration request goes without one.
    private func register(_ transport: URLSessionTransport) async throws {
        report("Registering this device…")
        try credentials.clear()
        let registration: Registration
        if let vouchedToken {
            registration = Registration(clientId: "", token: vouchedToken, userRef: nil)
        } else {
            registration = try await ContactSync.registerDevice(transport: transport)
        }
        // First thing after registering: a token lost here could not be had again.
        try credentials.save(registration)
    }

    /// National numbers in the address book are read in the user's region. A region that is no
    /// country ("001", the world) falls back to US; international numbers read alike in any.
    /// Nonisolated: the engine's opener reads it off the main actor.
    nonisolated private static var region: String {
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

    /// One line per contact, whichever of their identifiers matched.
    private static func friends(from matches: [Match]) -> [Friend] {
        var seen = Set<String>()
        return matches
            .filter { seen.insert($0.sourceId ?? $0.userRef).inserted }
            .map { Friend(id: $0.sourceId ?? $0.userRef, name: $0.displayName, identifier: $0.canonical) }
            .sorted { $0.name.localizedCaseInsensitiveCompare($1.name) == .orderedAscending }
    }

    private func show(_ imported: ContactsImportResult) {
        let read: String
        switch imported.mode {
        case .delta: read = "\(imported.report.added + imported.report.changed) changed contacts read"
        case .fullSnapshot: read = "address book read in full"
        }
        let rejected = imported.report.rejected > 0 ? ", \(imported.report.rejected) values not usable" : ""
        report("Up to date (\(read)\(rejected)).")
    }

    private func fail(_ text: String) {
        status = text
        failed = true
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
