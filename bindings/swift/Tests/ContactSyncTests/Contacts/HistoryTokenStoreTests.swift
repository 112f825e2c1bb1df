import ContactSync
import Foundation
import XCTest

/// Where the change-history token is kept between imports.
final class ContactsHistoryTokenStoreTests: XCTestCase {
    func testAFileStoreKeepsTheTokenAndForgetsItOnNil() throws {
        let dir = try contactsTestDirectory(self)
        let store = try FileHistoryTokenStore(url: dir.appendingPathComponent("nested/dir/token"))
        XCTAssertNil(store.load())
        try store.save(nil)  // nothing to remove: fine

        try store.save(Data("first".utf8))
        XCTAssertEqual(store.load(), Data("first".utf8))
        try store.save(Data([0, 255, 1]))
        XCTAssertEqual(store.load(), Data([0, 255, 1]))
        // Written atomically: the file itself is replaced, no temporary file is left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("nested/dir").path), ["token"])

        try store.save(nil)
        XCTAssertNil(store.load())
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.url.path))
    }

    func testAnEmptyOrUnreadableFileReadsAsNoToken() throws {
        let dir = try contactsTestDirectory(self)
        let file = dir.appendingPathComponent("token")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data())
        XCTAssertNil(try FileHistoryTokenStore(url: file).load())
        // A directory where the file should be cannot be read.
        XCTAssertNil(try FileHistoryTokenStore(url: dir).load())
    }

    func testAFileStoreBesideTheDatabase() throws {
        let store = try FileHistoryTokenStore.beside(database: URL(fileURLWithPath: "/data/contactsync/contactsync.sqlite"))
        XCTAssertEqual(store.url.path, "/data/contactsync/contactsync.sqlite.history-token")
    }

    func testAFileStoreOfAURLThatIsNoFileIsAnErrorNotATrap() throws {
        let remote = try XCTUnwrap(URL(string: "https://example.org/contactsync.sqlite"))
        XCTAssertThrowsError(try FileHistoryTokenStore(url: remote)) { error in
            XCTAssertEqual(error as? HistoryTokenStoreError, .notAFileURL(remote))
        }
        XCTAssertThrowsError(try FileHistoryTokenStore.beside(database: remote)) { error in
            XCTAssertEqual(
                error as? HistoryTokenStoreError, .notAFileURL(remote.appendingPathExtension("history-token")))
        }
    }

    func testAUserDefaultsStore() {
        let suite = "io.github.contactsync.tests.\(UUID().uuidString)"
        addTeardownBlock { UserDefaults(suiteName: suite)?.removePersistentDomain(forName: suite) }
        let store = UserDefaultsHistoryTokenStore(key: "token", suiteName: suite)
        let other = UserDefaultsHistoryTokenStore(key: "other", suiteName: suite)
        XCTAssertNil(store.load())

        store.save(Data("t1".utf8))
        other.save(Data("o1".utf8))
        XCTAssertEqual(store.load(), Data("t1".utf8))
        XCTAssertEqual(UserDefaultsHistoryTokenStore(key: "token", suiteName: suite).load(), Data("t1".utf8))

        store.save(nil)
        XCTAssertNil(store.load())
        XCTAssertEqual(other.load(), Data("o1".utf8))
        // A value of another type under the key is no token.
        UserDefaults(suiteName: suite)?.set("not data", forKey: "token")
        XCTAssertNil(store.load())
    }

    func testAnInMemoryStore() {
        let store = InMemoryHistoryTokenStore(Data([1]))
        XCTAssertEqual(store.load(), Data([1]))
        store.save(nil)
        XCTAssertNil(store.load())
    }
}
