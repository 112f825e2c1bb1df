package io.github.contactsync.contacts

import io.github.contactsync.contacts.ProviderMimeTypes.EMAIL
import io.github.contactsync.contacts.ProviderMimeTypes.IM
import io.github.contactsync.contacts.ProviderMimeTypes.PHONE
import io.github.contactsync.contacts.ProviderMimeTypes.WEBSITE
import io.github.contactsync.contacts.ProviderRows.data
import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactView
import io.github.contactsync.ffi.Engine
import io.github.contactsync.ffi.IdentifierKind
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import kotlin.test.assertEquals

/**
 * The mapper's output through the real engine (the Rust library through JNA): proves that what
 * the Android layer hands over is what the core expects, for a full snapshot and a delta.
 */
class MapperThroughEngineTest {
    private val mapper = ContactsContractMapper()
    private val policy = ChangeFeedPolicy()

    @TempDir
    lateinit var dir: Path

    private val t0 = 1_767_225_600_000L

    /** The book on the first run. */
    private val firstBook = listOf(
        data(1, 11, 1204, "Ana Lima", t0, PHONE, "+49 151 23456789", data2 = "2"),
        data(2, 11, 1204, "Ana Lima", t0, PHONE, "030 1234567", data2 = "0", data3 = "Büro"),
        data(3, 12, 1204, "Ana Lima", t0, PHONE, "0151 23456789", data2 = "17"), // the same number, typed nationally
        data(4, 12, 1204, "Ana Lima", t0, IM, "@Ana.Lima", data5 = "-1", data6 = "Signal"),
        data(5, 12, 1204, "Ana Lima", t0, WEBSITE, "http://www.google.com/profiles/108401938740513456912"),
        data(6, 21, 1210, "Bob", t0, EMAIL, "Bob@Example.COM", data2 = "2"),
        data(7, 21, 1210, "Bob", t0, PHONE, "12", data2 = "2"), // not a number anyone has: rejected by the core
        data(8, 31, 1220, "Carol", t0, PHONE, "+1 202 555 0173", data2 = "1"),
    )

    private fun canonical(view: ContactView) = view.identifiers.map { it.kind to it.canonical }

    @Test
    fun `a streamed full snapshot, then a delta, leave the engine holding the book`() {
        Engine.open(dir.resolve("contacts.db").toString(), Config(region = "DE")).use { engine ->
            // First run: never imported → full snapshot, streamed in chunks as on a device.
            val first = policy.plan(lastImportStartedAt = null, now = t0 + 1_000)
            check(first is FeedPlan.Full)
            val snapshot = engine.beginSnapshot()
            mapper.mapSorted(firstBook.asSequence(), chunkSize = 2).forEach { snapshot.push(it) }
            val report = snapshot.finish()
            assertEquals(3uL, report.added)
            assertEquals(1uL, report.rejected)
            assertEquals(mapOf("phone.unassigned" to 1uL), report.rejections)

            val status = engine.status()
            assertEquals(3uL, status.contacts)
            // Ana: one phone (two spellings), the landline, a handle, an account; Bob: one e-mail;
            // Carol: one phone.
            assertEquals(6uL, status.identifiers)
            assertEquals(listOf("1204", "1210", "1220"), engine.contacts(0uL, 10uL).map { it.sourceId })
            assertEquals(
                listOf(
                    IdentifierKind.PHONE to "+4915123456789",
                    IdentifierKind.PHONE to "+49301234567",
                    IdentifierKind.HANDLE to "ana.lima",
                    IdentifierKind.ACCOUNT to "google:108401938740513456912",
                ).sortedWith(compareBy({ it.first.ordinal }, { it.second })),
                canonical(engine.contact("1204")!!).sortedWith(compareBy({ it.first.ordinal }, { it.second })),
            )

            // A day later: Ana lost her landline and gained an e-mail, Bob was deleted, Dan is new,
            // Carol's stamp moved (a sync adapter touched her) without any change.
            val t1 = t0 + 24 * 60 * 60 * 1000L
            val delta = policy.plan(lastImportStartedAt = first.startedAt, now = t1 + 1_000)
            check(delta is FeedPlan.Delta)
            val changedRows = listOf(
                data(1, 11, 1204, "Ana Lima", t1, PHONE, "+49 151 23456789", data2 = "2"),
                data(3, 12, 1204, "Ana Lima", t1, PHONE, "0151 23456789", data2 = "17"),
                data(4, 12, 1204, "Ana Lima", t1, IM, "@Ana.Lima", data5 = "-1", data6 = "Signal"),
                data(5, 12, 1204, "Ana Lima", t1, WEBSITE, "http://www.google.com/profiles/108401938740513456912"),
                data(9, 12, 1204, "Ana Lima", t1, EMAIL, "ana@example.org", data2 = "1"),
                data(8, 31, 1220, "Carol", t1, PHONE, "+1 202 555 0173", data2 = "1"),
                data(10, 41, 1230, "Dan", t1, PHONE, "+49 30 90182000", data2 = "3"),
            )
            val changes = mapper.changes(
                delta,
                changedContactIds = listOf(1204L, 1220L, 1230L),
                rows = changedRows,
                deletedRows = listOf(DeletedRow(1210, t1 - 5_000)),
            )
            assertEquals(listOf("1204", "1220", "1230"), changes.upserts.map { it.sourceId })
            assertEquals(listOf("1210"), changes.deleted)

            val applied = engine.applyChanges(changes.upserts, changes.deleted)
            assertEquals(1uL, applied.added) // Dan
            assertEquals(1uL, applied.changed) // Ana
            assertEquals(1uL, applied.unchanged) // Carol: same content, new stamp, no work
            assertEquals(1uL, applied.removed) // Bob

            assertEquals(listOf("1204", "1220", "1230"), engine.contacts(0uL, 10uL).map { it.sourceId })
            assertEquals(
                listOf(
                    IdentifierKind.PHONE to "+4915123456789",
                    IdentifierKind.EMAIL to "ana@example.org",
                    IdentifierKind.HANDLE to "ana.lima",
                    IdentifierKind.ACCOUNT to "google:108401938740513456912",
                ),
                canonical(engine.contact("1204")!!).sortedWith(compareBy({ it.first.ordinal }, { it.second })),
            )
            assertEquals(listOf(IdentifierKind.PHONE to "+493090182000"), canonical(engine.contact("1230")!!))
            assertEquals(null, engine.contact("1210"))
            assertEquals(0uL, engine.status().rejected) // Bob's bad number left with him
        }
    }
}
