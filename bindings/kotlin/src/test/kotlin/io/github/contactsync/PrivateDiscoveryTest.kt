package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.Discovery
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * Private discovery from Kotlin, against the real reference server in the private mode
 * (`contactsync serve --mode private`): the same [ContactSync] calls as the keyed-hash mode, the
 * mode chosen by the server. The device finds exactly its contacts who are users (by phone,
 * e-mail, linked account and handle), evaluates each identifier once, hears of a user who
 * registers later through the filter's changes, and withdrawing consent clears its matches.
 */
class PrivateDiscoveryTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    @Test
    fun `a device discovers blind through the same API, and follows a user who joins`() = runBlocking {
        ReferenceServer("--mode", "private", "--private-filter-rebuild-s", "1").use { server ->
            server.putUsersOfEveryKind()

            val recorder = RequestRecorder()
            val client = OkHttpClient.Builder().addInterceptor(recorder).build()
            val registration = server.registerDevice(client)
            val transport = OkHttpTransport(client, server.baseUrl) { registration.token }

            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                assertEquals(Discovery.HASHED, sync.discovery(), "before the first sync")
                sync.importSnapshot(BOOK)

                val first = sync.sync(transport, quick)
                assertEquals(
                    setOf("Ana" to "u_ana", "Clara" to "u_clara", "Dario" to "u_dario", "Eva" to "u_eva"),
                    sync.matches().map { it.displayName to it.userRef }.toSet(),
                )
                assertEquals(4uL, first.newMatches, "$first")
                // 8 distinct identifiers (Bernd and Gül share a number; Hiro's is rejected), each
                // evaluated once.
                assertEquals(8uL, first.added, "$first")
                assertEquals(Discovery.PRIVATE, sync.discovery(), "the server chose the mode")
                val paths = recorder.requests.map { it.path }.toSet()
                assertTrue("/v1/private/evaluate" in paths, "$paths")
                assertTrue("/v1/batches" !in paths, "no keyed hash is sent: $paths")

                // Frank registers after the first sync: the next sync finds him through the
                // filter's changes, without evaluating anything again.
                val version = server.filterVersion()
                server.putUser("u_frank", "email" to "frank@nowhere.test")
                server.awaitFilterPast(version)
                val before = recorder.requests.size
                val second = sync.sync(transport, quick)
                assertEquals(1uL, second.newMatches, "$second")
                assertEquals(0uL, second.added, "$second")
                assertTrue(
                    sync.matches().any { it.displayName == "Frank" && it.userRef == "u_frank" },
                    "${sync.matches()}",
                )
                val later = recorder.requests.drop(before).map { it.path }
                assertTrue(later.none { it == "/v1/private/evaluate" }, "nothing is evaluated twice: $later")
                assertTrue(later.any { it.startsWith("/v1/private/filter/changes") }, "$later")

                // Consent withdrawn: the server forgets the device, the local matches go.
                sync.forget(transport)
                assertEquals(emptyList(), sync.matches())
                assertEquals(0uL, sync.status().contacts)
            }
        }
    }

    private companion object {
        /** Users by each kind of identifier, non-users, a shared number and a rejected value. */
        val BOOK = listOf(
            person("1", "Ana", IdentifierKind.PHONE to "0151 23456789", IdentifierKind.EMAIL to "ana@example.org"),
            person("2", "Bernd", IdentifierKind.PHONE to "+49 30 1234567"),
            person("3", "Clara", IdentifierKind.EMAIL to "Clara@Example.COM"),
            person("4", "Dario", IdentifierKind.ACCOUNT to "google:1078543"),
            person("5", "Eva", IdentifierKind.HANDLE to "@eva_k"),
            person("6", "Frank", IdentifierKind.PHONE to "0171 9876543", IdentifierKind.EMAIL to "frank@nowhere.test"),
            person("7", "Gül", IdentifierKind.PHONE to "030 1234567"),
            person("8", "Hiro", IdentifierKind.PHONE to "not a number"),
        )
    }
}
