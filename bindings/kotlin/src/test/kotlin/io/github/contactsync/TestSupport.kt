package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.Registration
import java.io.BufferedReader
import java.io.IOException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.Socket
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CompletableFuture
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import kotlin.concurrent.thread
import kotlin.io.path.deleteRecursively
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.addJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.long
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonArray
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.Interceptor
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import okio.Buffer

/**
 * What Maven's Surefire hands the tests (see pom.xml): the cdylib's directory for JNA, the
 * `contactsync` CLI that runs the reference server, `sydent-fixture` that runs the Matrix mode's
 * identity server, and the workspace's shared test vectors.
 */
internal object TestEnv {
    private fun property(name: String): String =
        System.getProperty(name)?.takeIf { it.isNotBlank() }
            ?: error("system property $name is not set: run the tests through Maven (mvn -f bindings/kotlin/pom.xml test)")

    val cli: Path get() = Path.of(property("contactsync.cli"))

    val sydentFixture: Path get() = Path.of(property("contactsync.sydentFixture"))

    val vectors: Path get() = Path.of(property("contactsync.vectors"))
}

/**
 * The real reference server (`contactsync serve`) as a child process on a free loopback port,
 * with its own database in a temporary directory; [close] stops it and deletes the directory.
 *
 * The first line the server writes on stderr is `listening on http://ADDR`; the rest (request
 * logs) is drained on a daemon thread, or the server would block once the pipe fills up, and the
 * last lines are kept for the failure messages of [putUser].
 *
 * [serveArgs] go to `serve` after the tests' own, e.g. `--mode private`.
 */
internal class ReferenceServer(vararg serveArgs: String) : AutoCloseable {
    val adminToken: String = "admin-token-for-the-kotlin-tests-0123456789"

    private val dir: Path = Files.createTempDirectory("contactsync-server-")
    private val process: Process
    private val shutdownHook: Thread
    private val recentLog = ArrayDeque<String>()

    /** The server's base URL, e.g. `http://127.0.0.1:41234/`. */
    val baseUrl: HttpUrl

    /** A plain client for the admin API: no recording, no device token. */
    private val admin = OkHttpClient()

    init {
        process = ProcessBuilder(
            TestEnv.cli.toString(), "serve",
            "--db", dir.resolve("server.db").toString(),
            "--listen", "127.0.0.1:0",
            "--admin-token", adminToken,
            // Devices register themselves, all from 127.0.0.1: open registration without the
            // per-address limits.
            "--open-registration",
            "--registrations-per-ip-burst", "1000000",
            "--registrations-per-ip-per-hour", "3600000",
            "--registrations-global-per-minute", "60000",
            "--open-identifiers-per-ip-per-day", "4000000000",
            "--open-identifiers-global-per-day", "4000000000",
            *serveArgs,
        ).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
        // A JVM that exits without close() (a test killed by a timeout, Ctrl-C, a crashed fork)
        // must not leave the server running: the hook kills it. close() removes the hook again,
        // so hooks do not pile up over a test run.
        shutdownHook = Thread({ process.destroyForcibly() }, "contactsync-serve-kill")
        Runtime.getRuntime().addShutdownHook(shutdownHook)
        try {
            val stderr = process.errorStream.bufferedReader()
            val first = firstLine(stderr, "`contactsync serve`", "stderr")
            check(first != null && first.startsWith(LISTENING)) {
                "`contactsync serve` did not start: first line ${first?.let { "'$it'" } ?: "missing"}"
            }
            baseUrl = first.removePrefix(LISTENING).trim().toHttpUrl()
            thread(isDaemon = true, name = "contactsync-serve-stderr") {
                try {
                    stderr.useLines { lines -> lines.forEach(::remember) }
                } catch (_: IOException) {
                    // Stopping the process closes the pipe under the reader: the end of the log.
                }
            }
        } catch (e: Throwable) {
            stopProcess()
            dir.deleteRecursivelyQuietly()
            throw e
        }
    }

    /**
     * Registers (or replaces) an app user through the admin API, each identifier as
     * `kind to canonical value` — what the app's backend does when a user signs up.
     */
    fun putUser(userRef: String, vararg identifiers: Pair<String, String>, discoverable: Boolean = true) {
        val body = buildJsonObject {
            put("discoverable", discoverable)
            putJsonArray("identifiers") {
                for ((kind, value) in identifiers) {
                    addJsonObject {
                        put("kind", kind)
                        put("value", value)
                    }
                }
            }
        }
        val request = Request.Builder()
            .url(baseUrl.newBuilder().addPathSegments("v1/admin/users").addPathSegment(userRef).build())
            .header("Authorization", "Bearer $adminToken")
            .put(body.toString().toRequestBody(JSON))
            .build()
        admin.newCall(request).execute().use { response ->
            check(response.isSuccessful) {
                "PUT user $userRef: HTTP ${response.code} ${response.body.string()}\n${log()}"
            }
        }
    }

    /**
     * A device the app's backend vouches for as [userRef] (`POST /v1/admin/clients`): its bearer
     * token. Only such a device may create or redeem invites.
     */
    fun vouchDevice(userRef: String): String {
        val body = buildJsonObject { put("user_ref", userRef) }
        val request = Request.Builder()
            .url(baseUrl.newBuilder().addPathSegments("v1/admin/clients").build())
            .header("Authorization", "Bearer $adminToken")
            .post(body.toString().toRequestBody(JSON))
            .build()
        return admin.newCall(request).execute().use { response ->
            val text = response.body.string()
            check(response.isSuccessful) { "vouch $userRef: HTTP ${response.code} $text\n${log()}" }
            Json.parseToJsonElement(text).jsonObject.getValue("token").jsonPrimitive.content
        }
    }

    /**
     * The users of the end-to-end books, one per kind of identifier: Ana by phone, Clara by
     * e-mail, Dario by linked account, Eva by handle.
     */
    fun putUsersOfEveryKind() {
        putUser("u_ana", "phone" to "+4915123456789")
        putUser("u_clara", "email" to "clara@example.com")
        putUser("u_dario", "account" to "google:1078543")
        putUser("u_eva", "handle" to "eva_k")
    }

    /**
     * The version of the users' filter the server publishes (`serve --mode private`), read from
     * `GET /v1/config`.
     */
    fun filterVersion(): Long {
        val request = Request.Builder()
            .url(baseUrl.newBuilder().addPathSegments("v1/config").build())
            .header("Authorization", "Bearer $adminToken")
            .build()
        return admin.newCall(request).execute().use { response ->
            check(response.isSuccessful) { "GET /v1/config: HTTP ${response.code}\n${log()}" }
            val config = Json.parseToJsonElement(response.body.string()).jsonObject
            val private = checkNotNull(config["private"] as? JsonObject) { "the server is not in the private mode" }
            private.getValue("filter_version").jsonPrimitive.long
        }
    }

    /**
     * Waits (at most ten seconds) until the users' filter has moved past [version]: the server
     * rebuilds it at most once per `--private-filter-rebuild-s`, and a sync before that does not
     * see a user who just registered.
     */
    fun awaitFilterPast(version: Long): Long {
        repeat(100) {
            val now = filterVersion()
            if (now > version) return now
            Thread.sleep(100)
        }
        error("the users' filter did not move past version $version\n${log()}")
    }

    /**
     * Revokes a device through the admin API (`DELETE /v1/admin/clients/{id}`), as the app's
     * backend does for a lost phone: its token answers 401 from then on.
     */
    fun revokeClient(clientId: String) {
        val request = Request.Builder()
            .url(baseUrl.newBuilder().addPathSegments("v1/admin/clients").addPathSegment(clientId).build())
            .header("Authorization", "Bearer $adminToken")
            .delete()
            .build()
        admin.newCall(request).execute().use { response ->
            check(response.isSuccessful) { "DELETE client: HTTP ${response.code}\n${log()}" }
        }
    }

    /** Registers a new device (open registration) through [client], as an app does. */
    fun registerDevice(client: OkHttpClient): Registration =
        runBlocking { ContactSync.registerDevice(OkHttpTransport(client, baseUrl)) }

    /** The server's last log lines, for failure messages. */
    fun log(): String = synchronized(recentLog) { recentLog.joinToString("\n") }

    override fun close() {
        admin.dispatcher.executorService.shutdown()
        admin.connectionPool.evictAll()
        stopProcess()
        dir.deleteRecursivelyQuietly()
    }

    private fun remember(line: String) {
        synchronized(recentLog) {
            recentLog.addLast(line)
            if (recentLog.size > KEPT_LINES) recentLog.removeFirst()
        }
    }

    /** SIGTERM first (the server stops cleanly), then the hard way; then the hook goes. */
    private fun stopProcess() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS)
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook)
        } catch (_: IllegalStateException) {
            // Already shutting down: the hook runs anyway, on a process that is gone.
        }
    }

    private companion object {
        const val LISTENING = "listening on "
        const val KEPT_LINES = 50
        val JSON = "application/json".toMediaType()

        @OptIn(kotlin.io.path.ExperimentalPathApi::class)
        fun Path.deleteRecursivelyQuietly() {
            runCatching { deleteRecursively() }
        }
    }
}

/**
 * The first line [what] writes on [stream] (read through [reader]), or a failure after
 * [seconds] (a minute by default): a guard against a process that hangs before printing it, so a
 * broken build fails instead of blocking the test run.
 *
 * Read on a dedicated daemon thread, not the common pool: after a timeout the read stays blocked
 * until the caller kills the process (closing the pipe), and a blocked common-pool thread would
 * starve everything else that uses the pool meanwhile.
 */
internal fun firstLine(reader: BufferedReader, what: String, stream: String, seconds: Long = 60): String? {
    val line = CompletableFuture<String?>()
    thread(isDaemon = true, name = "contactsync-first-line") {
        try {
            line.complete(reader.readLine())
        } catch (e: Throwable) {
            line.completeExceptionally(e)
        }
    }
    return try {
        line.get(seconds, TimeUnit.SECONDS)
    } catch (e: TimeoutException) {
        throw IllegalStateException("$what printed nothing on $stream within $seconds s", e)
    } catch (e: ExecutionException) {
        throw IllegalStateException("reading the $stream of $what failed", e.cause)
    }
}

/**
 * An OkHttp interceptor that keeps every request's method, path and body, to check what the
 * engine sends to the server.
 */
internal class RequestRecorder : Interceptor {
    class Recorded(val method: String, val path: String, val body: ByteArray, val contentType: String?)

    private val seen = CopyOnWriteArrayList<Recorded>()

    val requests: List<Recorded> get() = seen.toList()

    override fun intercept(chain: Interceptor.Chain): Response {
        val request = chain.request()
        val body = request.body?.let { b -> Buffer().also { b.writeTo(it) }.readByteArray() } ?: ByteArray(0)
        val contentType = request.body?.contentType()?.let { "${it.type}/${it.subtype}" }
        seen += Recorded(request.method, request.url.encodedPath, body, contentType)
        return chain.proceed(request)
    }
}

/** A device of [ReferenceServer.vouchedDevice]: its engine and a transport holding its token. */
internal data class VouchedDevice(val sync: ContactSync, val transport: OkHttpTransport) : AutoCloseable {
    override fun close() = sync.close()
}

/**
 * A device the app's backend vouched for as [userRef] (only such a device may create or redeem
 * invites), with its engine on `userRef.db` in [dir] (region DE) and a transport through [client].
 */
internal suspend fun ReferenceServer.vouchedDevice(userRef: String, client: OkHttpClient, dir: Path): VouchedDevice {
    val token = vouchDevice(userRef)
    val sync = ContactSync.open(dir.resolve("$userRef.db").toString(), Config(region = "DE"))
    return VouchedDevice(sync, OkHttpTransport(client, baseUrl) { token })
}

/** A contact with these values (no labels), for the small books of end-to-end tests. */
internal fun person(id: String, name: String, vararg values: Pair<IdentifierKind, String>) =
    RawContact(
        sourceId = id,
        displayName = name,
        values = values.map { (kind, value) -> Labelled(kind, null, value) },
        version = null,
    )

/**
 * Generated contacts: contact [i] in [version] (an edit bumps the version and so changes its
 * phone number and e-mail). Every tenth contact also has a number the engine rejects
 * (`phone.too_short`), so rejections are exercised too. Valid German mobile numbers, read in
 * region `DE`.
 */
internal fun generatedContact(i: Int, version: Int = 0): RawContact {
    val values = buildList {
        add(Labelled(IdentifierKind.PHONE, "mobile", "0151 ${20_000_000 + i * 4 + version}"))
        add(Labelled(IdentifierKind.EMAIL, "home", "person$i.v$version@example.org"))
        if (i % 10 == 0) add(Labelled(IdentifierKind.PHONE, "work", "12"))
    }
    return RawContact(sourceId = i.toString(), displayName = "Person $i", values = values, version = "$version")
}

/**
 * A loopback port that refuses connections for as long as this is open: a socket bound to it
 * that neither listens nor connects, so the kernel answers a connection attempt with a reset,
 * and no other process can take the port meanwhile (as it could one freed by closing a server
 * socket before the test connects).
 */
internal class RefusingPort : AutoCloseable {
    private val socket = Socket().apply { bind(InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0)) }

    val port: Int get() = socket.localPort

    override fun close() = socket.close()
}
