import Foundation
import XCTest

// Helpers of the contacts adapter's tests (named apart from the other tests' helpers).

/// A fresh directory for one test, removed when it ends.
func contactsTestDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("contactsync-contacts-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Waits for `semaphore` without blocking the calling task's thread; `false` after `seconds`.
func contactsWait(for semaphore: DispatchSemaphore, seconds: Double = 10) async -> Bool {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: semaphore.wait(timeout: .now() + seconds) == .success)
        }
    }
}

/// A counter read and written from several threads.
final class ContactsTestCounter: @unchecked Sendable {
    // `count` is only touched with `lock` held, which is why the class can be @unchecked Sendable.
    private let lock = NSLock()
    private var count = 0

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }
}
