package io.github.contactsync.background

/**
 * Which background work contactsync asks WorkManager for, with which constraints, backoff and
 * unique-work policy: every decision of the scheduler, in plain Kotlin so it is tested on the
 * JVM. `ContactSyncBackground` (the `android` module) turns each [WorkSpec] into a
 * `WorkRequest` field by field and enqueues it; it decides nothing.
 *
 * Three pieces of work, under unique names so that calling the scheduler again (every
 * `Application.onCreate`) never duplicates them:
 * - [periodic]: import and sync every [intervalMinutes] (at least WorkManager's 15 minutes), on a
 *   connected network with the battery not low, with exponential backoff on retries;
 *   [PeriodicPolicy.UPDATE] so a new interval in an app update applies without cancelling a run;
 * - [contactsTrigger]: a one-time work with a content-URI trigger on the contacts provider
 *   (`ContactsContract.Contacts.CONTENT_URI`, descendants included), debounced by
 *   [triggerUpdateDelayMillis] and [triggerMaxDelayMillis]. A content-URI trigger fires once: its
 *   worker enqueues [afterChange] and arms the trigger again ([rearmTrigger]);
 * - [afterChange]: a one-time import and sync right after a change, expedited on API 31+ (below,
 *   expedited work needs a foreground notification the app would have to supply; it runs as
 *   ordinary one-time work there, which WorkManager also starts at once when its constraint is
 *   met), falling back to ordinary work when the expedited quota is spent.
 *
 * @param intervalMinutes minutes between periodic runs; raised to [MIN_PERIODIC_MINUTES].
 * @param flexMinutes the window at the end of each period the run may take (lets the system
 *   batch it with other work); within WorkManager's bounds.
 */
data class BackgroundSchedule(
    val intervalMinutes: Long = DEFAULT_INTERVAL_MINUTES,
    val flexMinutes: Long = DEFAULT_FLEX_MINUTES,
    val backoffSeconds: Long = DEFAULT_BACKOFF_SECONDS,
    val triggerUpdateDelayMillis: Long = DEFAULT_TRIGGER_UPDATE_DELAY_MILLIS,
    val triggerMaxDelayMillis: Long = DEFAULT_TRIGGER_MAX_DELAY_MILLIS,
    /** Whether a contacts change starts an import and sync (needs `READ_CONTACTS` to matter). */
    val watchContacts: Boolean = true,
) {
    /** The periodic import and sync. */
    val periodic: WorkSpec
        get() {
            val minutes = intervalMinutes.coerceAtLeast(MIN_PERIODIC_MINUTES)
            return WorkSpec(
                name = PERIODIC,
                kind = WorkKind.Periodic(
                    intervalMillis = minutes * MINUTE,
                    flexMillis = flexMinutes.coerceIn(MIN_FLEX_MINUTES, minutes) * MINUTE,
                    policy = PeriodicPolicy.UPDATE,
                ),
                requiresNetwork = true,
                requiresBatteryNotLow = true,
                backoffMillis = backoffMillis(),
            )
        }

    /** The content-URI trigger, as first scheduled: kept if already armed. */
    val contactsTrigger: WorkSpec get() = trigger(OneTimePolicy.KEEP)

    /**
     * The trigger armed again by its own worker, which is running under that unique name:
     * appended after it (a replace would cancel the worker doing the arming).
     */
    val rearmTrigger: WorkSpec get() = trigger(OneTimePolicy.APPEND_OR_REPLACE)

    /**
     * The import and sync after a change. Appended when one is already queued or running: a run
     * under way may have read the provider before the change, so one more must follow it (a
     * keep would drop the change until the next period); the trigger's debounce keeps the chain
     * short.
     */
    fun afterChange(sdkInt: Int): WorkSpec = WorkSpec(
        name = AFTER_CHANGE,
        kind = WorkKind.OneTime(
            policy = OneTimePolicy.APPEND_OR_REPLACE,
            expedited = sdkInt >= EXPEDITED_WITHOUT_NOTIFICATION_SDK,
        ),
        requiresNetwork = true,
        // Expedited work takes no battery constraint; the change is the user's own, just made.
        requiresBatteryNotLow = false,
        backoffMillis = backoffMillis(),
    )

    /**
     * A run at [notBeforeMillis] (Unix ms), after a server asked to wait: replaces any earlier
     * such run, since the newest wait is the one that holds.
     */
    fun retryAt(notBeforeMillis: Long, nowMillis: Long): WorkSpec = WorkSpec(
        name = RETRY,
        kind = WorkKind.OneTime(
            policy = OneTimePolicy.REPLACE,
            expedited = false,
            initialDelayMillis = (notBeforeMillis - nowMillis).coerceAtLeast(0),
        ),
        requiresNetwork = true,
        requiresBatteryNotLow = true,
        backoffMillis = backoffMillis(),
    )

    private fun trigger(policy: OneTimePolicy) = WorkSpec(
        name = CONTACTS_TRIGGER,
        kind = WorkKind.OneTime(
            policy = policy,
            expedited = false,
            contentUriTrigger = ContentUriTrigger(
                uri = CONTACTS_CONTENT_URI,
                descendants = true,
                updateDelayMillis = triggerUpdateDelayMillis,
                maxDelayMillis = triggerMaxDelayMillis,
            ),
        ),
        // The trigger's worker only enqueues: no network needed to notice a change.
        requiresNetwork = false,
        requiresBatteryNotLow = false,
        backoffMillis = backoffMillis(),
    )

    private fun backoffMillis(): Long = backoffSeconds.coerceIn(MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS) * 1000

    companion object {
        /** Unique work names, for `WorkManager.getWorkInfosForUniqueWork` and cancelling. */
        const val PERIODIC: String = "contactsync.periodic"
        const val CONTACTS_TRIGGER: String = "contactsync.contacts-trigger"
        const val AFTER_CHANGE: String = "contactsync.after-change"
        const val RETRY: String = "contactsync.retry"

        /** Every unique name: what to cancel when the user withdraws consent. */
        val ALL_NAMES: List<String> = listOf(PERIODIC, CONTACTS_TRIGGER, AFTER_CHANGE, RETRY)

        /** `ContactsContract.Contacts.CONTENT_URI`. */
        const val CONTACTS_CONTENT_URI: String = "content://com.android.contacts/contacts"

        /** WorkManager's `PeriodicWorkRequest.MIN_PERIODIC_INTERVAL_MILLIS`: 15 minutes. */
        const val MIN_PERIODIC_MINUTES: Long = 15

        /** WorkManager's `PeriodicWorkRequest.MIN_PERIODIC_FLEX_MILLIS`: 5 minutes. */
        const val MIN_FLEX_MINUTES: Long = 5

        /** WorkManager's `WorkRequest.MIN_BACKOFF_MILLIS` (10 s) and `MAX_BACKOFF_MILLIS` (5 h). */
        const val MIN_BACKOFF_SECONDS: Long = 10
        const val MAX_BACKOFF_SECONDS: Long = 5 * 60 * 60

        /** API 31 (Android 12): expedited work runs as an expedited job, no notification. */
        const val EXPEDITED_WITHOUT_NOTIFICATION_SDK: Int = 31

        /** 12 hours: matches change slowly; the content trigger covers the user's own edits. */
        const val DEFAULT_INTERVAL_MINUTES: Long = 12 * 60
        const val DEFAULT_FLEX_MINUTES: Long = 60
        const val DEFAULT_BACKOFF_SECONDS: Long = 60

        /** A sync adapter writes a burst of changes: wait for 10 s of quiet, at most 2 minutes. */
        const val DEFAULT_TRIGGER_UPDATE_DELAY_MILLIS: Long = 10_000
        const val DEFAULT_TRIGGER_MAX_DELAY_MILLIS: Long = 120_000

        private const val MINUTE: Long = 60_000
    }
}

/** One piece of work, as WorkManager is asked for it. */
data class WorkSpec(
    /** Its unique work name. */
    val name: String,
    val kind: WorkKind,
    /** `NetworkType.CONNECTED` when true, `NOT_REQUIRED` otherwise. */
    val requiresNetwork: Boolean,
    /** `Constraints.requiresBatteryNotLow`. */
    val requiresBatteryNotLow: Boolean,
    /** `BackoffPolicy.EXPONENTIAL` starting at this many milliseconds. */
    val backoffMillis: Long,
)

/** Periodic or one-time, with what only that kind has. */
sealed interface WorkKind {
    data class Periodic(val intervalMillis: Long, val flexMillis: Long, val policy: PeriodicPolicy) : WorkKind

    data class OneTime(
        val policy: OneTimePolicy,
        /** `setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)`. */
        val expedited: Boolean,
        val initialDelayMillis: Long = 0,
        val contentUriTrigger: ContentUriTrigger? = null,
    ) : WorkKind
}

/** `Constraints.Builder.addContentUriTrigger` and its two delays (API 24+). */
data class ContentUriTrigger(
    val uri: String,
    val descendants: Boolean,
    val updateDelayMillis: Long,
    val maxDelayMillis: Long,
)

/** WorkManager's `ExistingPeriodicWorkPolicy`, by name. */
enum class PeriodicPolicy { KEEP, UPDATE }

/** WorkManager's `ExistingWorkPolicy`, by name. */
enum class OneTimePolicy { KEEP, REPLACE, APPEND_OR_REPLACE }
