package io.github.contactsync

import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Reregister
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.runBlocking

/**
 * The app's suspend hook as the engine's [Reregister]: called on the call's thread (already off
 * the caller's, blocked in Rust), so it runs the hook there to completion. It runs under a
 * supervisor child of the call's job: cancelling the call cancels the hook, and a hook that throws
 * fails the engine's call with the 401 (the engine's rule) instead of cancelling the call's
 * coroutine; [around] then throws the hook's exception instead.
 */
internal class Reregistering(private val job: Job, private val hook: suspend () -> Unit) : Reregister {
    /** What the hook threw, handed from the engine's call to [around] on the same thread. */
    private var failure: Throwable? = null

    override fun reregister() {
        val supervisor = SupervisorJob(job)
        try {
            runBlocking(supervisor) { hook() }
        } catch (e: Throwable) {
            failure = e
            // UniFFI hands the engine its description, which the engine adds to the 401.
            throw e
        } finally {
            // Completed, or the call's `withContext` would wait for it forever.
            supervisor.complete()
        }
    }

    companion object {
        /**
         * Runs [call] (an engine call, on the engine's thread) with [onUnauthorized] as its hook.
         * When the hook threw, the call throws what the hook threw, the engine's 401 attached as
         * suppressed: the app sees its own exception, as with the retry written by hand.
         */
        fun <T> around(job: Job, onUnauthorized: (suspend () -> Unit)?, call: (Reregister?) -> T): T {
            val hook = onUnauthorized?.let { Reregistering(job, it) }
            try {
                return call(hook)
            } catch (e: ContactsyncException) {
                val failure = hook?.failure ?: throw e
                failure.addSuppressed(e)
                throw failure
            }
        }
    }
}
