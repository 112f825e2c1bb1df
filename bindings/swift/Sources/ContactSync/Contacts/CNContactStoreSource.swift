// The Contacts framework part of the adapter: kept to what cannot run without it (reads of
// `CNContactStore`), everything that decides something is in the plain-Swift files beside this one
// and tested on Linux. This file is not compiled where the Contacts framework is missing, and has
// only been written against Apple's documentation and headers, not compiled in this repository's
// CI (which has no Apple SDK).
#if canImport(Contacts)
import Contacts
import Dispatch
import Foundation

// MARK: - CNContact as a ContactRecord

/// `CNContact` is a ``ContactRecord`` by a thin copy of its properties: `identifier`, `givenName`,
/// `familyName` and `organizationName` are its own; the lists are copied out of their
/// `CNLabeledValue`s with labels and services exactly as stored; the formatted name is
/// `CNContactFormatter`'s `.fullName`.
///
/// Read only the keys of ``CNContactStoreSource/keysToFetch`` (or more): the Contacts framework
/// raises an Objective-C exception, which Swift cannot catch, when a property is read that was not
/// fetched. The lists below check their key first and read as empty when it was not fetched
/// (stopping in debug builds: a contact fetched without them would lose its identifiers in the
/// engine, a bug in the caller).
extension CNContact: ContactRecord {
    /// `CNContactFormatter.string(from:style: .fullName)`: the name in the order the user's locale
    /// expects; `nil` if the formatter's keys were not fetched or it gives no name.
    public var formattedName: String? {
        guard areKeysAvailable([CNContactFormatter.descriptorForRequiredKeys(for: .fullName)]) else { return nil }
        return CNContactFormatter.string(from: self, style: .fullName)
    }

    /// `phoneNumbers`, each `CNPhoneNumber` as its `stringValue` (as typed).
    public var labeledPhoneNumbers: [ContactLabeledValue<String>] {
        guard fetched(CNContactPhoneNumbersKey) else { return [] }
        return phoneNumbers.map { ContactLabeledValue(label: $0.label, value: $0.value.stringValue) }
    }

    /// `emailAddresses`.
    public var labeledEmailAddresses: [ContactLabeledValue<String>] {
        guard fetched(CNContactEmailAddressesKey) else { return [] }
        return emailAddresses.map { ContactLabeledValue(label: $0.label, value: $0.value as String) }
    }

    /// `instantMessageAddresses`: service and username.
    public var labeledInstantMessageAddresses: [ContactLabeledValue<ContactInstantMessageAddress>] {
        guard fetched(CNContactInstantMessageAddressesKey) else { return [] }
        return instantMessageAddresses.map {
            ContactLabeledValue(
                label: $0.label,
                value: ContactInstantMessageAddress(service: $0.value.service, username: $0.value.username))
        }
    }

    /// `socialProfiles`: service, username, user identifier and URL.
    public var labeledSocialProfiles: [ContactLabeledValue<ContactSocialProfile>] {
        guard fetched(CNContactSocialProfilesKey) else { return [] }
        return socialProfiles.map {
            ContactLabeledValue(
                label: $0.label,
                value: ContactSocialProfile(
                    service: $0.value.service,
                    username: $0.value.username,
                    userIdentifier: $0.value.userIdentifier,
                    urlString: $0.value.urlString))
        }
    }

    private func fetched(_ key: String) -> Bool {
        let available = isKeyAvailable(key)
        assert(available, "\(key) was not fetched: fetch CNContactStoreSource.keysToFetch")
        return available
    }
}

// MARK: - The source

/// A ``ContactSource`` over the device's address book (`CNContactStore`): what
/// ``ContactsImporter`` reads on iOS.
///
/// - Full reads fetch unified contacts with exactly ``keysToFetch``, in chunks handed over one at
///   a time (``BlockingChunkSequence``), each `CNContact` copied into a ``ContactValues`` on the
///   reading thread (``fetchAll(chunkSize:)``).
/// - Change feeds read a `CNChangeHistoryFetchRequest` from the stored token, with unified results
///   (so that identifiers agree with the full read), ``keysToFetch`` as its
///   `additionalContactKeyDescriptors` (by default it fetches only the identifier), and no group
///   changes. The token kept is the fetch result's `currentHistoryToken`, read once the
///   enumerator is drained, as Apple's documentation of `CNFetchResult.currentHistoryToken` says
///   ("save this token after a successful change history fetch result"); before a full read,
///   `CNContactStore.currentHistoryToken`. After a "drop everything" event the enumeration stops
///   early (the adds that follow are the whole book, which the full snapshot reads in chunks
///   instead) and no token is given: one taken from an enumerator not read to its end is not
///   documented as final, and the snapshot takes the store's current token before its read.
/// - A token the store can no longer answer from (`CNError.Code.changeHistoryExpired`, or
///   `.changeHistoryInvalidAnchor` for a token it never issued, e.g. restored from another device)
///   becomes ``ContactHistoryError/expired``, and a system without the change-history call
///   ``ContactHistoryError/unavailable``: the importer takes a full snapshot for either.
///
/// Every read blocks (Apple: fetch methods perform I/O), so each runs on `queue`, never on the
/// calling task's thread. A `CNContactStore` is made per read; Apple documents the class as thread
/// safe, and making one is cheap, which keeps this type a plain `Sendable` value.
///
/// ## Calling the change history from Swift
/// `CNContactStore.enumeratorForChangeHistoryFetchRequest:error:` (iOS 13+), the only way to
/// execute a `CNChangeHistoryFetchRequest`, is declared `NS_SWIFT_UNAVAILABLE("")` in
/// `CNContactStore.h` (and Apple's documentation gives it only an Objective-C declaration). It is
/// called here through the Objective-C runtime — its implementation looked up by selector and
/// called with its exact C signature — rather than through an Objective-C shim target, which would
/// need a C-language target in the package. Events are read by their class
/// (`CNChangeHistoryAddContactEvent`, ...), which is what a `CNChangeHistoryEventVisitor` would
/// dispatch on. Apple documents that "an error that occurs during enumeration may throw an
/// exception": an Objective-C exception, which Swift cannot catch: the app crashes. Only an
/// Objective-C shim (`@try` around the enumeration) could turn it into an error. What keeps such a
/// crash from repeating is ``ContactsImporter``: it clears its stored token before it reads the
/// history and saves the new one only after the engine committed, so after a crash the next
/// import is a full snapshot, which does not enumerate the history, rather than the same
/// enumeration from the same token.
public struct CNContactStoreSource: ContactSource {
    /// Records are copies of `CNContact`s (which are not `Sendable`).
    public typealias Record = ContactValues
    /// A full read's chunks.
    public typealias Chunks = BlockingChunkSequence<[ContactValues]>

    private let queue: DispatchQueue

    /// A source whose reads run on `queue`; by default a concurrent queue of its own with no
    /// quality of service of its own.
    ///
    /// Why no QoS: a read's caller waits for it, and callers differ — a user who tapped "find
    /// friends" waits in a user-initiated task, a `BGProcessingTask` runs in the background. A
    /// queue without a QoS runs each block at the QoS of the thread that submitted it (Dispatch
    /// propagates it to blocks submitted asynchronously), so a read runs as urgently as the task
    /// that awaits it. A queue's own QoS takes precedence over the submitter's: a fixed `.utility`
    /// would run a user-initiated import's reads at utility priority while the user waits (a task
    /// awaiting a continuation does not raise the queue's priority); a fixed `.userInitiated`
    /// would make background imports compete with the UI. Pass a queue to choose otherwise.
    public init(
        queue: DispatchQueue = DispatchQueue(label: "io.github.contactsync.contacts", attributes: .concurrent)
    ) {
        self.queue = queue
    }

    /// Exactly the keys ``ContactMapper`` reads, and those `CNContactFormatter` needs for the
    /// display name. Fetch these (or more) for a `CNContact` handed to the mapper yourself.
    public static var keysToFetch: [CNKeyDescriptor] {
        [
            CNContactIdentifierKey as CNKeyDescriptor,
            CNContactGivenNameKey as CNKeyDescriptor,
            CNContactFamilyNameKey as CNKeyDescriptor,
            CNContactOrganizationNameKey as CNKeyDescriptor,
            CNContactPhoneNumbersKey as CNKeyDescriptor,
            CNContactEmailAddressesKey as CNKeyDescriptor,
            CNContactInstantMessageAddressesKey as CNKeyDescriptor,
            CNContactSocialProfilesKey as CNKeyDescriptor,
            CNContactFormatter.descriptorForRequiredKeys(for: .fullName),
        ]
    }

    // MARK: Access

    /// `CNContactStore.authorizationStatus(for: .contacts)`. Thread safe and non-blocking, as
    /// Apple documents it.
    public var authorization: ContactAuthorization {
        Self.authorization(of: CNContactStore.authorizationStatus(for: .contacts))
    }

    /// The plain-Swift status for a `CNAuthorizationStatus`.
    ///
    /// `.limited` (iOS 18) exists only in SDKs from Xcode 16 on (Swift 6 compilers), and not on
    /// macOS; it is matched by name there. Any other status — `.limited` (raw value 4) as seen by
    /// an app built with an older SDK, or a status newer than this code — reads as
    /// ``ContactAuthorization/limited``: the app reads what it can see, as a full snapshot each
    /// time, and never keeps a history token, which is right whatever the new status means.
    public static func authorization(of status: CNAuthorizationStatus) -> ContactAuthorization {
        #if compiler(>=6) && !os(macOS)
        if #available(iOS 18.0, macCatalyst 18.0, watchOS 11.0, visionOS 2.0, *), status == .limited {
            return .limited
        }
        #endif
        if status == .authorized {
            return .authorized
        } else if status == .denied {
            return .denied
        } else if status == .restricted {
            return .restricted
        } else if status == .notDetermined {
            return .notDetermined
        }
        return .limited
    }

    /// Asks the user for access if they have not been asked yet (the system prompt, then on iOS 18
    /// the choice between full and limited access), and returns the authorization that results.
    /// Without asking when already decided: the system prompts only once, and then only Settings
    /// changes the answer. Call it in context (the user asked to find friends), not at launch.
    /// The app's Info.plist needs `NSContactsUsageDescription`.
    public func requestAccess() async throws -> ContactAuthorization {
        let before = authorization
        guard before == .notDetermined else { return before }
        do {
            _ = try await CNContactStore().requestAccess(for: .contacts)
        } catch {
            // A refusal arrives as an error (`CNError.Code.authorizationDenied`): the status says it.
            let after = authorization
            guard after == .notDetermined else { return after }
            throw error
        }
        return authorization
    }

    // MARK: Reads

    /// `CNContactStore.currentHistoryToken`, read on the source's queue.
    public func historyToken() async throws -> Data? {
        try await run { CNContactStore().currentHistoryToken }
    }

    /// Every contact (unified), in chunks of `chunkSize`, read on the source's queue one chunk
    /// ahead of the importer.
    ///
    /// Read in two steps, as `CNContactStore.h` recommends for reading everything ("first fetch
    /// all contact identifiers only. Then fetch batches of detailed contacts by identifiers"): the
    /// identifiers of every unified contact (a few megabytes for 100,000 contacts), then each chunk
    /// by `predicateForContacts(withIdentifiers:)` with ``keysToFetch``. The reading thread waits
    /// for the importer between two chunks, outside of any Contacts call, rather than inside an
    /// `enumerateContacts` block that would keep the enumeration open for the whole import. A
    /// contact deleted between the two steps is simply missing (the engine removes it), one added
    /// meanwhile comes with the next delta (the token was read before).
    public func fetchAll(chunkSize: Int) -> BlockingChunkSequence<[ContactValues]> {
        precondition(chunkSize > 0, "chunkSize must be positive")
        return BlockingChunkSequence(queue: queue) { sink in
            let store = CNContactStore()
            let identifiersOnly = CNContactFetchRequest(keysToFetch: [CNContactIdentifierKey as CNKeyDescriptor])
            identifiersOnly.unifyResults = true
            var identifiers: [String] = []
            try store.enumerateContacts(with: identifiersOnly) { contact, _ in
                identifiers.append(contact.identifier)
            }
            var start = 0
            while start < identifiers.count, !sink.isCancelled {
                let batch = Array(identifiers[start..<min(start + chunkSize, identifiers.count)])
                start += batch.count
                // A pool per chunk: the whole read is one dispatch work item, whose own pool drains
                // only at its end, and would otherwise keep every CNContact alive.
                let chunk = try autoreleasepool {
                    try store.unifiedContacts(
                        matching: CNContact.predicateForContacts(withIdentifiers: batch), keysToFetch: Self.keysToFetch
                    ).map { ContactValues($0) }
                }
                if !chunk.isEmpty, !sink.send(chunk) {
                    return
                }
            }
        }
    }

    /// The change history since `token` (see the type's documentation).
    public func changes(since token: Data?) async throws -> ContactChangeHistory<ContactValues> {
        try await run {
            let request = CNChangeHistoryFetchRequest()
            request.startingToken = token
            request.shouldUnifyResults = true
            request.includeGroupChanges = false
            request.additionalContactKeyDescriptors = Self.keysToFetch
            return try Self.readChangeHistory(CNContactStore(), request)
        }
    }

    // MARK: Change history through the Objective-C runtime

    /// `-[CNContactStore enumeratorForChangeHistoryFetchRequest:error:]` as the C function its
    /// implementation is: receiver, selector, the request, the `NSError **`; it returns a
    /// `CNFetchResult<NSEnumerator<CNChangeHistoryEvent *> *> *` (+0, autoreleased) or nil.
    private typealias EnumeratorForChangeHistory = @convention(c) (
        AnyObject, Selector, CNChangeHistoryFetchRequest, AutoreleasingUnsafeMutablePointer<NSError?>?
    ) -> AnyObject?

    private static func readChangeHistory(
        _ store: CNContactStore, _ request: CNChangeHistoryFetchRequest
    ) throws -> ContactChangeHistory<ContactValues> {
        let selector = NSSelectorFromString("enumeratorForChangeHistoryFetchRequest:error:")
        guard store.responds(to: selector), let implementation = store.method(for: selector) else {
            throw ContactHistoryError.unavailable
        }
        let enumerate = unsafeBitCast(implementation, to: EnumeratorForChangeHistory.self)
        var error: NSError?
        let answer = enumerate(store, selector, request, &error)
        guard let result = answer as? CNFetchResult<NSEnumerator> else {
            if let error, error.domain == CNErrorDomain,
               error.code == CNError.Code.changeHistoryExpired.rawValue
                || error.code == CNError.Code.changeHistoryInvalidAnchor.rawValue {
                throw ContactHistoryError.expired
            }
            if let error {
                throw error
            }
            // Neither a result nor an error: not a history this code can read.
            throw ContactHistoryError.unavailable
        }
        var events: [ContactChangeEvent<ContactValues>] = []
        var done = false
        var drained = false
        while !done {
            autoreleasepool {
                guard let object = result.value.nextObject() else {
                    done = true
                    drained = true
                    return
                }
                let event: ContactChangeEvent<ContactValues>
                switch object {
                case is CNChangeHistoryDropEverythingEvent:
                    event = .dropEverything
                case let added as CNChangeHistoryAddContactEvent:
                    event = .addContact(ContactValues(added.contact))
                case let updated as CNChangeHistoryUpdateContactEvent:
                    event = .updateContact(ContactValues(updated.contact))
                case let deleted as CNChangeHistoryDeleteContactEvent:
                    event = .deleteContact(identifier: deleted.contactIdentifier)
                default:
                    event = .groupChange
                }
                events.append(event)
                // After "drop everything" come adds for every contact: the importer takes a full
                // snapshot instead, so reading them would only hold the whole book in memory.
                if case .dropEverything = event {
                    done = true
                }
            }
        }
        // Only a drained enumerator's token is documented as the point the events lead to.
        return ContactChangeHistory(events: events, token: drained ? result.currentHistoryToken : nil)
    }

    /// Runs a blocking read on the source's queue.
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            queue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

#endif
