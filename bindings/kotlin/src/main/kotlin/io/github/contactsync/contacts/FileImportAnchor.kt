package io.github.contactsync.contacts

import java.io.File
import java.io.IOException
import java.nio.file.AtomicMoveNotSupportedException
import java.nio.file.Files
import java.nio.file.StandardCopyOption

/**
 * An [ImportAnchor] kept in a small file: the decimal `startedAt` of the last stored import.
 *
 * A file rather than `SharedPreferences` so that it can live next to the engine's database in
 * Android's `Context.noBackupFilesDir`, which Auto Backup never copies: restored onto another
 * device (or after a reinstall), an anchor would claim an import that the new database never
 * had. (The importer also ignores an anchor while the engine is empty, but the two belong
 * together.)
 *
 * Written atomically (a temporary file renamed over the old one), so a process killed mid-write
 * leaves the old anchor or the new one, never half of one. A file that cannot be read or parsed
 * reads as "no anchor": the next import is then a full snapshot, which is always safe.
 */
class FileImportAnchor(private val file: File) : ImportAnchor {
    private val lock = Any()

    override fun load(): Long? = synchronized(lock) {
        try {
            if (file.isFile) file.readText().trim().toLongOrNull() else null
        } catch (_: IOException) {
            null
        }
    }

    override fun save(startedAt: Long) {
        synchronized(lock) {
            file.parentFile?.mkdirs()
            val tmp = File(file.path + ".tmp")
            tmp.writeText(startedAt.toString())
            try {
                Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
            } catch (_: AtomicMoveNotSupportedException) {
                Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.REPLACE_EXISTING)
            }
        }
    }

    override fun clear() {
        synchronized(lock) {
            file.delete()
        }
    }
}
