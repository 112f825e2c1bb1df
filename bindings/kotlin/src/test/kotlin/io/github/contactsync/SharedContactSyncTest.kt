package io.github.contactsync

import io.github.contactsync.ffi.Config
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertSame
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** [SharedContactSync]: concurrent first uses open the real engine once; a failed open is retried. */
class SharedContactSyncTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `concurrent first uses open one engine, and a failed open is tried again by the next use`() = runBlocking {
        val opens = AtomicInteger()
        val shared = SharedContactSync {
            if (opens.incrementAndGet() == 1) error("disk busy")
            delay(50) // the other callers arrive while it opens
            ContactSync.open(dir.resolve("device.db").toString(), Config(region = "DE"))
        }
        shared.use {
            assertThrows<IllegalStateException> { runBlocking { shared.get() } }
            val engines = (1..8).map { async(Dispatchers.IO) { shared.get() } }.awaitAll()
            assertEquals(2, opens.get(), "one failed open, then one for all eight callers")
            engines.forEach { assertSame(engines[0], it) }
            assertEquals(0uL, engines[0].status().contacts)
        }
    }
}
