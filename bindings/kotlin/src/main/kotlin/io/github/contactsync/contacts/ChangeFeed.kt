package io.github.contactsync.contacts

import io.github.contactsync.ffi.RawContact

/**
 * What the next import reads from the address book: everything ([Full]), or only what changed
 * since a point in time ([Delta]). Decided by [ChangeFeedPolicy.plan].
 */
sealed interface FeedPlan {
    /**
     * The provider-clock time (ms since the epoch) taken *before* reading. Once the import has
     * been stored, persist this (not the time the import finished) as the last import time: a
     * contact edited while the read was running then falls into the next delta instead of
     * being lost between two reads.
     */
    val startedAt: Long

    /** Read the whole address book as a full snapshot: contacts not read are removed. */
    data class Full(override val startedAt: Long, val reason: FullReason) : FeedPlan

    /**
     * Read only what changed after [since] (ms since the epoch, exclusive), and apply it as a
     * change feed:
     *
     * - upserts: every contact with `contact_last_updated_timestamp > since`
     *   ([isChangedContact]);
     * - deletions: every `DeletedContacts.CONTACT_ID` with `contact_deleted_timestamp > since`
     *   ([isDeletion]).
     */
    data class Delta(override val startedAt: Long, val since: Long) : FeedPlan {
        /** Whether a contact last updated at [lastUpdated] belongs to this delta. */
        fun isChangedContact(lastUpdated: Long?): Boolean = lastUpdated != null && lastUpdated > since

        /** Whether a [DeletedRow] belongs to this delta. */
        fun isDeletion(row: DeletedRow): Boolean = row.deletedAt > since

        /** Selection args for [CHANGED_SELECTION] and [DELETED_SELECTION]. */
        val selectionArgs: Array<String> get() = arrayOf(since.toString())

        companion object {
            /** The `Contacts` / `Data` selection of [isChangedContact], with [selectionArgs]. */
            const val CHANGED_SELECTION: String = "${ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP} > ?"

            /** The `DeletedContacts` selection of [isDeletion], with [selectionArgs]. */
            const val DELETED_SELECTION: String = "${ProviderColumns.CONTACT_DELETED_TIMESTAMP} > ?"
        }
    }
}

/** Why [ChangeFeedPolicy] chose a full snapshot; for logs and tests. */
enum class FullReason {
    /** No import has been stored yet (first run, or the local database was wiped). */
    NEVER_IMPORTED,

    /** The last import is too old for the provider's deletion log to still cover it. */
    DELETION_LOG_EXPIRED,

    /** The clock reads earlier than the last import: timestamps since then cannot be trusted. */
    CLOCK_WENT_BACKWARDS,

    /** The delta was larger than [ChangeFeedPolicy.maxDeltaContacts]: a streamed snapshot is cheaper. */
    DELTA_TOO_LARGE,

    /**
     * The engine holds no contact although an import was recorded: its database is new, was
     * wiped, or consent was withdrawn (`forget`). A delta would only bring what changed lately.
     */
    ENGINE_EMPTY,

    /** The caller asked for one (`ContactsImporter.importInto(forceFull = true)`). */
    FORCED,
}

/**
 * A change feed read from the provider, ready for `applyChanges(upserts, deleted)`.
 *
 * @property upserts contacts added or changed, in contact-id order.
 * @property deleted source ids (decimal contact ids) to remove: contacts the provider deleted,
 *   and contacts that changed and now hold nothing to discover (a full snapshot would not
 *   contain them either). Never contains an id of [upserts].
 */
data class ChangeSet(val upserts: List<RawContact>, val deleted: List<String>) {
    /** Whether there is nothing to apply. */
    val isEmpty: Boolean get() = upserts.isEmpty() && deleted.isEmpty()
}

/**
 * One row of `ContactsContract.DeletedContacts`.
 *
 * @property contactId `DeletedContacts.CONTACT_ID`: the deleted aggregate contact's id.
 * @property deletedAt `DeletedContacts.CONTACT_DELETED_TIMESTAMP`, ms since the epoch.
 */
data class DeletedRow(val contactId: Long, val deletedAt: Long) {
    companion object {
        /**
         * Reads a `DeletedContacts` row; `null` when either column is missing or not an integer
         * (such a row names nothing that could be removed).
         */
        fun from(row: ContactRow): DeletedRow? {
            val id = row.long(ProviderColumns.CONTACT_ID) ?: return null
            val at = row.long(ProviderColumns.CONTACT_DELETED_TIMESTAMP) ?: return null
            return DeletedRow(id, at)
        }
    }
}

/**
 * Decides, from the time of the last stored import, whether the next one can be a cheap delta
 * or must be a full snapshot.
 *
 * Android gives a change feed in two parts: `CONTACT_LAST_UPDATED_TIMESTAMP` on every contact
 * (what changed) and the `DeletedContacts` log (what was deleted). The log is the weak part: the
 * provider prunes entries older than `DeletedContacts.DAYS_KEPT_MILLISECONDS` (30 days). A delta
 * over a longer gap would silently miss deletions, and a deleted contact's hashes would stay on
 * the discovery server — a privacy bug, not just a stale list. So the plan is a full snapshot:
 *
 * - when nothing was imported yet ([FullReason.NEVER_IMPORTED]);
 * - when the gap reaches [deletionLogRetentionMillis] minus [safetyMarginMillis]
 *   ([FullReason.DELETION_LOG_EXPIRED]). The margin covers the provider pruning by its own
 *   clock at its own moments, an import that runs for minutes after its `startedAt`, and small
 *   clock corrections; 12 hours is far more than any of those and still lets an app that
 *   imports monthly use deltas;
 * - when the clock reads earlier than the last import ([FullReason.CLOCK_WENT_BACKWARDS]):
 *   changes written since may carry timestamps below the stored one and would never be read.
 *
 * Erring towards a full snapshot is cheap by design: the engine fingerprints each contact and
 * skips unchanged ones without normalising them, so a full snapshot of an unchanged book costs a
 * read of the provider and a scan, not a re-upload.
 *
 * A delta reads from [overlapMillis] before the last import rather than from the last import
 * itself. The provider stamps a contact when it writes it, inside its transaction, and a sync
 * adapter's batch can commit seconds after the stamp; a read that ran in between saw neither the
 * change nor, next time, a stamp above the stored time. Re-reading a few minutes costs nothing
 * (those contacts are skipped by fingerprint) and closes that gap.
 *
 * Immutable and side-effect free: the clock is a parameter, so every boundary is testable.
 */
class ChangeFeedPolicy(
    /** How long the provider keeps deletions (`DeletedContacts.DAYS_KEPT_MILLISECONDS`). */
    val deletionLogRetentionMillis: Long = DELETED_CONTACTS_RETENTION_MILLIS,
    /** How much earlier than the retention limit a full snapshot is taken instead. */
    val safetyMarginMillis: Long = DEFAULT_SAFETY_MARGIN_MILLIS,
    /** How far before the last import a delta starts reading. */
    val overlapMillis: Long = DEFAULT_OVERLAP_MILLIS,
    /**
     * The most changed contacts applied as one delta. `applyChanges` is one transaction over a
     * list held in memory; past this size (a sync adapter that re-wrote the whole book, a large
     * merge) a streamed full snapshot in chunks costs less memory for the same result.
     */
    val maxDeltaContacts: Int = DEFAULT_MAX_DELTA_CONTACTS,
) {
    init {
        require(deletionLogRetentionMillis > 0) { "deletionLogRetentionMillis must be positive" }
        require(safetyMarginMillis >= 0) { "safetyMarginMillis must not be negative" }
        require(overlapMillis >= 0) { "overlapMillis must not be negative" }
        require(safetyMarginMillis + overlapMillis < deletionLogRetentionMillis) {
            "the safety margin and the overlap must leave room for deltas within the retention"
        }
        require(maxDeltaContacts > 0) { "maxDeltaContacts must be positive" }
    }

    /**
     * The plan for an import starting at [now], given the `startedAt` of the last import that
     * was stored ([lastImportStartedAt], `null` if none). Both in ms since the epoch, on the
     * same clock as the provider's timestamps (`System.currentTimeMillis()` on Android).
     */
    fun plan(lastImportStartedAt: Long?, now: Long): FeedPlan {
        if (lastImportStartedAt == null) return FeedPlan.Full(now, FullReason.NEVER_IMPORTED)
        if (now < lastImportStartedAt) return FeedPlan.Full(now, FullReason.CLOCK_WENT_BACKWARDS)
        val since = lastImportStartedAt - overlapMillis
        // The oldest deletion the delta needs is just after `since`; it must still be in the log.
        if (now - since >= deletionLogRetentionMillis - safetyMarginMillis) {
            return FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED)
        }
        return FeedPlan.Delta(now, since)
    }

    /** Whether a delta with [changedContacts] changed contacts should become a full snapshot. */
    fun isTooLargeForDelta(changedContacts: Int): Boolean = changedContacts > maxDeltaContacts

    companion object {
        /** `ContactsContract.DeletedContacts.DAYS_KEPT_MILLISECONDS`: 30 days. */
        const val DELETED_CONTACTS_RETENTION_MILLIS: Long = 30L * 24 * 60 * 60 * 1000

        /** 12 hours; see the class documentation. */
        const val DEFAULT_SAFETY_MARGIN_MILLIS: Long = 12L * 60 * 60 * 1000

        /** 5 minutes; see the class documentation. */
        const val DEFAULT_OVERLAP_MILLIS: Long = 5L * 60 * 1000

        /** 2,000 contacts; see [maxDeltaContacts]. */
        const val DEFAULT_MAX_DELTA_CONTACTS: Int = 2_000
    }
}
