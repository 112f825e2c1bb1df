package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.Identifier
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalized
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.guessKind
import io.github.contactsync.ffi.guessKinds
import java.nio.file.Path
import kotlin.io.path.readText
import kotlin.test.assertEquals
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
 * The list calls (one crossing per list) answer exactly what the single-value calls answer one
 * by one, in order, through the real generated bindings and library — bad values included: a
 * value the single call throws for is that value's own [Normalized.Invalid] (or `null`, `false`)
 * in the list, never a failure of the whole call. docs/performance.md has what they save.
 */
class BulkCallsTest {
    @TempDir
    lateinit var dir: Path

    /** Values that stress the normaliser: valid ones, rejected ones, empty, huge, non-ASCII. */
    private val awkward = listOf(
        "030 1234567", "+49 151 23456789", "12", "", "   ", "x".repeat(10_000),
        "0151 ٢٣٤٥٦٧٨٩", "Alice.Example@Example.COM", "not an address", "\u0000", "😀",
        "google:1078543", "https://twitter.com/jack", "@eva_k", "ABCD-EFGH-JKMN",
    )

    private fun Normalizer.single(kind: IdentifierKind, raw: String): Normalized = try {
        Normalized.Valid(normalize(kind, raw))
    } catch (e: ContactsyncException.InvalidValue) {
        Normalized.Invalid(e.reason)
    }

    private fun Normalizer.singleAuto(raw: String): Normalized = try {
        Normalized.Valid(normalizeAuto(raw))
    } catch (e: ContactsyncException.InvalidValue) {
        Normalized.Invalid(e.reason)
    }

    @Test
    fun `normalizeAll, normalizeAutoAll, guessKinds and hashAll answer as the single calls do`() {
        // The shared vectors, per region and kind, plus the awkward values under every kind.
        val root = Json.parseToJsonElement(TestEnv.vectors.resolve("identifiers.json").readText()).jsonObject
        val lists = HashMap<Pair<String, IdentifierKind>, MutableList<String>>()
        for (case in root.getValue("cases").jsonArray) {
            val c = case.jsonObject
            val kind = IdentifierKind.valueOf(c.getValue("kind").jsonPrimitive.content.uppercase())
            val region = c["region"]?.jsonPrimitive?.content ?: "US"
            lists.getOrPut(region to kind) { mutableListOf() } += c.getValue("input").jsonPrimitive.content
        }
        for (kind in IdentifierKind.entries) lists.getOrPut("DE" to kind) { mutableListOf() } += awkward

        val key = HashKey("k1", ByteArray(32) { it.toByte() })
        var valid = 0
        var invalid = 0
        for ((regionAndKind, values) in lists) {
            val (region, kind) = regionAndKind
            Normalizer(region).use { normalizer ->
                val bulk = normalizer.normalizeAll(kind, values)
                assertEquals(values.map { normalizer.single(kind, it) }, bulk, "$region $kind")
                assertEquals(values.map { normalizer.singleAuto(it) }, normalizer.normalizeAutoAll(values), "$region auto")
                val identifiers = bulk.filterIsInstance<Normalized.Valid>().map { it.identifier }
                assertEquals(identifiers.map(key::hash), key.hashAll(identifiers), "$region $kind hashes")
                valid += identifiers.size
                invalid += bulk.count { it is Normalized.Invalid }
            }
        }
        assertEquals(awkward.map(::guessKind), guessKinds(awkward))
        assertTrue(valid > 100 && invalid > 100, "$valid valid, $invalid invalid values compared")
        Normalizer("DE").use { assertEquals(emptyList(), it.normalizeAll(IdentifierKind.PHONE, emptyList())) }
        assertEquals(emptyList(), key.hashAll(emptyList()))
        key.close()
    }

    @Test
    fun `a screen's contacts, their matches and a multi-select exclusion in one call each`() = runBlocking {
        ReferenceServer().use { server ->
            server.putUsersOfEveryKind()
            val client = OkHttpClient()
            val registration = server.registerDevice(client)
            val transport = OkHttpTransport(client, server.baseUrl) { registration.token }
            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                val book = listOf(
                    person("1", "Ana", IdentifierKind.PHONE to "0151 23456789", IdentifierKind.PHONE to "12"),
                    person("3", "Clara", IdentifierKind.EMAIL to "Clara@Example.com"),
                    person("5", "Eva", IdentifierKind.HANDLE to "eva_k"),
                    person("7", "Gus", IdentifierKind.PHONE to "0170 7654321"),
                ) + (100 until 300).map { generatedContact(it) }
                sync.importSnapshot(book)
                sync.sync(transport, SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true))

                // Unknown ids, repeats and a contact with a rejected value, in an odd order.
                val screen = listOf("7", "404", "1", "3", "1", "", "5") + (100 until 300).map(Int::toString)
                val rows = sync.contactsById(screen)
                assertEquals(screen.map { sync.contact(it) }, rows)
                assertEquals(listOf(false, true), listOf(rows[0] == null, rows[1] == null))
                assertEquals("phone.unassigned", rows[2]!!.rejected.single().reason)
                assertEquals(emptyList(), sync.contactsById(emptyList()))

                val all = sync.matches()
                val expected = screen.distinct().associateWith { id -> all.filter { it.sourceId == id } }
                    .filterValues { it.isNotEmpty() }
                assertEquals(expected, sync.matchesFor(screen))
                assertEquals(setOf("1", "3", "5"), sync.matchesFor(screen).keys)

                // Exclusion: the list call answers what the single call answers for each id.
                val chosen = listOf("1", "404", "5", "1")
                assertEquals(listOf(true, false, true, true), sync.setContactsExcluded(chosen, true))
                assertEquals(chosen.map { sync.setContactExcluded(it, true) }, sync.setContactsExcluded(chosen, true))
                assertEquals(setOf("3"), sync.matchesFor(screen).keys)
                assertEquals(2uL, sync.status().excludedContacts)
                assertEquals(listOf(true, true), sync.setContactsExcluded(listOf("1", "5"), false))

                // A bad value among good ones is its own outcome, and the good ones are set.
                val values = listOf("0170 7654321", "12", "", "+49 151 23456789")
                val outcomes = sync.setIdentifiersExcluded(IdentifierKind.PHONE, values, true)
                val singles = values.map { value ->
                    try {
                        sync.setIdentifierExcluded(IdentifierKind.PHONE, value, true)
                        Normalized.Valid(Normalizer("DE").use { it.normalize(IdentifierKind.PHONE, value) })
                    } catch (e: ContactsyncException.InvalidArgument) {
                        Normalized.Invalid(e.detail.removePrefix("identifier: "))
                    }
                }
                assertEquals(singles, outcomes)
                assertEquals(
                    listOf(true, false, false, true),
                    outcomes.map { it is Normalized.Valid },
                )
                assertEquals(Identifier(IdentifierKind.PHONE, "+491707654321"), (outcomes[0] as Normalized.Valid).identifier)
                val gus = sync.contact("7")!!.identifiers.single()
                assertTrue(gus.excluded, "$gus")
                assertEquals(setOf("3", "5"), sync.matchesFor(screen).keys, "Eva back, Ana's number excluded")
            }
        }
    }
}
