package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.Match
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * [observeMatches] against the real reference server: the current list at once, then a new one
 * after an import, a sync, an exclusion and a wipe, whichever handle on the file made the change;
 * collection stops cleanly. Timeouts only guard against a hang; nothing asserts on time.
 */
class ObserveTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private fun person(id: String, name: String, phone: String) =
        RawContact(id, name, listOf(Labelled(IdentifierKind.PHONE, null, phone)), null)

    private val ana = person("1", "Ana", "0151 23456789")

    /** Ana again under another name, with her number: matched as soon as it is imported. */
    private val anaWork = person("2", "Ana (work)", "+49 151 23456789")

    private fun names(matches: List<Match>) = matches.map { it.displayName }.sorted()

    @Test
    fun `matches are emitted at once and after an import, a sync, an exclusion and a wipe`() = runBlocking {
        withTimeout(120_000) {
            ReferenceServer().use { server ->
                server.putUser("u_ana", "phone" to "+4915123456789")
                val client = OkHttpClient()
                val registration = server.registerDevice(client)
                val transport = OkHttpTransport(client, server.baseUrl) { registration.token }
                val path = dir.resolve("device.db").toString()
                ContactSync.open(path, Config(region = "DE")).use { sync ->
                    val seen = Channel<List<Match>>(Channel.UNLIMITED)
                    val collector = launch(Dispatchers.Default) { sync.observeMatches().collect { seen.send(it) } }
                    assertEquals(emptyList(), names(seen.receive()), "the current list, at once")

                    sync.importSnapshot(listOf(ana))
                    assertEquals(emptyList(), names(seen.receive()), "after the import: not synced yet")

                    sync.sync(transport, quick)
                    assertEquals(listOf("Ana"), names(seen.receive()), "after the sync")

                    sync.importSnapshot(listOf(ana, anaWork))
                    assertEquals(listOf("Ana", "Ana (work)"), names(seen.receive()), "after the second import")

                    assertTrue(sync.setContactExcluded("2", true))
                    assertEquals(listOf("Ana"), names(seen.receive()), "after the exclusion")

                    sync.wipe()
                    assertEquals(emptyList(), names(seen.receive()), "after the wipe")

                    collector.cancelAndJoin()
                    // Nobody is subscribed any more: changes go nowhere, and nothing fails.
                    sync.importSnapshot(listOf(ana))
                    assertTrue(seen.tryReceive().isFailure, "no emission after the collection stopped")
                }
            }
        }
    }

    @Test
    fun `a change made through another handle on the same file is seen`() = runBlocking {
        withTimeout(60_000) {
            val path = dir.resolve("shared.db").toString()
            ContactSync.open(path, Config(region = "DE")).use { screen ->
                // A background worker opening its own handle on the app's file.
                ContactSync.open(path, Config(region = "DE")).use { worker ->
                    val seen = Channel<List<String>>(Channel.UNLIMITED)
                    val collector = launch(Dispatchers.Default) {
                        screen.observe { contacts(0, 100) }.collect { page -> seen.send(page.map { it.displayName }) }
                    }
                    assertEquals(emptyList(), seen.receive())
                    worker.importSnapshot(listOf(ana))
                    assertEquals(listOf("Ana"), seen.receive(), "the worker's import, seen by the screen's flow")
                    worker.wipe()
                    assertEquals(emptyList(), seen.receive())
                    collector.cancelAndJoin()
                    worker.importSnapshot(listOf(ana))
                    // A finite collection ends the subscription too.
                    assertEquals(listOf("Ana"), screen.observe { contacts(0, 100) }.first().map { it.displayName })
                }
            }
        }
    }
}
