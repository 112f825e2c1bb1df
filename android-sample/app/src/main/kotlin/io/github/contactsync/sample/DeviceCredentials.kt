package io.github.contactsync.sample

import android.content.Context
import io.github.contactsync.ffi.Registration

/**
 * This device's registration with the discovery server: its client id and bearer token.
 *
 * Kept in plain, app-private `SharedPreferences`: the app sandbox and the device's file-based
 * encryption protect them like the rest of the app's data (Jetpack's EncryptedSharedPreferences
 * is deprecated for that reason). What matters more is where they must *not* go: the file
 * (`device.xml`) is excluded from backups and device transfers (res/xml/backup_rules.xml,
 * data_extraction_rules.xml), because a token restored onto another device would make two
 * devices one client on the server. An app with stricter needs wraps the token with a key from
 * the Android Keystore.
 */
class DeviceCredentials(context: Context) {
    private val prefs = context.getSharedPreferences("device", Context.MODE_PRIVATE)

    /** The bearer token, or `null` before the first registration. */
    val token: String? get() = prefs.getString(KEY_TOKEN, null)

    fun save(registration: Registration) {
        prefs.edit()
            .putString(KEY_CLIENT_ID, registration.clientId)
            .putString(KEY_TOKEN, registration.token)
            .apply()
    }

    /** Forgets the registration (the server no longer knows the token: 401). */
    fun clear() {
        prefs.edit().clear().apply()
    }

    private companion object {
        const val KEY_CLIENT_ID = "client_id"
        const val KEY_TOKEN = "token"
    }
}
