import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// ``URLSessionTransport`` over real sockets (FoundationNetworking on Linux): what it sends, what
/// it hands back, and how it fails.
final class URLSessionTransportTests: XCTestCase {
    private let session = URLSession(configuration: .ephemeral)

    func testPathsAreAppendedToTheBasePathWithTheQueryHeadersTokenAndBody() throws {
        let server = try OneShotServer(answer: httpAnswer(
            status: 200, reason: "OK", headers: [("Content-Type", "application/json"), ("X-Seen", "yes")],
            body: Data(#"{"ok":true}"#.utf8)))
        let base = URL(string: "http://127.0.0.1:\(server.port)/discovery/")!
        let transport = try URLSessionTransport(baseURL: base, session: session, token: "tok-123")
        let body = Data(#"{"mode":"delta"}"#.utf8)
        let answer = try transport.send(request: HttpRequest(
            method: .post, path: "/v1/batches?cursor=abc",
            headers: [HttpHeader(name: "Content-Type", value: "application/json")], body: body))

        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), #"{"ok":true}"#)
        XCTAssertEqual(answer.headers.first { $0.name.lowercased() == "x-seen" }?.value, "yes")
        let (head, sent) = try server.request()
        let lines = head.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, "POST /discovery/v1/batches?cursor=abc HTTP/1.1")
        XCTAssert(lines.contains { $0.lowercased() == "authorization: bearer tok-123" }, head)
        XCTAssert(lines.contains { $0.lowercased() == "content-type: application/json" }, head)
        XCTAssertEqual(sent, body)
    }

    func testWithoutATokenNoAuthorizationIsSentAndGetHasNoBody() throws {
        let server = try OneShotServer(answer: httpAnswer(status: 204, reason: "No Content"))
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: session, token: nil)
        let answer = try transport.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()))
        XCTAssertEqual(answer.status, 204)
        let (head, sent) = try server.request()
        XCTAssert(head.hasPrefix("GET /v1/config HTTP/1.1"), head)
        XCTAssertFalse(head.lowercased().contains("authorization"), head)
        XCTAssert(sent.isEmpty)
    }

    func testAnErrorStatusIsAnAnswerWithItsHeadersAndBody() throws {
        let body = Data(#"{"error":{"code":"too_many_requests","message":"slow down"}}"#.utf8)
        let server = try OneShotServer(answer: httpAnswer(
            status: 429, reason: "Too Many Requests", headers: [("Retry-After", "120")], body: body))
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: session, token: "t")
        let answer = try transport.send(request: HttpRequest(method: .delete, path: "/v1/client", headers: [], body: Data()))
        XCTAssertEqual(answer.status, 429)
        XCTAssertEqual(answer.body, body)
        XCTAssertEqual(answer.headers.first { $0.name.lowercased() == "retry-after" }?.value, "120")
    }

    func testAnOversizedAnswerIsHandedOverUpToOneBytePastTheLimit() throws {
        let big = Data(repeating: UInt8(ascii: "x"), count: URLSessionTransport.maxAnswerBytes + 1000)
        let server = try OneShotServer(answer: httpAnswer(status: 200, reason: "OK", body: big))
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: session, token: nil)
        let answer = try transport.send(request: HttpRequest(method: .get, path: "/v1/changes", headers: [], body: Data()))
        XCTAssertEqual(answer.body.count, URLSessionTransport.maxAnswerBytes + 1)
    }

    func testNoAnswerIsANetworkErrorWhoseDetailKeepsTheQueryAndTheBodyOut() throws {
        let refusing = try RefusingPort()
        let transport = try URLSessionTransport(
            baseURL: URL(string: "http://127.0.0.1:\(refusing.port)/")!, session: session, token: "secret-token")
        XCTAssertThrowsError(try transport.send(request: HttpRequest(
            method: .post, path: "/v1/batches?cursor=private-cursor", headers: [],
            body: Data("private-body".utf8)))
        ) { error in
            guard case ContactsyncError.Network(let detail) = error else {
                return XCTFail("expected Network, got \(error)")
            }
            XCTAssert(detail.hasPrefix("POST /v1/batches: "), detail)
            for secret in ["private-cursor", "private-body", "secret-token"] {
                XCTAssertFalse(detail.contains(secret), detail)
            }
        }
    }

    func testAFailingTokenProviderIsANetworkErrorNamingOnlyTheErrorsType() throws {
        struct KeychainLocked: Error, CustomStringConvertible {
            var description: String { "the stored token is hunter2" }
        }
        let transport = try URLSessionTransport(
            baseURL: URL(string: "http://127.0.0.1:9/")!, session: session, token: { throw KeychainLocked() })
        XCTAssertThrowsError(try transport.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()))) { error in
            guard case ContactsyncError.Network(let detail) = error else {
                return XCTFail("expected Network, got \(error)")
            }
            XCTAssert(detail.contains("KeychainLocked"), detail)
            XCTAssertFalse(detail.contains("hunter2"), detail)
        }
    }

    func testAConnectionClosedWithoutAnAnswerIsANetworkError() throws {
        let server = try OneShotServer(answer: Data())
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: session, token: nil)
        XCTAssertThrowsError(try transport.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()))) { error in
            guard case ContactsyncError.Network = error else { return XCTFail("expected Network, got \(error)") }
        }
    }

    func testNoAnswerStaysInTheSessionsCache() throws {
        // A cacheable answer (no `no-store`), in a session with a cache of its own.
        func cacheableServer() throws -> OneShotServer {
            try OneShotServer(answer: httpAnswer(
                status: 200, reason: "OK", headers: [("Cache-Control", "max-age=3600")],
                body: Data(#"{"key":"secret-key-material"}"#.utf8)))
        }
        let cache = URLCache(memoryCapacity: 1 << 20, diskCapacity: 0, diskPath: nil)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = cache
        let cachingSession = URLSession(configuration: configuration)

        // The control: a plain data task of this session does store the answer; where it does
        // not (a Foundation without a working cache), there is nothing to check.
        let control = try cacheableServer()
        let controlRequest = URLRequest(url: control.baseURL.appendingPathComponent("v1/config"))
        let done = DispatchSemaphore(value: 0)
        cachingSession.dataTask(with: controlRequest) { _, _, _ in done.signal() }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        // Caches store asynchronously on some Foundations: give it a moment.
        var stored = cache.cachedResponse(for: controlRequest) != nil
        for _ in 0..<20 where !stored {
            usleep(50_000)
            stored = cache.cachedResponse(for: controlRequest) != nil
        }
        try XCTSkipUnless(stored, "this Foundation's URLCache does not store answers")

        let server = try cacheableServer()
        let transport = try URLSessionTransport(baseURL: server.baseURL, session: cachingSession, token: "t")
        let answer = try transport.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()))
        XCTAssertEqual(answer.status, 200)
        usleep(200_000)
        XCTAssertNil(cache.cachedResponse(for: URLRequest(url: server.baseURL.appendingPathComponent("v1/config"))))
    }

    #if canImport(Darwin)
    // Background sessions exist only on Apple platforms.
    func testABackgroundSessionIsRefused() {
        let session = URLSession(configuration: .background(withIdentifier: "io.github.contactsync.tests"))
        XCTAssertThrowsError(try URLSessionTransport(baseURL: URL(string: "https://example.org/")!, session: session, token: nil)) { error in
            guard case ContactsyncError.InvalidArgument = error else { return XCTFail("\(error)") }
        }
    }
    #endif

    func testUnusableBaseURLsAreRefused() {
        for text in ["http://example.org/?a=b", "ftp://example.org/", "http://example.org/#top", "file:///tmp/x"] {
            XCTAssertThrowsError(try URLSessionTransport(baseURL: URL(string: text)!, token: nil), text) { error in
                guard case ContactsyncError.InvalidArgument = error else { return XCTFail("\(text): \(error)") }
            }
        }
    }
}
