package io.github.contactsync

import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/**
 * The app's one [ContactSync], opened on first use: what the contacts screen, the background
 * worker and an opened invite link share, so that one's changes reach the others' [observeMatches]
 * (docs/engine.md). Made synchronously (e.g. a property of the `Application`), opened by the first
 * [get]; opening suspends and can fail (a busy or full disk), and a failure goes to the callers
 * that were waiting, while the next [get] tries again.
 *
 * ```kotlin
 * class App : Application() {
 *     val contacts = SharedContactSync { ContactSyncAndroid.open(this) }
 * }
 * // anywhere, in a coroutine:
 * val sync = app.contacts.get()
 * ```
 *
 * It saves every app the lazy, once-only, retry-after-failure opener it would otherwise write.
 */
class SharedContactSync(private val open: suspend () -> ContactSync) : AutoCloseable {
    private val lock = Mutex()

    @Volatile
    private var engine: ContactSync? = null

    /** The engine, opening it if no call has yet; concurrent first calls open it once. */
    suspend fun get(): ContactSync = engine ?: lock.withLock { engine ?: open().also { engine = it } }

    /** Closes the engine if it was opened; a later [get] opens it again. */
    override fun close() {
        engine?.close()
        engine = null
    }
}
