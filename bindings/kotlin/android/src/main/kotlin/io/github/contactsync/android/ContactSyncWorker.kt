package io.github.contactsync.android

import android.content.Context
import android.util.Log
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import io.github.contactsync.background.BackgroundResult
import io.github.contactsync.background.BackgroundSync

/**
 * The periodic and after-change run: [BackgroundSync.run] with the app's setup, its outcome
 * translated one to one. When WorkManager stops the worker (constraints lost, quota,
 * the app's `cancel`), it cancels [doWork]'s coroutine, which stops the Rust work and the HTTP
 * request in flight; WorkManager runs the work again later.
 */
class ContactSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val setup = ContactSyncBackground.setup ?: run {
            Log.w(TAG, "ContactSyncBackground.schedule was not called in Application.onCreate")
            return Result.failure()
        }
        return when (val outcome = BackgroundSync.run { setup(applicationContext) }) {
            is BackgroundResult.Success -> Result.success()
            is BackgroundResult.Retry -> {
                val notBefore = outcome.notBeforeMillis ?: return Result.retry()
                // WorkManager's retry takes no delay: a run at the server's time instead.
                val spec = ContactSyncBackground.activeSchedule.retryAt(notBefore, System.currentTimeMillis())
                ContactSyncBackground.enqueue(applicationContext, spec, ContactSyncWorker::class.java)
                Result.success()
            }
            is BackgroundResult.Failure -> {
                // The engine's messages carry no contact data (see ContactSync's Exceptions).
                Log.w(TAG, "background sync failed: ${outcome.reason}: ${outcome.error.message}")
                Result.failure()
            }
        }
    }

    private companion object {
        const val TAG = "contactsync"
    }
}
