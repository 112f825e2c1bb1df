package io.github.contactsync.sample

import android.app.Application
import io.github.contactsync.ContactSync
import io.github.contactsync.ContactSyncLogging
import io.github.contactsync.OkHttpTransport
import io.github.contactsync.SharedContactSync
import io.github.contactsync.android.AndroidLogSink
import io.github.contactsync.android.ContactSyncAndroid
import io.github.contactsync.android.ContactSyncBackground
import io.github.contactsync.background.BackgroundSync
import io.github.contactsync.ffi.LogLevel
import io.github.contactsync.ffi.Registration
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient

/**
 * Holds what lives as long as the process: one engine per database file, one HTTP client for
 * the whole app (its connection pool and threads are shared with the library's requests).
 * A real app would put these in its dependency-injection graph.
 */
class SampleApplication : Application() {
    val httpClient: OkHttpClient by lazy { OkHttpClient() }

    val credentials: DeviceCredentials by lazy { DeviceCredentials(this) }

    /**
     * Logging, then background import and sync (WorkManager): periodically, and right after the
     * address book changed. The lambda runs inside each worker; until the user granted
     * READ_CONTACTS it only syncs, and until the device registered it does nothing that needs the
     * server.
     */
    override fun onCreate() {
        super.onCreate()
        // Once per process, first: the engine's lines in Logcat (tag `contactsync`; never contact
        // data), down to DEBUG in debug builds.
        ContactSyncLogging.install(AndroidLogSink(), if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO)
        ContactSyncBackground.schedule(this) { context ->
            BackgroundSync(
                sync = contactSync(),
                importer = ContactSyncAndroid.importer(context).takeIf { ContactSyncAndroid.hasContactsPermission(context) },
                transport = credentials.token?.let { transport() },
                onUnauthorized = ::register, // a revoked token: register again, not fail until opened
            )
        }
    }

    /** The one engine, opened on first use (off the main thread: `ContactSync.open` suspends). */
    private val engine = SharedContactSync { ContactSyncAndroid.open(this) }

    suspend fun contactSync(): ContactSync = engine.get()

    /**
     * The transport to the discovery server. The token is read on every request, so a token
     * stored after registering is used by the next request without a new transport. A vouched
     * token, when set, wins over one stored by an earlier open registration.
     */
    fun transport(): OkHttpTransport =
        OkHttpTransport(httpClient, BuildConfig.DISCOVERY_SERVER_URL.toHttpUrl()) {
            BuildConfig.VOUCHED_DEVICE_TOKEN.ifEmpty { null } ?: credentials.token
        }

    /**
     * Registers this device and stores its token. Open registration: the reference server's demo
     * mode, whose devices have no user (no invites); with `contactsync.deviceToken` set
     * (development only), the token the admin API vouched for a user, as an app's backend would
     * hand it over (docs/protocol.md, "Registration"; README, "Invite links").
     *
     * Also the calls' `onUnauthorized` hook (a 401: the server no longer knows the token), where
     * it runs on the engine's thread: it touches no view. The stale token is dropped first, so the
     * registration request goes without one.
     */
    suspend fun register() {
        credentials.clear()
        val vouched = BuildConfig.VOUCHED_DEVICE_TOKEN
        credentials.save(
            if (vouched.isNotEmpty()) Registration(clientId = "", token = vouched, userRef = null)
            else ContactSync.registerDevice(transport()),
        )
    }
}
