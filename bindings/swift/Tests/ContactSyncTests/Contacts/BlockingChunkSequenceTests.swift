import ContactSync
import Foundation
import XCTest

/// The hand-over between a blocking reader and the importing task.
final class ContactsChunkSequenceTests: XCTestCase {
    private let queue = DispatchQueue(label: "contacts-tests.reader", attributes: .concurrent)

    func testDeliversEveryChunkInOrder() async throws {
        let chunks = BlockingChunkSequence<[Int]>(queue: queue) { sink in
            for i in 0..<5 {
                XCTAssertTrue(sink.send([i, i]))
            }
        }
        var seen: [[Int]] = []
        for try await chunk in chunks {
            seen.append(chunk)
        }
        XCTAssertEqual(seen, [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]])
        // Every iteration reads again.
        var again = 0
        for try await _ in chunks {
            again += 1
        }
        XCTAssertEqual(again, 5)
    }

    func testTheReaderWaitsForTheConsumer() async throws {
        let read = ContactsTestCounter()
        let chunks = BlockingChunkSequence<Int>(queue: queue) { sink in
            for i in 0..<100 {
                read.increment()
                guard sink.send(i) else { return }
            }
        }
        var iterator = chunks.makeAsyncIterator()
        let first = try await iterator.next()
        XCTAssertEqual(first, 0)
        try await Task.sleep(nanoseconds: 200_000_000)
        // The first chunk delivered, at most the second read and waiting: never the whole book.
        XCTAssertLessThanOrEqual(read.value, 2)
        let second = try await iterator.next()
        XCTAssertEqual(second, 1)
    }

    func testTheReaderStopsWhenTheConsumerLeaves() async throws {
        let read = ContactsTestCounter()
        let stopped = DispatchSemaphore(value: 0)
        let chunks = BlockingChunkSequence<Int>(queue: queue) { sink in
            defer { stopped.signal() }
            for i in 0..<1_000 {
                read.increment()
                guard sink.send(i) else { return }
            }
        }
        for try await chunk in chunks where chunk == 2 {
            break
        }
        let didStop = await contactsWait(for: stopped)
        XCTAssertTrue(didStop)
        XCTAssertLessThanOrEqual(read.value, 4)
    }

    func testAReaderErrorIsThrownOnce() async throws {
        struct Broken: Error {}
        let chunks = BlockingChunkSequence<Int>(queue: queue) { sink in
            sink.send(1)
            throw Broken()
        }
        var iterator = chunks.makeAsyncIterator()
        let first = try await iterator.next()
        XCTAssertEqual(first, 1)
        do {
            _ = try await iterator.next()
            XCTFail("expected the reader's error")
        } catch is Broken {}
        let after = try await iterator.next()
        XCTAssertNil(after)
    }

    func testCancellingTheTaskStopsTheReader() async throws {
        let stopped = DispatchSemaphore(value: 0)
        let firstRead = DispatchSemaphore(value: 0)
        let chunks = BlockingChunkSequence<Int>(queue: queue) { sink in
            defer { stopped.signal() }
            var i = 0
            while sink.send(i) {
                if i == 0 {
                    firstRead.signal()
                }
                i += 1
                // A slow reader: the consumer waits for the next chunk when it is cancelled.
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let task = Task {
            var count = 0
            for try await _ in chunks {
                count += 1
            }
            return count
        }
        let started = await contactsWait(for: firstRead)
        XCTAssertTrue(started)
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected the cancellation")
        } catch is CancellationError {}
        let didStop = await contactsWait(for: stopped)
        XCTAssertTrue(didStop)
    }
}
