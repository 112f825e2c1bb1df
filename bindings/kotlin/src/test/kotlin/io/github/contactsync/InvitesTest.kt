package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.InviteView
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.hours
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * A "my invites" screen against the real reference server: [ContactSync.invites] lists what the
 * device created with its expiry, [ContactSync.revokeInvite] closes one on the server (it redeems
 * no more) and drops it from the list, a code the server does not hold open for this device is its
 * typed `404 not_found` and changes nothing, and [observeInvites] follows every step — a
 * redemption included, once a sync learned it. Timeouts only guard against a hang.
 */
class InvitesTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private fun codes(invites: List<InviteView>) = invites.map { it.code }.toSet()

    /**
     * The next list [observeInvites] emits that [wanted] accepts (a change that leaves the list as
     * it was, such as a redemption of another's code, emits it again); none within 30 s fails.
     */
    private suspend fun Channel<List<InviteView>>.next(what: String, wanted: (List<InviteView>) -> Boolean): List<InviteView> {
        val list = withTimeoutOrNull(30_000) {
            var list = receive()
            while (!wanted(list)) list = receive()
            list
        }
        return assertNotNull(list, "no emission: $what")
    }

    private fun assertNotFound(e: ContactsyncException.Server) {
        assertEquals(404.toUShort(), e.status, e.message)
        assertEquals("not_found", e.code, e.message)
    }

    @Test
    fun `invites are listed with their expiry, revoked on the server, and followed`() = runBlocking {
        ReferenceServer().use { server ->
            val client = OkHttpClient()
            server.vouchedDevice("u_ana", client, dir).use { (inviter, ana) ->
                server.vouchedDevice("u_bo", client, dir).use { (invited, bo) ->
                    val seen = Channel<List<InviteView>>(Channel.UNLIMITED)
                    val collector = launch(Dispatchers.Default) { inviter.observeInvites().collect { seen.send(it) } }
                    assertEquals(emptyList(), withTimeout(30_000) { seen.receive() }, "the current list, at once")

                    val kept = inviter.createInvite(ana, ttl = 1.hours)
                    val listed = seen.next("the created invite") { codes(it) == setOf(kept.code) }.single()
                    assertEquals(kept.expiresAt, listed.expiresAt, "the server's expiry")
                    assertTrue(listed.createdAt < listed.expiresAt, "$listed")
                    assertNull(listed.redeemedBy)

                    val revoked = inviter.createInvite(ana)
                    seen.next("both invites") { codes(it) == setOf(kept.code, revoked.code) }
                    inviter.revokeInvite(ana, revoked.code)
                    seen.next("the revocation, told to subscribers") { codes(it) == setOf(kept.code) }
                    assertEquals(setOf(kept.code), codes(inviter.invites()))
                    // Closed on the server: nobody can redeem it any more.
                    assertNotFound(assertFailsWith<ContactsyncException.Server> { invited.redeemInvite(bo, revoked.code) })

                    // Codes the server does not hold open for this device: typed, and nothing changes.
                    assertNotFound(assertFailsWith<ContactsyncException.Server> { inviter.revokeInvite(ana, revoked.code) })
                    val bos = invited.createInvite(bo)
                    assertNotFound(assertFailsWith<ContactsyncException.Server> { inviter.revokeInvite(ana, bos.code) })
                    assertEquals("u_bo", inviter.redeemInvite(ana, bos.code), "another device's invite stays open")
                    assertFailsWith<ContactsyncException.InvalidArgument> { inviter.revokeInvite(ana, "not an invite code") }
                    assertEquals(setOf(kept.code), codes(inviter.invites()))

                    // A used invite stays listed, and its redeemer shows once a sync learned it.
                    assertEquals("u_ana", invited.redeemInvite(bo, kept.code))
                    assertNotFound(assertFailsWith<ContactsyncException.Server> { inviter.revokeInvite(ana, kept.code) })
                    inviter.sync(ana, quick)
                    val redeemed = seen.next("the redemption the sync learned") { it.singleOrNull()?.redeemedBy != null }
                    assertEquals("u_bo", redeemed.single().redeemedBy)
                    assertEquals(redeemed, inviter.invites())

                    collector.cancelAndJoin()
                }
            }
            client.dispatcher.executorService.shutdown()
            client.connectionPool.evictAll()
        }
    }
}
