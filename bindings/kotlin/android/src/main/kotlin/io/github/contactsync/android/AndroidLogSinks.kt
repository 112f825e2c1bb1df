package io.github.contactsync.android

import android.util.Log
import io.github.contactsync.ffi.LogLevel
import io.github.contactsync.ffi.LogRecord
import io.github.contactsync.ffi.LogSink
import timber.log.Timber

/**
 * The engine's log lines in Logcat, under [tag]. Install once, in `Application.onCreate`:
 *
 * ```kotlin
 * ContactSyncLogging.install(AndroidLogSink(), if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO)
 * ```
 *
 * The lines never carry contact data (docs/engine.md, "Logging").
 */
class AndroidLogSink(private val tag: String = "contactsync") : LogSink {
    override fun log(record: LogRecord) {
        Log.println(priority(record.level) ?: return, tag, record.message)
    }
}

/**
 * The engine's log lines through Timber (for apps that plant their own trees: crash reporters,
 * files), tagged [tag]. Timber is not a dependency of this library: an app using this class
 * already has it.
 *
 * ```kotlin
 * ContactSyncLogging.install(TimberLogSink(), LogLevel.INFO)
 * ```
 */
class TimberLogSink(private val tag: String = "contactsync") : LogSink {
    override fun log(record: LogRecord) {
        Timber.tag(tag).log(priority(record.level) ?: return, record.message)
    }
}

/** `android.util.Log`'s priority of a level; `null` for [LogLevel.OFF]. */
private fun priority(level: LogLevel): Int? = when (level) {
    LogLevel.ERROR -> Log.ERROR
    LogLevel.WARN -> Log.WARN
    LogLevel.INFO -> Log.INFO
    LogLevel.DEBUG -> Log.DEBUG
    LogLevel.TRACE -> Log.VERBOSE
    LogLevel.OFF -> null
}
