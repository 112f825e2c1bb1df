package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.LogLevel
import java.nio.file.Path
import java.util.logging.Handler
import java.util.logging.Level
import java.util.logging.LogRecord
import java.util.logging.Logger
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * The engine's log lines through [JulLogSink] into `java.util.logging`, at the level installed.
 * The logger is process-wide: the test silences it again when done.
 */
class LoggingTest {
    @TempDir
    lateinit var dir: Path

    /** Keeps every record `java.util.logging` hands it. */
    private class Captured : Handler() {
        val records = java.util.concurrent.CopyOnWriteArrayList<LogRecord>()
        override fun publish(record: LogRecord) {
            records.add(record)
        }
        override fun flush() {}
        override fun close() {}
    }

    @Test
    fun `lines reach java-util-logging at the installed level and above`() = runBlocking {
        val captured = Captured()
        val logger = Logger.getLogger("io.github.contactsync.test").apply {
            useParentHandlers = false
            level = Level.ALL
            addHandler(captured)
        }
        try {
            ContactSync.open(dir.resolve("log.db").toString(), Config(region = "DE")).use { sync ->
                ContactSyncLogging.install(JulLogSink(logger), LogLevel.INFO)
                sync.importSnapshot(listOf(generatedContact(1), generatedContact(2)))
                val info = captured.records.toList()
                assertTrue(
                    info.any { it.level == Level.INFO && it.message.startsWith("import: full snapshot done") },
                    info.joinToString("\n") { "${it.level} ${it.message}" },
                )
                assertTrue(info.none { it.level.intValue() < Level.INFO.intValue() }, "nothing below INFO")
                assertTrue(info.all { it.sourceClassName.startsWith("contactsync_core") }, "the Rust module as the source")

                captured.records.clear()
                ContactSyncLogging.install(JulLogSink(logger), LogLevel.DEBUG)
                sync.importSnapshot(listOf(generatedContact(3)))
                assertTrue(captured.records.any { it.level == Level.FINE }, "DEBUG lines once asked for")

                captured.records.clear()
                ContactSyncLogging.install(JulLogSink(logger), LogLevel.OFF)
                sync.wipe()
                assertEquals(emptyList(), captured.records.toList())
            }
        } finally {
            ContactSyncLogging.install(JulLogSink(logger), LogLevel.OFF)
            logger.removeHandler(captured)
        }
    }
}
