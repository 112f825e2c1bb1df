package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Engine
import io.github.contactsync.ffi.HttpRequest
import io.github.contactsync.ffi.HttpResponse
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.InternalException
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.Progress
import io.github.contactsync.ffi.ProgressListener
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.Registration
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.Transport
import io.github.contactsync.ffi.debugPanicForTests
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * Every way a call can fail, as the app sees it: each failure arrives as the documented exception
 * (see [ContactSync]), leaves the store consistent, and the same engine works afterwards.
 */
class FailuresTest {
    @TempDir
    lateinit var dir: Path

    /** One attempt and no waiting, so a failing transport fails the sync at once. */
    private val once = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private val big: List<RawContact> = (0 until 20_000).map { generatedContact(it) }

    /** Contacts outside [big], imported first: an unfinished snapshot must not remove them. */
    private val earlier: List<RawContact> = (30_000 until 30_010).map { generatedContact(it) }

    // (a) Transports that fail.

    @Test
    fun `a transport that fails is a Network error, and the same engine then syncs`() = runBlocking {
        ReferenceServer().use { server ->
            val client = OkHttpClient()
            val registration = server.registerDevice(client)
            val book = (0 until 20).map { generatedContact(it) }
            val userPhone = Normalizer("DE").use { it.normalize(IdentifierKind.PHONE, book[3].values[0].value).canonical }
            server.putUser("u_three", "phone" to userPhone)

            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                sync.importSnapshot(book)
                val pending = sync.status().pendingAdd
                assertTrue(pending > 0uL)

                // Nothing listens on this port: OkHttp's ConnectException, an IOException.
                val network = RefusingPort().use { closed ->
                    val unreachable = OkHttpTransport(client, "http://127.0.0.1:${closed.port}/".toHttpUrl()) {
                        registration.token
                    }
                    assertFailsWith<ContactsyncException.Network> { sync.sync(unreachable, once) }
                }
                assertTrue("/v1/" in network.detail, "the detail names the request: ${network.detail}")
                assertFalse(registration.token in network.detail, "the detail carries the token")

                // An app transport with a bug: a Kotlin exception that is not a ContactsyncException.
                val broken = object : Transport {
                    override fun send(request: HttpRequest): HttpResponse =
                        throw IllegalStateException("the app's transport is broken")
                }
                val callback = assertFailsWith<ContactsyncException.Network> { sync.sync(broken, once) }
                assertTrue("the app's transport is broken" in callback.detail, callback.detail)

                // Nothing was lost, and the same engine syncs with a working transport.
                val kept = sync.status()
                assertEquals(pending, kept.pendingAdd, "$kept")
                assertEquals(0uL, kept.acknowledged, "$kept")
                val good = OkHttpTransport(client, server.baseUrl) { registration.token }
                val report = sync.sync(good, once)
                assertEquals(pending, report.added, "$report")
                assertEquals(listOf("3" to "u_three"), sync.matches().map { it.sourceId to it.userRef })
                assertEquals(pending, sync.status().acknowledged)
            }
        }
    }

    // (b) Cancellation.

    @Test
    fun `a listener cancelling a large import stops it with Cancelled, removing nothing`() {
        Engine.open(dir.resolve("device.db").toString(), Config(region = "DE", chunkSize = 1000u)).use { engine ->
            engine.importSnapshot(earlier)
            val listener = CancelOnFirstProgress()
            assertFailsWith<ContactsyncException.Cancelled> { engine.importSnapshot(big, listener) }
            assertTrue(listener.progressed.get(), "the engine reported progress before stopping")

            assertConsistentAfterCancel(engine.status().contacts, engine.contactsAfter(null, 100_000uL).map { it.sourceId })

            // A new import completes, and as a full snapshot it does remove what it lacks.
            val report = engine.importSnapshot(big)
            assertEquals(earlier.size.toULong(), report.removed, "$report")
            assertCompleteImport(engine.status().contacts, engine.status().identifiers, engine.status().rejected)
        }
    }

    @Test
    fun `cancelling the coroutine stops a large import with CancellationException`() = runBlocking {
        ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE", chunkSize = 1000u)).use { sync ->
            sync.importSnapshot(earlier)
            val outcome = CompletableDeferred<Throwable?>()
            coroutineScope {
                lateinit var canceller: Job
                val import = launch(Dispatchers.Default, start = CoroutineStart.LAZY) {
                    try {
                        sync.importSnapshot(big)
                        outcome.complete(null)
                    } catch (e: Throwable) {
                        outcome.complete(e)
                        throw e
                    } finally {
                        // However the import ended, the collector below stops: the test cannot
                        // hang waiting for a progress report that will never come.
                        canceller.cancel()
                    }
                }
                // An unconfined collector runs on the thread that updates the flow, the engine's,
                // so the job is cancelled inside the first progress report, before the engine
                // next polls for cancellation: the Rust work provably stops part-way. It runs at
                // once up to its first suspension, so it is subscribed before the (lazy) import
                // starts and cannot miss the first report.
                canceller = launch(Dispatchers.Unconfined) {
                    sync.progress.filterNotNull().first()
                    import.cancel()
                }
                import.start()
            }
            assertIs<CancellationException>(outcome.await(), "the import ends as a cancelled coroutine")
            assertEquals(null, sync.progress.value, "no long operation is left under way")

            assertConsistentAfterCancel(sync.status().contacts, sync.contactsAfter(null, 100_000).map { it.sourceId })

            val report = sync.importSnapshot(big)
            assertEquals(earlier.size.toULong(), report.removed, "$report")
            val status = sync.status()
            assertCompleteImport(status.contacts, status.identifiers, status.rejected)
        }
    }

    @Test
    fun `a streamed snapshot that is cancelled or fails keeps its chunks and removes nothing`() = runBlocking {
        ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
            sync.importSnapshot(earlier)
            val chunks = big.take(2_000).chunked(1_000)

            // Cancelled after two chunks were pushed.
            val pushed = CompletableDeferred<Unit>()
            coroutineScope {
                val import = launch {
                    sync.importSnapshot(
                        flow {
                            chunks.forEach { emit(it) }
                            pushed.complete(Unit)
                            awaitCancellation()
                        },
                    )
                }
                pushed.await()
                import.cancel()
            }
            assertEquals((earlier.size + 2_000).toULong(), sync.status().contacts)

            // The reading fails (a provider cursor throwing, say) after one more chunk.
            val failure = assertFailsWith<IllegalStateException> {
                sync.importSnapshot(
                    flow {
                        emit(big.subList(2_000, 3_000))
                        throw IllegalStateException("the cursor went away")
                    },
                )
            }
            assertEquals("the cursor went away", failure.message)
            assertEquals((earlier.size + 3_000).toULong(), sync.status().contacts)
            for (c in earlier) assertNotNull(sync.contact(c.sourceId))
        }
    }

    // (c) Errors of the engine.

    @Test
    fun `an unknown region is an InvalidArgument`() = runBlocking {
        val path = dir.resolve("device.db").toString()
        assertFailsWith<ContactsyncException.InvalidArgument> { Engine.open(path, Config(region = "XX")) }
        assertFailsWith<ContactsyncException.InvalidArgument> { ContactSync.open(path, Config(region = "XX")) }
        assertFailsWith<ContactsyncException.InvalidArgument> { Normalizer("XX") }
        Unit
    }

    @Test
    fun `a directory is not a database, as a Storage error`() = runBlocking {
        val directory = Files.createDirectory(dir.resolve("not-a-file.db")).toString()
        assertFailsWith<ContactsyncException.Storage> { ContactSync.open(directory, Config(region = "DE")) }
        Unit
    }

    @Test
    fun `a token the server does not know is refused as Server 401 unauthorized`() = runBlocking {
        ReferenceServer().use { server ->
            val transport = OkHttpTransport(OkHttpClient(), server.baseUrl) { "a-token-this-server-never-issued" }
            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                sync.importSnapshot((0 until 5).map { generatedContact(it) })
                val refused = assertFailsWith<ContactsyncException.Server> { sync.sync(transport, once) }
                assertEquals(401.toUShort(), refused.status)
                assertEquals("unauthorized", refused.code)
            }
        }
    }

    // (d) A panic in Rust.

    @Test
    fun `a registration whose caller is cancelled meanwhile still hands back its token`() = runBlocking {
        ReferenceServer().use { server ->
            val real = OkHttpTransport(OkHttpClient(), server.baseUrl)
            val entered = CountDownLatch(1)
            val release = CountDownLatch(1)
            // Holds the request until the caller is cancelled, then lets the server register.
            val slow = object : Transport {
                override fun send(request: HttpRequest): HttpResponse {
                    entered.countDown()
                    check(release.await(60, TimeUnit.SECONDS)) { "the test never released the request" }
                    return real.send(request)
                }
            }
            var saved: Registration? = null
            val caller = launch(Dispatchers.Default) {
                // No suspension point between the call and the assignment: this is where an app
                // persists the token.
                saved = ContactSync.registerDevice(slow)
            }
            assertTrue(entered.await(60, TimeUnit.SECONDS), "the registration never reached the transport")
            caller.cancel()
            release.countDown()
            caller.join()
            assertTrue(caller.isCancelled)
            val token = assertNotNull(saved, "the server registered the device: its token must not be dropped").token
            assertTrue(token.isNotEmpty())
        }
    }

    @Test
    fun `a Rust panic is an InternalException and the library keeps working`() {
        Engine.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { engine ->
            engine.importSnapshot((0 until 5).map { generatedContact(it) })
            repeat(2) {
                val panic = assertFailsWith<InternalException> { debugPanicForTests("boom") }
                assertTrue("boom" in panic.message.orEmpty(), "the panic's message reaches Kotlin: ${panic.message}")
            }
            assertEquals(5uL, engine.status().contacts)
            Normalizer("DE").use {
                assertEquals("+4915123456789", it.normalize(IdentifierKind.PHONE, "0151 23456789").canonical)
            }
        }
    }

    /**
     * The store after a cancelled snapshot of [big]: everything that was there before (an
     * unfinished snapshot removes nothing), plus at most the chunks committed before the
     * cancellation — never the whole book — and the count agrees with the rows listed.
     */
    private fun assertConsistentAfterCancel(contacts: ULong, listed: List<String>) {
        assertEquals(contacts, listed.size.toULong(), "status and listing agree")
        val missing = earlier.map { it.sourceId } - listed.toSet()
        assertTrue(missing.isEmpty(), "the cancelled snapshot removed $missing")
        val imported = listed.size - earlier.size
        assertTrue(imported < big.size, "the import ran to the end: $imported of ${big.size} stored")
    }

    /** The store after a complete import of [big], counted independently of the engine's import. */
    private fun assertCompleteImport(contacts: ULong, identifiers: ULong, rejected: ULong) {
        var valid = 0uL
        var invalid = 0uL
        Normalizer("DE").use { normalizer ->
            for (value in big.flatMap { it.values }) {
                try {
                    normalizer.normalize(value.kind, value.value)
                    valid++
                } catch (_: ContactsyncException.InvalidValue) {
                    invalid++
                }
            }
        }
        assertEquals(big.size.toULong(), contacts)
        assertEquals(valid, identifiers, "every generated identifier is distinct")
        assertEquals(invalid, rejected)
    }

    /** Reports cancelled from the first progress report on, as a "Cancel" button would. */
    private class CancelOnFirstProgress : ProgressListener {
        val progressed = AtomicBoolean()

        override fun onProgress(progress: Progress) = progressed.set(true)

        override fun isCancelled(): Boolean = progressed.get()
    }
}
