package io.github.contactsync.contacts

import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Labelled
import io.github.contactsync.ffi.RawContact
import java.util.Locale

/**
 * Maps rows of Android's Contacts Provider to the engine's [RawContact]s: one per aggregate
 * contact (what the Contacts app shows as one person), however many raw contacts (accounts) it
 * merges.
 *
 * Input rows are shaped like `ContactsContract.Data` rows (or `RawContactsEntity` rows, which
 * carry the same data columns): [ProviderColumns.CONTACT_ID], [ProviderColumns.DISPLAY_NAME],
 * [ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP], [ProviderColumns.MIMETYPE] and
 * `data1`..`data6`. Each contact becomes:
 *
 * - **source id**: `contact_id` in decimal. Not the lookup key, although that one survives
 *   re-aggregation better: `DeletedContacts` reports contact ids, and a change feed must name
 *   deletions in the same terms as upserts. When the provider merges two contacts, one id lives
 *   on and the other is logged as deleted, which is exactly the change feed the engine needs.
 * - **display name**: the contact's `display_name` (the provider already falls back to an
 *   organisation, nickname, e-mail or number); if even that is empty, the first e-mail, phone or
 *   other value, as the core's file readers do.
 * - **version**: `contact_last_updated_timestamp` in decimal ms, informational only: the engine
 *   decides "unchanged" by a fingerprint of the content, because Android moves this stamp on
 *   merges and sync-adapter writes that change nothing.
 * - **values**:
 *   - phones (`phone_v2`): `data1`, labelled by `data2`'s `Phone.TYPE_*` code (`mobile`, `home`,
 *     `work`, `fax_work`, ... as in [phoneLabel]), or `data3` for `TYPE_CUSTOM`;
 *   - e-mails (`email_v2`): `data1`, labelled by `Email.TYPE_*` (`home`, `work`, `other`,
 *     `mobile`) or `data3`;
 *   - IM (`im`): `data1` as a [IdentifierKind.HANDLE], labelled with the messenger service
 *     (`Im.PROTOCOL` in `data5`, or the `CUSTOM_PROTOCOL` in `data6` lower-cased, the form Android
 *     asks for since API 31): the label tells the app whose namespace the handle is in, as
 *     docs/identifiers.md asks;
 *   - websites (`website`): a [IdentifierKind.ACCOUNT] only when the URL carries a provider's
 *     subject id ([ProfileUrls.linkedAccount]); any other URL is ignored.
 *
 * What is *not* done here, on purpose:
 * - **No validation.** A number too long, an address without `@`, a 10 KB "phone": all are
 *   passed through. The core rejects them with a reason code and counts them in the import
 *   report, which is where an app can show "this number is invalid". Bad input is data.
 * - **No normalisation.** The core's is the only one, so every platform hashes alike.
 *
 * Values are de-duplicated per contact (merged raw contacts often repeat a number; the same
 * kind and text is kept once, with the smallest of its labels: any label over none, else the
 * first in string order) and sorted by kind, text and label. Handles are the exception: a
 * handle's label names its namespace (the messenger: `signal`, `telegram`), so the same handle
 * under two messengers is two values, both kept, not one value with a label picked at random. Sorting makes the contact's content, and so its fingerprint, independent of the
 * order the provider returns rows in, which changes when raw contacts are merged or split: a
 * merge that adds no new value then costs the engine nothing.
 *
 * Rows are skipped, never fatal, when they have no `contact_id` (a raw contact being deleted
 * loses it), belong to a raw contact marked `deleted`, have an unknown mimetype, or a missing or
 * blank value. A contact with no value left is not emitted: a full snapshot then omits it, and
 * [changes] lists it as deleted, so both paths agree on what the engine holds.
 *
 * Stateless and thread-safe.
 */
class ContactsContractMapper {
    /**
     * Maps rows of any number of contacts, in any order, to one contact per `contact_id`, in
     * ascending contact-id order. Holds every contact in memory: for a whole address book use
     * [mapSorted].
     */
    fun map(rows: Iterable<ContactRow>): List<RawContact> {
        val builders = sortedMapOf<Long, ContactBuilder>()
        for (row in rows) {
            val id = contactIdOf(row) ?: continue
            builders.getOrPut(id) { ContactBuilder(id) }.add(row)
        }
        return builders.values.mapNotNull { it.build() }
    }

    /**
     * Streams contacts from rows **sorted by `contact_id`**, in chunks of at most [chunkSize]
     * contacts, so that a whole address book never sits in memory at once (one chunk, one
     * contact's rows). Query with `sortOrder = "contact_id, raw_contact_id, _id"`.
     *
     * Lazy: rows are read as chunks are taken. A row whose `contact_id` is lower than the
     * previous one means the rows were not sorted; splitting a contact across two chunks would
     * make the engine keep only its later half, so that fails loudly with
     * [IllegalArgumentException] rather than losing data quietly.
     */
    fun mapSorted(rows: Sequence<ContactRow>, chunkSize: Int = DEFAULT_CHUNK_SIZE): Sequence<List<RawContact>> {
        require(chunkSize > 0) { "chunkSize must be positive" }
        return sequence {
            var current: ContactBuilder? = null
            var chunk = ArrayList<RawContact>(chunkSize)
            for (row in rows) {
                val id = contactIdOf(row) ?: continue
                val previous = current
                val builder = if (previous != null && previous.contactId == id) {
                    previous
                } else {
                    if (previous != null) {
                        require(id > previous.contactId) {
                            "rows are not sorted by contact_id ($id after ${previous.contactId})"
                        }
                        previous.build()?.let(chunk::add)
                        if (chunk.size >= chunkSize) {
                            yield(chunk)
                            chunk = ArrayList(chunkSize)
                        }
                    }
                    ContactBuilder(id).also { current = it }
                }
                builder.add(row)
            }
            current?.build()?.let(chunk::add)
            if (chunk.isNotEmpty()) yield(chunk)
        }
    }

    /**
     * Builds the change feed of [delta] from what the provider returned for it:
     *
     * @param changedContactIds ids of every contact changed since `delta.since` (a `Contacts`
     *   query on [FeedPlan.Delta.CHANGED_SELECTION]): needed because a contact whose last number
     *   was deleted has no data row left to say so.
     * @param rows data rows of the changed contacts (a `Data` query on the same selection);
     *   rows of contacts not changed in [delta] are ignored.
     * @param deletedRows `DeletedContacts` rows; those not in [delta] are ignored.
     */
    fun changes(
        delta: FeedPlan.Delta,
        changedContactIds: Iterable<Long>,
        rows: Iterable<ContactRow>,
        deletedRows: Iterable<DeletedRow>,
    ): ChangeSet {
        val upserts = map(rows.filter { delta.isChangedContact(it.long(ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP)) })
        val upserted = upserts.mapTo(HashSet()) { it.sourceId }
        val deleted = sortedSetOf<Long>()
        deletedRows.filter(delta::isDeletion).mapTo(deleted) { it.contactId }
        // Changed, yet nothing to discover left: the engine must drop what it held for it.
        deleted.addAll(changedContactIds)
        // A contact that exists now is an upsert, whatever an older log entry says. (Contact ids
        // are AUTOINCREMENT and not reused, but a provider database restored from a backup can
        // bring an id back.)
        val deletedIds = deleted.map(Long::toString).filterNot(upserted::contains)
        return ChangeSet(upserts, deletedIds)
    }

    private fun contactIdOf(row: ContactRow): Long? {
        // RawContactsEntity returns raw contacts marked for deletion until their sync adapter
        // has deleted them upstream; they are no longer part of any contact.
        if ((row.long(ProviderColumns.DELETED) ?: 0L) != 0L) return null
        return row.long(ProviderColumns.CONTACT_ID)
    }

    /** Accumulates one contact's rows. Copies what it needs: a row may be a moving cursor. */
    private class ContactBuilder(val contactId: Long) {
        private var displayName: String? = null
        private var lastUpdated: Long? = null
        // (kind, value, namespace) → best label so far. The namespace is the label of a handle
        // (its messenger, part of what the value means) and null for every other kind, whose
        // label only describes the value and is merged by [minLabel].
        private val values = HashMap<Triple<IdentifierKind, String, String?>, String?>()

        fun add(row: ContactRow) {
            if (displayName == null) {
                displayName = row.string(ProviderColumns.DISPLAY_NAME)?.takeIf { it.isNotBlank() }
            }
            row.long(ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP)?.let { stamp ->
                lastUpdated = maxOf(lastUpdated ?: stamp, stamp)
            }
            val value = valueOf(row) ?: return
            val namespace = if (value.kind == IdentifierKind.HANDLE) value.label else null
            val key = Triple(value.kind, value.value, namespace)
            if (key !in values) {
                values[key] = value.label
            } else {
                values[key] = minLabel(values[key], value.label)
            }
        }

        fun build(): RawContact? {
            if (values.isEmpty()) return null
            val sorted = values.entries
                .map { (key, label) -> Labelled(kind = key.first, label = label, value = key.second) }
                .sortedWith(valueOrder)
            return RawContact(
                sourceId = contactId.toString(),
                displayName = displayName ?: fallbackName(sorted),
                values = sorted,
                version = lastUpdated?.toString(),
            )
        }

        private fun minLabel(a: String?, b: String?): String? = when {
            a == null -> b
            b == null -> a
            else -> minOf(a, b)
        }

        /** The core's rule for nameless contacts: first e-mail, else phone, else any value. */
        private fun fallbackName(values: List<Labelled>): String =
            (values.firstOrNull { it.kind == IdentifierKind.EMAIL }
                ?: values.firstOrNull { it.kind == IdentifierKind.PHONE }
                ?: values.first()).value.trim()
    }

    companion object {
        /** Contacts per chunk of [mapSorted]: small enough to bound memory, large enough to batch. */
        const val DEFAULT_CHUNK_SIZE: Int = 500

        /**
         * Every column the mapper reads, by the provider's names: the one list a query's
         * projection and a copy of a row are built from. ([ProviderColumns.DELETED] is read when
         * a row has it, as `RawContactsEntity` rows do; `Data` rows of deleted raw contacts are
         * already gone.)
         */
        val COLUMNS: List<String> = listOf(
            ProviderColumns.CONTACT_ID,
            ProviderColumns.DELETED,
            ProviderColumns.DISPLAY_NAME,
            ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP,
            ProviderColumns.MIMETYPE,
            ProviderColumns.DATA1,
            ProviderColumns.DATA2,
            ProviderColumns.DATA3,
            ProviderColumns.DATA5,
            ProviderColumns.DATA6,
        )

        private val valueOrder: Comparator<Labelled> =
            compareBy<Labelled>({ it.kind.ordinal }, { it.value }).thenBy(nullsFirst()) { it.label }

        /**
         * The raw value one data row holds, or `null` when the row holds nothing the engine
         * matches on (another mimetype, a missing or blank value, a website that names no
         * account).
         */
        fun valueOf(row: ContactRow): Labelled? {
            val mimetype = row.string(ProviderColumns.MIMETYPE) ?: return null
            val data = row.string(ProviderColumns.DATA1)?.takeIf { it.isNotBlank() } ?: return null
            return when (mimetype) {
                ProviderMimeTypes.PHONE -> Labelled(
                    kind = IdentifierKind.PHONE,
                    label = phoneLabel(row.long(ProviderColumns.DATA2), row.string(ProviderColumns.DATA3)),
                    value = data,
                )
                ProviderMimeTypes.EMAIL -> Labelled(
                    kind = IdentifierKind.EMAIL,
                    label = emailLabel(row.long(ProviderColumns.DATA2), row.string(ProviderColumns.DATA3)),
                    value = data,
                )
                ProviderMimeTypes.IM -> Labelled(
                    kind = IdentifierKind.HANDLE,
                    label = imService(row.long(ProviderColumns.DATA5), row.string(ProviderColumns.DATA6)),
                    value = data,
                )
                ProviderMimeTypes.WEBSITE -> ProfileUrls.linkedAccount(data)?.let {
                    Labelled(kind = IdentifierKind.ACCOUNT, label = null, value = it)
                }
                else -> null
            }
        }

        /**
         * The label of a phone number of `Phone.TYPE_*` [type] (`data2`), or the custom [label]
         * (`data3`) for `TYPE_CUSTOM` (0). `null` for an unknown or missing type: a label is
         * shown to the user, and an invented one would mislead.
         */
        fun phoneLabel(type: Long?, label: String?): String? = when (type) {
            0L -> custom(label)
            else -> PHONE_TYPES[type]
        }

        /** The label of an e-mail address of `Email.TYPE_*` [type], as [phoneLabel]. */
        fun emailLabel(type: Long?, label: String?): String? = when (type) {
            0L -> custom(label)
            else -> EMAIL_TYPES[type]
        }

        /**
         * The messenger service of an IM row: the `Im.PROTOCOL_*` code [protocol] (`data5`), or,
         * for `PROTOCOL_CUSTOM` (-1), the [customProtocol] (`data6`) lower-cased (`Signal` →
         * `signal`), so the app can compare it with its own service name. The predefined codes
         * are deprecated since API 31 but still found in older books; their names follow the
         * core's vCard reader (`xmpp` for Jabber, `gtalk` for Google Talk).
         */
        fun imService(protocol: Long?, customProtocol: String?): String? = when (protocol) {
            -1L -> customProtocol?.trim()?.takeIf { it.isNotEmpty() }?.lowercase(Locale.ROOT)
            else -> IM_PROTOCOLS[protocol]
        }

        private fun custom(label: String?): String? = label?.trim()?.takeIf { it.isNotEmpty() }

        /** `CommonDataKinds.Phone.TYPE_*`. */
        private val PHONE_TYPES: Map<Long?, String> = mapOf(
            1L to "home",
            2L to "mobile",
            3L to "work",
            4L to "fax_work",
            5L to "fax_home",
            6L to "pager",
            7L to "other",
            8L to "callback",
            9L to "car",
            10L to "company_main",
            11L to "isdn",
            12L to "main",
            13L to "other_fax",
            14L to "radio",
            15L to "telex",
            16L to "tty_tdd",
            17L to "work_mobile",
            18L to "work_pager",
            19L to "assistant",
            20L to "mms",
        )

        /** `CommonDataKinds.Email.TYPE_*`. */
        private val EMAIL_TYPES: Map<Long?, String> = mapOf(
            1L to "home",
            2L to "work",
            3L to "other",
            4L to "mobile",
        )

        /** `CommonDataKinds.Im.PROTOCOL_*` (deprecated since API 31 in favour of custom names). */
        private val IM_PROTOCOLS: Map<Long?, String> = mapOf(
            0L to "aim",
            1L to "msn",
            2L to "yahoo",
            3L to "skype",
            4L to "qq",
            5L to "gtalk",
            6L to "icq",
            7L to "xmpp",
            8L to "netmeeting",
        )
    }
}
