import ContactSync
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real Matrix identity server (Sydent) for the Matrix mode's tests, driven over the JSON control
/// API of `sydent-fixture` (tests/src/bin/sydent-fixture.rs), so Sydent's start and provisioning
/// live in the Rust test helpers only.
///
/// The fixture runs on the host, not in the Swift root: Sydent's Python environment cannot run
/// there, while loopback is shared. bindings/swift/scripts/test.sh starts it before the tests, puts
/// its control URL in `CONTACTSYNC_SYDENT_FIXTURE` and stops it (and Sydent) when they end.
struct SydentFixture {
    static let environment = "CONTACTSYNC_SYDENT_FIXTURE"

    private let control: URL
    /// Provisioning restarts Sydent: a request takes seconds, more on a loaded machine.
    private let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 180
        return URLSession(configuration: configuration)
    }()

    /// The fixture test.sh started; the calling test is skipped when there is none (Sydent not
    /// installed, or the tests run without test.sh) — unless `CONTACTSYNC_CI` is set, where that
    /// is a failure, as in the Rust tests.
    static func fromEnvironment() throws -> SydentFixture {
        let env = ProcessInfo.processInfo.environment
        guard let url = env[environment].flatMap(URL.init(string:)) else {
            let reason = "no Sydent: \(environment) is not set (bindings/swift/scripts/test.sh sets it when "
                + "Sydent is installed: scripts/sydent-for-tests)"
            if env["CONTACTSYNC_CI"] != nil {
                throw TestFailure("CI never skips the Matrix tests, and there is \(reason)")
            }
            FileHandle.standardError.write(Data("skipped: \(reason)\n".utf8))
            throw XCTSkip(reason)
        }
        return SydentFixture(control: url)
    }

    /// A fresh Sydent in place of the one before (no tokens, bindings or pepper of another test);
    /// its base URL, what the Matrix mode's transport is built with.
    func reset() throws -> URL {
        let answer = try post("reset", [:])
        guard let text = answer["sydent_url"] as? String, let url = URL(string: text) else {
            throw TestFailure("sydent-fixture /reset: no sydent_url in \(answer)")
        }
        return url
    }

    /// An identity-server access token for the Matrix account `userId`.
    func createToken(_ userId: String) throws -> String {
        let answer = try post("token", ["user_id": userId])
        guard let token = answer["token"] as? String else {
            throw TestFailure("sydent-fixture /token: no token in \(answer)")
        }
        return token
    }

    /// Binds each (medium, address, Matrix user id), as a validated `/3pid/bind` would.
    func bind(_ bindings: [(medium: String, address: String, mxid: String)]) throws {
        _ = try post(
            "bind", ["bindings": bindings.map { ["medium": $0.medium, "address": $0.address, "mxid": $0.mxid] }])
    }

    /// Removes that binding.
    func unbind(medium: String, address: String, mxid: String) throws {
        _ = try post("unbind", ["medium": medium, "address": address, "mxid": mxid])
    }

    /// A new lookup pepper, every stored hash re-hashed, served from now on.
    func changePepper(_ pepper: String) throws {
        _ = try post("pepper", ["pepper": pepper])
    }

    private func post(_ operation: String, _ body: [String: Any]) throws -> [String: Any] {
        let transport = try URLSessionTransport(baseURL: control, session: session, token: nil)
        let answer = try transport.send(
            request: HttpRequest(
                method: .post, path: "/\(operation)",
                headers: [HttpHeader(name: "Content-Type", value: "application/json")],
                body: try JSONSerialization.data(withJSONObject: body)))
        guard answer.status == 200,
            let object = try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        else {
            throw TestFailure(
                "sydent-fixture /\(operation): HTTP \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
        return object
    }
}
