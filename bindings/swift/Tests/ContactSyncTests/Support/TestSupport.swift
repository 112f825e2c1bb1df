import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the tests find what the workspace built: the `contactsync` CLI (the reference server) and
/// the shared vectors. Paths come from the environment when scripts/test sets them, else from this
/// file's place in the repository (the chroot binds the repository at the same path).
enum TestEnv {
    static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // ContactSyncTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // swift
        .deletingLastPathComponent()  // bindings
        .deletingLastPathComponent()

    static var cli: URL {
        if let path = ProcessInfo.processInfo.environment["CONTACTSYNC_CLI_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let target = ProcessInfo.processInfo.environment["CARGO_TARGET_DIR"].map { URL(fileURLWithPath: $0) }
            ?? repository.appendingPathComponent("target")
        return target.appendingPathComponent("debug/contactsync")
    }

    static var vectors: URL { repository.appendingPathComponent("tests/vectors") }
}

/// A fresh directory, removed by the test's teardown.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("contactsync-swift-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// A contact with these values (no labels), for the small books of end-to-end tests.
func person(_ id: String, _ name: String, _ values: [(IdentifierKind, String)]) -> RawContact {
    RawContact(
        sourceId: id, displayName: name,
        values: values.map { Labelled(kind: $0.0, label: nil, value: $0.1) }, version: nil)
}

/// The matches as "name user_ref", for comparing with what a test expects.
func matchesByName(_ sync: ContactSync) async throws -> Set<String> {
    Set(try await sync.matches().map { "\($0.displayName) \($0.userRef)" })
}

/// Syncs that fail at once (`maxAttempts = 1`) and do not wait for the check interval (`force`).
let quickSync = SyncOptions(maxAttempts: 1, maxWaitMs: 0, force: true)

/// The real reference server (`contactsync serve`) as a child process on a free loopback port, with
/// its own database in a temporary directory; ``stop()`` ends it and deletes the directory.
///
/// The first line the server writes on stderr is `listening on http://ADDR`; the rest (request logs)
/// is drained on a thread, or the server would block once the pipe fills up, and the last lines are
/// kept for failure messages. `serveArgs` go to `serve` after the tests' own (`--mode private`).
final class ReferenceServer: @unchecked Sendable {
    // `recent` is guarded by `lock`; everything else is set in init and never changed.
    let adminToken = "admin-token-for-the-swift-tests-0123456789"
    let baseURL: URL
    private let process: Process
    private let dir: URL
    private let lock = NSLock()
    private var recent: [String] = []

    init(_ serveArgs: [String] = []) throws {
        dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("contactsync-server-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = TestEnv.cli
        process.arguments = [
            "serve", "--db", dir.appendingPathComponent("server.db").path,
            "--listen", "127.0.0.1:0", "--admin-token", adminToken,
            // Devices register themselves, all from 127.0.0.1: open registration without the
            // per-address limits.
            "--open-registration",
            "--registrations-per-ip-burst", "1000000",
            "--registrations-per-ip-per-hour", "3600000",
            "--registrations-global-per-minute", "60000",
            "--open-identifiers-per-ip-per-day", "4000000000",
            "--open-identifiers-global-per-day", "4000000000",
        ] + serveArgs
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw TestFailure("cannot start \(TestEnv.cli.path) (build it: cargo build -p contactsync-cli): \(error)")
        }
        let reader = LineReader(stderr.fileHandleForReading)
        // A server that hangs before printing its first line fails the test instead of blocking it.
        guard let first = reader.firstLine(timeout: 60), first.hasPrefix("listening on ") else {
            process.terminate()
            throw TestFailure("`contactsync serve` did not start")
        }
        let address = first.dropFirst("listening on ".count).trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: address.hasSuffix("/") ? address : address + "/") else {
            process.terminate()
            throw TestFailure("`contactsync serve` printed an unusable address: \(first)")
        }
        baseURL = url
        reader.drain { [weak self] line in self?.remember(line) }
    }

    /// Registers (or replaces) an app user through the admin API, each identifier as
    /// `(kind, canonical value)` — what the app's backend does when a user signs up.
    func putUser(_ userRef: String, _ identifiers: [(String, String)], discoverable: Bool = true) throws {
        let body: [String: Any] = [
            "discoverable": discoverable,
            "identifiers": identifiers.map { ["kind": $0.0, "value": $0.1] },
        ]
        let admin = try URLSessionTransport(baseURL: baseURL, session: session, token: adminToken)
        let answer = try admin.send(
            request: HttpRequest(
                method: .put, path: "/v1/admin/users/\(userRef)",
                headers: [HttpHeader(name: "Content-Type", value: "application/json")],
                body: try JSONSerialization.data(withJSONObject: body)))
        guard (200..<300).contains(answer.status) else {
            throw TestFailure(
                "PUT user \(userRef): HTTP \(answer.status) \(String(decoding: answer.body, as: UTF8.self))\n\(log())")
        }
    }

    /// A device the app's backend vouches for as `userRef` (`POST /v1/admin/clients`): its bearer
    /// token. Only such a device may create or redeem invites.
    func vouchDevice(_ userRef: String) throws -> String {
        let admin = try URLSessionTransport(baseURL: baseURL, session: session, token: adminToken)
        let answer = try admin.send(
            request: HttpRequest(
                method: .post, path: "/v1/admin/clients",
                headers: [HttpHeader(name: "Content-Type", value: "application/json")],
                body: try JSONSerialization.data(withJSONObject: ["user_ref": userRef])))
        guard answer.status == 201,
            let body = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
            let token = body["token"] as? String
        else {
            throw TestFailure("vouch \(userRef): HTTP \(answer.status)\n\(log())")
        }
        return token
    }

    /// The version of the users' filter the server publishes (`serve --mode private`), from
    /// `GET /v1/config`.
    /// Revokes a device through the admin API (`DELETE /v1/admin/clients/{id}`), as the app's
    /// backend does for a lost phone: its token answers 401 from then on.
    func revokeClient(_ clientId: String) throws {
        let admin = try URLSessionTransport(baseURL: baseURL, session: session, token: adminToken)
        let answer = try admin.send(
            request: HttpRequest(method: .delete, path: "/v1/admin/clients/\(clientId)", headers: [], body: Data()))
        guard (200..<300).contains(answer.status) else {
            throw TestFailure("DELETE client: HTTP \(answer.status)\n\(log())")
        }
    }

    func filterVersion() throws -> Int {
        let admin = try URLSessionTransport(baseURL: baseURL, session: session, token: adminToken)
        let answer = try admin.send(request: HttpRequest(method: .get, path: "/v1/config", headers: [], body: Data()))
        guard answer.status == 200,
            let config = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
            let privateMode = config["private"] as? [String: Any],
            let version = privateMode["filter_version"] as? Int
        else {
            throw TestFailure("GET /v1/config: HTTP \(answer.status), no private mode\n\(log())")
        }
        return version
    }

    /// Waits (at most ten seconds) until the users' filter has moved past `version`: the server
    /// rebuilds it at most once per `--private-filter-rebuild-s`, and a sync before that does not
    /// see a user who just registered.
    func awaitFilter(past version: Int) throws {
        for _ in 0..<100 {
            if try filterVersion() > version { return }
            usleep(100_000)
        }
        throw TestFailure("the users' filter did not move past version \(version)\n\(log())")
    }

    /// A device the app's backend vouched for as `userRef` (only such a device may create or redeem
    /// invites): its engine on `userRef.db` in `dir` (region DE) and a transport holding its token.
    func vouchedDevice(_ userRef: String, in dir: URL) async throws -> (sync: ContactSync, transport: URLSessionTransport) {
        let transport = try transport(token: try vouchDevice(userRef))
        let sync = try await ContactSync.open(
            path: dir.appendingPathComponent("\(userRef).db").path, config: Config(region: "DE"))
        return (sync, transport)
    }

    /// A transport to this server for a device holding `token`.
    func transport(token: String? = nil) throws -> URLSessionTransport {
        try URLSessionTransport(baseURL: baseURL, session: session, token: token)
    }

    /// The devices' session for this server: ephemeral (no cookies or cache on disk), and
    /// invalidated by ``stop()`` so its idle keep-alive connections do not hold up the server's
    /// graceful shutdown.
    let session = URLSession(configuration: .ephemeral)

    /// The server's last log lines, for failure messages.
    func log() -> String {
        lock.lock()
        defer { lock.unlock() }
        return recent.joined(separator: "\n")
    }

    /// SIGTERM (the server stops cleanly), then SIGKILL after 2 s: the server's graceful shutdown
    /// waits for open connections, and FoundationNetworking may keep idle ones after the session's
    /// invalidation; its database is thrown away anyway. Polled rather than
    /// `waitUntilExit()`, which on Linux spins the calling thread's run loop and never returns when
    /// called from a task of Swift concurrency.
    func stop() {
        session.invalidateAndCancel()
        if process.isRunning {
            process.terminate()
            var waited = 0
            while process.isRunning && waited < 200 {
                usleep(10_000)
                waited += 1
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(at: dir)
    }

    deinit {
        stop()
    }

    private func remember(_ line: String) {
        lock.lock()
        recent.append(line)
        if recent.count > 50 { recent.removeFirst(recent.count - 50) }
        lock.unlock()
    }
}

/// Reads a pipe line by line on a thread of its own.
private final class LineReader: @unchecked Sendable {
    // `pending` is only touched by the reading thread after the first line was handed over.
    private let handle: FileHandle
    private var pending = Data()

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    /// The first line, or nil after `timeout` seconds or at the end of the stream.
    func firstLine(timeout: TimeInterval) -> String? {
        let box = Box<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            box.value = self.nextLine()
            done.signal()
        }
        thread.start()
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return box.value
    }

    /// Hands every further line to `sink` until the stream ends.
    func drain(_ sink: @escaping @Sendable (String) -> Void) {
        let thread = Thread { [self] in
            while let line = self.nextLine() {
                sink(line)
            }
        }
        thread.start()
    }

    private func nextLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard !pending.isEmpty else { return nil }
                defer { pending = Data() }
                return String(decoding: pending, as: UTF8.self)
            }
            pending.append(chunk)
        }
    }
}

/// A mutable box, for values handed between threads under a semaphore or a lock.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A failure of the test harness itself (not of the code under test).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A ``Transport`` that keeps every request the engine hands it (method, path, body: exactly what
/// leaves the device) and passes it on.
final class RecordingTransport: Transport, @unchecked Sendable {
    // `seen` is guarded by `lock`.
    private let inner: Transport
    private let lock = NSLock()
    private var seen: [HttpRequest] = []

    init(_ inner: Transport) {
        self.inner = inner
    }

    var requests: [HttpRequest] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    func send(request: HttpRequest) throws -> HttpResponse {
        lock.lock()
        seen.append(request)
        lock.unlock()
        return try inner.send(request: request)
    }
}

/// A TCP socket bound to a free loopback port, neither listening nor connected: its descriptor and
/// the port.
func bindLoopback() throws -> (fd: Int32, port: UInt16) {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else {
        close(fd)
        throw TestFailure("bind() failed")
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A loopback port that refuses connections for as long as this is open: a socket bound to it that
/// neither listens nor connects, so the kernel answers a connection attempt with a reset, and no
/// other process can take the port meanwhile.
final class RefusingPort {
    private let fd: Int32
    let port: UInt16

    init() throws {
        (fd, port) = try bindLoopback()
    }

    deinit {
        close(fd)
    }
}

/// Generated contacts: contact `i` in `version` (an edit bumps the version and so changes its phone
/// number and e-mail). Every tenth contact also has a number the engine rejects (`phone.too_short`).
/// Valid German mobile numbers, read in region `DE`.
func generatedContact(_ i: Int, version: Int = 0) -> RawContact {
    var values = [
        Labelled(kind: .phone, label: "mobile", value: "0151 \(20_000_000 + i * 4 + version)"),
        Labelled(kind: .email, label: "home", value: "person\(i).v\(version)@example.org"),
    ]
    if i % 10 == 0 {
        values.append(Labelled(kind: .phone, label: "work", value: "12"))
    }
    return RawContact(sourceId: String(i), displayName: "Person \(i)", values: values, version: String(version))
}

/// A one-connection HTTP server on loopback for the transport's own tests: it accepts one
/// connection, reads one request (head and `Content-Length` body), keeps it, and writes the
/// scripted answer bytes (or closes without answering when they are empty).
final class OneShotServer: @unchecked Sendable {
    // `received` is written by the serving thread before `done` is signalled and read after.
    let port: UInt16
    private let fd: Int32
    private let done = DispatchSemaphore(value: 0)
    private var received = Data()

    init(answer: Data) throws {
        (fd, port) = try listenOnLoopback(backlog: 1)
        Thread { [self] in
            self.serve(answer: answer)
            self.done.signal()
        }.start()
    }

    /// The request as received (head and body), once answered.
    func request(timeout: TimeInterval = 30) throws -> (head: String, body: Data) {
        guard done.wait(timeout: .now() + timeout) == .success else { throw TestFailure("no request arrived") }
        guard let end = received.range(of: Data("\r\n\r\n".utf8)) else { throw TestFailure("no request head") }
        return (String(decoding: received[..<end.lowerBound], as: UTF8.self), Data(received[end.upperBound...]))
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    private func serve(answer: Data) {
        let client = accept(fd, nil, nil)
        close(fd)
        guard client >= 0 else { return }
        defer { close(client) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = received.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n")
                    .first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if received.count - end.upperBound >= length { break }
            }
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return }
            received.append(contentsOf: buffer[0..<n])
        }
        answer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(client, raw.baseAddress! + offset, raw.count - offset, 0)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// An HTTP/1.1 answer as bytes.
func httpAnswer(status: Int, reason: String, headers: [(String, String)] = [], body: Data = Data()) -> Data {
    var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    return Data((head + "\r\n").utf8) + body
}
