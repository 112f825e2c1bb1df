package io.github.contactsync.contacts

/**
 * One row of a Contacts Provider query (`ContactsContract.Data`, `RawContactsEntity`,
 * `DeletedContacts`), read by its real column name.
 *
 * This interface is the seam between Android and everything that can be tested without it:
 * on a device `CursorRow` (in the `android` module) reads the current row of a `Cursor`; on the
 * JVM [MapRow] holds a row written out in a test, or one from any other source that can be
 * shaped like the provider's rows. [ContactsContractMapper] reads nothing else, so the mapping
 * tested on the JVM is exactly the mapping that runs on a phone.
 *
 * Column names are the provider's own (`contact_id`, `mimetype`, `data1`, ...; see
 * [ProviderColumns]), not constants of the Android SDK, so this package compiles without it.
 *
 * A row may be a view over a moving cursor: it is valid only until the next row is read, and
 * callers copy what they need at once (the mapper does).
 */
interface ContactRow {
    /**
     * The column's value as text; `null` when it is SQL `NULL` or the query did not project the
     * column. An integer column gives its decimal text, as `Cursor.getString` does.
     */
    fun string(column: String): String?

    /**
     * The column's value as an integer; `null` when it is SQL `NULL`, not projected, or text
     * that is not an integer.
     *
     * `null` for text that does not parse, where `Cursor.getLong` would silently answer 0: the
     * provider stores the typed data columns (`data2`, `data5`, ...) as text, so an app that
     * wrote garbage there must not turn into "type 0 = custom" or "contact id 0".
     */
    fun long(column: String): Long?
}

/**
 * A [ContactRow] over a map of column name to value: for tests, and for adapters of sources
 * that are not a `Cursor` but can be shaped like the provider's rows.
 *
 * Values may be `String`, any integral `Number`, `Boolean` (as 1/0, the way SQLite stores
 * flags) or `null`. A column missing from the map reads as `null`, like a column the query did
 * not project.
 */
class MapRow(values: Map<String, Any?>) : ContactRow {
    private val values: Map<String, Any?> = values.toMap()

    /** A row from `column to value` pairs, in the style of `mapOf`. */
    constructor(vararg columns: Pair<String, Any?>) : this(columns.toMap())

    override fun string(column: String): String? = when (val v = values[column]) {
        null -> null
        is Boolean -> if (v) "1" else "0"
        else -> v.toString()
    }

    override fun long(column: String): Long? = when (val v = values[column]) {
        null -> null
        is Long -> v
        is Int -> v.toLong()
        is Short -> v.toLong()
        is Byte -> v.toLong()
        is Boolean -> if (v) 1L else 0L
        // SQLite hands back a REAL for an integer written as one; accept only whole numbers.
        is Double -> v.takeIf { it % 1.0 == 0.0 && it >= Long.MIN_VALUE && it <= Long.MAX_VALUE }?.toLong()
        is Float -> v.toDouble().takeIf { it % 1.0 == 0.0 }?.toLong()
        is String -> v.trim().toLongOrNull()
        else -> null
    }

    override fun equals(other: Any?): Boolean = other is MapRow && other.values == values

    override fun hashCode(): Int = values.hashCode()

    override fun toString(): String = "MapRow$values"
}
