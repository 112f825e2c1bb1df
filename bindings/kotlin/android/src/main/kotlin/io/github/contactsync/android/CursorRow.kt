package io.github.contactsync.android

import android.database.Cursor
import io.github.contactsync.contacts.ContactRow

/**
 * The current row of a [Cursor] as a [ContactRow]: the only place where the Android layer
 * reads cell values. It follows the cursor: valid until the cursor moves.
 *
 * Types are read by [Cursor.getType], not by asking for a long and trusting the answer: the
 * provider stores the typed data columns (`data2`, `data5`, ...) as TEXT, and `getLong` on text
 * that is not a number quietly answers 0, which would read as `TYPE_CUSTOM` or contact id 0.
 * Column indexes are looked up once per cursor.
 */
internal class CursorRow(private val cursor: Cursor) : ContactRow {
    private val indexes = HashMap<String, Int>()

    private fun index(column: String): Int = indexes.getOrPut(column) { cursor.getColumnIndex(column) }

    override fun string(column: String): String? {
        val i = index(column)
        if (i < 0) return null
        return when (cursor.getType(i)) {
            Cursor.FIELD_TYPE_NULL, Cursor.FIELD_TYPE_BLOB -> null
            else -> cursor.getString(i)
        }
    }

    override fun long(column: String): Long? {
        val i = index(column)
        if (i < 0) return null
        return when (cursor.getType(i)) {
            Cursor.FIELD_TYPE_INTEGER -> cursor.getLong(i)
            Cursor.FIELD_TYPE_STRING -> cursor.getString(i)?.trim()?.toLongOrNull()
            Cursor.FIELD_TYPE_FLOAT -> cursor.getDouble(i).takeIf { it % 1.0 == 0.0 }?.toLong()
            else -> null
        }
    }
}
