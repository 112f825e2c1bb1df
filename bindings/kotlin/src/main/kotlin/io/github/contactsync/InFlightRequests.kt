package io.github.contactsync

import io.github.contactsync.ffi.HttpRequest
import io.github.contactsync.ffi.HttpResponse
import io.github.contactsync.ffi.Transport

/**
 * The HTTP requests one engine call has in flight, and the switch that aborts them: how a
 * cancelled coroutine reaches a request the engine is blocked in.
 *
 * The engine calls its [Transport] synchronously, on the thread running the sync, and polls the
 * coroutine's cancellation only between requests. Without this, a cancelled sync would wait for
 * the request under way to answer or time out (a minute or more on a stalled connection, which
 * is exactly when a WorkManager worker is stopped). [ContactSync] makes one per sync, hands it to
 * an [AbortableTransport] with every request, and calls [cancel] from the coroutine's
 * cancellation, on whichever thread cancels; the transport aborts the request (OkHttp's
 * `Call.cancel`), the engine sees the request fail while its listener reports the cancellation,
 * and ends the sync as cancelled (no backoff recorded: it was no network failure).
 *
 * Thread-safe; [register] and [cancel] may race from any threads, and a request registered
 * after [cancel] is aborted at once, so none slips through.
 */
class InFlightRequests {
    private val lock = Any()
    private var cancelled = false
    private val aborts = LinkedHashSet<Registration>()

    /** Whether [cancel] was called. */
    val isCancelled: Boolean get() = synchronized(lock) { cancelled }

    /**
     * Registers how to abort one request, for as long as the returned handle is open: close it
     * when the request ended. If [cancel] was already called, [abort] runs at once (on this
     * thread) before this returns.
     */
    fun register(abort: () -> Unit): AutoCloseable {
        val registration = Registration(abort)
        val already = synchronized(lock) {
            if (!cancelled) aborts += registration
            cancelled
        }
        if (already) abort()
        return registration
    }

    /**
     * Aborts every request registered and every one registered later. Idempotent. The aborts
     * run on the calling thread, outside the lock; one that throws does not keep the others
     * from running.
     */
    fun cancel() {
        val toAbort = synchronized(lock) {
            if (cancelled) return
            cancelled = true
            aborts.toList().also { aborts.clear() }
        }
        for (registration in toAbort) {
            runCatching { registration.abort() }
        }
    }

    private inner class Registration(val abort: () -> Unit) : AutoCloseable {
        override fun close() {
            synchronized(lock) { aborts -= this }
        }
    }
}

/**
 * A [Transport] whose requests can be aborted while in flight: [ContactSync.sync] and
 * [ContactSync.syncFlow] then cancel the request under way when their coroutine is cancelled,
 * instead of waiting for it to answer or time out. [OkHttpTransport] is one; a transport of the
 * app's own can be one too.
 */
interface AbortableTransport : Transport {
    /**
     * Sends [request] as [send] does, registering with [inFlight] how to abort it for as long as
     * it is under way. An aborted request throws `ContactsyncException.Network`, as any request
     * without an answer does.
     */
    fun send(request: HttpRequest, inFlight: InFlightRequests): HttpResponse
}

/** [transport] with every request registered with [inFlight]: what the engine gets for one sync. */
internal class BoundTransport(
    private val transport: AbortableTransport,
    private val inFlight: InFlightRequests,
) : Transport {
    override fun send(request: HttpRequest): HttpResponse = transport.send(request, inFlight)
}
