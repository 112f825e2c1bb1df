import Dispatch
import Foundation

/// An `AsyncSequence` of chunks read by a blocking reader (`CNContactStore.enumerateContacts`) on a
/// dispatch queue, handed over **one chunk at a time**.
///
/// Why not an `AsyncThrowingStream`: a stream buffers what its producer yields, and reading the
/// address book is much faster than importing it (normalising, hashing and writing each contact),
/// so the reader would run ahead and the whole book would sit in memory — what streaming a
/// snapshot is meant to avoid. Here the reader blocks in ``ChunkSink/send(_:)`` until the consumer
/// asks for the next chunk: at most the chunk being imported and the one read ahead are held.
///
/// Why a dispatch queue: the reader blocks for as long as the import takes. Swift concurrency's
/// cooperative pool has about one thread per core, shared by every task in the app, and must never
/// block; dispatch adds threads to a queue whose work blocks. Give a concurrent queue (or a queue of
/// its own) if several sequences may be iterated at once.
///
/// Each iteration runs the reader once, starting at the first `next()`. The reader learns that the
/// consumer has gone — iteration ended early, the task was cancelled, the iterator was dropped —
/// from ``ChunkSink/send(_:)`` returning `false`, and should then stop reading. An error thrown by
/// the reader is thrown by `next()` once; a cancelled task's `next()` throws `CancellationError`.
public struct BlockingChunkSequence<Element: Sendable>: AsyncSequence, Sendable {
    /// The blocking reader: reads, hands each chunk to the sink, returns at the end (or throws).
    public typealias Reader = @Sendable (ChunkSink<Element>) throws -> Void

    private let queue: DispatchQueue
    private let reader: Reader

    /// A sequence whose iterations run `reader` on `queue`.
    public init(queue: DispatchQueue, reader: @escaping Reader) {
        self.queue = queue
        self.reader = reader
    }

    /// Starts an iteration (the reader starts at its first `next()`).
    public func makeAsyncIterator() -> Iterator {
        Iterator(consumer: Consumer(channel: ChunkChannel(), queue: queue, reader: reader))
    }

    /// An iteration: pulls one chunk from the reader per `next()`.
    public struct Iterator: AsyncIteratorProtocol {
        fileprivate let consumer: Consumer

        /// The next chunk; `nil` once the reader returned.
        public mutating func next() async throws -> Element? {
            try await consumer.next()
        }
    }

    /// The consuming side of one iteration. A class so that its `deinit` tells the reader when the
    /// iterator is dropped (a `for try await` left by `break` or by an error in its body): the
    /// reader would otherwise block forever in `send`.
    fileprivate final class Consumer {
        private let channel: ChunkChannel<Element>
        private let queue: DispatchQueue
        private let reader: Reader
        private var started = false

        init(channel: ChunkChannel<Element>, queue: DispatchQueue, reader: @escaping Reader) {
            self.channel = channel
            self.queue = queue
            self.reader = reader
        }

        func next() async throws -> Element? {
            if !started {
                started = true
                let channel = channel
                let reader = reader
                queue.async {
                    do {
                        try reader(ChunkSink(channel: channel))
                        channel.finish(.success(()))
                    } catch {
                        channel.finish(.failure(error))
                    }
                }
            }
            let channel = channel
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    channel.request(continuation)
                }
            } onCancel: {
                channel.cancel()
            }
        }

        deinit {
            channel.cancel()
        }
    }
}

/// Where a ``BlockingChunkSequence``'s reader hands its chunks over.
public final class ChunkSink<Element: Sendable>: Sendable {
    private let channel: ChunkChannel<Element>

    fileprivate init(channel: ChunkChannel<Element>) {
        self.channel = channel
    }

    /// Hands `chunk` to the consumer, blocking until the consumer asks for it. Returns `false`
    /// (without delivering it) when the consumer has gone: stop reading then.
    @discardableResult
    public func send(_ chunk: Element) -> Bool {
        channel.send(chunk)
    }

    /// Whether the consumer has gone; a reader may check it between chunks to stop early.
    public var isCancelled: Bool {
        channel.isCancelled
    }
}

/// The hand-over between one reader thread and one consuming task.
///
/// The consumer stores its continuation and signals `demand`; the reader, blocked on `demand`,
/// takes the continuation and resumes it with a chunk. `cancel()` wakes a blocked reader (and
/// fails a waiting consumer); `finish` resumes a waiting consumer with the end or the error.
private final class ChunkChannel<Element: Sendable>: @unchecked Sendable {
    // Every mutable property is read and written with `lock` held, which is why the class can be
    // @unchecked Sendable. Continuations are resumed after the lock is released.
    private let lock = NSLock()
    private let demand = DispatchSemaphore(value: 0)
    private var waiting: CheckedContinuation<Element?, Error>?
    private var finished: Result<Void, Error>?
    private var errorDelivered = false
    private var cancelled = false

    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// The consumer asks for the next chunk.
    func request(_ continuation: CheckedContinuation<Element?, Error>) {
        lock.lock()
        if cancelled {
            lock.unlock()
            continuation.resume(throwing: CancellationError())
            return
        }
        if let finished {
            let error: Error?
            if case let .failure(failure) = finished, !errorDelivered {
                errorDelivered = true
                error = failure
            } else {
                error = nil
            }
            lock.unlock()
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: nil)
            }
            return
        }
        waiting = continuation
        lock.unlock()
        demand.signal()
    }

    /// The reader delivers a chunk once asked; `false` if the consumer has gone.
    func send(_ chunk: Element) -> Bool {
        demand.wait()
        lock.lock()
        guard !cancelled, let continuation = waiting else {
            lock.unlock()
            // Leave the next wait passing too: the reader may try again before it notices.
            demand.signal()
            return false
        }
        waiting = nil
        lock.unlock()
        continuation.resume(returning: chunk)
        return true
    }

    /// The reader ended: normally, or with an error.
    func finish(_ result: Result<Void, Error>) {
        lock.lock()
        finished = result
        let continuation = waiting
        waiting = nil
        var error: Error?
        if continuation != nil, case let .failure(failure) = result {
            errorDelivered = true
            error = failure
        }
        lock.unlock()
        if let continuation {
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: nil)
            }
        }
    }

    /// The consumer has gone (cancelled, or dropped its iterator).
    func cancel() {
        lock.lock()
        if cancelled {
            lock.unlock()
            return
        }
        cancelled = true
        let continuation = waiting
        waiting = nil
        lock.unlock()
        continuation?.resume(throwing: CancellationError())
        demand.signal()
    }
}
