import Foundation
#if canImport(Contacts)
import Contacts
#endif

/// Runs an incremental import (and sync) after the address book changed: observes a notification
/// (`CNContactStoreDidChange` on Apple platforms) and debounces bursts into one run
/// (``Debouncer``), never two at once. The import is the change-history delta of
/// ``ContactsImporter``, so a run after an unrelated notification costs a history read.
///
/// Plain Foundation: the notification name is a parameter, so Linux tests post their own; on Apple
/// platforms ``init(delay:center:action:)`` observes `CNContactStoreDidChange`. Keep the observer
/// for as long as changes should be followed (the app's lifetime); ``stop()`` or releasing it ends
/// the observation. Notifications arrive while the app runs (foreground, or background time it
/// has); changes made while it is suspended are found by the next import anyway.
public final class ContactChangeObserver: @unchecked Sendable {
    // `token` is set in init and removed once in stop(), under the lock.
    private let lock = NSLock()
    private let center: NotificationCenter
    private var token: NSObjectProtocol?
    private let debouncer: Debouncer

    /// - Parameters:
    ///   - name: the notification meaning "the address book changed".
    ///   - delay: seconds of quiet after the last notification before `action` runs.
    ///   - action: the import and sync, e.g. `{ _ = await work.run() }`.
    public init(
        name: Notification.Name, delay: TimeInterval = 2, center: NotificationCenter = .default,
        action: @escaping @Sendable () async -> Void
    ) {
        let debouncer = Debouncer(delay: delay, action: action)
        self.debouncer = debouncer
        self.center = center
        token = center.addObserver(forName: name, object: nil, queue: nil) { _ in debouncer.signal() }
    }

    /// Stops observing and drops a pending run (one under way is cancelled).
    public func stop() {
        lock.lock()
        let observer = token
        token = nil
        lock.unlock()
        if let observer { center.removeObserver(observer) }
        debouncer.cancel()
    }

    /// Waits until the latest scheduled run has ended (tests; an orderly shutdown).
    public func idle() async {
        await debouncer.idle()
    }

    deinit {
        stop()
    }
}

#if canImport(Contacts)
extension ContactChangeObserver {
    /// Observes `CNContactStoreDidChange`, posted when any app (this one included) changed the
    /// address book.
    public convenience init(
        delay: TimeInterval = 2, center: NotificationCenter = .default,
        action: @escaping @Sendable () async -> Void
    ) {
        self.init(name: .CNContactStoreDidChange, delay: delay, center: center, action: action)
    }
}
#endif
