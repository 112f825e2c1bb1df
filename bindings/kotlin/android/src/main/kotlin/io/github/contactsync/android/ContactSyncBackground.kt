package io.github.contactsync.android

import android.content.Context
import android.net.Uri
import android.os.Build
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.ListenableWorker
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequest
import androidx.work.OutOfQuotaPolicy
import androidx.work.PeriodicWorkRequest
import androidx.work.WorkManager
import io.github.contactsync.background.BackgroundSchedule
import io.github.contactsync.background.BackgroundSync
import io.github.contactsync.background.WorkKind
import io.github.contactsync.background.WorkSpec
import java.util.concurrent.TimeUnit

/**
 * Background import and sync with WorkManager in one call from `Application.onCreate`:
 *
 * ```kotlin
 * ContactSyncBackground.schedule(this) { context ->
 *     BackgroundSync(
 *         sync = appGraph.contactSync(),                          // your ContactSync singleton
 *         importer = ContactSyncAndroid.importer(context)
 *             .takeIf { ContactSyncAndroid.hasContactsPermission(context) },
 *         transport = tokenStore.token?.let { OkHttpTransport(client, baseUrl) { tokenStore.token } },
 *     )
 * }
 * ```
 *
 * Thin glue: which work, constraints, backoff and policies is [BackgroundSchedule]'s decision,
 * what a run's outcome means is [BackgroundSync]'s, both tested on the JVM; this object copies
 * a [WorkSpec] into a `WorkRequest` field by field. [setup] is kept for the process: WorkManager
 * starts the process for a worker through `Application.onCreate`, so calling this there makes
 * it available to every worker. Limits (Doze, standby buckets, the 15-minute minimum, expedited
 * quota, content-URI triggers): README.md beside this module.
 */
object ContactSyncBackground {
    @Volatile
    internal var setup: (suspend (Context) -> BackgroundSync)? = null
        private set

    /** The schedule given to [schedule], which the workers follow too. */
    @Volatile
    internal var activeSchedule: BackgroundSchedule = BackgroundSchedule()
        private set

    /**
     * Schedules the periodic run and, when [schedule] watches contacts, the trigger on the
     * contacts provider. Idempotent: unique work, kept or updated in place, never duplicated.
     *
     * @param setup builds the run inside a worker (on a background thread; suspend freely).
     */
    fun schedule(
        context: Context,
        schedule: BackgroundSchedule = BackgroundSchedule(),
        setup: suspend (Context) -> BackgroundSync,
    ) {
        this.setup = setup
        activeSchedule = schedule
        enqueue(context, schedule.periodic, ContactSyncWorker::class.java)
        if (schedule.watchContacts) {
            enqueue(context, schedule.contactsTrigger, ContactsChangedWorker::class.java)
        } else {
            WorkManager.getInstance(context).cancelUniqueWork(BackgroundSchedule.CONTACTS_TRIGGER)
        }
    }

    /** An import and sync now (expedited where possible), e.g. after the user granted `READ_CONTACTS`. */
    fun syncSoon(context: Context) {
        enqueue(context, activeSchedule.afterChange(Build.VERSION.SDK_INT), ContactSyncWorker::class.java)
    }

    /** Cancels all of contactsync's background work: after consent was withdrawn (`forget`). */
    fun cancel(context: Context) {
        val workManager = WorkManager.getInstance(context)
        BackgroundSchedule.ALL_NAMES.forEach(workManager::cancelUniqueWork)
    }

    /** [spec] as a `WorkRequest`, enqueued under its unique name. */
    internal fun enqueue(context: Context, spec: WorkSpec, worker: Class<out ListenableWorker>) {
        val constraints = Constraints.Builder()
            .setRequiredNetworkType(if (spec.requiresNetwork) NetworkType.CONNECTED else NetworkType.NOT_REQUIRED)
            .setRequiresBatteryNotLow(spec.requiresBatteryNotLow)
        val workManager = WorkManager.getInstance(context)
        when (val kind = spec.kind) {
            is WorkKind.Periodic -> workManager.enqueueUniquePeriodicWork(
                spec.name,
                ExistingPeriodicWorkPolicy.valueOf(kind.policy.name),
                PeriodicWorkRequest.Builder(worker, kind.intervalMillis, TimeUnit.MILLISECONDS, kind.flexMillis, TimeUnit.MILLISECONDS)
                    .setConstraints(constraints.build())
                    .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, spec.backoffMillis, TimeUnit.MILLISECONDS)
                    .build(),
            )
            is WorkKind.OneTime -> {
                kind.contentUriTrigger?.let { trigger ->
                    constraints.addContentUriTrigger(Uri.parse(trigger.uri), trigger.descendants)
                        .setTriggerContentUpdateDelay(trigger.updateDelayMillis, TimeUnit.MILLISECONDS)
                        .setTriggerContentMaxDelay(trigger.maxDelayMillis, TimeUnit.MILLISECONDS)
                }
                val request = OneTimeWorkRequest.Builder(worker)
                    .setConstraints(constraints.build())
                    .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, spec.backoffMillis, TimeUnit.MILLISECONDS)
                if (kind.expedited) request.setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
                if (kind.initialDelayMillis > 0) request.setInitialDelay(kind.initialDelayMillis, TimeUnit.MILLISECONDS)
                workManager.enqueueUniqueWork(spec.name, ExistingWorkPolicy.valueOf(kind.policy.name), request.build())
            }
        }
    }
}
