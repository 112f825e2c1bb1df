package io.github.contactsync.background

import io.github.contactsync.ContactSync
import io.github.contactsync.OkHttpTransport
import io.github.contactsync.RefusingPort
import io.github.contactsync.ReferenceServer
import io.github.contactsync.StallingServer
import io.github.contactsync.cancelWhileInFlight
import io.github.contactsync.contacts.ContactsImporter
import io.github.contactsync.contacts.ContactsImporterTest
import io.github.contactsync.contacts.ContactsProviderSource
import io.github.contactsync.contacts.DeletedRow
import io.github.contactsync.contacts.InMemoryImportAnchor
import io.github.contactsync.contacts.ProviderRows
import io.github.contactsync.contacts.RowCursor
import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * [BackgroundSync], what a WorkManager worker runs, against the real engine, a provider-shaped
 * address book and the real reference server (or a loopback port that refuses, or a server that
 * never answers): which result each outcome gives the scheduler, and that a stopped run stops the
 * Rust work.
 */
class BackgroundSyncTest {
    @TempDir
    lateinit var dir: Path

    private lateinit var sync: ContactSync
    private val client = OkHttpClient()

    /** Ana's mobile number as the provider holds it, in region DE. */
    private val provider = ContactsImporterTest.FakeProvider().apply {
        rows += ProviderRows.data(100, 10, 1, "Ana", 1_000, "vnd.android.cursor.item/phone_v2", "0151 23456789", data2 = "2")
        stamps[1] = 1_000
    }

    private fun importer(source: ContactsProviderSource = provider) =
        ContactsImporter(source, InMemoryImportAnchor(), ioDispatcher = Dispatchers.IO)

    @BeforeEach
    fun open() = runBlocking {
        sync = ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE"))
    }

    @AfterEach
    fun close() = sync.close()

    @Test
    fun `a run imports the address book, syncs, and succeeds with the match`() = runBlocking {
        ReferenceServer().use { server ->
            server.putUser("u_ana", "phone" to "+4915123456789")
            val token = server.registerDevice(client).token
            val result = BackgroundSync(sync, importer(), OkHttpTransport(client, server.baseUrl) { token }).run()
            assertIs<BackgroundResult.Success>(result)
            assertEquals(1uL, result.imported?.report?.added, "$result")
            assertEquals(1uL, result.synced?.newMatches, "$result")
            assertEquals(listOf("u_ana"), sync.matches().map { it.userRef })
        }
    }

    @Test
    fun `without a transport the run imports only and succeeds`() = runBlocking {
        val result = BackgroundSync(sync, importer(), transport = null).run()
        assertIs<BackgroundResult.Success>(result)
        assertNull(result.synced)
        assertEquals(1uL, sync.status().contacts)
    }

    @Test
    fun `offline is a retry on the scheduler's backoff, then the engine's backoff is a retry not before its end`() = runBlocking {
        RefusingPort().use { closed ->
            val transport = OkHttpTransport(client, "http://127.0.0.1:${closed.port}/".toHttpUrl()) { "device-token" }
            val background = BackgroundSync(sync, importer(), transport, SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL))
            val offline = background.run()
            assertIs<BackgroundResult.Retry>(offline)
            assertEquals(RetryReason.OFFLINE to null, offline.reason to offline.notBeforeMillis)

            // The engine persisted a backoff after the failed request: the next run does not
            // touch the network and hands the scheduler the time to come back.
            val waiting = background.run()
            assertIs<BackgroundResult.Retry>(waiting)
            assertEquals(RetryReason.SERVER_ASKED_TO_WAIT, waiting.reason)
            val notBefore = assertNotNull(waiting.notBeforeMillis)
            assertTrue(notBefore > System.currentTimeMillis() - 1_000, "$notBefore")
        }
    }

    @Test
    fun `an unknown token is a failure, not a retry`() = runBlocking {
        ReferenceServer().use { server ->
            val result = BackgroundSync(sync, importer(), OkHttpTransport(client, server.baseUrl) { "not-a-token" }).run()
            assertIs<BackgroundResult.Failure>(result)
            assertEquals(FailureReason.UNAUTHORIZED, result.reason, "${result.error}")
        }
    }

    @Test
    fun `with the app's re-registration, an unknown token registers again and the run succeeds`() = runBlocking {
        ReferenceServer().use { server ->
            server.putUser("u_ana", "phone" to "+4915123456789")
            // The app's secure storage, which the transport reads on every request.
            val token = AtomicReference("revoked-token")
            val calls = AtomicInteger()
            val result = BackgroundSync(
                sync,
                importer(),
                OkHttpTransport(client, server.baseUrl) { token.get() },
                onUnauthorized = {
                    calls.incrementAndGet()
                    token.set(ContactSync.registerDevice(OkHttpTransport(client, server.baseUrl)).token)
                },
            ).run()
            assertIs<BackgroundResult.Success>(result, "$result")
            assertEquals(1, calls.get())
            assertEquals(listOf("u_ana"), sync.matches().map { it.userRef })
        }
    }

    @Test
    fun `a revoked contacts permission is a failure`() = runBlocking {
        val denied = object : ContactsProviderSource {
            override fun dataRows(changedAfter: Long?): RowCursor = throw SecurityException("Permission Denial")
            override fun changedContactIds(changedAfter: Long): List<Long> = throw SecurityException("Permission Denial")
            override fun deletedContacts(deletedAfter: Long): List<DeletedRow> = throw SecurityException("Permission Denial")
        }
        val result = BackgroundSync(sync, importer(denied), transport = null).run()
        assertIs<BackgroundResult.Failure>(result)
        assertEquals(FailureReason.NO_CONTACTS_PERMISSION, result.reason)
    }

    @Test
    fun `a setup that cannot open the engine is classified like the run`() = runBlocking {
        // A directory where the database file should be: the engine's Storage error, a retry.
        val notAFile = dir.resolve("a-directory").toFile().apply { mkdirs() }
        val result = BackgroundSync.run {
            BackgroundSync(ContactSync.open(notAFile.path, Config(region = "DE")), importer = null, transport = null)
        }
        assertIs<BackgroundResult.Retry>(result)
        assertEquals(RetryReason.STORAGE, result.reason, "${result.error}")
    }

    @Test
    fun `a stopped run cancels the request in flight and ends as cancelled, not as a result`() = runBlocking {
        val patient = OkHttpClient.Builder().readTimeout(Duration.ofMinutes(10)).build()
        StallingServer().use { stalled ->
            val background = BackgroundSync(sync, importer(), OkHttpTransport(patient, stalled.baseUrl) { "device-token" })
            // What WorkManager does to a stopped CoroutineWorker: it cancels doWork's coroutine.
            val ended = cancelWhileInFlight(stalled) { background.run() }
            assertIs<CancellationException>(ended, "the run ended with $ended")
            assertEquals(1uL, sync.status().contacts, "the import before the sync was committed")
        }
    }
}
