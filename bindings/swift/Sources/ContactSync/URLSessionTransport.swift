import ContactSyncFFI
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The engine's ``Transport`` over the app's own `URLSession`.
///
/// The engine never opens a socket itself: every request of a sync, a registration, an invite or
/// a consent withdrawal goes through this class, so whatever the app configured on its session
/// applies to the discovery server too — its configuration (timeouts, proxies, cellular access,
/// `httpAdditionalHeaders`), and its delegate's authentication challenges, which is where
/// certificate pinning lives. Pass the app's session rather than `.shared` when it has one.
///
/// ``send(request:)`` is blocking, which is what the engine wants: it is called on the thread that
/// runs the sync — one of ``ContactSync``'s dispatch threads, never the main thread and never a
/// thread of Swift concurrency's cooperative pool — and waits there for the request to complete.
/// Do not call it from the main thread yourself. A sync's requests run on URLSession's async API
/// (`data(for:)`) in a task of their own, which is what makes them cancellable: as an
/// ``AbortableTransport``, cancelling the task of a ``ContactSync/sync(transport:options:onUnauthorized:)``
/// cancels the request under way (URLSession cancels the data task with its Swift task), and the
/// sync ends at once with `CancellationError` instead of waiting for an answer or the session's
/// timeouts. Registration, invites and consent withdrawal are not interrupted once started; they,
/// and calls through the raw ``Engine``, use a data task with a completion handler (see
/// `perform`).
///
/// Which session to give it: a dedicated one is the safe choice (e.g. built from the app's
/// configuration with `urlCache = nil`). Headers the session adds to every request
/// (`httpAdditionalHeaders`) go to the discovery server too — an app `Authorization` header
/// there would reach it on ``ContactSync/registerDevice(transport:)``, which sends none of its
/// own. Its delegate queue must not be one the app may block while it waits for the engine (the
/// main queue, if the app ever calls the raw ``Engine`` from the main thread): the completion is
/// delivered there while this thread waits for it. Background sessions are refused: they do not
/// support in-process data tasks.
///
/// What it guarantees the engine, as the ``Transport`` contract asks:
/// - a 4xx or 5xx is returned as an answer (the engine reads the protocol's error body and
///   `Retry-After` from it), never thrown;
/// - a transport failure (no network, DNS, TLS, a timeout, a cancelled task — any `URLError`) is
///   thrown as `ContactsyncError.Network`, which the engine retries with backoff. Its `detail`
///   names the method, the path without its query and the error's code, never the query, a header
///   or a body: it ends up in the final error, hence in the app's logs and crash reports;
/// - no answer is kept in the session's HTTP cache: the request asks for a fresh answer
///   (`reloadIgnoringLocalCacheData`) and any answer the cache stored anyway is removed, because
///   answers hold the hash key, match pages and invite codes, which must not outlive
///   ``ContactSync/forget(transport:onUnauthorized:)`` in `Caches/` (the reference server also sends
///   `Cache-Control: no-store`);
/// - at most ``maxAnswerBytes`` + 1 bytes of an answer are handed to the engine, which refuses
///   anything longer. (URLSession buffers a data task's whole body before completing it; an app
///   that must bound that memory too can give this class a session whose delegate cancels tasks
///   whose `expectedContentLength` is too large.)
public final class URLSessionTransport: AbortableTransport {
    /// The largest answer the engine accepts (4 MiB, the core's `MAX_ANSWER_BYTES`). One byte more
    /// is handed over so the engine can tell an answer that is exactly this long from one that is
    /// longer and refuse the latter.
    public static let maxAnswerBytes = 4 * 1024 * 1024

    private let session: URLSession
    /// The base URL as a string without its trailing slash, ready to have `/v1/...` appended.
    private let prefix: String
    private let token: @Sendable () throws -> String?

    /// - Parameters:
    ///   - baseURL: the discovery server, e.g. `https://discovery.example.org/` or, for a server
    ///     mounted under a path, `https://example.org/discovery/`: the engine's paths (`/v1/...`)
    ///     are appended to its path, so the prefix is kept. It must be `http`/`https` and have no
    ///     query or fragment. In the Matrix mode (`SyncOptions.matrix`), the identity server
    ///     instead, e.g. `https://matrix.example.org/`: the engine's paths are then
    ///     `/_matrix/identity/v2/...`.
    ///   - session: the app's session.
    ///   - token: the device's bearer token, read on every request (so a token refreshed or revoked
    ///     in the keychain is picked up without a new transport); `nil` sends no `Authorization`
    ///     header, which is what ``ContactSync/registerDevice(transport:)`` needs, and what the
    ///     Matrix mode needs: the engine sends the identity server's token itself, and a token
    ///     here would replace it. If it throws, the
    ///     request fails as `ContactsyncError.Network` whose detail names only the error's type,
    ///     never its description (a keychain error's text may quote what it stored).
    /// - Throws: `ContactsyncError.InvalidArgument` for a base URL that is not usable.
    public init(
        baseURL: URL,
        session: URLSession = .shared,
        token: @escaping @Sendable () throws -> String? = { nil }
    ) throws {
        guard let scheme = baseURL.scheme?.lowercased(), scheme == "http" || scheme == "https",
            baseURL.host != nil, baseURL.query == nil, baseURL.fragment == nil
        else {
            throw ContactsyncError.InvalidArgument(
                detail: "the discovery server's base URL must be http(s) with a host and no query or fragment")
        }
        var prefix = baseURL.absoluteString
        while prefix.hasSuffix("/") {
            prefix.removeLast()
        }
        // A background session raises an Objective-C exception on the first in-process data task
        // (`data(for:)` included), which would crash the app: refuse it here, where it is an error.
        guard session.configuration.identifier == nil else {
            throw ContactsyncError.InvalidArgument(
                detail: "a background URLSession cannot carry the engine's requests; use a default or ephemeral one")
        }
        self.prefix = prefix
        self.session = session
        self.token = token
    }

    /// A transport with a fixed token (or none).
    public convenience init(baseURL: URL, session: URLSession = .shared, token: String?) throws {
        try self.init(baseURL: baseURL, session: session, token: { token })
    }

    public func send(request: HttpRequest) throws -> HttpResponse {
        try execute(request, inFlight: nil)
    }

    public func send(request: HttpRequest, inFlight: InFlightRequests) throws -> HttpResponse {
        try execute(request, inFlight: inFlight)
    }

    /// One request; with `inFlight`, the task running it is registered there until it ended, so
    /// cancelling the sync cancels it (`data(for:)` then throws, which becomes `.Network` like any
    /// other failure).
    private func execute(_ request: HttpRequest, inFlight: InFlightRequests?) throws -> HttpResponse {
        let path = request.path.hasPrefix("/") ? request.path : "/" + request.path
        let pathOnly = String(path.prefix { $0 != "?" && $0 != "#" })
        let method = Self.name(of: request.method)
        guard let url = URL(string: prefix + path) else {
            throw ContactsyncError.Network(detail: "\(method) \(pathOnly): not a valid URL")
        }
        let bearer: String?
        do {
            bearer = try token()
        } catch {
            throw ContactsyncError.Network(
                detail: "\(method) \(pathOnly): the token provider failed: \(type(of: error))")
        }

        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = method
        urlRequest.cachePolicy = .reloadIgnoringLocalCacheData
        for header in request.headers {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if let bearer {
            urlRequest.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
        }
        switch request.method {
        case .get:
            break
        case .delete:
            if !request.body.isEmpty { urlRequest.httpBody = request.body }
        case .post, .put:
            urlRequest.httpBody = request.body
        }

        let (data, response, error) = perform(urlRequest, inFlight: inFlight)
        // The policy above only stops the cache from answering; a cache may still store the
        // answer (without a `no-store` from the server). Nothing of it may stay on disk.
        session.configuration.urlCache?.removeCachedResponse(for: urlRequest)

        if let error {
            throw ContactsyncError.Network(detail: Self.describe(error, method: method, path: pathOnly, url: url))
        }
        guard let http = response as? HTTPURLResponse else {
            throw ContactsyncError.Network(detail: "\(method) \(pathOnly): the answer is not HTTP")
        }
        var headers: [HttpHeader] = []
        for (name, value) in http.allHeaderFields {
            headers.append(HttpHeader(name: String(describing: name), value: String(describing: value)))
        }
        let body = data ?? Data()
        return HttpResponse(
            status: UInt16(clamping: http.statusCode),
            headers: headers,
            body: body.count > Self.maxAnswerBytes ? body.prefix(Self.maxAnswerBytes + 1) : body
        )
    }

    /// Sends `request` and waits, on this thread, for the data, the response or the error.
    ///
    /// For a sync (`inFlight` given, the calling thread one of ``ContactSync``'s dispatch threads):
    /// URLSession's async API, `data(for:)`, in a task of its own that the sync's cancellation
    /// cancels — cancelling the Swift task cancels the URLSession task under it. Without one (a
    /// registration, an invite, the raw ``Engine`` called by the app, maybe from a thread of Swift
    /// concurrency's pool): a data task with a completion handler, which needs no thread of that
    /// pool while this one waits, so a caller blocking a pool thread cannot starve its own request.
    private func perform(
        _ request: URLRequest, inFlight: InFlightRequests?
    ) -> (Data?, URLResponse?, Error?) {
        let outcome = Outcome()
        guard let inFlight else {
            session.dataTask(with: request) { data, response, error in
                outcome.complete(data: data, response: response, error: error)
            }.resume()
            return outcome.wait()
        }
        let task = Task.detached { [session] in
            do {
                let (data, response) = try await session.data(for: request)
                outcome.complete(data: data, response: response, error: nil)
            } catch {
                outcome.complete(data: nil, response: nil, error: error)
            }
        }
        let registration = inFlight.register { task.cancel() }
        defer { registration.end() }
        return outcome.wait()
    }

    private static func name(of method: HttpMethod) -> String {
        switch method {
        case .get: return "GET"
        case .post: return "POST"
        case .put: return "PUT"
        case .delete: return "DELETE"
        }
    }

    /// What the engine keeps of a failure: method, path (no query: cursors and ids are no one's
    /// business in a log), the error's domain and code, and its description with the URL and the
    /// query scrubbed in case they appear in it.
    private static func describe(_ error: Error, method: String, path: String, url: URL) -> String {
        let ns = error as NSError
        var message = ns.localizedDescription.replacingOccurrences(of: url.absoluteString, with: path)
        if let query = url.query, !query.isEmpty {
            message = message.replacingOccurrences(of: query, with: "…")
        }
        let code = (error as? URLError).map { "URLError \($0.code.rawValue)" } ?? "\(ns.domain) \(ns.code)"
        return "\(method) \(path): \(code): \(message)"
    }
}

/// The completion of one request, handed from the task running `data(for:)` to the thread waiting
/// in ``URLSessionTransport/send(request:)``.
private final class Outcome: @unchecked Sendable {
    // Written once by the completion handler before the semaphore is signalled, read only after the
    // wait returns: the semaphore orders the two, which is why the class can be @unchecked Sendable.
    private let done = DispatchSemaphore(value: 0)
    private var data: Data?
    private var response: URLResponse?
    private var error: Error?

    func complete(data: Data?, response: URLResponse?, error: Error?) {
        self.data = data
        self.response = response
        self.error = error
        done.signal()
    }

    func wait() -> (Data?, URLResponse?, Error?) {
        done.wait()
        return (data, response, error)
    }
}
