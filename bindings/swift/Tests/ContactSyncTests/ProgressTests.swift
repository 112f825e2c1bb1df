import ContactSync
import Foundation
import XCTest

/// ``ContactSync/progressUpdates`` and ``ContactSync/currentProgress``: what a progress bar sees.
final class ProgressTests: XCTestCase {
    func testAStreamedSnapshotKeepsItsProgressBetweenChunksAndEndsAtNil() async throws {
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        let chunks = (0..<3).map { c in (c * 1000..<(c + 1) * 1000).map { generatedContact($0) } }
        let seenBetween = Box<[SyncProgress?]>([])
        let report = try await sync.importSnapshot(chunks: ObservedChunks(chunks: chunks) {
            seenBetween.value.append(sync.currentProgress)
        })
        XCTAssertEqual(report.added, 3000, "\(report)")
        // Asked for chunks 2, 3 and the end: the progress of the chunk before is still there.
        XCTAssertEqual(seenBetween.value.count, 3)
        XCTAssert(seenBetween.value.allSatisfy { $0 != nil }, "\(seenBetween.value)")
        XCTAssertNil(sync.currentProgress, "no long operation is left under way")
    }

    func testProgressUpdatesStartWithTheCurrentValueAndFollowAnImport() async throws {
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path,
            config: Config(region: "DE", chunkSize: 500))
        let book = (0..<5000).map { generatedContact($0) }
        let updates = sync.progressUpdates
        let (subscribed, subscribedContinuation) = AsyncStream<Void>.makeStream()
        let collecting = Task.detached { () -> [SyncProgress?] in
            var seen: [SyncProgress?] = []
            for await progress in updates {
                if seen.isEmpty { subscribedContinuation.yield() }
                seen.append(progress)
                // The import's end: a nil after the first value. (The newest value is always
                // delivered, so the final nil arrives however slow this task is.)
                if progress == nil && seen.count > 1 { break }
            }
            return seen
        }
        // The collector holds the current value (nil) before the import starts.
        for await _ in subscribed { break }
        _ = try await sync.importSnapshot(book)
        let seen = await collecting.value
        XCTAssertNil(seen.first ?? SyncProgress(stage: .upload, done: 0, total: nil), "starts with the current value")
        let during = seen.compactMap { $0 }
        XCTAssertFalse(during.isEmpty, "no progress was seen")
        XCTAssert(during.allSatisfy { $0.stage == .import || $0.stage == .remove }, "\(during)")
        XCTAssertNil(seen.last ?? SyncProgress(stage: .upload, done: 0, total: nil), "ends at nil")
    }
}

/// Hands out its chunks, calling `between` each time it is asked for the next one after the first.
private struct ObservedChunks: AsyncSequence {
    typealias Element = [RawContact]
    let chunks: [[RawContact]]
    let between: () -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        var left: ArraySlice<[RawContact]>
        var started = false
        let between: () -> Void

        mutating func next() async -> [RawContact]? {
            if started { between() }
            started = true
            return left.popFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(left: chunks[...], between: between)
    }
}
