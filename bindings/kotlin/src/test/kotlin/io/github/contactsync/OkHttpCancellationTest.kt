package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HttpMethod
import io.github.contactsync.ffi.HttpRequest
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import java.time.Duration
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.runBlocking
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * Cancelling the coroutine of a sync cancels the OkHttp call the engine is blocked in: against a
 * real loopback server that accepts the request and never answers, with a client whose timeouts
 * are ten minutes, the sync still ends as cancelled, the connection is closed by the client, and
 * the engine records no backoff (the next sync against the real reference server runs at once).
 *
 * No wall-time assertion: the guards are generous (a minute) and only keep a regression from
 * hanging the build; without the abort the sync would sit in the read for ten minutes and trip
 * them.
 */
class OkHttpCancellationTest {
    @TempDir
    lateinit var dir: Path

    /** Timeouts far beyond the guards, so only the cancellation can end the request. */
    private val patient = OkHttpClient.Builder()
        .callTimeout(Duration.ZERO)
        .readTimeout(Duration.ofMinutes(10))
        .writeTimeout(Duration.ofMinutes(10))
        .build()

    @Test
    fun `cancelling the coroutine cancels the request in flight and ends the sync as cancelled`() = runBlocking {
        ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
            sync.importSnapshot((0 until 20).map { generatedContact(it) })
            StallingServer().use { stalled ->
                val transport = OkHttpTransport(patient, stalled.baseUrl) { "device-token" }
                val ended = cancelWhileInFlight(stalled) {
                    sync.sync(transport, SyncOptions(maxAttempts = 3u, force = true))
                }
                assertIs<CancellationException>(ended, "the sync ended with $ended")
                assertTrue(stalled.awaitClientClosed(), "the request was abandoned, not cancelled")
            }

            // No backoff was recorded for the aborted request: a sync that does not force its way
            // past one runs at once against a server that answers.
            ReferenceServer().use { server ->
                val registration = server.registerDevice(OkHttpClient())
                val report = sync.sync(OkHttpTransport(OkHttpClient(), server.baseUrl) { registration.token })
                assertTrue(report.batchesSent >= 1uL, "$report")
            }
        }
    }

    @Test
    fun `a request registered after the cancellation is aborted at once, as a Network error`() {
        StallingServer().use { stalled ->
            val transport = OkHttpTransport(patient, stalled.baseUrl)
            val inFlight = InFlightRequests().apply { cancel() }
            val request = HttpRequest(HttpMethod.GET, "/v1/config", emptyList(), ByteArray(0))
            // Without the abort this would block in the read for the client's ten minutes.
            val failure = assertFailsWith<ContactsyncException.Network> { transport.send(request, inFlight) }
            assertTrue("Canceled" in failure.detail, failure.detail)
        }
    }
}
