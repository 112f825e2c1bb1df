package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import java.net.URI
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import okhttp3.OkHttpClient
import okhttp3.Request
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * An invite link as the app receives it from an App Link: Ana's device creates an invite, the
 * link opens the server's page (as a browser without the app would), and Bo's app redeems the
 * [URI] it was opened with — against the real reference server.
 */
class InviteLinkTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `the opened invite link is redeemed as a URI`() = runBlocking {
        ReferenceServer().use { server ->
            val client = OkHttpClient()
            server.vouchedDevice("u_ana", client, dir).use { (inviter, ana) ->
                server.vouchedDevice("u_bo", client, dir).use { (invited, bo) ->
                    val invite = inviter.createInvite(ana)
                    // Without the app, the link is the server's page.
                    client.newCall(Request.Builder().url(invite.link).build()).execute().use {
                        assertEquals(200, it.code)
                        assertTrue(it.body.string().contains("invite code"))
                    }
                    val opened = URI("${invite.link}/?utm_source=qr")
                    assertEquals("u_ana", invited.redeemInvite(bo, opened))
                    assertEquals(listOf("u_ana"), invited.matches().map { it.userRef })
                    assertFailsWith<ContactsyncException.InvalidArgument> {
                        invited.redeemInvite(bo, URI("https://example.org/profile/ana"))
                    }
                }
            }
            client.dispatcher.executorService.shutdown()
            client.connectionPool.evictAll()
        }
    }
}
