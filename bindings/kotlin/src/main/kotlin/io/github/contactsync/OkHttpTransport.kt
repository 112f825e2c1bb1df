package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HttpHeader
import io.github.contactsync.ffi.HttpMethod
import io.github.contactsync.ffi.HttpRequest
import io.github.contactsync.ffi.HttpResponse
import io.github.contactsync.ffi.Transport
import java.io.IOException
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.MediaType
import okhttp3.MediaType.Companion.toMediaTypeOrNull
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.ResponseBody

/**
 * The engine's [Transport] over the app's own [OkHttpClient].
 *
 * The engine never opens a socket itself: every request of a sync, a registration, an invite or
 * a consent withdrawal goes through this class, so whatever the app configured on [client]
 * applies to the discovery server too — interceptors, its own authentication, certificate
 * pinning, proxies, timeouts, the connection pool. Share the app's client
 * (`appClient.newBuilder()...build()`) rather than building a new one, so connections and
 * threads are shared.
 *
 * [send] is blocking (`Call.execute()`), which is what the engine wants: it is called on the
 * thread that runs the sync, never the caller's, when the calls go through [ContactSync].
 *
 * Cancellation: it is an [AbortableTransport], so cancelling the coroutine of a
 * [ContactSync.sync] cancels the OkHttp [okhttp3.Call] under way (`Call.cancel()`), and the sync
 * ends at once with a `CancellationException` instead of waiting for an answer or the client's
 * timeouts. Registration, invites and consent withdrawal are not interrupted once started (see
 * [ContactSync]); neither is a call made through the raw engine, whose listener the engine only
 * polls between requests.
 *
 * What it guarantees the engine, as the [Transport] contract asks:
 * - a 4xx or 5xx is returned as an answer (the engine reads the protocol's error body and
 *   `Retry-After` from it), never thrown;
 * - an [IOException] (no network, DNS, TLS, a timeout, a cancelled call) becomes
 *   [ContactsyncException.Network], which the engine retries with backoff. Its `detail` names the
 *   method, the path without its query and the exception, never the query or a body: it ends up
 *   in the final error, hence in the app's logs and crash reports;
 * - at most [MAX_ANSWER_BYTES] + 1 bytes of an answer are read: the engine refuses anything
 *   longer, and a hostile or broken server cannot make the app buffer an unbounded body.
 *
 * @param client the app's client.
 * @param baseUrl the discovery server, e.g. `https://discovery.example.org/` or, for a server
 *   mounted under a path, `https://example.org/discovery/`: the engine's paths (`/v1/...`) are
 *   appended to its path, so the prefix is kept. It must have no query or fragment. In the Matrix
 *   mode (`SyncOptions.matrix`), the identity server instead, e.g. `https://matrix.example.org/`:
 *   the engine's paths are then `/_matrix/identity/v2/...`.
 * @param token the device's bearer token, read on every request (so a token refreshed or
 *   revoked in the app's secure storage is picked up without a new transport); `null` sends no
 *   `Authorization` header, which is what [io.github.contactsync.ffi.registerDevice] needs, and
 *   what the Matrix mode needs: the engine sends the identity server's token itself, and a
 *   token here would replace it. If
 *   it throws, the request fails as [ContactsyncException.Network] whose detail names only the
 *   exception's class, never its message.
 */
class OkHttpTransport(
    private val client: OkHttpClient,
    private val baseUrl: HttpUrl,
    private val token: () -> String? = { null },
) : AbortableTransport {

    init {
        require(baseUrl.query == null && baseUrl.fragment == null) {
            "the base URL of the discovery server must have no query or fragment"
        }
    }

    /** The base URL without its trailing slash, ready to have `/v1/...` appended. */
    private val prefix: String = baseUrl.toString().removeSuffix("/")

    override fun send(request: HttpRequest): HttpResponse = execute(request, null)

    override fun send(request: HttpRequest, inFlight: InFlightRequests): HttpResponse = execute(request, inFlight)

    /**
     * One request; with [inFlight], the call is registered there until it ended, so cancelling
     * the sync cancels it (OkHttp then throws an [IOException] from `execute()`, read or write,
     * which becomes `Network` like any other).
     */
    private fun execute(request: HttpRequest, inFlight: InFlightRequests?): HttpResponse {
        val path = if (request.path.startsWith("/")) request.path else "/${request.path}"
        val url = (prefix + path).toHttpUrl()
        val call = client.newCall(toOkHttp(request, url, bearer(request.method, url)))
        val registration = inFlight?.register(call::cancel)
        try {
            call.execute().use { response ->
                return HttpResponse(
                    status = response.code.toUShort(),
                    headers = response.headers.map { (name, value) -> HttpHeader(name, value) },
                    body = response.body.readAtMost(MAX_ANSWER_BYTES + 1L),
                )
            }
        } catch (e: IOException) {
            throw ContactsyncException.Network(describe(request.method, url, e))
        } finally {
            registration?.close()
        }
    }

    /**
     * The token, read through the app's provider. A provider that throws (a keystore that is
     * locked or was wiped, a corrupt preferences file) becomes [ContactsyncException.Network],
     * which the engine retries and reports like any request that could not be sent, instead of
     * an unexpected exception out of the app's callback. Its detail names only the exception's
     * class: the message of a token store's exception may quote the token or the store's
     * contents, and the detail ends up in logs and crash reports.
     */
    private fun bearer(method: HttpMethod, url: HttpUrl): String? = try {
        token()
    } catch (e: Exception) {
        throw ContactsyncException.Network(
            "${method.name} ${url.encodedPath}: the token provider failed: ${e::class.qualifiedName ?: "Exception"}",
        )
    }

    private fun toOkHttp(request: HttpRequest, url: HttpUrl, token: String?): Request {
        var mediaType: MediaType? = null
        val builder = Request.Builder().url(url)
        for (header in request.headers) {
            // OkHttp takes the content type from the body: set as a header too, it would be
            // sent twice.
            if (header.name.equals("Content-Type", ignoreCase = true)) {
                mediaType = header.value.toMediaTypeOrNull()
            } else {
                builder.addHeader(header.name, header.value)
            }
        }
        token?.let { builder.header("Authorization", "Bearer $it") }
        val body: RequestBody? = when (request.method) {
            HttpMethod.GET -> null
            HttpMethod.DELETE -> request.body.takeIf { it.isNotEmpty() }?.toRequestBody(mediaType)
            HttpMethod.POST, HttpMethod.PUT -> request.body.toRequestBody(mediaType)
        }
        return builder.method(request.method.name, body).build()
    }

    companion object {
        /**
         * The largest answer the engine accepts (4 MiB, the core's `MAX_ANSWER_BYTES`). One byte
         * more is read so the engine can tell an answer that is exactly this long from one that
         * is longer and refuse the latter.
         */
        const val MAX_ANSWER_BYTES: Int = 4 * 1024 * 1024

        /**
         * What the engine keeps of a failure: method, path (no query: cursors and ids are no
         * one's business in a log), and the exception. OkHttp's own messages carry at most a host
         * and port; the full URL is scrubbed anyway in case an interceptor put it there.
         */
        private fun describe(method: HttpMethod, url: HttpUrl, e: IOException): String {
            val message = e.message
                ?.replace(url.toString(), url.encodedPath)
                ?.let { m -> url.encodedQuery?.let { m.replace(it, "…") } ?: m }
            val what = e::class.simpleName ?: "IOException"
            return buildString {
                append(method.name).append(' ').append(url.encodedPath).append(": ").append(what)
                if (!message.isNullOrBlank()) append(": ").append(message)
            }
        }

        /**
         * Reads at most [limit] bytes: the rest of an oversized body is left unread (the
         * connection is then discarded rather than reused, which is fine for an answer the
         * engine refuses anyway).
         */
        private fun ResponseBody.readAtMost(limit: Long): ByteArray {
            val source = source()
            source.request(limit)
            val buffer = source.buffer
            return buffer.readByteArray(minOf(buffer.size, limit))
        }
    }
}
