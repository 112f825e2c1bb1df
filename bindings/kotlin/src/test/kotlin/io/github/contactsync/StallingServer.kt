package io.github.contactsync

import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.withTimeoutOrNull
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl

/**
 * A real HTTP peer on loopback that accepts connections, reads what the client sends, and never
 * answers: the stalled server (or the dead mobile link) a cancellation must get a sync out of.
 * Not a mock: the client connects, writes its request and blocks reading, as against a real
 * server that hangs.
 *
 * [awaitRequest] waits until a request's first bytes arrived, so a test cancels while the
 * request is provably in flight; [awaitClientClosed] waits until the client closed that
 * connection, which is what an aborted request does (an abandoned one keeps it open).
 */
internal class StallingServer : AutoCloseable {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val connections = CopyOnWriteArrayList<Socket>()
    private val requested = CountDownLatch(1)
    private val clientClosed = CountDownLatch(1)

    val baseUrl: HttpUrl = "http://127.0.0.1:${server.localPort}/".toHttpUrl()

    init {
        thread(isDaemon = true, name = "stalling-server") {
            while (!server.isClosed) {
                val socket = try {
                    server.accept()
                } catch (_: IOException) {
                    break
                }
                connections += socket
                thread(isDaemon = true, name = "stalling-connection") { drain(socket) }
            }
        }
    }

    /** Reads until the client closes: the first bytes mark a request in flight, the end its abort. */
    private fun drain(socket: Socket) {
        val buffer = ByteArray(8192)
        try {
            val input = socket.getInputStream()
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                if (n > 0) requested.countDown()
            }
        } catch (_: IOException) {
            // A reset is a close too.
        }
        clientClosed.countDown()
    }

    /** Whether a request arrived within [seconds] (a hang guard, not a timing). */
    fun awaitRequest(seconds: Long = 60): Boolean = requested.await(seconds, TimeUnit.SECONDS)

    /** Whether the client closed a connection within [seconds] (a hang guard, not a timing). */
    fun awaitClientClosed(seconds: Long = 60): Boolean = clientClosed.await(seconds, TimeUnit.SECONDS)

    override fun close() {
        server.close()
        connections.forEach { runCatching { it.close() } }
    }
}

/**
 * Runs [block] in a coroutine of its own, cancels that coroutine once a request reached
 * [server] (what WorkManager does to a stopped worker, or a screen to a sync it no longer
 * shows), and returns how [block] ended: its result or what it threw. `null` when it did not end
 * within a minute — the hang guard, far beyond any real cancellation, never a timing; the
 * coroutine is detached so a hung one cannot hold up the test's own scope.
 */
internal suspend fun cancelWhileInFlight(server: StallingServer, block: suspend () -> Any?): Any? {
    val outcome = CompletableDeferred<Any?>()
    val running = CoroutineScope(Dispatchers.Default).async(start = CoroutineStart.ATOMIC) {
        try {
            outcome.complete(block())
        } catch (e: Throwable) {
            outcome.complete(e)
            throw e
        }
    }
    check(server.awaitRequest()) { "no request reached the stalling server" }
    running.cancel()
    return withTimeoutOrNull(60_000) { outcome.await() }
}
