package io.github.contactsync.android

import android.content.ContentResolver
import android.database.Cursor
import android.net.Uri
import android.provider.ContactsContract
import io.github.contactsync.contacts.ContactRow
import io.github.contactsync.contacts.ContactsContractMapper
import io.github.contactsync.contacts.ContactsProviderSource
import io.github.contactsync.contacts.DeletedRow
import io.github.contactsync.contacts.FeedPlan
import io.github.contactsync.contacts.ProviderColumns
import io.github.contactsync.contacts.ProviderMimeTypes
import io.github.contactsync.contacts.RowCursor

/**
 * Reads the device's address book for [io.github.contactsync.contacts.ContactsImporter]: three
 * `ContentResolver` queries and nothing else. What the rows mean is decided by
 * [io.github.contactsync.contacts.ContactsContractMapper], which is plain Kotlin and tested on
 * the JVM with rows shaped exactly like these.
 *
 * - **Data rows** come from [ContactsContract.Data.CONTENT_URI], not `RawContactsEntity`: the
 *   `Data` view joins each row with its aggregate contact, so one cursor gives the contact id,
 *   the contact's display name and its `CONTACT_LAST_UPDATED_TIMESTAMP` next to the value. Rows
 *   of raw contacts being deleted are not in it (deletion detaches a raw contact from its
 *   contact, and the view joins on the contact). Only the mimetypes the mapper reads are
 *   selected, sorted by contact so a whole book streams in one pass.
 * - **Changed contacts** come from [ContactsContract.Contacts.CONTENT_URI]; needed because a
 *   contact whose last number was removed has no data row left to say it changed.
 * - **Deletions** come from [ContactsContract.DeletedContacts.CONTENT_URI].
 *
 * Requires `READ_CONTACTS` (a [SecurityException] otherwise: ask for it first). Blocking:
 * call from a background thread (the importer does). A provider that answers `null` (it is
 * being upgraded, or is absent on an unusual device) raises [IllegalStateException] rather than
 * reading as an empty book: a full snapshot of "nothing" would delete every stored contact.
 *
 * @param visibleContactsOnly read only the data rows of contacts in a visible group
 *   (`Contacts.IN_VISIBLE_GROUP = 1`, a column of the contact the `Data` view joins), leaving out
 *   contacts that exist only in hidden groups, such as addresses a mail account collected
 *   automatically. `false` (the default) reads every local contact. The filter is a selection on
 *   the data rows, so snapshots and deltas see the same set; the query for changed contacts is
 *   deliberately not filtered, so a contact that changed and is hidden now arrives as "changed,
 *   no data rows", which the mapper turns into a deletion — as a full snapshot, which no longer
 *   holds it, removes it. A contact hidden without changing (its group or account made
 *   invisible) is only removed by the next full snapshot.
 */
class ContactsContractReader(
    private val resolver: ContentResolver,
    private val visibleContactsOnly: Boolean = false,
) : ContactsProviderSource {

    override fun dataRows(changedAfter: Long?): RowCursor {
        val mimetypes = ProviderMimeTypes.MAPPED
        val inMimetypes = "${ContactsContract.Data.MIMETYPE} IN (${mimetypes.joinToString(",") { "?" }})"
        val selection = buildString {
            append(inMimetypes)
            if (visibleContactsOnly) append(" AND ").append(ContactsContract.Data.IN_VISIBLE_GROUP).append(" = 1")
            if (changedAfter != null) append(" AND ").append(FeedPlan.Delta.CHANGED_SELECTION)
        }
        val args = if (changedAfter == null) mimetypes else mimetypes + changedAfter.toString()
        return CursorRows(
            query(ContactsContract.Data.CONTENT_URI, DATA_PROJECTION, selection, args.toTypedArray(), DATA_ORDER),
        )
    }

    /**
     * Every contact changed since [changedAfter], visible or not, even with
     * [visibleContactsOnly]: a changed contact that is hidden has no data row in [dataRows], so
     * it is removed, as a full snapshot would remove it (see the class's KDoc).
     */
    override fun changedContactIds(changedAfter: Long): List<Long> {
        return query(
            ContactsContract.Contacts.CONTENT_URI,
            arrayOf(ContactsContract.Contacts._ID),
            FeedPlan.Delta.CHANGED_SELECTION,
            arrayOf(changedAfter.toString()),
            ContactsContract.Contacts._ID,
        ).use { cursor ->
            buildList { while (cursor.moveToNext()) if (!cursor.isNull(0)) add(cursor.getLong(0)) }
        }
    }

    override fun deletedContacts(deletedAfter: Long): List<DeletedRow> = query(
        ContactsContract.DeletedContacts.CONTENT_URI,
        arrayOf(
            ContactsContract.DeletedContacts.CONTACT_ID,
            ContactsContract.DeletedContacts.CONTACT_DELETED_TIMESTAMP,
        ),
        FeedPlan.Delta.DELETED_SELECTION,
        arrayOf(deletedAfter.toString()),
        null,
    ).use { cursor ->
        val row = CursorRow(cursor)
        buildList { while (cursor.moveToNext()) DeletedRow.from(row)?.let(::add) }
    }

    private fun query(
        uri: Uri,
        projection: Array<String>,
        selection: String,
        args: Array<String>,
        order: String?,
    ): Cursor = resolver.query(uri, projection, selection, args, order)
        ?: throw IllegalStateException("the contacts provider did not answer (${uri.path})")

    /** A cursor's rows as a one-shot sequence; closing it closes the cursor. */
    private class CursorRows(private val cursor: Cursor) : RowCursor {
        override val rows: Sequence<ContactRow> = sequence {
            val row = CursorRow(cursor)
            while (cursor.moveToNext()) yield(row)
        }.constrainOnce()

        override fun close() = cursor.close()
    }

    private companion object {
        /** What [io.github.contactsync.contacts.ContactsContractMapper] reads, by the provider's names. */
        val DATA_PROJECTION: Array<String> = arrayOf(
            ProviderColumns.ID,
            ProviderColumns.RAW_CONTACT_ID,
            // The `Data` view has no `deleted` column: its rows of deleted raw contacts are gone.
            *ContactsContractMapper.COLUMNS.filter { it != ProviderColumns.DELETED }.toTypedArray(),
        )

        /** Contact by contact, each contact's rows in a stable order (mapSorted needs the first). */
        val DATA_ORDER =
            "${ProviderColumns.CONTACT_ID}, ${ProviderColumns.RAW_CONTACT_ID}, ${ProviderColumns.ID}"
    }
}
