package io.github.contactsync

import io.github.contactsync.ffi.LogLevel
import io.github.contactsync.ffi.LogRecord
import io.github.contactsync.ffi.LogSink
import io.github.contactsync.ffi.installLogSink
import java.util.logging.Level
import java.util.logging.Logger

/**
 * The engine's log lines, for the app's logs.
 *
 * The engine logs at its stages' boundaries — an import's and a sync's start and end with their
 * counts, each request's method, path (never its query) and status, retries and backoff, schema
 * migrations — and never a contact's data: no name, number, address, hash or user reference.
 *
 * ```kotlin
 * // Once, at start-up (Application.onCreate):
 * ContactSyncLogging.install(AndroidLogSink(), LogLevel.INFO)   // or TimberLogSink(), JulLogSink()
 * ```
 */
object ContactSyncLogging {
    /**
     * Sends the engine's lines at [level] and above to [sink], for the whole process. A later call
     * replaces the sink and the level; [LogLevel.OFF] silences. [sink] is called on the thread
     * that logs (an import's, a sync's): keep it cheap; what it throws is ignored.
     */
    fun install(sink: LogSink, level: LogLevel = LogLevel.INFO) = installLogSink(sink, level)
}

/**
 * A [LogSink] writing to `java.util.logging` (the JVM's own; SLF4J and Log4j bridge it), under
 * [logger] with the Rust module as the source class. Levels map to `SEVERE`, `WARNING`, `INFO`,
 * `FINE` and `FINER`.
 */
class JulLogSink(private val logger: Logger = Logger.getLogger("io.github.contactsync")) : LogSink {
    override fun log(record: LogRecord) {
        val level = when (record.level) {
            LogLevel.ERROR -> Level.SEVERE
            LogLevel.WARN -> Level.WARNING
            LogLevel.INFO -> Level.INFO
            LogLevel.DEBUG -> Level.FINE
            LogLevel.TRACE -> Level.FINER
            LogLevel.OFF -> return
        }
        logger.logp(level, record.target, null, record.message)
    }
}
