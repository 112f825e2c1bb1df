package io.github.contactsync.contacts

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull

class FileImportAnchorTest {
    @TempDir
    lateinit var dir: File

    @Test
    fun `saves, loads and clears`() {
        val anchor = FileImportAnchor(File(dir, "sub/contactsync.db.import-anchor"))
        assertNull(anchor.load())
        anchor.save(1_767_225_600_000)
        assertEquals(1_767_225_600_000, anchor.load())
        // A new instance over the same file (the next process) sees it.
        assertEquals(1_767_225_600_000, FileImportAnchor(File(dir, "sub/contactsync.db.import-anchor")).load())
        anchor.save(1_767_225_700_000)
        assertEquals(1_767_225_700_000, anchor.load())
        assertFalse(File(dir, "sub/contactsync.db.import-anchor.tmp").exists())
        anchor.clear()
        assertNull(anchor.load())
    }

    @Test
    fun `an unreadable anchor reads as none, so the next import is a full snapshot`() {
        val file = File(dir, "anchor").apply { writeText("garbage") }
        assertNull(FileImportAnchor(file).load())
        val folder = File(dir, "a-directory").apply { mkdirs() }
        assertNull(FileImportAnchor(folder).load())
    }
}
