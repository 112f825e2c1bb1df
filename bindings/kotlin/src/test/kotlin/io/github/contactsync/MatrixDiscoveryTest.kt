package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Discovery
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.MatrixOptions
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * The Matrix identity-service mode from Kotlin, against a real Sydent ([SydentFixture]): the same
 * [ContactSync] calls, the mode chosen with `SyncOptions(matrix = MatrixOptions(accessToken))`
 * and the transport pointed at the identity server. The device finds exactly the contacts bound
 * to a Matrix account, under their Matrix ids, sends nothing but the protocol's hashes, counts
 * the identifiers an identity server has no medium for, survives a new pepper, loses a user who
 * unbinds, and a wrong token is the typed refusal.
 */
class MatrixDiscoveryTest {
    @TempDir
    lateinit var dir: Path

    private fun options(token: String, force: Boolean = false) =
        SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = force, matrix = MatrixOptions(accessToken = token))

    @Test
    fun `a device finds its contacts' Matrix ids through the identity server, across a new pepper`() = runBlocking {
        SydentFixture.start().use { sydent ->
            val token = sydent.createToken("@app:sydent.test")
            sydent.bind(
                Triple("msisdn", "4915123456789", "@ana:sydent.test"),
                Triple("msisdn", "49301234567", "@bernd:sydent.test"),
                Triple("email", "clara@example.com", "@clara:sydent.test"),
            )
            val recorder = RequestRecorder()
            val client = OkHttpClient.Builder().addInterceptor(recorder).build()
            // No token of the transport's own: the engine sends the identity server's.
            val transport = OkHttpTransport(client, sydent.sydentUrl)

            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                sync.importSnapshot(BOOK)
                val first = sync.sync(transport, options(token))
                assertEquals(USERS, found(sync))
                assertEquals(Discovery.MATRIX, sync.discovery())
                assertEquals(3uL, first.newMatches, "$first")
                // Ana's phone and e-mail, Bernd's phone, Clara's and Frank's e-mail, in one lookup.
                assertEquals(5uL to 1uL, first.added to first.batchesSent, "$first")
                assertEquals(2uL, first.unsupported, "Dario's account and handle are left out: $first")
                assertEquals(
                    listOf(HASH_DETAILS, LOOKUP),
                    recorder.requests.map { it.path },
                )
                assertOnlyHashes(recorder)

                // Within the re-lookup interval and nothing new: no request at all.
                val idle = sync.sync(transport, options(token))
                assertTrue(idle.skipped, "$idle")
                assertEquals(2, recorder.requests.size)

                // A new pepper while the device was idle: the user's "sync now" reads it in
                // hash_details and looks the whole book up under it, with the same matches.
                sydent.changePepper("a-new-pepper")
                val before = recorder.requests.size
                val second = sync.sync(transport, options(token, force = true))
                assertEquals(USERS, found(sync))
                assertEquals(Triple(5uL, 0uL, 0uL), Triple(second.added, second.newMatches, second.lostMatches), "$second")
                val lookup = recorder.requests.drop(before).single { it.path == LOOKUP }
                assertEquals("a-new-pepper", Json.parseToJsonElement(lookup.body.decodeToString()).jsonObject.getValue("pepper").jsonPrimitive.content)
                assertOnlyHashes(recorder)

                // Bernd unbinds his number: the next full lookup drops him.
                sydent.unbind("msisdn", "49301234567", "@bernd:sydent.test")
                val third = sync.sync(transport, options(token, force = true))
                assertEquals(1uL, third.lostMatches, "$third")
                assertEquals(USERS - ("Bernd" to "@bernd:sydent.test"), found(sync))
            }
        }
    }

    @Test
    fun `a wrong token is the identity server's typed refusal, and nothing is stored`() = runBlocking {
        SydentFixture.start().use { sydent ->
            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                sync.importSnapshot(BOOK)
                val transport = OkHttpTransport(OkHttpClient(), sydent.sydentUrl)
                val refused = assertFailsWith<ContactsyncException.Server> {
                    sync.sync(transport, options("not-a-token"))
                }
                assertEquals(401.toUShort(), refused.status)
                assertEquals("M_UNAUTHORIZED", refused.code)
                assertEquals(emptyList(), sync.matches())
            }
        }
    }

    private companion object {
        const val HASH_DETAILS = "/_matrix/identity/v2/hash_details"
        const val LOOKUP = "/_matrix/identity/v2/lookup"

        val USERS = setOf(
            "Ana" to "@ana:sydent.test",
            "Bernd" to "@bernd:sydent.test",
            "Clara" to "@clara:sydent.test",
        )

        suspend fun found(sync: ContactSync) = sync.matches().map { it.displayName to it.userRef }.toSet()

        /**
         * Every request is one of the protocol's two paths, and no lookup carries an identifier
         * in any form but a SHA-256 (43 characters of unpadded base64url).
         */
        fun assertOnlyHashes(recorder: RequestRecorder) {
            for (request in recorder.requests) {
                assertTrue(request.path == HASH_DETAILS || request.path == LOOKUP, request.path)
                val body = request.body.decodeToString()
                for (raw in listOf("4915123456789", "49301234567", "ana@example.org", "clara@example.com", "frank@", "1078543", "dario")) {
                    assertTrue(raw !in body, "$raw in $body")
                }
                if (request.path == LOOKUP) {
                    val lookup = Json.parseToJsonElement(body).jsonObject
                    assertEquals("sha256", lookup.getValue("algorithm").jsonPrimitive.content)
                    for (address in lookup.getValue("addresses").jsonArray) {
                        assertEquals(43, address.jsonPrimitive.content.length, "$address")
                    }
                }
            }
        }

        /**
         * Users bound by phone (Ana, Bernd) and by e-mail in another case than bound (Clara),
         * an unbound e-mail (Frank), a contact with only a linked account and a handle (no
         * medium at an identity server) and a rejected value.
         */
        val BOOK = listOf(
            person("1", "Ana", IdentifierKind.PHONE to "0151 23456789", IdentifierKind.EMAIL to "ana@example.org"),
            person("2", "Bernd", IdentifierKind.PHONE to "+49 30 1234567"),
            person("3", "Clara", IdentifierKind.EMAIL to "Clara@Example.COM"),
            person("4", "Dario", IdentifierKind.ACCOUNT to "google:1078543", IdentifierKind.HANDLE to "@dario"),
            person("5", "Frank", IdentifierKind.EMAIL to "frank@nowhere.test"),
            person("6", "Hiro", IdentifierKind.PHONE to "not a number"),
        )
    }
}
