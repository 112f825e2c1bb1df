package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.Progress
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** [ContactSync.progress] is `null` only while no long operation is under way. */
class ProgressTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a streamed snapshot is one long operation, so progress stays set between chunks`() = runBlocking {
        ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE")).use { sync ->
            // Read right after each chunk was pushed and before the next one is produced: the
            // moment a per-chunk operation would have reset progress to null. Read synchronously,
            // so no collector can miss the reset. Chunks of 1024 make the engine report
            // progress (every 512 items) within each push.
            val between = mutableListOf<Progress?>()
            val chunks = flow {
                for (c in 0 until 4) {
                    emit((c * 1024 until (c + 1) * 1024).map { generatedContact(it) })
                    between += sync.progress.value
                }
            }
            val report = sync.importSnapshot(chunks)
            assertEquals(4, between.size)
            assertTrue(between.all { it != null }, "progress went back to null between chunks: $between")
            assertNull(sync.progress.value, "no long operation is left under way")
            assertEquals(4096uL, sync.status().contacts, "report: $report")
        }
    }
}
