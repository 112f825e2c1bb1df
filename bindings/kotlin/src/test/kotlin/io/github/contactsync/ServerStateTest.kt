package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.SyncSchedule
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * What the device keeps of its server, against the real reference server: [ContactSync.syncSchedule]
 * after a completed sync (the server's check interval, which skips the next unforced sync) and
 * after a failed one (the backoff a later sync honours), and [ContactSync.leaveServer] for a
 * device whose server moved: nothing of the old server is left, the contacts stay, and the first
 * sync with the new one sends everything.
 */
class ServerStateTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private val ana = person("1", "Ana", IdentifierKind.PHONE to "0151 23456789")

    private fun nowSeconds() = System.currentTimeMillis() / 1000

    @Test
    fun `the schedule shows the next check after a sync and the backoff after a failure`() = runBlocking {
        ReferenceServer().use { server ->
            val client = OkHttpClient()
            val registration = server.registerDevice(client)
            val transport = OkHttpTransport(client, server.baseUrl) { registration.token }
            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                assertEquals(SyncSchedule(null, null, 0u, null), sync.syncSchedule(), "nothing before the first sync")
                sync.importSnapshot(listOf(ana))
                val before = nowSeconds()
                sync.sync(transport, quick)
                val checked = sync.syncSchedule()
                val nextCheck = assertNotNull(checked.nextCheckAt, "$checked")
                assertTrue(nextCheck > before, "the next check is to come: $checked")
                assertEquals(null to 0u, checked.backoffUntil to checked.backoffAttempts, "$checked")
                // What the next check means: nothing new to send before it, an unforced sync is skipped.
                assertTrue(sync.sync(transport, SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL)).skipped)

                RefusingPort().use { closed ->
                    val offline = OkHttpTransport(client, "http://127.0.0.1:${closed.port}/".toHttpUrl()) { registration.token }
                    assertFailsWith<ContactsyncException.Network> { sync.sync(offline, quick) }
                }
                val failed = sync.syncSchedule()
                val backoff = assertNotNull(failed.backoffUntil, "$failed")
                assertTrue(backoff >= before, "$failed")
                assertEquals(1u, failed.backoffAttempts, "$failed")
                assertEquals(nextCheck, failed.nextCheckAt, "a failure leaves the check interval")
                // The backoff is what an unforced sync honours, without a request.
                val later = assertFailsWith<ContactsyncException.RetryLater> {
                    sync.sync(transport, SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL))
                }
                assertEquals(backoff, later.until)
            }
            client.dispatcher.executorService.shutdown()
            client.connectionPool.evictAll()
        }
    }

    @Test
    fun `a device that leaves its server keeps its contacts and sends everything to the next`() = runBlocking {
        val client = OkHttpClient()
        ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
            sync.importSnapshot(listOf(ana, person("2", "Bo", IdentifierKind.EMAIL to "bo@example.org")))
            val oldKey = ReferenceServer().use { old ->
                old.putUser("u_ana", "phone" to "+4915123456789")
                val registration = old.registerDevice(client)
                sync.sync(OkHttpTransport(client, old.baseUrl) { registration.token }, quick)
                assertEquals(listOf("u_ana"), sync.matches().map { it.userRef })
                assertNotNull(sync.status().keyId)
            }

            sync.leaveServer()
            val left = sync.status()
            assertNull(left.keyId, "no server's key: $left")
            assertEquals(0uL, left.matches, "$left")
            assertTrue(left.fullResync, "$left")
            assertEquals(2uL to 2uL, left.contacts to left.pendingAdd, "the contacts stay, every identifier to send: $left")
            assertEquals(SyncSchedule(null, null, 0u, null), sync.syncSchedule())
            assertEquals(emptyList(), sync.invites())

            ReferenceServer().use { moved ->
                moved.putUser("u_ana", "phone" to "+4915123456789")
                val registration = moved.registerDevice(client)
                val report = sync.sync(OkHttpTransport(client, moved.baseUrl) { registration.token }, quick)
                assertEquals(2uL to 1uL, report.added to report.newMatches, "$report")
                assertEquals(listOf("u_ana"), sync.matches().map { it.userRef })
                assertNotEquals(oldKey, sync.status().keyId, "the new server's key")
            }
        }
        client.dispatcher.executorService.shutdown()
        client.connectionPool.evictAll()
    }
}
