import ContactSync
import Foundation

/// An address book in memory with a change history, answering like `CNContactStore`: a full read
/// in chunks on a dispatch queue, tokens that name a point in the history, history that expires,
/// and a history read that stops at "drop everything" as `CNContactStoreSource`'s does.
final class FakeContactSource: ContactSource, @unchecked Sendable {
    typealias Record = ContactValues
    typealias Chunks = BlockingChunkSequence<[ContactValues]>

    enum Failure: Error {
        case readFailed
        case historyFailed
    }

    // Every mutable property is read and written with `lock` held, which is why the class can be
    // @unchecked Sendable.
    private let lock = NSLock()
    private let queue = DispatchQueue(label: "contacts-tests.fake-source", attributes: .concurrent)
    private var book: [String: ContactValues] = [:]
    private var log: [ContactChangeEvent<ContactValues>] = []
    private var prunedBefore = 0
    private var shared: Set<String>?
    private var state = (
        authorization: ContactAuthorization.authorized, failAfterChunks: Int?.none, failHistory: false,
        historyUnavailable: false, fullReads: 0, historyReads: 0, onChunk: (@Sendable (Int) -> Void)?.none,
        onHistoryRead: (@Sendable () -> Void)?.none)

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var authorization: ContactAuthorization {
        get { locked { state.authorization } }
        set { locked { state.authorization = newValue } }
    }

    /// Full reads throw after this many chunks.
    var failAfterChunks: Int? {
        get { locked { state.failAfterChunks } }
        set { locked { state.failAfterChunks = newValue } }
    }

    /// History reads throw.
    var failHistory: Bool {
        get { locked { state.failHistory } }
        set { locked { state.failHistory = newValue } }
    }

    /// History reads throw ``ContactHistoryError/unavailable``, as on a system without the call.
    var historyUnavailable: Bool {
        get { locked { state.historyUnavailable } }
        set { locked { state.historyUnavailable = newValue } }
    }

    /// Called at the start of each history read (where a crash in the enumeration would happen).
    var onHistoryRead: (@Sendable () -> Void)? {
        get { locked { state.onHistoryRead } }
        set { locked { state.onHistoryRead = newValue } }
    }

    /// Called on the reading thread before each chunk is handed over, with its index.
    var onChunk: (@Sendable (Int) -> Void)? {
        get { locked { state.onChunk } }
        set { locked { state.onChunk = newValue } }
    }

    var fullReads: Int { locked { state.fullReads } }
    var historyReads: Int { locked { state.historyReads } }

    /// The token of the present point in the history.
    var currentToken: Data { locked { token(log.count) } }

    private func token(_ position: Int) -> Data { Data("history-\(position)".utf8) }

    private func position(of token: Data) -> Int? {
        guard let text = String(data: token, encoding: .utf8), text.hasPrefix("history-") else { return nil }
        return Int(text.dropFirst("history-".count))
    }

    func put(_ contact: ContactValues) {
        locked {
            let known = book[contact.identifier] != nil
            book[contact.identifier] = contact
            log.append(known ? .updateContact(contact) : .addContact(contact))
        }
    }

    func delete(_ identifier: String) {
        locked {
            book[identifier] = nil
            log.append(.deleteContact(identifier: identifier))
        }
    }

    /// The history before now is gone: older tokens expire.
    func pruneHistory() {
        locked { prunedBefore = log.count }
    }

    /// The history starts over ("drop everything").
    func resetHistory() {
        locked { log.append(.dropEverything) }
    }

    /// Limited access: only these contacts are visible (`nil`: all). Changing the set writes no
    /// history, as nothing documents that it would.
    func share(_ identifiers: Set<String>?) {
        locked { shared = identifiers }
    }

    func historyToken() async throws -> Data? {
        currentToken
    }

    func fetchAll(chunkSize: Int) -> BlockingChunkSequence<[ContactValues]> {
        let (contacts, failAfter, onChunk) = locked { () -> ([ContactValues], Int?, (@Sendable (Int) -> Void)?) in
            state.fullReads += 1
            let visible = book.values.filter { shared?.contains($0.identifier) ?? true }
            return (visible.sorted { $0.identifier < $1.identifier }, state.failAfterChunks, state.onChunk)
        }
        return BlockingChunkSequence(queue: queue) { sink in
            var index = 0
            var start = 0
            while start < contacts.count {
                if let failAfter, index >= failAfter {
                    throw Failure.readFailed
                }
                onChunk?(index)
                let end = min(start + chunkSize, contacts.count)
                guard sink.send(Array(contacts[start..<end])) else { return }
                start = end
                index += 1
            }
        }
    }

    func changes(since token: Data?) async throws -> ContactChangeHistory<ContactValues> {
        onHistoryRead?()
        return try locked {
            state.historyReads += 1
            if state.failHistory {
                throw Failure.historyFailed
            }
            if state.historyUnavailable {
                throw ContactHistoryError.unavailable
            }
            guard let token else {
                let everything = book.values.sorted { $0.identifier < $1.identifier }.map { ContactChangeEvent.addContact($0) }
                return ContactChangeHistory(events: [.dropEverything] + everything, token: self.token(log.count))
            }
            guard let start = position(of: token), start <= log.count, start >= prunedBefore else {
                throw ContactHistoryError.expired
            }
            var events: [ContactChangeEvent<ContactValues>] = []
            for (offset, event) in log[start...].enumerated() {
                events.append(event)
                if case .dropEverything = event {
                    // Stopped early, with the token of the point where it stopped: what an
                    // enumerator not read to its end might hold. The importer must not keep it.
                    return ContactChangeHistory(events: events, token: self.token(start + offset + 1))
                }
            }
            return ContactChangeHistory(events: events, token: self.token(log.count))
        }
    }
}
