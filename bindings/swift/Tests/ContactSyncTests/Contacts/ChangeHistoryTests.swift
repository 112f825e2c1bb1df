import ContactSync
import Foundation
import XCTest

/// Change-history events reduced to what the engine needs.
final class ContactsChangeReducerTests: XCTestCase {
    private typealias Event = ContactChangeEvent<ContactValues>

    private func contact(_ id: String, _ number: String?) -> ContactValues {
        ContactValues(
            identifier: id, givenName: id.capitalized,
            labeledPhoneNumbers: number.map { [ContactLabeledValue(label: "_$!<Mobile>!$_", value: $0)] } ?? [])
    }

    private func raw(_ id: String, _ number: String) -> RawContact {
        RawContact(
            sourceId: id, displayName: id.capitalized,
            values: [Labelled(kind: .phone, label: "mobile", value: number)], version: nil)
    }

    func testNoEventsIsAnEmptyDelta() {
        XCTAssertEqual(ContactChangeReducer.reduce([Event]()), .delta(upserts: [], deleted: []))
    }

    func testTheLatestEventOfAContactWins() {
        let events: [Event] = [
            .addContact(contact("ana", "+49 151 1")),
            .deleteContact(identifier: "ana"),  // add then delete: a deletion only
            .deleteContact(identifier: "bob"),
            .addContact(contact("bob", "+49 151 2")),  // delete then add: an upsert
            .addContact(contact("carol", "+49 151 3")),
            .updateContact(contact("carol", "+49 151 33")),  // add then update: the update
            .updateContact(contact("dan", "+49 151 4")),
            .groupChange,
            .deleteContact(identifier: "eve"),
        ]
        XCTAssertEqual(
            ContactChangeReducer.reduce(events),
            .delta(
                upserts: [raw("bob", "+49 151 2"), raw("carol", "+49 151 33"), raw("dan", "+49 151 4")],
                deleted: ["ana", "eve"]))
    }

    func testAContactLeftWithNothingToDiscoverIsDeleted() {
        // Carol's last number was removed: the engine must drop what it held for her.
        let events: [Event] = [.updateContact(contact("carol", nil)), .addContact(contact("dan", "  "))]
        XCTAssertEqual(ContactChangeReducer.reduce(events), .delta(upserts: [], deleted: ["carol", "dan"]))
    }

    func testDropEverythingAnywhereMeansAFullSnapshot() {
        let events: [Event] = [.addContact(contact("ana", "+49 151 1")), .dropEverything, .addContact(contact("bob", "+49 151 2"))]
        XCTAssertEqual(ContactChangeReducer.reduce(events), .fullSnapshot(.dropEverything))
        XCTAssertEqual(ContactChangeReducer.reduce([Event.dropEverything]), .fullSnapshot(.dropEverything))
    }

    func testWithoutATokenTheHistoryIsNotRead() async {
        let (feed, token) = await ContactChangeReducer.feed(since: nil) { (_: Data) -> ContactChangeHistory<ContactValues> in
            XCTFail("the history must not be read without a token")
            return ContactChangeHistory(events: [], token: nil)
        }
        XCTAssertEqual(feed, .fullSnapshot(.noToken))
        XCTAssertNil(token)
    }

    func testAnExpiredTokenMeansAFullSnapshotAndOtherErrorsAreThrown() async throws {
        let (feed, token) = try await ContactChangeReducer.feed(since: Data([1])) { (_: Data) -> ContactChangeHistory<ContactValues> in
            throw ContactHistoryError.expired
        }
        XCTAssertEqual(feed, .fullSnapshot(.tokenExpired))
        XCTAssertNil(token)

        // No change history on this system: a full snapshot too, not an error every time.
        let unavailable = try await ContactChangeReducer.feed(since: Data([1])) { (_: Data) -> ContactChangeHistory<ContactValues> in
            throw ContactHistoryError.unavailable
        }
        XCTAssertEqual(unavailable.feed, .fullSnapshot(.historyUnavailable))
        XCTAssertNil(unavailable.token)

        struct Broken: Error {}
        do {
            _ = try await ContactChangeReducer.feed(since: Data([1])) { (_: Data) -> ContactChangeHistory<ContactValues> in
                throw Broken()
            }
            XCTFail("expected the error")
        } catch is Broken {}
    }

    func testADeltaKeepsTheHistorysTokenAFullSnapshotNone() async {
        let (feed, token) = await ContactChangeReducer.feed(since: Data([1])) { start in
            XCTAssertEqual(start, Data([1]))
            return ContactChangeHistory(events: [Event.deleteContact(identifier: "ana")], token: Data([2]))
        }
        XCTAssertEqual(feed, .delta(upserts: [], deleted: ["ana"]))
        XCTAssertEqual(token, Data([2]))

        let reset = await ContactChangeReducer.feed(since: Data([1])) { _ in
            ContactChangeHistory(events: [Event.dropEverything], token: Data([3]))
        }
        XCTAssertEqual(reset.feed, .fullSnapshot(.dropEverything))
        // The read stopped at "drop everything": its token is not documented as final, so the
        // snapshot takes the store's current one instead.
        XCTAssertNil(reset.token)
    }
}
