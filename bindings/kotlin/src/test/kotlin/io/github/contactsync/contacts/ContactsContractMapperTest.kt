package io.github.contactsync.contacts

import io.github.contactsync.contacts.ProviderMimeTypes.EMAIL
import io.github.contactsync.contacts.ProviderMimeTypes.IM
import io.github.contactsync.contacts.ProviderMimeTypes.PHONE
import io.github.contactsync.contacts.ProviderMimeTypes.WEBSITE
import io.github.contactsync.contacts.ProviderRows.NAME
import io.github.contactsync.contacts.ProviderRows.NICKNAME
import io.github.contactsync.contacts.ProviderRows.data
import io.github.contactsync.contacts.ProviderRows.entity
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.RawContact
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

class ContactsContractMapperTest {
    private val mapper = ContactsContractMapper()

    private fun phone(value: String, label: String?) = Labelled(IdentifierKind.PHONE, label, value)
    private fun email(value: String, label: String?) = Labelled(IdentifierKind.EMAIL, label, value)
    private fun handle(value: String, service: String?) = Labelled(IdentifierKind.HANDLE, service, value)
    private fun account(value: String) = Labelled(IdentifierKind.ACCOUNT, null, value)

    /**
     * A small book as the provider returns `Data` rows for it, sorted by contact, raw contact
     * and data id.
     *
     * - 1204 Ana Lima: two raw contacts merged into one contact (a Google account's and a
     *   phone-local one); both hold her mobile number, under different types.
     * - 1210 Bob: one phone row without a number (data1 NULL), an XMPP handle, a Facebook
     *   profile link with a numeric id.
     * - 1220: no display name at all, one e-mail with stray spaces.
     * - 1230: a name and a nickname, nothing to discover.
     */
    private val book = listOf(
        data(9001, 3001, 1204, "Ana Lima", 1_767_225_600_000, NAME, "Ana Lima"),
        data(9002, 3001, 1204, "Ana Lima", 1_767_225_600_000, PHONE, "+49 151 23456789", data2 = "2"),
        data(9003, 3001, 1204, "Ana Lima", 1_767_225_600_000, PHONE, "030 1234567", data2 = "0", data3 = " Büro "),
        data(9004, 3001, 1204, "Ana Lima", 1_767_225_600_000, EMAIL, "ana@example.org", data2 = "1"),
        data(9005, 3001, 1204, "Ana Lima", 1_767_225_600_000, WEBSITE,
            "http://www.google.com/profiles/108401938740513456912", data2 = "3"),
        data(9011, 3017, 1204, "Ana Lima", 1_767_225_600_000, PHONE, "+49 151 23456789", data2 = "17"),
        data(9012, 3017, 1204, "Ana Lima", 1_767_225_600_000, IM, "ana.lima", data2 = "3", data5 = "-1", data6 = "Signal"),
        data(9013, 3017, 1204, "Ana Lima", 1_767_225_600_000, WEBSITE, "https://github.com/analima", data2 = "3"),
        data(9014, 3017, 1204, "Ana Lima", 1_767_225_600_000, NICKNAME, "Nana"),
        data(9020, 3020, 1210, "Bob", 1_767_000_000_000, PHONE, null, data2 = "2"),
        data(9021, 3020, 1210, "Bob", 1_767_000_000_000, EMAIL, "bob@example.com", data2 = "2"),
        data(9022, 3020, 1210, "Bob", 1_767_000_000_000, IM, "bob@jabber.example", data5 = "7"),
        data(9023, 3020, 1210, "Bob", 1_767_000_000_000, WEBSITE,
            "https://www.facebook.com/profile.php?id=100004123456789", data2 = "3"),
        data(9030, 3030, 1220, null, 1_766_000_000_000, EMAIL, "  carol@example.net ", data2 = "3"),
        data(9040, 3040, 1230, "Dan", 1_766_500_000_000, NAME, "Dan"),
        data(9041, 3040, 1230, "Dan", 1_766_500_000_000, NICKNAME, "Danny"),
    )

    private val expected = listOf(
        RawContact(
            sourceId = "1204",
            displayName = "Ana Lima",
            values = listOf(
                // Sorted by kind, then text: '+' sorts before '0'.
                phone("+49 151 23456789", "mobile"), // "mobile" < "work_mobile": the duplicate collapsed
                phone("030 1234567", "Büro"),
                email("ana@example.org", "home"),
                handle("ana.lima", "signal"),
                account("google:108401938740513456912"),
            ),
            version = "1767225600000",
        ),
        RawContact(
            sourceId = "1210",
            displayName = "Bob",
            values = listOf(
                email("bob@example.com", "work"),
                handle("bob@jabber.example", "xmpp"),
                account("facebook:100004123456789"),
            ),
            version = "1767000000000",
        ),
        RawContact(
            sourceId = "1220",
            displayName = "carol@example.net",
            values = listOf(email("  carol@example.net ", "other")),
            version = "1766000000000",
        ),
    )

    @Test
    fun `maps provider rows to one contact per aggregate contact`() {
        assertEquals(expected, mapper.map(book))
    }

    @Test
    fun `one handle under two messengers is two values, a repeated one is kept once`() {
        val rows = listOf(
            data(9101, 3101, 1301, "Eve", 1_767_000_000_000, IM, "eve", data5 = "-1", data6 = "Telegram"),
            data(9102, 3101, 1301, "Eve", 1_767_000_000_000, IM, "eve", data5 = "-1", data6 = "Signal"),
            data(9103, 3102, 1301, "Eve", 1_767_000_000_000, IM, "eve", data5 = "-1", data6 = "signal"),
        )
        val values = mapper.map(rows).single().values
        // The label of a handle names its namespace: neither messenger may be dropped.
        assertEquals(listOf(handle("eve", "signal"), handle("eve", "telegram")), values)
    }

    @Test
    fun `the result does not depend on the order of the rows`() {
        // A merge or split reorders raw contacts; the content (and so the engine's fingerprint)
        // must not move with it.
        assertEquals(expected, mapper.map(book.reversed()))
        assertEquals(expected, mapper.map(book.shuffled(kotlin.random.Random(7))))
    }

    @Test
    fun `streams sorted rows in chunks and agrees with map`() {
        val chunks = mapper.mapSorted(book.asSequence(), chunkSize = 2).toList()
        assertEquals(listOf(2, 1), chunks.map { it.size })
        assertEquals(expected, chunks.flatten())
        assertEquals(listOf(expected), mapper.mapSorted(book.asSequence()).toList())
        assertEquals(emptyList<List<RawContact>>(), mapper.mapSorted(emptySequence()).toList())
    }

    @Test
    fun `streaming is lazy`() {
        var read = 0
        val rows = book.asSequence().onEach { read++ }
        val first = mapper.mapSorted(rows, chunkSize = 1).first()
        assertEquals(listOf(expected.first()), first)
        // The first chunk is complete once the first row of the next contact has been seen.
        assertEquals(10, read)
    }

    @Test
    fun `unsorted rows fail loudly instead of splitting a contact`() {
        val unsorted = listOf(book[1], book[9], book[5])
        val error = assertThrows<IllegalArgumentException> {
            mapper.mapSorted(unsorted.asSequence()).toList()
        }
        assertEquals("rows are not sorted by contact_id (1204 after 1210)", error.message)
    }

    @Test
    fun `rows of deleted raw contacts are skipped`() {
        // RawContactsEntity rows: raw contact 77 is marked deleted (and, as the provider does,
        // detached from its contact); raw contact 78 still shows its old contact id for the
        // sake of the test. Neither may contribute anything.
        val rows = listOf(
            entity(rawContactId = 76, dataId = 500, contactId = 40, deleted = 0, mimetype = PHONE,
                data1 = "+1 202 555 0173", data2 = "2"),
            entity(rawContactId = 77, dataId = 501, contactId = null, deleted = 1, mimetype = PHONE,
                data1 = "+1 202 555 0199", data2 = "2"),
            entity(rawContactId = 78, dataId = 502, contactId = 40, deleted = 1, mimetype = EMAIL,
                data1 = "gone@example.com", data2 = "1"),
            // A raw contact without data rows: RawContactsEntity still returns one row of nulls.
            entity(rawContactId = 79, dataId = null, contactId = 41, deleted = 0, mimetype = null, data1 = null),
        )
        assertEquals(
            listOf(
                RawContact(
                    sourceId = "40",
                    // RawContactsEntity has no display name: the first phone stands in for it.
                    displayName = "+1 202 555 0173",
                    values = listOf(phone("+1 202 555 0173", "mobile")),
                    version = null,
                ),
            ),
            mapper.map(rows),
        )
    }

    @Test
    fun `garbage and oversized values are passed through for the core to reject and count`() {
        val huge = "9".repeat(5_000)
        val rows = listOf(
            data(1, 1, 7, "Eve", 10, PHONE, huge, data2 = "2"),
            data(2, 1, 7, "Eve", 10, PHONE, "12", data2 = "not a number"),
            data(3, 1, 7, "Eve", 10, EMAIL, "no-at-sign", data2 = "99"),
            data(4, 1, 7, "Eve", 10, IM, "@eve", data5 = "42"),
            // Blank values carry nothing to match or to show: skipped, not rejected.
            data(5, 1, 7, "Eve", 10, PHONE, "   ", data2 = "2"),
            data(6, 1, 7, "Eve", 10, "vnd.com.example.unknown/kind", "whatever"),
        )
        assertEquals(
            listOf(
                RawContact(
                    sourceId = "7",
                    displayName = "Eve",
                    values = listOf(
                        phone("12", null),
                        phone(huge, "mobile"),
                        email("no-at-sign", null),
                        handle("@eve", null),
                    ),
                    version = "10",
                ),
            ),
            mapper.map(rows),
        )
    }

    @Test
    fun `phone types carry Android's codes`() {
        val labels = (0L..21L).associateWith { ContactsContractMapper.phoneLabel(it, null) }
        assertNull(labels[0L]) // TYPE_CUSTOM without a label
        assertEquals("home", labels[1L])
        assertEquals("mobile", labels[2L])
        assertEquals("work", labels[3L])
        assertEquals("fax_work", labels[4L])
        assertEquals("other", labels[7L])
        assertEquals("main", labels[12L])
        assertEquals("work_mobile", labels[17L])
        assertEquals("mms", labels[20L])
        assertNull(labels[21L]) // unknown: no label rather than an invented one
        assertEquals("Zweitnummer", ContactsContractMapper.phoneLabel(0, " Zweitnummer"))
        assertNull(ContactsContractMapper.phoneLabel(null, "ignored without TYPE_CUSTOM"))
        assertEquals("work", ContactsContractMapper.phoneLabel(3, "ignored for a built-in type"))
    }

    @Test
    fun `e-mail types and IM protocols carry Android's codes`() {
        assertEquals(listOf("home", "work", "other", "mobile"), (1L..4L).map { ContactsContractMapper.emailLabel(it, null) })
        assertEquals("Uni", ContactsContractMapper.emailLabel(0, "Uni"))
        assertEquals(
            listOf("aim", "msn", "yahoo", "skype", "qq", "gtalk", "icq", "xmpp", "netmeeting"),
            (0L..8L).map { ContactsContractMapper.imService(it, null) },
        )
        assertEquals("telegram", ContactsContractMapper.imService(-1, " Telegram "))
        assertNull(ContactsContractMapper.imService(-1, "  "))
        assertNull(ContactsContractMapper.imService(null, "Signal"))
    }

    @Test
    fun `a change feed lists upserts and deletions since the delta's start`() {
        val delta = FeedPlan.Delta(startedAt = 5_000, since = 1_000)
        val rows = listOf(
            data(1, 1, 1204, "Ana", 2_000, PHONE, "+49 151 23456789", data2 = "2"),
            // Rows of a contact not changed since 1000 (a query with another bound) are ignored.
            data(2, 2, 1300, "Old", 1_000, PHONE, "+49 151 11111111", data2 = "2"),
            // 1230 changed, but all it has left is a name.
            data(3, 3, 1230, "Dan", 2_500, NAME, "Dan"),
        )
        val deleted = listOf(
            DeletedRow(contactId = 1190, deletedAt = 1_500),
            DeletedRow(contactId = 1100, deletedAt = 1_000), // at `since`: already applied
            DeletedRow(contactId = 1204, deletedAt = 1_600), // exists again: an upsert wins
        )
        // 1250 was reported changed but deleted before its rows were read.
        val changes = mapper.changes(delta, changedContactIds = listOf(1204L, 1230L, 1250L), rows, deleted)
        assertEquals(
            ChangeSet(
                upserts = listOf(
                    RawContact("1204", "Ana", listOf(phone("+49 151 23456789", "mobile")), "2000"),
                ),
                deleted = listOf("1190", "1230", "1250"),
            ),
            changes,
        )
        assertTrue(mapper.changes(delta, emptyList(), emptyList(), emptyList()).isEmpty)
    }

    @Test
    fun `deleted contacts rows are read by column name`() {
        assertEquals(
            DeletedRow(42, 1_767_225_600_000),
            DeletedRow.from(MapRow("contact_id" to 42L, "contact_deleted_timestamp" to 1_767_225_600_000L)),
        )
        assertNull(DeletedRow.from(MapRow("contact_id" to "x", "contact_deleted_timestamp" to 1L)))
        assertNull(DeletedRow.from(MapRow("contact_id" to 42L)))
    }

    @Test
    fun `map rows read like a cursor would, without its silent zero`() {
        val row = MapRow("a" to "2", "b" to 3, "c" to " -1 ", "d" to "x", "e" to null, "f" to true, "g" to 2.0, "h" to 2.5)
        assertEquals(2L, row.long("a"))
        assertEquals("3", row.string("b"))
        assertEquals(-1L, row.long("c"))
        assertNull(row.long("d"))
        assertNull(row.long("e"))
        assertNull(row.string("missing"))
        assertEquals(1L, row.long("f"))
        assertEquals(2L, row.long("g"))
        assertNull(row.long("h"))
    }
}
