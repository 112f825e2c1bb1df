package io.github.contactsync.android

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.telephony.TelephonyManager
import io.github.contactsync.ContactSync
import io.github.contactsync.contacts.ChangeFeedPolicy
import io.github.contactsync.contacts.ContactsImporter
import io.github.contactsync.contacts.FileImportAnchor
import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.Normalizer
import java.io.File
import java.util.Locale

/**
 * The few Android-specific decisions an app would otherwise have to make itself, so that wiring
 * contactsync into an app takes a handful of lines:
 *
 * ```kotlin
 * val contacts = ContactSyncAndroid.open(context)                       // once, e.g. in your DI graph
 * if (ContactSyncAndroid.hasContactsPermission(context)) {
 *     ContactSyncAndroid.importer(context).importInto(contacts)          // full or delta, as needed
 *     contacts.sync(OkHttpTransport(client, baseUrl) { tokenStore.token })
 *     val friends = contacts.matches()
 * }
 * ```
 *
 * - **Where the data lives**: the database and the import anchor go to
 *   [Context.getNoBackupFilesDir], which Auto Backup and device-to-device transfer never copy.
 *   The database holds the user's contacts' normalised identifiers, the server's hashing key and
 *   this device's upload state; a copy in a cloud backup would be a copy of the address book
 *   outside the device, and restored elsewhere it would describe another device's contacts (the
 *   provider's contact ids differ per device) and another device's server state. Rebuilding it
 *   costs one import and one sync, and the matches come back from the server.
 * - **Which region national numbers are read in**: [deviceRegion].
 */
object ContactSyncAndroid {
    /** The database file name used when none is given. */
    const val DEFAULT_DATABASE_NAME: String = "contactsync.db"

    /** The engine's database file: [name] in the app's no-backup directory. */
    fun databaseFile(context: Context, name: String = DEFAULT_DATABASE_NAME): File =
        File(context.noBackupFilesDir, name)

    /**
     * Opens (creating on first use) the engine for this app, reading national phone numbers in
     * [region]. Keep the returned handle for the life of the process (one per database file).
     */
    suspend fun open(
        context: Context,
        region: String = deviceRegion(context),
        name: String = DEFAULT_DATABASE_NAME,
    ): ContactSync = ContactSync.open(databaseFile(context, name).path, Config(region = region))

    /**
     * An importer that reads this device's address book into the engine opened with the same
     * [name]: a full snapshot the first time and whenever the provider's change log cannot be
     * trusted, a delta otherwise (see [ChangeFeedPolicy]). Its anchor is a file beside the
     * database, out of backups as well.
     *
     * @param visibleContactsOnly see [ContactsContractReader].
     */
    fun importer(
        context: Context,
        name: String = DEFAULT_DATABASE_NAME,
        policy: ChangeFeedPolicy = ChangeFeedPolicy(),
        visibleContactsOnly: Boolean = false,
    ): ContactsImporter = ContactsImporter(
        source = ContactsContractReader(context.applicationContext.contentResolver, visibleContactsOnly),
        anchor = FileImportAnchor(File(context.noBackupFilesDir, "$name.import-anchor")),
        policy = policy,
    )

    /** Whether the app holds `READ_CONTACTS`; the importer needs it. */
    fun hasContactsPermission(context: Context): Boolean =
        context.checkSelfPermission(Manifest.permission.READ_CONTACTS) == PackageManager.PERMISSION_GRANTED

    /**
     * The region to read the user's national phone numbers in (ISO 3166 alpha-2, upper case):
     * the SIM's country, else the network's, else the locale's, else `US`. A candidate the
     * engine has no phone metadata for (a territory without its own numbering plan, a made-up
     * locale country, `ZZ`) is skipped: passed on, it would make [open] throw
     * `ContactsyncException.InvalidArgument` on every launch.
     *
     * The SIM comes first because it is where the user's own number, and so most of the numbers
     * they saved without a `+`, belong; the locale says which language they read, not where
     * they live. None of these needs a permission. An app that knows better (the country of the
     * number the user signed up with) should pass that instead.
     */
    fun deviceRegion(context: Context): String {
        val telephony = context.getSystemService(TelephonyManager::class.java)
        return sequenceOf(
            { telephony?.simCountryIso },
            { telephony?.networkCountryIso },
            { Locale.getDefault().country },
        ).mapNotNull { read -> runCatching(read).getOrNull()?.trim()?.uppercase(Locale.ROOT) }
            .firstOrNull { it.length == 2 && it.all { c -> c in 'A'..'Z' } && isKnownRegion(it) }
            ?: "US"
    }

    /**
     * Whether the engine reads numbers in [region]: the same check [ContactSync.open] makes,
     * asked of a [Normalizer] (no database, no I/O; the metadata is compiled into the library).
     */
    private fun isKnownRegion(region: String): Boolean =
        runCatching { Normalizer(region).close() }.isSuccess
}
