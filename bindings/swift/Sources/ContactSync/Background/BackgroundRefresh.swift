#if canImport(BackgroundTasks) && (os(iOS) || os(tvOS) || os(visionOS))
import BackgroundTasks
import Foundation

/// `BGAppRefreshTask` for contactsync: register once at launch, and each refresh runs the
/// app's ``BackgroundSync`` and schedules the next one.
///
/// ```swift
/// // application(_:didFinishLaunchingWithOptions:), or the App's init — before launch ends:
/// ContactSyncBackgroundRefresh.register(identifier: "com.example.app.contactsync") {
///     await BackgroundSync(contactSync: contacts, importContacts: { _ = try await importer.importContacts() },
///                          transport: try? URLSessionTransport(baseURL: url, token: { keychain.token })).run()
/// }
/// ContactSyncBackgroundRefresh.schedule(identifier: "com.example.app.contactsync")
/// ```
///
/// The identifier must be listed in Info.plist's `BGTaskSchedulerPermittedIdentifiers`, with the
/// `fetch` background mode (`UIBackgroundModes`). Thin glue: the completion-once state machine
/// (``BackgroundRun``), the outcome (``BackgroundSync``) and the next date
/// (``BackgroundRefreshPlan``) are plain Swift, tested on Linux.
public enum ContactSyncBackgroundRefresh {
    /// Registers the handler; call before the app finishes launching (the system's rule).
    public static func register(
        identifier: String, plan: BackgroundRefreshPlan = BackgroundRefreshPlan(),
        work: @escaping @Sendable () async -> BackgroundOutcome
    ) {
        _ = BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            handle(SystemTask(task), identifier: identifier, plan: plan, work: work)
        }
    }

    /// Asks for a refresh no earlier than `plan.nextBegin(after: nil)` (or `date`); replaces one
    /// already asked for under the identifier. Fails in the simulator and without the Info.plist
    /// entries; a refresh not scheduled is no harm, the next launch schedules again.
    @discardableResult
    public static func schedule(
        identifier: String, plan: BackgroundRefreshPlan = BackgroundRefreshPlan(), at date: Date? = nil
    ) -> Bool {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = date ?? plan.nextBegin(after: nil, now: Date())
        return (try? BGTaskScheduler.shared.submit(request)) != nil
    }

    private static func handle(
        _ task: SystemTask, identifier: String, plan: BackgroundRefreshPlan,
        work: @escaping @Sendable () async -> BackgroundOutcome
    ) {
        // First, so an expiry still leaves the next refresh scheduled.
        schedule(identifier: identifier, plan: plan)
        let run = BackgroundRun { success in task.task.setTaskCompleted(success: success) }
        task.task.expirationHandler = { run.expire() }
        run.start {
            let outcome = await work()
            schedule(identifier: identifier, at: plan.nextBegin(after: outcome, now: Date()))
            return outcome.succeeded
        }
    }

    /// The system's task, handed to the completion and expiration closures. BGTask's methods may
    /// be called from any thread (Apple's documentation); it is not marked Sendable.
    private final class SystemTask: @unchecked Sendable {
        let task: BGTask
        init(_ task: BGTask) { self.task = task }
    }
}
#endif
