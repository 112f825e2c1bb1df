import ContactSync
import Foundation
import XCTest

/// ``ContactSync/observeMatches()`` against the real reference server: the current list at once,
/// then a new one after an import, a sync, an exclusion and a wipe, whichever handle on the file
/// made the change; the subscription ends with the stream. Nothing asserts on time.
final class ObserveTests: XCTestCase {
    private func person(_ id: String, _ name: String, _ phone: String) -> RawContact {
        RawContact(sourceId: id, displayName: name, values: [Labelled(kind: .phone, label: nil, value: phone)], version: nil)
    }

    private func names(_ matches: [Match]) -> [String] { matches.map(\.displayName).sorted() }

    func testMatchesAreEmittedAtOnceAndAfterAnImportASyncAnExclusionAndAWipe() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        try server.putUser("u_ana", [("phone", "+4915123456789")])
        let registration = try await ContactSync.registerDevice(transport: try server.transport())
        let transport = try server.transport(token: registration.token)
        let sync = try await ContactSync.open(
            path: try temporaryDirectory(self).appendingPathComponent("device.db").path, config: Config(region: "DE"))
        let ana = person("1", "Ana", "0151 23456789")
        // Ana again under another name, with her number: matched as soon as it is imported.
        let anaWork = person("2", "Ana (work)", "+49 151 23456789")

        var updates = sync.observeMatches().makeAsyncIterator()
        var next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), [], "the current list, at once")

        _ = try await sync.importSnapshot([ana])
        next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), [], "after the import: not synced yet")

        _ = try await sync.sync(transport: transport, options: quickSync)
        next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), ["Ana"], "after the sync")

        _ = try await sync.importSnapshot([ana, anaWork])
        next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), ["Ana", "Ana (work)"], "after the second import")

        let excluded = try await sync.setContactExcluded(sourceId: "2", excluded: true)
        XCTAssertTrue(excluded)
        next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), ["Ana"], "after the exclusion")

        try await sync.wipe()
        next = try await updates.next()
        XCTAssertEqual(names(try XCTUnwrap(next)), [], "after the wipe")
    }

    func testAnotherHandleOnTheFileIsSeenAndACancelledConsumerStopsTheStream() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("shared.db").path
        let screen = try await ContactSync.open(path: path, config: Config(region: "DE"))
        // A background task opening its own handle on the app's file.
        let worker = try await ContactSync.open(path: path, config: Config(region: "DE"))
        let (names, seen) = AsyncStream<[String]>.makeStream()
        let consumer = Task {
            for try await page in screen.observe({ try await $0.contacts(offset: 0, limit: 100) }) {
                seen.yield(page.map(\.displayName))
            }
            seen.finish()
        }
        var received = names.makeAsyncIterator()
        var next = await received.next()
        XCTAssertEqual(next, [])
        _ = try await worker.importSnapshot([person("1", "Ana", "0151 23456789")])
        next = await received.next()
        XCTAssertEqual(next, ["Ana"], "the worker's import, seen by the screen's stream")

        consumer.cancel()
        // The stream ends once its consumer is cancelled: the loop above returns.
        _ = try? await consumer.value
        next = await received.next()
        XCTAssertNil(next, "no element after the consumer stopped")
        _ = try await worker.importSnapshot([])
    }
}
