package io.github.contactsync

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HttpHeader
import io.github.contactsync.ffi.HttpMethod
import io.github.contactsync.ffi.HttpRequest
import java.net.InetAddress
import java.net.InetSocketAddress
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

/**
 * [OkHttpTransport]'s side of the `Transport` contract, at the HTTP level, against the JDK's
 * own HTTP server on loopback: how paths resolve, which headers go out, that an error status is
 * an answer, that answers are capped, and that failures are `Network` errors whose detail keeps
 * queries and bodies out of logs. (The engine over this transport is covered by
 * [EndToEndTest] against the reference server.)
 */
class OkHttpTransportTest {
    private class Seen(
        val method: String,
        val path: String,
        val query: String?,
        val headers: Map<String, List<String>>,
        val body: ByteArray,
    )

    private lateinit var server: HttpServer
    private lateinit var base: HttpUrl
    private val seen = CopyOnWriteArrayList<Seen>()
    private val client = OkHttpClient()

    /** What the server answers; set per test. */
    @Volatile
    private var answer: (HttpExchange) -> Unit = { it.respond(200, "{}".toByteArray()) }

    @BeforeEach
    fun start() {
        server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
        server.createContext("/") { exchange ->
            exchange.handled {
                seen += Seen(
                    method = it.requestMethod,
                    path = it.requestURI.rawPath,
                    query = it.requestURI.rawQuery,
                    headers = it.requestHeaders.mapKeys { (k, _) -> k.lowercase() },
                    body = it.requestBody.readBytes(),
                )
                answer(it)
            }
        }
        server.start()
        base = "http://127.0.0.1:${server.address.port}/".toHttpUrl()
    }

    @AfterEach
    fun stop() {
        server.stop(0)
    }

    @Test
    fun `paths are appended to the base URL's path, with the query, headers, token and body`() {
        val transport = OkHttpTransport(client, base.resolve("discovery/")!!) { "device-token" }
        transport.send(
            HttpRequest(
                method = HttpMethod.POST,
                path = "/v1/batches?dry=1",
                headers = listOf(HttpHeader("Content-Type", "application/json"), HttpHeader("X-Batch", "7")),
                body = """{"add":[]}""".toByteArray(),
            ),
        )
        val request = seen.single()
        assertEquals("POST", request.method)
        assertEquals("/discovery/v1/batches", request.path, "a server mounted under a path keeps its prefix")
        assertEquals("dry=1", request.query)
        assertEquals(listOf("Bearer device-token"), request.headers["authorization"])
        assertEquals(listOf("7"), request.headers["x-batch"])
        assertEquals(listOf("application/json"), request.headers["content-type"], "sent once")
        assertContentEquals("""{"add":[]}""".toByteArray(), request.body)
    }

    @Test
    fun `without a token no Authorization header is sent, and GET has no body`() {
        OkHttpTransport(client, base).send(HttpRequest(HttpMethod.GET, "/v1/keys", emptyList(), ByteArray(0)))
        val request = seen.single()
        assertEquals("GET" to "/v1/keys", request.method to request.path)
        assertNull(request.headers["authorization"])
        assertEquals(0, request.body.size)
    }

    @Test
    fun `an error status is an answer, with its headers and body`() {
        answer = {
            it.responseHeaders.add("Retry-After", "120")
            it.respond(503, """{"error":"unavailable"}""".toByteArray())
        }
        val response = OkHttpTransport(client, base).send(HttpRequest(HttpMethod.DELETE, "/v1/clients/me", emptyList(), ByteArray(0)))
        assertEquals(503.toUShort(), response.status)
        assertTrue(response.headers.any { it.name.equals("Retry-After", ignoreCase = true) && it.value == "120" })
        assertEquals("""{"error":"unavailable"}""", response.body.decodeToString())
        assertEquals("DELETE", seen.single().method)
    }

    @Test
    fun `an oversized answer is read up to one byte past the limit`() {
        val size = OkHttpTransport.MAX_ANSWER_BYTES + 1024 * 1024
        answer = { it.respond(200, ByteArray(size) { i -> (i % 251).toByte() }) }
        val response = OkHttpTransport(client, base).send(HttpRequest(HttpMethod.GET, "/v1/changes", emptyList(), ByteArray(0)))
        assertEquals(OkHttpTransport.MAX_ANSWER_BYTES + 1, response.body.size)
        assertEquals((OkHttpTransport.MAX_ANSWER_BYTES % 251).toByte(), response.body.last())
    }

    @Test
    fun `no answer is a Network error whose detail keeps the query and the body out`() {
        val failure = RefusingPort().use { closed ->
            val transport = OkHttpTransport(client, "http://127.0.0.1:${closed.port}/".toHttpUrl()) { "device-token" }
            assertFailsWith<ContactsyncException.Network> {
                transport.send(
                    HttpRequest(HttpMethod.POST, "/v1/changes?cursor=secret-cursor", emptyList(), "secret-body".toByteArray()),
                )
            }
        }
        assertTrue(failure.detail.startsWith("POST /v1/changes: "), failure.detail)
        for (hidden in listOf("secret-cursor", "secret-body", "device-token")) {
            assertFalse(hidden in failure.detail, "the detail carries '$hidden': ${failure.detail}")
        }
    }

    @Test
    fun `a failing token provider is a Network error naming only the exception's class`() {
        val transport = OkHttpTransport(client, base) {
            throw IllegalStateException("keystore says: secret-token-material")
        }
        val failure = assertFailsWith<ContactsyncException.Network> {
            transport.send(HttpRequest(HttpMethod.GET, "/v1/keys?cursor=secret-cursor", emptyList(), ByteArray(0)))
        }
        assertTrue(failure.detail.startsWith("GET /v1/keys: "), failure.detail)
        assertTrue("IllegalStateException" in failure.detail, failure.detail)
        for (hidden in listOf("secret-token-material", "secret-cursor")) {
            assertFalse(hidden in failure.detail, "the detail carries '$hidden': ${failure.detail}")
        }
        assertTrue(seen.isEmpty(), "nothing was sent")
    }

    @Test
    fun `a connection closed without an answer is a Network error`() {
        answer = { it.close() }
        assertFailsWith<ContactsyncException.Network> {
            OkHttpTransport(client, base).send(HttpRequest(HttpMethod.GET, "/v1/keys", emptyList(), ByteArray(0)))
        }
    }

    @Test
    fun `a base URL with a query is refused`() {
        assertFailsWith<IllegalArgumentException> { OkHttpTransport(client, base.resolve("/?tenant=1")!!) }
    }

    private fun HttpExchange.respond(status: Int, body: ByteArray) {
        sendResponseHeaders(status, body.size.toLong())
        responseBody.write(body)
    }

    private inline fun HttpExchange.handled(block: (HttpExchange) -> Unit) {
        try {
            block(this)
        } finally {
            close()
        }
    }
}
