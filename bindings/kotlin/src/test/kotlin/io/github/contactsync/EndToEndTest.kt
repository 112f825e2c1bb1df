package io.github.contactsync

import io.github.contactsync.contacts.ContactRow
import io.github.contactsync.contacts.ContactsContractMapper
import io.github.contactsync.contacts.MapRow
import io.github.contactsync.contacts.ProviderColumns
import io.github.contactsync.contacts.ProviderMimeTypes
import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.UploadState
import java.nio.file.Path
import java.util.Base64
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.asFlow
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonPrimitive
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * The whole path an Android app takes, against the real reference server on loopback: contacts
 * shaped like Contacts Provider rows, mapped by [ContactsContractMapper], imported through
 * [ContactSync], synced through [OkHttpTransport] over real HTTP; then an edited address book
 * synced as a delta. Also checks what leaves the device: no raw value, canonical form or name in
 * any request body, and hash lists holding nothing but 32-byte digests.
 */
class EndToEndTest {
    @TempDir
    lateinit var dir: Path

    /** `maxAttempts = 1`: a failure shows at once; `force`: no waiting for the check interval. */
    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    @Test
    fun `a device finds its contacts, then syncs only the edits`() = runBlocking {
        ReferenceServer().use { server ->
            // The app's backend registers its users with canonical identifiers.
            server.putUsersOfEveryKind()

            val recorder = RequestRecorder()
            val client = OkHttpClient.Builder().addInterceptor(recorder).build()
            val registration = server.registerDevice(client)
            val transport = OkHttpTransport(client, server.baseUrl) { registration.token }
            val normalizer = Normalizer("DE")

            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
                // 1. The first import and sync.
                val book = addressBook(edited = false)
                val imported = sync.importSnapshot(book)
                assertEquals(book.size.toULong(), imported.added, "$imported")
                assertEquals(1uL, imported.rejected, "Hiro's 'not a number': $imported")

                val first = sync.sync(transport, quick)
                assertTrue(first.batchesSent >= 1uL, "$first")
                assertEquals(4uL, first.newMatches, "$first")
                assertEquals(
                    setOf(
                        Triple("1", "+4915123456789", "u_ana"),
                        Triple("3", "clara@example.com", "u_clara"),
                        Triple("4", "google:1078543", "u_dario"),
                        Triple("5", "eva_k", "u_eva"),
                    ),
                    sync.matches().map { Triple(it.sourceId, it.canonical, it.userRef) }.toSet(),
                )
                val names = book.associate { it.sourceId to it.displayName }
                sync.matches().forEach { assertEquals(names[it.sourceId], it.displayName) }
                val afterFirst = sync.status()
                assertEquals(identifiers(book, normalizer).size.toULong(), afterFirst.acknowledged, "$afterFirst")
                assertEquals(
                    Triple(0uL, 0uL, 0uL),
                    Triple(afterFirst.pendingAdd, afterFirst.pendingRemove, afterFirst.inFlight),
                    "$afterFirst",
                )

                // 2. Ana's number changed, Frank was deleted, Ines was added; Ines uses the app.
                server.putUser("u_ines", "phone" to "+4917612345678")
                val edited = addressBook(edited = true)
                val before = book.associateBy { it.sourceId }
                val after = edited.associateBy { it.sourceId }
                val reimported = sync.importSnapshot(
                    ContactsContractMapper().mapSorted(providerRows(edited = true).asSequence(), chunkSize = 2).asFlow(),
                )
                assertEquals((after.keys - before.keys).size.toULong(), reimported.added, "$reimported")
                assertEquals((before.keys - after.keys).size.toULong(), reimported.removed, "$reimported")
                assertEquals(
                    (before.keys intersect after.keys).count { before[it] != after[it] }.toULong(),
                    reimported.changed,
                    "$reimported",
                )

                val oldIds = identifiers(book, normalizer)
                val newIds = identifiers(edited, normalizer)
                val expectedAdded = (newIds - oldIds).size.toULong()
                val expectedRemoved = (oldIds - newIds).size.toULong()
                assertTrue(expectedAdded > 0uL && expectedRemoved > 0uL, "the edits add and remove identifiers")

                val batchesBefore = recorder.requests.count { it.path == "/v1/batches" }
                val events = sync.syncFlow(transport, quick).toList()
                val finished = assertIs<SyncEvent.Finished>(events.last(), "the last event is the report")
                assertTrue(events.dropLast(1).all { it is SyncEvent.Progressed }, "$events")
                val second = finished.report
                assertEquals(expectedAdded, second.added, "$second")
                assertEquals(expectedRemoved, second.removed, "$second")
                assertEquals(1uL, second.batchesSent, "$second")
                assertEquals(1uL, second.newMatches, "Ines: $second")

                // Only the delta went out, in one batch.
                val deltas = recorder.requests.filter { it.path == "/v1/batches" }.drop(batchesBefore)
                assertEquals(1, deltas.size)
                // The default sync sends CBOR to a server that reads it.
                assertEquals("application/cbor", deltas.single().contentType)
                val delta = CborReader(deltas.single().body) {}.read() as JsonObject
                assertEquals("delta", delta["mode"]?.jsonPrimitive?.content)
                // Padded to one of the server's buckets with trailing dummies it drops
                // (docs/protocol.md, "Padded batches"): the real adds are the rest.
                val adds = (delta["add"] as JsonArray).size
                val removes = (delta["remove"] as JsonArray).size
                val padding = delta["padding"]?.jsonPrimitive?.content?.toInt() ?: 0
                assertEquals(expectedAdded.toInt(), adds - padding)
                assertEquals(expectedRemoved.toInt(), removes)
                assertEquals(16, adds + removes, "the smallest default bucket")

                assertEquals(
                    setOf(
                        Triple("3", "clara@example.com", "u_clara"),
                        Triple("4", "google:1078543", "u_dario"),
                        Triple("5", "eva_k", "u_eva"),
                        Triple("8", "+4917612345678", "u_ines"),
                    ),
                    sync.matches().map { Triple(it.sourceId, it.canonical, it.userRef) }.toSet(),
                )
                val ines = assertNotNull(sync.contact("8"))
                assertEquals(
                    listOf(Triple("+4917612345678", UploadState.ACKNOWLEDGED, "u_ines")),
                    ines.identifiers.map { Triple(it.canonical, it.state, it.userRef) },
                )
                assertEquals(newIds.size.toULong(), sync.status().acknowledged)

                // 3. Nothing changed: nothing is sent.
                val third = sync.sync(transport, quick)
                assertEquals(0uL to 0uL, third.batchesSent to third.newMatches, "$third")

                // 4. What the server saw: hashes, never contact data.
                assertNothingRawWasSent(recorder, book + edited, normalizer)
            }
            normalizer.close()
        }
    }

    /**
     * The address book of this scenario, exactly as an Android app builds it: Contacts Provider
     * `Data` rows through [ContactsContractMapper] (source id = `contact_id`, labels from the
     * type codes, an IM handle labelled with its service, a Google profile link as an account).
     */
    private fun addressBook(edited: Boolean): List<RawContact> =
        ContactsContractMapper().map(providerRows(edited))

    /**
     * The provider's rows, sorted by contact id as `mapSorted` needs. Types arrive as text, as
     * the provider stores `data2`; an edited contact's `contact_last_updated_timestamp` moves.
     * Edits: Ana's mobile number changes, Frank (6) is deleted, Ines (8) is added.
     */
    private fun providerRows(edited: Boolean): List<ContactRow> {
        var dataId = 100L
        fun row(contactId: Long, name: String, updated: Long, mimetype: String, vararg data: Pair<String, String>) =
            MapRow(
                mapOf(
                    ProviderColumns.ID to dataId++,
                    ProviderColumns.RAW_CONTACT_ID to contactId * 10,
                    ProviderColumns.CONTACT_ID to contactId,
                    ProviderColumns.DISPLAY_NAME to name,
                    ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP to updated,
                    ProviderColumns.MIMETYPE to mimetype,
                ) + data,
            )
        val t0 = 1_700_000_000_000L
        val t1 = t0 + 60_000L
        val phone = ProviderMimeTypes.PHONE
        val email = ProviderMimeTypes.EMAIL
        val d1 = ProviderColumns.DATA1
        val d2 = ProviderColumns.DATA2
        return buildList {
            if (edited) {
                add(row(1, "Ana", t1, phone, d1 to "0151 98765432", d2 to "2"))
            } else {
                add(row(1, "Ana", t0, phone, d1 to "0151 23456789", d2 to "2"))
            }
            add(row(1, "Ana", if (edited) t1 else t0, email, d1 to "ana@example.org", d2 to "1"))
            add(row(2, "Bernd", t0, phone, d1 to "+49 30 1234567", d2 to "3"))
            add(row(3, "Clara", t0, email, d1 to "Clara@Example.COM", d2 to "2"))
            add(row(4, "Dario", t0, ProviderMimeTypes.WEBSITE, d1 to "https://www.google.com/profiles/1078543"))
            add(
                row(
                    5, "Eva", t0, ProviderMimeTypes.IM,
                    d1 to "@eva_k", ProviderColumns.DATA5 to "-1", ProviderColumns.DATA6 to "Signal",
                ),
            )
            if (!edited) {
                add(row(6, "Frank", t0, phone, d1 to "0171 9876543", d2 to "2"))
                add(row(6, "Frank", t0, email, d1 to "frank@nowhere.test", d2 to "1"))
            }
            add(row(7, "Hiro", t0, phone, d1 to "not a number", d2 to "2"))
            if (edited) add(row(8, "Ines", t1, phone, d1 to "0176 12345678", d2 to "2"))
        }
    }

    /** The distinct identifiers [contacts] hold, as the engine normalises them. */
    private fun identifiers(contacts: List<RawContact>, normalizer: Normalizer): Set<Pair<IdentifierKind, String>> =
        contacts.flatMap { it.values }.mapNotNull { value ->
            try {
                normalizer.normalize(value.kind, value.value).let { it.kind to it.canonical }
            } catch (_: ContactsyncException.InvalidValue) {
                null
            }
        }.toSet()

    /**
     * No request body carries a name, a raw value or a canonical form (nor E.164 without its
     * `+`), and the hash lists hold only 16-byte digests (base64url in JSON, byte strings in CBOR,
     * which is decoded whole: every byte string must be a digest). Hash lists and random ids are
     * set aside before the text search: 22 random characters may contain a short name by chance.
     */
    private fun assertNothingRawWasSent(recorder: RequestRecorder, contacts: List<RawContact>, normalizer: Normalizer) {
        val secrets = buildSet {
            for (contact in contacts) {
                if (contact.displayName.length >= 3) add(contact.displayName)
                for (value in contact.values) {
                    value.value.trim().takeIf { it.length >= 4 }?.let(::add)
                    try {
                        val canonical = normalizer.normalize(value.kind, value.value).canonical
                        add(canonical)
                        if (value.kind == IdentifierKind.PHONE) add(canonical.removePrefix("+"))
                    } catch (_: ContactsyncException.InvalidValue) {
                        // Rejected values are never hashed; their raw text is checked above.
                    }
                }
            }
        }.map { it.lowercase() }

        val requests = recorder.requests
        assertTrue(requests.any { it.path == "/v1/batches" }, "no batch was recorded")
        var hashes = 0
        var cborBodies = 0
        for (request in requests) {
            val text = request.body.decodeToString()
            val cbor = request.contentType == "application/cbor"
            val body = when {
                cbor -> {
                    cborBodies++
                    val reader = CborReader(request.body) { digest ->
                        assertEquals(16, digest.size, "a CBOR byte string that is not a digest")
                        hashes++
                    }
                    reader.read().also { assertTrue(reader.atEnd(), "bytes after the CBOR body") }
                }
                text.isBlank() -> JsonNull
                else -> Json.parseToJsonElement(text)
            }
            val scrubbed = if (body is JsonObject) {
                JsonObject(
                    body.mapValues { (name, value) ->
                        when (name) {
                            "add", "remove" -> {
                                for (item in value as JsonArray) {
                                    if (item is JsonNull) continue // a CBOR byte string, checked
                                    val digest = Base64.getUrlDecoder().decode(item.jsonPrimitive.content)
                                    assertEquals(16, digest.size, "a hash list holds only 16-byte digests")
                                    hashes++
                                }
                                JsonArray(emptyList())
                            }
                            "batch_id", "key_id", "code" -> JsonNull
                            else -> value
                        }
                    },
                )
            } else {
                body
            }
            val payload = "${request.method} ${request.path} $scrubbed".lowercase()
            for (secret in secrets) {
                assertTrue(secret !in payload, "a ${request.method} ${request.path} body carries contact data")
            }
        }
        assertTrue(hashes > 0, "no hash was sent")
        assertTrue(cborBodies > 0, "the batches went as CBOR, and were read here")
    }
}

/**
 * Just enough of CBOR (RFC 8949) to read the protocol's bodies as JSON for the text search:
 * definite lengths, maps, arrays, text, integers, simple values. A byte string goes to
 * [onBytes] and reads as `null`.
 */
private class CborReader(private val bytes: ByteArray, private val onBytes: (ByteArray) -> Unit) {
    private var at = 0

    fun atEnd() = at == bytes.size

    private fun byte(): Int = bytes[at++].toInt() and 0xff

    private fun length(info: Int): Long = when {
        info < 24 -> info.toLong()
        info == 24 -> byte().toLong()
        info == 25 -> (byte().toLong() shl 8) or byte().toLong()
        info == 26 -> (0 until 4).fold(0L) { acc, _ -> (acc shl 8) or byte().toLong() }
        info == 27 -> (0 until 8).fold(0L) { acc, _ -> (acc shl 8) or byte().toLong() }
        else -> error("indefinite lengths are not used by the protocol")
    }

    private fun take(n: Long): ByteArray {
        require(n >= 0 && at + n <= bytes.size) { "a CBOR length past the body" }
        return bytes.copyOfRange(at, at + n.toInt()).also { at += n.toInt() }
    }

    fun read(): JsonElement {
        val head = byte()
        val info = head and 0x1f
        return when (head shr 5) {
            0 -> JsonPrimitive(length(info).toString())
            1 -> JsonPrimitive((-1 - length(info)).toString())
            2 -> JsonNull.also { onBytes(take(length(info))) }
            3 -> JsonPrimitive(take(length(info)).decodeToString())
            4 -> JsonArray(List(length(info).toInt()) { read() })
            5 -> JsonObject(
                (0 until length(info)).associate {
                    val key = read()
                    (if (key is JsonPrimitive) key.content else key.toString()) to read()
                },
            )
            6 -> read() // a tag: its content
            else -> when (info) {
                20 -> JsonPrimitive(false)
                21 -> JsonPrimitive(true)
                22, 23 -> JsonNull
                else -> JsonPrimitive(take(1L shl (info - 24)).size.toString())
            }
        }
    }
}
