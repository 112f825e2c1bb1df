package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import kotlin.test.assertEquals
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/**
 * `sync(onUnauthorized = ...)` against the real reference server: the app's backend revokes the
 * device, the next sync calls the hook once (it registers anew and stores the token the transport
 * reads) and sends everything again; a hook that throws leaves the 401.
 */
class ReregisterTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private val book = listOf(
        RawContact("1", "Ana", listOf(Labelled(IdentifierKind.PHONE, null, "0151 23456789")), null),
        RawContact("2", "Bernd", listOf(Labelled(IdentifierKind.PHONE, null, "030 1234567")), null),
    )

    @Test
    fun `a revoked device registers again once and syncs, and a failing hook is the 401`() = runBlocking {
        withTimeout(120_000) {
            ReferenceServer().use { server ->
                server.putUser("u_ana", "phone" to "+4915123456789")
                val client = OkHttpClient()
                val first = server.registerDevice(client)
                // The app's secure storage, which the transport reads on every request.
                val token = AtomicReference(first.token)
                val transport = OkHttpTransport(client, server.baseUrl) { token.get() }
                ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                    sync.importSnapshot(book)
                    sync.sync(transport, quick)
                    server.revokeClient(first.clientId)

                    val failing = AtomicInteger()
                    val refused = assertThrows<ContactsyncException.Server> {
                        runBlocking { sync.sync(transport, quick) { failing.incrementAndGet(); error("backend down") } }
                    }
                    assertEquals(401.toUShort(), refused.status)
                    assertEquals(1, failing.get())

                    val calls = AtomicInteger()
                    val report = sync.sync(transport, quick) {
                        calls.incrementAndGet()
                        token.set(ContactSync.registerDevice(OkHttpTransport(client, server.baseUrl)).token)
                    }
                    assertEquals(1, calls.get())
                    assertEquals(2uL, report.added, "everything again, under the new registration: $report")
                    assertEquals(listOf("Ana"), sync.matches().map { it.displayName })
                }
            }
        }
    }
}
