package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.SyncOptions
import java.net.URI
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
 * `onUnauthorized` against the real reference server: the app's backend revokes the device, the
 * next sync calls the hook once (it registers anew and stores the token the transport reads) and
 * sends everything again; a hook that throws fails the call with its own exception (the 401
 * suppressed). The same for every other call that sends the token: invites and `forget`.
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
    fun `a revoked device registers again once and syncs, and a failing hook's exception is thrown`() = runBlocking {
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
                    val thrown = assertThrows<IllegalStateException> {
                        runBlocking { sync.sync(transport, quick) { failing.incrementAndGet(); error("backend down") } }
                    }
                    assertHookFailed(thrown)
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

    @Test
    fun `invites and forget with an unknown token register again once, and a failing hook's exception is thrown`() = runBlocking {
        withTimeout(120_000) {
            ReferenceServer().use { server ->
                val client = OkHttpClient()
                // Tokens the server does not know (a revoked device, a server that lost its data).
                val anaToken = AtomicReference("t_unknown_to_the_server")
                val boToken = AtomicReference("t_unknown_to_the_server")
                val ana = OkHttpTransport(client, server.baseUrl) { anaToken.get() }
                val bo = OkHttpTransport(client, server.baseUrl) { boToken.get() }
                val calls = AtomicInteger()
                val backendDown: suspend () -> Unit = { calls.incrementAndGet(); error("backend down") }
                ContactSync.open(dir.resolve("ana.db").toString(), Config(region = "DE")).use { inviter ->
                    ContactSync.open(dir.resolve("bo.db").toString(), Config(region = "DE")).use { invited ->
                        assertHookFailed(assertThrows<IllegalStateException> { runBlocking { inviter.createInvite(ana, onUnauthorized = backendDown) } })
                        val invite = inviter.createInvite(ana) { calls.incrementAndGet(); anaToken.set(server.vouchDevice("u_ana")) }
                        assertEquals(2, calls.get())

                        assertHookFailed(assertThrows<IllegalStateException> { runBlocking { invited.redeemInvite(bo, invite.code, backendDown) } })
                        val inviter = invited.redeemInvite(bo, URI(invite.link)) { calls.incrementAndGet(); boToken.set(server.vouchDevice("u_bo")) }
                        assertEquals("u_ana", inviter)
                        assertEquals(4, calls.get())

                        // Bo withdraws consent after his token was lost: nothing is wiped without a receipt.
                        boToken.set("t_unknown_to_the_server")
                        assertHookFailed(assertThrows<IllegalStateException> { runBlocking { invited.forget(bo, backendDown) } })
                        assertEquals(1uL, invited.status().matches)
                        val receipt = invited.forget(bo) { calls.incrementAndGet(); boToken.set(server.vouchDevice("u_bo")) }
                        assertEquals(6, calls.get())
                        assertEquals(0uL, receipt.hashes)
                        assertEquals(0uL, invited.status().matches)
                    }
                }
            }
        }
    }

    /** The hook's own exception, with the engine's 401 attached. */
    private fun assertHookFailed(thrown: IllegalStateException) {
        assertEquals("backend down", thrown.message)
        // Under -ea, kotlinx.coroutines' stack-trace recovery may hand over a copy whose cause is
        // the exception thrown.
        val original = generateSequence<Throwable>(thrown) { it.cause }.firstOrNull { it.suppressed.isNotEmpty() }
        val refused = checkNotNull(original) { "no 401 attached: $thrown" }.suppressed.single() as ContactsyncException.Server
        assertEquals(401.toUShort(), refused.status)
        assertEquals("unauthorized", refused.code)
    }
}
