package io.github.contactsync

import io.github.contactsync.ffi.ChangeObserver
import io.github.contactsync.ffi.Changes
import io.github.contactsync.ffi.InviteView
import io.github.contactsync.ffi.Match
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.map

/**
 * The engine's data as flows a screen binds to: each emits the current value at once, then again
 * after every change to the database made in this process — an import, a sync, an exclusion, a
 * wipe, a redeemed invite — whichever [ContactSync] or background worker on the same file made it.
 *
 * ```kotlin
 * // In a ViewModel:
 * val matches: StateFlow<List<Match>> = contactSync.observeMatches()
 *     .stateIn(viewModelScope, SharingStarted.WhileSubscribed(5_000), emptyList())
 * ```
 *
 * How it works: the Rust engine tells a [ChangeObserver] after each committed change; the flow
 * subscribes *before* its first read, so no change falls between the read and the subscription,
 * and re-reads on the dispatcher given to [ContactSync.open]. Signals are conflated: a collector
 * that is slow (or a burst of changes during one read) gets one more read, never a queue of
 * stale ones; the Rust thread never waits for the collector. The subscription ends when the
 * collection does (cancelled, or completed by an operator such as `first()`).
 *
 * Not observed: another *process* writing the same file (the CLI, a second app). Nothing in this
 * process runs when it commits; call the read again when you know it did.
 */
fun <T> ContactSync.observe(
    relevant: (Changes) -> Boolean = { true },
    read: suspend ContactSync.() -> T,
): Flow<T> = callbackFlow {
    val subscription = engine.subscribe(Signal { if (relevant(it)) trySend(Unit) })
    // The first read, queued after subscribing: a change committed meanwhile is read as well.
    trySend(Unit)
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.CONFLATED).map { read() }

/**
 * The contacts who use the app ([ContactSync.matches]), now and after every change that may alter
 * them. See [observe].
 */
fun ContactSync.observeMatches(): Flow<List<Match>> = observe({ it.matches }) { matches() }

/**
 * The invites this device created ([ContactSync.invites]), now and after every change that may
 * alter them: one created or revoked, a redemption a sync learned (a change of the matches),
 * leaving the server, a wipe. See [observe].
 */
fun ContactSync.observeInvites(): Flow<List<InviteView>> =
    observe({ it.invites || it.matches }) { invites() }

/** The engine's observer, handing each change to [onChange]; called on the engine's thread. */
private class Signal(private val onChange: (Changes) -> Unit) : ChangeObserver {
    override fun onChange(changes: Changes) = onChange.invoke(changes)
}
