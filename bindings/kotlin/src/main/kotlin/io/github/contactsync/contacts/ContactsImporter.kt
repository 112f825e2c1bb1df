package io.github.contactsync.contacts

import io.github.contactsync.ContactSync
import io.github.contactsync.ffi.ImportReport
import java.io.Closeable
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext

/**
 * The three reads of the Contacts Provider an import needs, and nothing else: the platform
 * part of [ContactsImporter]. On Android `ContactsContractReader` (in the `android` module)
 * answers them with `ContentResolver` queries; tests answer them from [MapRow]s. Everything
 * that decides something (which reads, how rows become contacts, when to save the anchor) is in
 * [ContactsImporter] and [ContactsContractMapper], which run and are tested on a plain JVM.
 *
 * Calls block (they are provider queries) and are made on the importer's I/O dispatcher.
 */
interface ContactsProviderSource {
    /**
     * Data rows of the kinds in [ProviderMimeTypes.MAPPED], sorted by `contact_id`,
     * `raw_contact_id`, `_id` (what [ContactsContractMapper.mapSorted] requires): of every
     * contact when [changedAfter] is `null`, else of the contacts whose
     * `contact_last_updated_timestamp` is greater than it. Each row projects at least
     * `contact_id`, `display_name`, `contact_last_updated_timestamp`, `mimetype` and
     * `data1`, `data2`, `data3`, `data5`, `data6`. The caller closes the cursor.
     */
    fun dataRows(changedAfter: Long?): RowCursor

    /** Ids of the contacts whose `contact_last_updated_timestamp` is greater than [changedAfter]. */
    fun changedContactIds(changedAfter: Long): List<Long>

    /** `DeletedContacts` rows whose `contact_deleted_timestamp` is greater than [deletedAfter]. */
    fun deletedContacts(deletedAfter: Long): List<DeletedRow>
}

/**
 * An open query: its rows, read once, in order, then [close]d (a `Cursor` holds a window of
 * shared memory and a provider connection until it is closed).
 */
interface RowCursor : Closeable {
    /** The rows; each is valid only until the next is read. Iterate once. */
    val rows: Sequence<ContactRow>
}

/**
 * Where [ContactsImporter] keeps the `startedAt` of the last import it stored: the lower bound
 * of the next delta. On Android, `SharedPreferencesImportAnchor` (in the `android` module).
 *
 * Losing it is harmless (the next import is a full snapshot); keeping one that is newer than the
 * engine's content is not (changes in between would never be read). That is why it is saved only
 * after the engine committed an import, and why [ContactsImporter] ignores it while the engine
 * holds no contact (a new or wiped database).
 */
interface ImportAnchor {
    /** The `startedAt` of the last stored import, or `null` if none. */
    fun load(): Long?

    /** Records [startedAt] after an import was stored. */
    fun save(startedAt: Long)

    /** Forgets the anchor, so the next import is a full snapshot. */
    fun clear()
}

/** An [ImportAnchor] in memory, for tests and for apps that import once per process. */
class InMemoryImportAnchor(initial: Long? = null) : ImportAnchor {
    @Volatile
    private var value: Long? = initial

    override fun load(): Long? = value

    override fun save(startedAt: Long) {
        value = startedAt
    }

    override fun clear() {
        value = null
    }
}

/** What one [ContactsImporter.importInto] did: the plan it followed and the engine's report. */
data class ImportOutcome(val plan: FeedPlan, val report: ImportReport)

/**
 * Brings a [ContactSync] up to date with the device's address book, as cheaply as the platform
 * allows: a delta (changed contacts + deletion log) when [ChangeFeedPolicy] says the provider
 * can still be trusted to have kept every change since the last import, else a full snapshot
 * streamed in chunks.
 *
 * One import:
 * 1. plans from the anchor and the clock ([ChangeFeedPolicy.plan]); a delta becomes a full
 *    snapshot when the engine holds no contact ([FullReason.ENGINE_EMPTY]) or when too many
 *    contacts changed ([FullReason.DELTA_TOO_LARGE]);
 * 2. full: streams the whole book through [ContactsContractMapper.mapSorted] into
 *    [ContactSync.importSnapshot] in chunks of [chunkSize] contacts (one cursor, never the whole
 *    book in memory); delta: reads the changed ids, their rows and the deletion log, and applies
 *    them with [ContactSync.applyChanges] in one transaction;
 * 3. saves the plan's `startedAt` as the new anchor, only once the engine committed.
 *
 * A failure or a cancellation anywhere leaves the anchor where it was, so the next import
 * re-reads at least the same span: nothing is skipped, and re-reading unchanged contacts costs
 * only their fingerprint. (An unfinished snapshot removes nothing; an unfinished change feed is
 * rolled back.)
 *
 * Runs the provider reads on [ioDispatcher]; [ContactSync] runs its own calls on its
 * dispatcher. Not meant to run twice at once on the same engine and anchor: schedule imports
 * from one place (a unique WorkManager job, a single coroutine).
 */
class ContactsImporter(
    private val source: ContactsProviderSource,
    private val anchor: ImportAnchor,
    private val policy: ChangeFeedPolicy = ChangeFeedPolicy(),
    private val mapper: ContactsContractMapper = ContactsContractMapper(),
    /** Contacts per chunk of a full snapshot (one engine transaction each). */
    private val chunkSize: Int = ContactsContractMapper.DEFAULT_CHUNK_SIZE,
    /** Where the blocking provider reads run. */
    private val ioDispatcher: CoroutineDispatcher = Dispatchers.IO,
    /** The provider's clock: `System.currentTimeMillis()`, like its timestamps. */
    private val clock: () -> Long = System::currentTimeMillis,
) {
    init {
        require(chunkSize > 0) { "chunkSize must be positive" }
    }

    /**
     * Imports what changed in the address book into [sync] (see the class documentation).
     *
     * @param forceFull take a full snapshot whatever the anchor says (the user's "re-read my
     *   contacts", or a periodic self-check).
     */
    suspend fun importInto(sync: ContactSync, forceFull: Boolean = false): ImportOutcome =
        withContext(ioDispatcher) {
            val now = clock()
            val planned = if (forceFull) FeedPlan.Full(now, FullReason.FORCED) else policy.plan(anchor.load(), now)
            val (plan, changes) = when {
                planned !is FeedPlan.Delta -> planned to null
                // A new or wiped database: a delta would only bring what changed lately.
                sync.status().contacts == 0uL -> FeedPlan.Full(now, FullReason.ENGINE_EMPTY) to null
                else -> readDelta(planned)?.let { planned to it }
                    ?: (FeedPlan.Full(now, FullReason.DELTA_TOO_LARGE) to null)
            }
            val report = if (changes == null) {
                sync.importSnapshot(snapshotChunks())
            } else {
                sync.applyChanges(changes.upserts, changes.deleted)
            }
            anchor.save(plan.startedAt)
            ImportOutcome(plan, report)
        }

    /** The delta's change set, or `null` when it is too large to apply as one. */
    private fun readDelta(delta: FeedPlan.Delta): ChangeSet? {
        val changedIds = source.changedContactIds(delta.since)
        if (policy.isTooLargeForDelta(changedIds.size)) return null
        val rows = source.dataRows(delta.since).use { cursor ->
            // A delta is small (bounded above): copy its rows out of the cursor.
            cursor.rows.map(::snapshotOf).toList()
        }
        return mapper.changes(delta, changedIds, rows, source.deletedContacts(delta.since))
    }

    /** The whole book in chunks; the cursor is opened on collection and closed after it. */
    private fun snapshotChunks() = flow {
        source.dataRows(changedAfter = null).use { cursor ->
            mapper.mapSorted(cursor.rows, chunkSize).forEach { emit(it) }
        }
    }

    private companion object {
        /** The columns the mapper reads, copied from a row that may be a moving cursor. */
        fun snapshotOf(row: ContactRow): ContactRow =
            MapRow(ContactsContractMapper.COLUMNS.associateWith { row.string(it) })
    }
}
