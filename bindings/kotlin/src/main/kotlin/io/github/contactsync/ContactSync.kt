// Over 600 lines: one class, the API apps call, whose members Kotlin keeps in one file; most of
// the lines are the KDoc apps read.
package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactView
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.DeleteReceipt
import io.github.contactsync.ffi.Discovery
import io.github.contactsync.ffi.Engine
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.ImportReport
import io.github.contactsync.ffi.Invite
import io.github.contactsync.ffi.InviteView
import io.github.contactsync.ffi.Match
import io.github.contactsync.ffi.Normalized
import io.github.contactsync.ffi.Progress
import io.github.contactsync.ffi.ProgressListener
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.Registration
import io.github.contactsync.ffi.Reregister
import io.github.contactsync.ffi.Status
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.ffi.SyncReport
import io.github.contactsync.ffi.SyncSchedule
import io.github.contactsync.ffi.Transport
import java.net.URI
import kotlin.time.Duration
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * The contact-discovery engine for one user, with a coroutine API: the handle an app keeps (one
 * per database file, typically a singleton in its dependency graph).
 *
 * It wraps the generated [Engine] (the Rust engine through UniFFI and JNA). Every call into Rust
 * blocks until the work is done, so every function here is `suspend` and runs on the dispatcher
 * given to [open] ([Dispatchers.IO] by default): none blocks the caller's thread, and all of them
 * are safe to call from the main thread. The engine is thread-safe: queries ([status],
 * [matches], [contacts]) answer while an import or a sync is under way, from any coroutine.
 *
 * ## Progress
 * [progress] is a hot [StateFlow] fed by every long operation (imports, change feeds, syncs),
 * whichever coroutine started it — e.g. a screen observing a sync that a WorkManager worker runs.
 * It is `null` while no long operation is under way. For one operation followed from start to
 * end, [syncFlow] is a cold flow of that sync's progress ending with its report.
 *
 * ## Cancellation
 * Cancelling the calling coroutine stops the Rust work, not only the wait for it: each long call
 * hands the engine a listener that reports the coroutine's job as cancelled, and the engine polls
 * it between items (every few hundred contacts, between batches, during backoff waits). The call
 * then ends with a [CancellationException], as any cancelled suspend call does. A sync's HTTP
 * request under way is cancelled too when the transport is an [AbortableTransport] (as
 * [OkHttpTransport] is): the sync ends at once instead of waiting for an answer or the client's
 * timeouts; another transport's request runs to its end first. What a cancellation leaves
 * behind:
 * - work committed before it stays, and the store stays consistent: an import commits in
 *   transactions of [Config.chunkSize] contacts (a streamed snapshot, one per chunk) and the
 *   transaction under way is rolled back; a sync keeps every batch the server acknowledged and
 *   resumes where it stopped on the next call;
 * - a full snapshot that did not finish removes nothing: contacts missing from it are only
 *   removed when a snapshot completes, so a cancelled import never deletes contacts;
 * - a call that completed in Rust right before the cancellation was noticed still throws
 *   [CancellationException] (as [withContext] does): its work is committed all the same.
 *
 * ## Matrix identity-service mode
 * An app on Matrix discovers through the identity server its users bound their addresses to
 * (docs/matrix.md), with the same calls: [sync] with `SyncOptions(matrix =
 * MatrixOptions(accessToken = token))` and a transport whose base URL is the identity server —
 * the engine's paths are then `/_matrix/identity/v2/...` under it. The engine sends the
 * identity server's token (`Authorization: Bearer`) itself, on every request of the mode, so
 * the transport gets no token of its own (`OkHttpTransport(client, identityServerUrl)`: one
 * would replace the engine's). [matches] then have Matrix user ids (`@ana:example.org`) as
 * `userRef`, [discovery] says [Discovery.MATRIX], and [SyncReport.unsupported] counts the
 * identifiers an identity server has no medium for (handles, linked accounts). A sync looks up
 * new identifiers at once and the whole set again after [MatrixOptions.relookupIntervalMs] (a
 * day by default), after a new pepper, or with `force = true`; otherwise it sends nothing
 * ([SyncReport.skipped]). A refused token is [ContactsyncException.Server] with `401` and
 * `M_UNAUTHORIZED`. [forget] and the invites belong to a contactsync server, not to this mode.
 * The generated [MatrixOptions.toString] includes the token: do not log the options.
 *
 * ## Exceptions
 * Every failure of the engine is a [ContactsyncException]; its subclass says what to do:
 *
 * | Thrown                                   | When                                                     | What an app does                               |
 * |------------------------------------------|----------------------------------------------------------|------------------------------------------------|
 * | [ContactsyncException.Storage]           | the SQLite file failed: I/O, full disk, corruption, a lock held past `busyTimeoutMs`, a path that is not a file | report; retry later                 |
 * | [ContactsyncException.NewerSchema]       | the file was written by a newer library version (left untouched) | update the app                          |
 * | [ContactsyncException.InvalidArgument]   | an unusable argument: unknown region, empty source id, malformed key | a bug in the caller                     |
 * | [ContactsyncException.InvalidValue]      | only [io.github.contactsync.ffi.Normalizer.normalize]: `reason` is the stable rejection code | show the user                |
 * | [ContactsyncException.InvalidState]      | a call that does not fit the engine's state (a snapshot used after it finished) | a bug in the caller      |
 * | [ContactsyncException.Network]           | no answer after the sync's retries: the [Transport] threw `Network` (as [OkHttpTransport] does for an `IOException`) or any other exception, described in `detail` | retry later; nothing is lost |
 * | [ContactsyncException.Server]            | the server refused: `status`, the protocol's `code` (`unauthorized`, `forbidden`, `user_required`, ...) | 401: pass `onUnauthorized` (see "Re-registration"), or register again, then [resetSync]; `user_required` (403): invites need a device registered for a user |
 * | [ContactsyncException.Protocol]          | the server's answer broke the protocol; nothing of it was applied | report                                 |
 * | [ContactsyncException.RetryLater]        | the server asked to wait longer than [SyncOptions.maxWaitMs] | schedule the next sync after `until` (Unix s) |
 * | [ContactsyncException.Callback]          | not raised by this version; reserved. Callback failures surface as `Network` (a throwing [Transport]) or `Cancelled` (a throwing `isCancelled` of a listener given to the raw [Engine]; this class's listener never throws); a throwing `onProgress` is ignored | nothing today |
 * | [ContactsyncException.Cancelled]         | not from this class, which turns it into [CancellationException]; the raw [Engine] throws it when its listener cancels | |
 * | [CancellationException]                  | the calling coroutine was cancelled (see Cancellation)   | nothing: structured concurrency handles it     |
 * | [io.github.contactsync.ffi.InternalException] | a panic in Rust: a bug in the library; the call failed, the library stays usable | report it             |
 * | [IllegalStateException]                  | a call after [close]                                     | a bug in the caller                            |
 *
 * ## One call per list
 * A call into Rust costs about 20 µs from Kotlin (JNA) whatever it does, so everything an app
 * does per contact or per value has a list call that crosses once: [importSnapshot] and
 * [applyChanges] for a book, [contactsById] and [matchesFor] for a screen of contacts,
 * [setContactsExcluded] and [setIdentifiersExcluded] for a multi-select, and on the generated
 * [io.github.contactsync.ffi.Normalizer] `normalizeAll` / `normalizeAutoAll` to validate a list
 * of values (a bad value is its own [Normalized.Invalid], not an exception for the whole list).
 * The single-value calls are for one value at a time — what a user types into a search box.
 *
 * The engine puts no contact data (names, numbers, hashes) in any message, so they can be logged
 * and sent with crash reports; a `Network` detail quotes what the app's own transport threw.
 *
 * ## Re-registration
 * Every call that sends the device's token — [sync], [forget], [createInvite], [redeemInvite] —
 * takes `onUnauthorized`, the app's answer to a `401 unauthorized` (the app's backend revoked the
 * device, the server lost its registration): register again and store the new token where the
 * transport reads it. The call runs it at most once, on the first 401, then sends itself once
 * more under the new registration (and the next sync sends everything again in full). A second
 * 401 throws that [ContactsyncException.Server]. If the hook throws, the call throws what it threw,
 * as the same code written around the call would (the 401 is attached as a suppressed
 * exception). `null`: the 401 is thrown at once. The hook runs inside the call, on the engine's IO
 * thread (not the caller's dispatcher: switch with `withContext(Dispatchers.Main)` to touch
 * views); do not call [sync], [resetSync], [forget] or [leaveServer] from it (they would wait for
 * the call forever; the engine resets the sync state itself).
 *
 * [revokeInvite] sends the token too but takes no hook: a 401 there means the registration that
 * made the invite is gone, its invites with it, and a new one would have nothing to revoke.
 */
class ContactSync private constructor(
    /**
     * The generated engine, for what this class does not wrap (e.g. `pendingUploads`,
     * `beginSnapshot` with your own listener). Its calls block: make them off the main thread.
     * Closing it closes this handle too.
     */
    val engine: Engine,
    private val dispatcher: CoroutineDispatcher,
) : AutoCloseable {

    private val progressState = MutableStateFlow<Progress?>(null)

    /** Guards [running] with the progress it gates, so a finished call cannot hide another's. */
    private val progressLock = Any()
    private var running = 0

    /**
     * The progress of the long operation under way, `null` when none is.
     *
     * A [StateFlow] because the Rust thread doing the work must never wait for a slow collector:
     * each update replaces the previous one (a collector sees the latest, possibly skipping some),
     * which is all a progress bar needs. When several long operations run at once, it shows
     * whichever reported last.
     */
    val progress: StateFlow<Progress?> = progressState.asStateFlow()

    companion object {
        /**
         * Opens (creating or migrating as needed) the engine's database at [path].
         *
         * @param path the SQLite file. Its directory must exist. Keep one [ContactSync] per file
         *   in the process. On Android use `ContactSyncAndroid.databaseFile(context)` (a file in
         *   `noBackupFilesDir`), or `ContactSyncAndroid.open(context)` directly, not
         *   `context.getDatabasePath(...)`: Auto Backup copies the databases directory, and this
         *   file (the address book's identifiers, this device's server state) must stay out of
         *   backups (docs/android.md, "Backups").
         * @param config the user's region (national numbers are read in it) and tuning.
         * @param dispatcher where the blocking Rust calls run; [Dispatchers.IO] suits them (they
         *   do disk and network I/O). Tests may pass their own.
         * @throws ContactsyncException.InvalidArgument for an unknown region.
         * @throws ContactsyncException.Storage when the file cannot be opened or is not a database.
         * @throws ContactsyncException.NewerSchema when a newer library version wrote the file.
         */
        suspend fun open(
            path: String,
            config: Config,
            dispatcher: CoroutineDispatcher = Dispatchers.IO,
        ): ContactSync = ContactSync(create(dispatcher) { Engine.open(path, config) }, dispatcher)

        /**
         * Registers this device with a discovery server that allows open registration, on
         * [dispatcher]. Keep [Registration.token] in the platform's secure storage and hand it
         * to the transport ([OkHttpTransport]'s `token`); an app whose backend vouches for its
         * users gets the token from its backend instead (docs/protocol.md, "Registration").
         *
         * Not interrupted by a cancellation once started, and its result is returned even if the
         * caller was cancelled meanwhile: the server has registered the device by the time it
         * answers, and a token dropped then would be lost for good (the device would have to
         * register again, leaving an orphan registration on the server). Persist the returned
         * token before doing anything else that may suspend or be cancelled.
         *
         * @throws ContactsyncException.Server with code `forbidden` when the server only accepts
         *   devices its app's backend vouches for; [ContactsyncException.Network] without an answer.
         */
        suspend fun registerDevice(
            transport: Transport,
            dispatcher: CoroutineDispatcher = Dispatchers.IO,
        ): Registration = blockingToCompletion(dispatcher) { io.github.contactsync.ffi.registerDevice(transport) }

        /**
         * Runs [block] on [dispatcher] and hands its result back even when the caller was
         * cancelled meanwhile (the caller's next suspension point then throws).
         *
         * Not simply `withContext(dispatcher + NonCancellable)`: a `withContext` that changes
         * dispatcher resumes its caller with the prompt cancellation guarantee, so a caller
         * cancelled while [block] ran would get a [CancellationException] and the result would be
         * dropped. The outer `withContext(NonCancellable)` keeps the caller's dispatcher, so it
         * returns without that check (the idiom of cleanup code in a `finally`); the inner one
         * switches dispatcher under the never-cancelled [NonCancellable] job.
         */
        private suspend fun <T> blockingToCompletion(dispatcher: CoroutineDispatcher, block: () -> T): T =
            withContext(NonCancellable) { withContext(dispatcher) { block() } }

        /**
         * Creates a Rust object on [dispatcher] and hands it over, or closes it if the caller
         * was cancelled meanwhile. Without this, an engine opened (or a snapshot begun) just as
         * the caller gave up would hold its SQLite file until the garbage collector got to it.
         */
        private suspend fun <T : AutoCloseable> create(dispatcher: CoroutineDispatcher, block: () -> T): T {
            val created = blockingToCompletion(dispatcher, block)
            try {
                currentCoroutineContext().ensureActive()
            } catch (e: CancellationException) {
                created.close()
                throw e
            }
            return created
        }
    }

    /**
     * Imports the whole address book as one full snapshot: stored contacts missing from
     * [contacts] are removed (only once the whole list is stored; see Cancellation above).
     * Unchanged contacts cost a comparison, not a write, so importing the same book again is
     * cheap.
     */
    suspend fun importSnapshot(contacts: List<RawContact>): ImportReport =
        long { listener -> engine.importSnapshot(contacts, listener) }

    /**
     * Imports a full snapshot streamed in chunks, for books read page by page (a `Cursor` over
     * the contacts provider) so the whole book never sits in memory.
     *
     * Each chunk is pushed in one transaction as it arrives; the snapshot is finished — stored
     * contacts missing from every chunk removed — only after [chunks] completes normally. If the
     * flow throws or the coroutine is cancelled, the snapshot is abandoned: the chunks pushed so
     * far stay imported and nothing is removed. [chunks] is collected in the caller's context;
     * only the Rust calls move to the dispatcher.
     *
     * The whole stream is one long operation for [progress]: it keeps the last chunk's progress
     * while the next chunk is read, and only goes back to `null` once the snapshot is finished
     * or abandoned, so a progress bar does not flicker off between chunks.
     */
    suspend fun importSnapshot(chunks: Flow<List<RawContact>>): ImportReport {
        val snapshot = create(dispatcher) { engine.beginSnapshot() }
        // Closing an unfinished snapshot frees it on the Rust side without finishing it.
        return snapshot.use {
            operation {
                chunks.collect { chunk ->
                    long { listener -> snapshot.push(chunk, listener) }
                }
                long { listener -> snapshot.finish(listener) }
            }
        }
    }

    /**
     * Applies a change feed in one transaction: contacts added or edited since the last import
     * ([upserts]) and the source ids deleted since ([deleted]). Cheaper than a snapshot when the
     * platform tells what changed; a cancellation rolls the whole feed back.
     */
    suspend fun applyChanges(
        upserts: List<RawContact>,
        deleted: List<String> = emptyList(),
    ): ImportReport = long { listener -> engine.applyChanges(upserts, deleted, listener) }

    /**
     * Brings the server up to date with the store (only what changed since the last sync is
     * sent) and the store with the server's matches. One sync runs at a time per engine; a failed
     * or cancelled one resumes where it stopped.
     *
     * @param transport the app's HTTP client, e.g. [OkHttpTransport] with the device's token;
     *   in the Matrix mode, to the identity server and without a token (see "Matrix
     *   identity-service mode" above).
     * @param options retries, backoff and batch size; `SyncOptions(force = true)` for the
     *   user's "sync now"; `SyncOptions(matrix = MatrixOptions(accessToken = token))` for the
     *   Matrix mode.
     * @param onUnauthorized called at most once when the server answers `401 unauthorized`:
     *   register again and store the new token where [transport] reads it; the sync then sends
     *   everything again in full under the new registration (see "Re-registration" above: a
     *   second 401 throws it, a throwing hook's exception is thrown).
     * @throws ContactsyncException.Network, [ContactsyncException.Server],
     *   [ContactsyncException.RetryLater], [ContactsyncException.Protocol] as listed above.
     */
    suspend fun sync(
        transport: Transport,
        options: SyncOptions = SyncOptions(),
        onUnauthorized: (suspend () -> Unit)? = null,
    ): SyncReport = networkLong(transport) { listener, bound ->
        Reregistering.around(listener.job, onUnauthorized) { hook -> engine.sync(bound, options, listener, hook) }
    }

    /**
     * The same sync as [sync], as a cold flow: each collection runs one sync and emits its
     * progress, then [SyncEvent.Finished] with the report as the last element. Cancelling the
     * collection cancels the sync; a failure is thrown from `collect`.
     *
     * Progress events are dropped rather than queued when the collector is slow (the Rust
     * thread never waits for it); the final report is never dropped. [progress] is fed as well.
     */
    fun syncFlow(transport: Transport, options: SyncOptions = SyncOptions()): Flow<SyncEvent> =
        channelFlow {
            val report = networkLong(transport, onProgress = { trySend(SyncEvent.Progressed(it)) }) { listener, bound ->
                engine.sync(bound, options, listener)
            }
            send(SyncEvent.Finished(report))
        }

    /** Makes the next sync send everything again in full mode (after registering again). */
    suspend fun resetSync(): Unit = io { engine.resetSync() }

    /**
     * When the next sync will contact the server, as the last sync left it: what a background
     * scheduler picks its next run from. Times are Unix seconds, `null` when not set:
     * - [SyncSchedule.backoffUntil]: after failed attempts ([SyncSchedule.backoffAttempts] in a
     *   row), a [sync] before it throws [ContactsyncException.RetryLater] without a request;
     * - [SyncSchedule.nextCheckAt]: the server's check interval after the last completed sync; a
     *   sync before it with nothing new to send is skipped ([SyncReport.skipped]);
     * - [SyncSchedule.deferredUntil]: the server's daily quota for new identifiers ran out; the
     *   additions still pending go after it.
     *
     * `SyncOptions(force = true)` (the user's "sync now") ignores the first two.
     */
    suspend fun syncSchedule(): SyncSchedule = io { engine.syncSchedule() }

    /**
     * Consent withdrawn: the server deletes everything it holds for this device, then the local
     * store is wiped. A failure leaves both sides as they were, so it can simply be retried. Not
     * interrupted by a cancellation once started (a running [onUnauthorized] is).
     *
     * @param onUnauthorized the app's re-registration (see "Re-registration" above). A 401 means
     *   the server holds nothing under the token (a revoked device is deleted with its data);
     *   with the hook, the new registration is deleted and its receipt returned, and the store is
     *   wiped after it. Without it, the 401 is thrown and nothing is wiped.
     */
    suspend fun forget(transport: Transport, onUnauthorized: (suspend () -> Unit)? = null): DeleteReceipt =
        hooked(onUnauthorized) { hook -> engine.forget(transport, hook) }

    /**
     * Leaves the server without telling it: for a device whose server moved or is gone, or an
     * account switch (call [forget] first if the old account's data should go from the server,
     * which keeps it otherwise). What that server gave goes — its key, [matches], [invites], the
     * sync state and backoff — while the contacts and the user's exclusions stay. Register anew
     * and hand the new token to the transport: the next [sync] sends everything in full. Waits
     * for a sync under way to end.
     */
    suspend fun leaveServer(): Unit = io { engine.leaveServer() }

    /**
     * Creates an invite code (to show as text or a QR code) for the user this device belongs to.
     * A device registered without a user (open registration) gets [ContactsyncException.Server]
     * `403 user_required` (docs/invites.md, "Who can invite and redeem").
     *
     * @param ttl how long it stays valid; `null` for the server's default. Whole seconds.
     * @param onUnauthorized the app's re-registration (see "Re-registration" above).
     */
    suspend fun createInvite(
        transport: Transport,
        ttl: Duration? = null,
        onUnauthorized: (suspend () -> Unit)? = null,
    ): Invite {
        val seconds = ttl?.let {
            require(it.isPositive()) { "an invite's lifetime must be positive" }
            it.inWholeSeconds.coerceIn(1L, UInt.MAX_VALUE.toLong()).toUInt()
        }
        return hooked(onUnauthorized) { hook -> engine.createInvite(transport, seconds, hook) }
    }

    /**
     * Redeems someone's invite code (typed, or the link from a QR code) and returns the
     * inviter's user reference; the inviter then shows up in [matches]. A device registered
     * without a user gets [ContactsyncException.Server] `403 user_required`, as for [createInvite].
     *
     * @param onUnauthorized the app's re-registration (see "Re-registration" above).
     */
    suspend fun redeemInvite(
        transport: Transport,
        code: String,
        onUnauthorized: (suspend () -> Unit)? = null,
    ): String = hooked(onUnauthorized) { hook -> engine.redeemInvite(transport, code, hook) }

    /**
     * Redeems the invite link the app was opened with (an App Link `https://host/i/CODE`, with or
     * without a trailing slash or query, or the app's own `scheme://i/CODE`) and returns the
     * inviter's user reference. On Android pass `intent.data.toString()` (an `android.net.Uri`
     * prints as the URI it holds), or `URI(it.toString())`. A link without an invite code is a
     * [ContactsyncException.InvalidArgument], before any request.
     */
    suspend fun redeemInvite(
        transport: Transport,
        link: URI,
        onUnauthorized: (suspend () -> Unit)? = null,
    ): String = redeemInvite(transport, link.toString(), onUnauthorized)

    /**
     * The invites this device created, newest first — a "my invites" screen: each one's code,
     * when it was created and when it expires ([InviteView.expiresAt], Unix seconds), and who
     * redeemed it ([InviteView.redeemedBy], once a [sync] learned it). Kept on the device: the
     * server holds only the codes' hashes. [observeInvites] follows it.
     */
    suspend fun invites(): List<InviteView> = io { engine.invites() }

    /**
     * Closes an invite this device created (the user's "cancel invite"): the server redeems it no
     * more, and it leaves [invites]. An unknown, used or expired code is
     * [ContactsyncException.Server] `404 not_found` (a listed one stays listed); text that is not
     * an invite code is [ContactsyncException.InvalidArgument], before any request. No
     * `onUnauthorized` (see "Re-registration" above). A cancellation does not stop the request
     * under way: the invite may be closed all the same (read [invites] again).
     */
    suspend fun revokeInvite(transport: Transport, code: String): Unit =
        io { engine.revokeInvite(transport, code) }

    /** Counts over the store: contacts, identifiers, upload state, matches. */
    suspend fun status(): Status = io { engine.status() }

    /**
     * How this device discovered in its last sync: the mode its server chose ([Discovery.HASHED]
     * before the first sync; [Discovery.PRIVATE] when the server never sees a contact who is not
     * a user). The app does nothing different in either: [sync] follows the server.
     * [Discovery.MATRIX] is the app's own choice ([SyncOptions.matrix]).
     */
    suspend fun discovery(): Discovery = io { engine.discovery() }

    /** The contacts who use the app, and through which identifier. */
    suspend fun matches(): List<Match> = io { engine.matches() }

    /**
     * Stored contacts in source-id order: [limit] of them from [offset] (for list UIs; prefer
     * [contactsAfter] for long lists, which does not rescan the skipped rows).
     */
    suspend fun contacts(offset: Long, limit: Int): List<ContactView> {
        require(offset >= 0 && limit >= 0) { "offset and limit must not be negative" }
        return io { engine.contacts(offset.toULong(), limit.toULong()) }
    }

    /** Up to [limit] contacts after source id [after] (from the first when `null`). */
    suspend fun contactsAfter(after: String?, limit: Int): List<ContactView> {
        require(limit >= 0) { "limit must not be negative" }
        return io { engine.contactsAfter(after, limit.toULong()) }
    }

    /** One stored contact by its source id, or `null`. For a screen of rows use [contactsById]. */
    suspend fun contact(sourceId: String): ContactView? = io { engine.contact(sourceId) }

    /**
     * The stored contacts with these source ids, in the same order (`null` for an unknown one),
     * in one call: what a contacts screen asks for its rows. One crossing into Rust costs about
     * 20 µs from Kotlin whatever it does, so calling [contact] per row costs a 1,000-row screen
     * about 20 ms more than this (docs/performance.md).
     */
    suspend fun contactsById(sourceIds: List<String>): List<ContactView?> =
        io { engine.contactsById(sourceIds) }

    /**
     * Which of these contacts use the app, and through which identifiers: the [matches] of each
     * source id in [sourceIds] that has any (an excluded contact has none). One call whatever
     * the number of contacts — the "is this contact a user" of a contacts screen.
     */
    suspend fun matchesFor(sourceIds: Collection<String>): Map<String, List<Match>> {
        val wanted = sourceIds as? Set<String> ?: sourceIds.toHashSet()
        return matches().filter { it.sourceId in wanted }.groupBy { it.sourceId!! }
    }

    /**
     * Excludes a contact from discovery (the user's "don't look this one up"), or includes it
     * again. Its hashes are withdrawn from the server on the next sync. Returns `false` for an
     * unknown contact.
     */
    suspend fun setContactExcluded(sourceId: String, excluded: Boolean): Boolean =
        io { engine.setContactExcluded(sourceId, excluded) }

    /**
     * [setContactExcluded] for several contacts in one call and one transaction (a multi-select):
     * for each source id in order, whether it is a stored contact.
     */
    suspend fun setContactsExcluded(sourceIds: List<String>, excluded: Boolean): List<Boolean> =
        io { engine.setContactsExcluded(sourceIds, excluded) }

    /**
     * Excludes one identifier, whichever contacts hold it, or includes it again. [value] is read
     * like a contact's value (normalised in the engine's region), so the user's own input works.
     * A value that does not normalise throws [ContactsyncException.InvalidArgument].
     */
    suspend fun setIdentifierExcluded(kind: IdentifierKind, value: String, excluded: Boolean): Unit =
        io { engine.setIdentifierExcluded(kind, value, excluded) }

    /**
     * [setIdentifierExcluded] for several values of one kind in one call and one transaction:
     * each value's outcome in order — [Normalized.Valid] with the identifier set, or
     * [Normalized.Invalid] with the rejection code for a value that does not normalise (the
     * others are set all the same).
     */
    suspend fun setIdentifiersExcluded(kind: IdentifierKind, values: List<String>, excluded: Boolean): List<Normalized> =
        io { engine.setIdentifiersExcluded(kind, values, excluded) }

    /** Deletes everything stored locally. Use [forget] to have the server delete its part too. */
    suspend fun wipe(): Unit = io { engine.wipe() }

    /**
     * Closes the database once no call is running (calls under way finish first). Calls made
     * afterwards throw [IllegalStateException].
     */
    override fun close() {
        engine.close()
    }

    /** A short call: runs on the dispatcher, no listener. */
    private suspend fun <T> io(block: () -> T): T = withContext(dispatcher) { block() }

    /** A short call given the app's re-registration hook (see [Reregistering.around]). */
    private suspend fun <T> hooked(onUnauthorized: (suspend () -> Unit)?, block: (Reregister?) -> T): T =
        withContext(dispatcher) { Reregistering.around(coroutineContext.job, onUnauthorized, block) }

    /**
     * A long call: runs on the dispatcher with a listener that feeds [progress] (and
     * [onProgress]) and reports the coroutine's cancellation to Rust; the engine's `Cancelled`
     * caused by it becomes the coroutine's [CancellationException].
     */
    private suspend fun <T> long(
        onProgress: ((Progress) -> Unit)? = null,
        onCancel: (() -> Unit)? = null,
        block: (CoroutineListener) -> T,
    ): T = withContext(dispatcher) {
        val job = coroutineContext.job
        val listener = CoroutineListener(job) { p ->
            publish(p)
            onProgress?.invoke(p)
        }
        // Runs [onCancel] the moment the job is cancelled, on the cancelling thread (Unconfined),
        // not when the engine next polls the listener: the engine's thread may be blocked in an
        // HTTP request that only [onCancel] can end. Public API only: a child that awaits its own
        // cancellation, which the parent's cancellation delivers; cancelled below once the work
        // is done (running [onCancel] then is harmless: nothing is in flight any more).
        val watcher = onCancel?.let { cancel ->
            launch(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                try {
                    awaitCancellation()
                } finally {
                    cancel()
                }
            }
        }
        operation {
            try {
                block(listener)
            } catch (e: ContactsyncException.Cancelled) {
                // Only our listener cancels these calls, and only once the job is cancelled; the
                // check keeps an engine-side `Cancelled` with another cause visible as what it is.
                throw if (job.isActive) e else CancellationException("cancelled, the engine stopped", e)
            } finally {
                watcher?.cancel()
            }
        }
    }

    /**
     * A long call that sends requests through [transport]: when it is an [AbortableTransport],
     * the engine gets it bound to this call's [InFlightRequests], which the coroutine's
     * cancellation aborts (see Cancellation above).
     */
    private suspend fun <T> networkLong(
        transport: Transport,
        onProgress: ((Progress) -> Unit)? = null,
        block: (CoroutineListener, Transport) -> T,
    ): T {
        val abortable = transport as? AbortableTransport ?: return long(onProgress) { block(it, transport) }
        val inFlight = InFlightRequests()
        return long(onProgress, onCancel = inFlight::cancel) { block(it, BoundTransport(abortable, inFlight)) }
    }

    /**
     * Counts [block] as a long operation under way: [progress] accepts updates while at least
     * one is, and goes back to `null` when the last one ends. Nested uses (each chunk of a
     * streamed snapshot inside the whole snapshot) count once each, so the outer one keeps
     * [progress] alive between the inner ones.
     */
    private inline fun <T> operation(block: () -> T): T {
        synchronized(progressLock) { running++ }
        try {
            return block()
        } finally {
            synchronized(progressLock) {
                running--
                if (running == 0) progressState.value = null
            }
        }
    }

    private fun publish(p: Progress) {
        synchronized(progressLock) {
            if (running > 0) progressState.value = p
        }
    }

    /**
     * The listener handed to Rust: called on the engine's thread every few hundred items, so it
     * only reads a volatile flag and updates a state flow, and never throws (a throwing
     * `isCancelled` would cancel the work, a throwing `onProgress` is ignored).
     */
    private class CoroutineListener(
        val job: Job,
        private val sink: (Progress) -> Unit,
    ) : ProgressListener {
        override fun onProgress(progress: Progress) = sink(progress)

        override fun isCancelled(): Boolean = !job.isActive
    }
}

/** What [ContactSync.syncFlow] emits. */
sealed interface SyncEvent {
    /** The sync's progress so far (a stage, items done, the total when known). */
    data class Progressed(val progress: Progress) : SyncEvent

    /** The sync ended with [report]; always the last event of a successful sync. */
    data class Finished(val report: SyncReport) : SyncEvent
}
