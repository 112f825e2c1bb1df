package io.github.contactsync.background

import io.github.contactsync.ContactSync
import io.github.contactsync.contacts.ContactsImporter
import io.github.contactsync.contacts.ImportOutcome
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.SyncReport
import io.github.contactsync.ffi.Transport
import kotlinx.coroutines.CancellationException

/**
 * One background run: import what changed in the address book, then sync, and say what the
 * scheduler should do next. What a WorkManager worker (`ContactSyncWorker` in the `android`
 * module) runs and translates one to one; everything deciding something is here, on the JVM.
 *
 * Cancellation: a stopped worker cancels its coroutine, which stops the Rust work (between
 * items, and an [io.github.contactsync.OkHttpTransport] request in flight at once); [run] then
 * throws [CancellationException], never returns a result, and the scheduler runs the work again
 * later. Nothing is lost: an import commits in transactions and a sync resumes.
 *
 * @param sync the app's engine.
 * @param importer the address book import, or `null` to sync only (no `READ_CONTACTS`, or an
 *   app that imports elsewhere).
 * @param transport the device's transport, or `null` while the device has no token yet (not
 *   registered): the run then imports only and succeeds; the app syncs once it registered.
 * @param options the sync's options. The default suits background runs: the engine's retries
 *   and backoff, no waiting longer than [SyncOptions.maxWaitMs] (a longer wait the server asks
 *   for is handed to the scheduler as [BackgroundResult.Retry.notBeforeMillis]).
 * @param clock Unix milliseconds now, for the wait until `RetryLater.until`.
 * @param onUnauthorized the app's re-registration, called at most once when the server answers
 *   `401` (as [ContactSync.sync]'s): register again and store the new token where [transport]
 *   reads it, and the run then succeeds instead of failing with [FailureReason.UNAUTHORIZED]
 *   until the app is next opened. It runs on the engine's thread, inside the sync: it must not
 *   touch views or call [ContactSync.sync], `resetSync` or `forget`.
 */
class BackgroundSync(
    private val sync: ContactSync,
    private val importer: ContactsImporter?,
    private val transport: Transport?,
    private val options: SyncOptions = SyncOptions(),
    private val clock: () -> Long = System::currentTimeMillis,
    private val onUnauthorized: (suspend () -> Unit)? = null,
) {
    /** Imports, then syncs; the outcome as the scheduler needs it (see [classify]). */
    suspend fun run(): BackgroundResult {
        var imported: ImportOutcome? = null
        return try {
            imported = importer?.importInto(sync)
            val synced = transport?.let { sync.sync(it, options, onUnauthorized) }
            BackgroundResult.Success(imported, synced)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            classify(e, clock())
        }
    }

    companion object {
        /**
         * Builds the run with [setup] (opening the engine, reading the token: what a worker does
         * first) and runs it; a failure of [setup] is classified like one of the run (a database
         * that cannot be opened now is a retry, one written by a newer version a failure).
         */
        suspend fun run(clock: () -> Long = System::currentTimeMillis, setup: suspend () -> BackgroundSync): BackgroundResult {
            val background = try {
                setup()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                return classify(e, clock())
            }
            return background.run()
        }

        /**
         * What a failed run means for the scheduler, from the engine's typed errors:
         *
         * | Failure | Result |
         * |---|---|
         * | `RetryLater(until)`: the server (or the engine's persisted backoff) asks to wait | [BackgroundResult.Retry] not before `until` |
         * | `Network`: no answer after the engine's own retries (offline, DNS, a timeout) | [BackgroundResult.Retry], the scheduler's backoff |
         * | `Storage`: a busy or full disk, a lock held too long | [BackgroundResult.Retry], the scheduler's backoff |
         * | `Server` 401 / 403: the token is unknown, revoked, or may not sync | [BackgroundResult.Failure] [FailureReason.UNAUTHORIZED] / [FailureReason.FORBIDDEN]: the app must register again; retrying cannot help |
         * | [SecurityException]: `READ_CONTACTS` was revoked | [BackgroundResult.Failure] [FailureReason.NO_CONTACTS_PERMISSION] |
         * | `NewerSchema` | [BackgroundResult.Failure] [FailureReason.NEWER_SCHEMA] |
         * | anything else (`Protocol`, another `Server` status, what the `onUnauthorized` hook threw, a bug) | [BackgroundResult.Failure] [FailureReason.OTHER] |
         *
         * A failure does not end periodic work: the next period runs again.
         */
        fun classify(error: Exception, nowMillis: Long): BackgroundResult = when (error) {
            is ContactsyncException.RetryLater -> {
                val notBefore = error.until.coerceAtMost(Long.MAX_VALUE / 1000) * 1000
                BackgroundResult.Retry(RetryReason.SERVER_ASKED_TO_WAIT, notBefore.takeIf { it > nowMillis }, error)
            }
            is ContactsyncException.Network -> BackgroundResult.Retry(RetryReason.OFFLINE, null, error)
            is ContactsyncException.Storage -> BackgroundResult.Retry(RetryReason.STORAGE, null, error)
            is ContactsyncException.Server -> when (error.status.toInt()) {
                401 -> BackgroundResult.Failure(FailureReason.UNAUTHORIZED, error)
                403 -> BackgroundResult.Failure(FailureReason.FORBIDDEN, error)
                else -> BackgroundResult.Failure(FailureReason.OTHER, error)
            }
            is SecurityException -> BackgroundResult.Failure(FailureReason.NO_CONTACTS_PERMISSION, error)
            is ContactsyncException.NewerSchema -> BackgroundResult.Failure(FailureReason.NEWER_SCHEMA, error)
            else -> BackgroundResult.Failure(FailureReason.OTHER, error)
        }
    }
}

/** What a background run tells its scheduler. */
sealed interface BackgroundResult {
    /** Done: the import's outcome (`null` without an importer), the sync's report (`null` without a transport). */
    data class Success(val imported: ImportOutcome?, val synced: SyncReport?) : BackgroundResult

    /**
     * Run again later. [notBeforeMillis] (Unix ms) is the server's wait when it gave one; `null`
     * leaves the delay to the scheduler's backoff. WorkManager cannot take a delay with
     * `Result.retry()`, so the worker schedules a one-time run after it instead
     * ([BackgroundSchedule.retryAt]).
     */
    data class Retry(val reason: RetryReason, val notBeforeMillis: Long?, val error: Exception) : BackgroundResult

    /** Running again will not help until something changes (a new token, the permission). */
    data class Failure(val reason: FailureReason, val error: Exception) : BackgroundResult
}

/** Why a run is to be retried. */
enum class RetryReason {
    /** The server, or the engine's backoff after failed requests, asked to wait. */
    SERVER_ASKED_TO_WAIT,

    /** No answer: offline, DNS, TLS, a timeout. */
    OFFLINE,

    /** The database could not be written now (busy, full disk). */
    STORAGE,
}

/** Why a run failed for good. */
enum class FailureReason {
    /** 401: the token is unknown or was revoked; the app registers again (then `resetSync`). */
    UNAUTHORIZED,

    /** 403: the token may not do this. */
    FORBIDDEN,

    /** `READ_CONTACTS` is not granted (revoked since the work was scheduled). */
    NO_CONTACTS_PERMISSION,

    /** A newer library version wrote the database. */
    NEWER_SCHEMA,

    /** Anything else: a protocol error, an unexpected status, a bug. */
    OTHER,
}
