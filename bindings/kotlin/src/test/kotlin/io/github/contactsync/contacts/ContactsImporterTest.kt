package io.github.contactsync.contacts

import io.github.contactsync.ContactSync
import io.github.contactsync.contacts.ProviderMimeTypes.EMAIL
import io.github.contactsync.contacts.ProviderMimeTypes.PHONE
import io.github.contactsync.contacts.ProviderRows.NAME
import io.github.contactsync.contacts.ProviderRows.data
import io.github.contactsync.ffi.Config
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The importer against the real engine, with a provider made of rows: what an Android app runs,
 * minus `ContentResolver`.
 */
class ContactsImporterTest {
    @TempDir
    lateinit var dir: Path

    private lateinit var sync: ContactSync
    private val provider = FakeProvider()
    private val anchor = InMemoryImportAnchor()
    private val day = 24 * 60 * 60 * 1000L
    private var now = 1_767_225_600_000L

    private fun importer(policy: ChangeFeedPolicy = ChangeFeedPolicy()) = ContactsImporter(
        source = provider,
        anchor = anchor,
        policy = policy,
        chunkSize = 2,
        ioDispatcher = Dispatchers.IO,
        clock = { now },
    )

    @BeforeEach
    fun open() = runBlocking {
        sync = ContactSync.open(dir.resolve("contacts.db").toString(), Config(region = "DE"))
    }

    @AfterEach
    fun close() = sync.close()

    /** Writes a contact the way the provider does: every row restamped with the contact's time. */
    private fun FakeProvider.put(contactId: Long, name: String, vararg values: Pair<String, String>) {
        rows.removeAll { it.long(ProviderColumns.CONTACT_ID) == contactId }
        values.forEachIndexed { i, (mimetype, value) ->
            rows += data(contactId * 100 + i, contactId * 10, contactId, name, now, mimetype, value, data2 = "2")
        }
        if (values.isEmpty()) rows += data(contactId * 100, contactId * 10, contactId, name, now, NAME, name)
        stamps[contactId] = now
    }

    private fun FakeProvider.delete(contactId: Long) {
        rows.removeAll { it.long(ProviderColumns.CONTACT_ID) == contactId }
        stamps.remove(contactId)
        deleted += DeletedRow(contactId, now)
    }

    private suspend fun ids() = sync.contacts(0, 100).map { it.sourceId }

    @Test
    fun `first import is a streamed full snapshot, the next ones deltas`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        provider.put(2, "Bob", EMAIL to "bob@example.com")
        provider.put(3, "Carol", PHONE to "+49 30 90182000")

        val first = importer().importInto(sync)
        assertEquals(FeedPlan.Full(now, FullReason.NEVER_IMPORTED), first.plan)
        assertEquals(3uL, first.report.added)
        assertEquals(now, anchor.load())
        assertEquals(listOf("1", "2", "3"), ids())
        assertTrue(provider.allClosed())

        // An hour later: Bob deleted, Ana's number replaced, Dan added, Carol emptied of numbers.
        now += 60 * 60 * 1000L
        provider.delete(2)
        provider.put(1, "Ana", PHONE to "+49 151 99999999")
        provider.put(4, "Dan", EMAIL to "dan@example.org")
        provider.put(3, "Carol")
        val second = importer().importInto(sync)
        val plan = second.plan
        check(plan is FeedPlan.Delta)
        assertEquals(now - 60 * 60 * 1000L - ChangeFeedPolicy.DEFAULT_OVERLAP_MILLIS, plan.since)
        assertEquals(1uL, second.report.added)
        assertEquals(1uL, second.report.changed)
        assertEquals(2uL, second.report.removed) // Bob, and Carol who has nothing to discover left
        assertEquals(listOf("1", "4"), ids())
        assertEquals("+4915199999999", sync.contact("1")!!.identifiers.single().canonical)
        assertEquals(now, anchor.load())
        assertTrue(provider.allClosed())

        // Nothing changed: an empty delta, nothing to do.
        now += 1_000
        val third = importer().importInto(sync)
        check(third.plan is FeedPlan.Delta)
        assertEquals(0uL, third.report.added + third.report.changed + third.report.removed)
    }

    @Test
    fun `a month without import means a full snapshot, which also catches forgotten deletions`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        provider.put(2, "Bob", EMAIL to "bob@example.com")
        importer().importInto(sync)

        now += 31 * day
        // The deletion log no longer has Bob: only a full snapshot can notice he is gone.
        provider.rows.removeAll { it.long(ProviderColumns.CONTACT_ID) == 2L }
        provider.stamps.remove(2L)
        val outcome = importer().importInto(sync)
        assertEquals(FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED), outcome.plan)
        assertEquals(1uL, outcome.report.removed)
        assertEquals(1uL, outcome.report.unchanged)
        assertEquals(listOf("1"), ids())
    }

    @Test
    fun `too many changes become a full snapshot`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        importer().importInto(sync)
        now += 1_000
        provider.put(2, "Bob", EMAIL to "bob@example.com")
        provider.put(3, "Carol", EMAIL to "carol@example.com")
        val outcome = importer(ChangeFeedPolicy(maxDeltaContacts = 1)).importInto(sync)
        assertEquals(FeedPlan.Full(now, FullReason.DELTA_TOO_LARGE), outcome.plan)
        assertEquals(2uL, outcome.report.added)
        assertEquals(listOf("1", "2", "3"), ids())
    }

    @Test
    fun `an empty engine ignores a stale anchor`() = runBlocking {
        // The database was wiped (or this is a new one) but the anchor survived.
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        anchor.save(now - day)
        val outcome = importer().importInto(sync)
        assertEquals(FeedPlan.Full(now, FullReason.ENGINE_EMPTY), outcome.plan)
        assertEquals(listOf("1"), ids())
    }

    @Test
    fun `forceFull re-reads everything`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        importer().importInto(sync)
        now += 1_000
        val outcome = importer().importInto(sync, forceFull = true)
        assertEquals(FeedPlan.Full(now, FullReason.FORCED), outcome.plan)
        assertEquals(1uL, outcome.report.unchanged)
    }

    @Test
    fun `a failed read leaves the anchor where it was and removes nothing`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        provider.put(2, "Bob", EMAIL to "bob@example.com")
        provider.put(3, "Carol", PHONE to "+49 30 90182000")
        importer().importInto(sync)
        val before = anchor.load()

        now += 31 * day
        provider.failAfterRows = 1
        assertThrows<IllegalStateException> { runBlocking { importer().importInto(sync) } }
        assertEquals(before, anchor.load())
        assertEquals(listOf("1", "2", "3"), ids()) // an unfinished snapshot removes nothing
        assertTrue(provider.allClosed())

        provider.failAfterRows = null
        provider.rows.removeAll { it.long(ProviderColumns.CONTACT_ID) == 3L }
        val retried = importer().importInto(sync)
        assertEquals(FullReason.DELETION_LOG_EXPIRED, (retried.plan as FeedPlan.Full).reason)
        assertEquals(listOf("1", "2"), ids())
    }

    @Test
    fun `cancellation stops the import without saving the anchor`() = runBlocking {
        provider.put(1, "Ana", PHONE to "+49 151 23456789")
        provider.put(2, "Bob", EMAIL to "bob@example.com")
        provider.put(3, "Carol", PHONE to "+49 30 90182000")
        val job = launch(Dispatchers.Default, start = CoroutineStart.LAZY) { importer().importInto(sync) }
        // The user leaves the screen while the second chunk is being read.
        provider.onRow = { index -> if (index == 2) job.cancel() }
        job.start()
        job.join()
        assertTrue(job.isCancelled)
        assertNull(anchor.load())
        assertTrue(provider.allClosed())
        // What was pushed before the cancellation may stay; nothing was removed, and the next
        // import (a full snapshot again: no anchor) completes the book.
        provider.onRow = {}
        importer().importInto(sync)
        assertEquals(listOf("1", "2", "3"), ids())
    }

    /**
     * Answers the importer's three queries from rows, the way the provider's SQL would: the
     * mapped mimetypes only, `> ?` on the timestamps, sorted by contact, raw contact, data id.
     */
    class FakeProvider : ContactsProviderSource {
        val rows = mutableListOf<MapRow>()
        val stamps = mutableMapOf<Long, Long>()
        val deleted = mutableListOf<DeletedRow>()
        var failAfterRows: Int? = null
        @Volatile
        var onRow: (Int) -> Unit = {}
        private val cursors = mutableListOf<Cursor>()

        fun allClosed() = cursors.all { it.closed }

        override fun dataRows(changedAfter: Long?): RowCursor {
            val selected = rows
                .filter { it.string(ProviderColumns.MIMETYPE) in ProviderMimeTypes.MAPPED }
                .filter { changedAfter == null || it.long(ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP)!! > changedAfter }
                .sortedWith(compareBy({ it.long(ProviderColumns.CONTACT_ID) }, { it.long(ProviderColumns.RAW_CONTACT_ID) }, { it.long(ProviderColumns.ID) }))
            return Cursor(selected, failAfterRows) { onRow(it) }.also { cursors += it }
        }

        override fun changedContactIds(changedAfter: Long): List<Long> =
            stamps.filterValues { it > changedAfter }.keys.sorted()

        override fun deletedContacts(deletedAfter: Long): List<DeletedRow> =
            deleted.filter { it.deletedAt > deletedAfter }

        class Cursor(
            private val selected: List<ContactRow>,
            private val failAfter: Int?,
            private val onRow: (Int) -> Unit,
        ) : RowCursor {
            var closed = false

            override val rows: Sequence<ContactRow> = sequence {
                selected.forEachIndexed { i, row ->
                    check(!closed) { "read after close" }
                    if (failAfter != null && i >= failAfter) throw IllegalStateException("the provider died")
                    onRow(i)
                    yield(row)
                }
            }

            override fun close() {
                closed = true
            }
        }
    }
}
