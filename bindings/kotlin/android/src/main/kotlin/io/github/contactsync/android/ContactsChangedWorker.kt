package io.github.contactsync.android

import android.content.Context
import android.os.Build
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters

/**
 * Runs when the contacts provider changed (the content-URI trigger): enqueues the import and
 * sync ([ContactSyncWorker], expedited where possible) and arms the trigger again, since a
 * content-URI trigger fires once. Does no work itself, so it needs no network.
 */
class ContactsChangedWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val schedule = ContactSyncBackground.activeSchedule
        ContactSyncBackground.enqueue(applicationContext, schedule.afterChange(Build.VERSION.SDK_INT), ContactSyncWorker::class.java)
        ContactSyncBackground.enqueue(applicationContext, schedule.rearmTrigger, ContactsChangedWorker::class.java)
        return Result.success()
    }
}
