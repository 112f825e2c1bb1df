package io.github.contactsync.sample

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.view.ViewGroup.LayoutParams.MATCH_PARENT
import android.view.ViewGroup.LayoutParams.WRAP_CONTENT
import android.view.WindowInsets
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ListView
import android.widget.TextView
import io.github.contactsync.ContactSync
import io.github.contactsync.android.ContactSyncAndroid
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Match
import io.github.contactsync.ffi.Progress
import io.github.contactsync.ffi.Stage
import io.github.contactsync.ffi.SyncOptions
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * One screen, one button: read the address book, register this device (once), sync with the
 * discovery server, list the contacts who use the app.
 *
 * Plain framework views and a [MainScope] keep the sample free of dependencies beyond the
 * library; an app would use its own UI toolkit and `lifecycleScope`. All engine calls are
 * `suspend` and run off the main thread inside the library, so they are called from the main
 * thread here; progress comes from [ContactSync.progress].
 */
class MainActivity : Activity() {
    private val scope = MainScope()
    private val app get() = application as SampleApplication

    private lateinit var button: Button
    private lateinit var status: TextView
    private lateinit var results: ArrayAdapter<String>

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val padding = (16 * resources.displayMetrics.density).toInt()
        val intro = TextView(this).apply { setText(R.string.intro) }
        button = Button(this).apply {
            setText(R.string.find_friends)
            setOnClickListener { findFriends() }
        }
        status = TextView(this)
        results = ArrayAdapter(this, android.R.layout.simple_list_item_1)
        val list = ListView(this).apply { adapter = results }
        val root = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            addView(intro, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
            addView(button, LinearLayout.LayoutParams(WRAP_CONTENT, WRAP_CONTENT))
            addView(status, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
            addView(list, LinearLayout.LayoutParams(MATCH_PARENT, 0, 1f))
            // Edge to edge (enforced when targeting Android 15+): keep the list above the
            // navigation bar.
            setOnApplyWindowInsetsListener { view, insets ->
                val bottom = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                    insets.getInsets(WindowInsets.Type.systemBars()).bottom
                } else {
                    @Suppress("DEPRECATION")
                    insets.systemWindowInsetBottom
                }
                view.setPadding(padding, padding, padding, padding + bottom)
                insets
            }
        }
        setContentView(root)
    }

    override fun onDestroy() {
        scope.cancel() // stops an import or a sync under way; the next run resumes it
        super.onDestroy()
    }

    private fun findFriends() {
        if (!ContactSyncAndroid.hasContactsPermission(this)) {
            // Ask in context, right after the user asked to find friends.
            requestPermissions(arrayOf(Manifest.permission.READ_CONTACTS), REQUEST_CONTACTS)
            return
        }
        button.isEnabled = false
        scope.launch {
            try {
                show(discover())
            } catch (e: CancellationException) {
                throw e
            } catch (e: ContactsyncException.Network) {
                status.text = getString(R.string.unreachable, BuildConfig.DISCOVERY_SERVER_URL)
            } catch (e: ContactsyncException) {
                // Messages of the library never carry contact data: safe to show and to log.
                status.text = getString(R.string.failed, e.message ?: e.javaClass.simpleName)
            } catch (e: Exception) {
                // Anything else must not escape MainScope, which would crash the app: a
                // SecurityException (READ_CONTACTS revoked while running), an
                // IllegalStateException (the contacts provider answered null), an
                // InternalException (a bug in the Rust library; it stays usable).
                status.text = getString(R.string.failed, "${e.javaClass.simpleName}: ${e.message.orEmpty()}")
            } finally {
                button.isEnabled = true
            }
        }
    }

    @Deprecated("Deprecated in Java")
    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode != REQUEST_CONTACTS) return
        if (grantResults.firstOrNull() == PackageManager.PERMISSION_GRANTED) {
            findFriends()
        } else {
            status.setText(R.string.permission_denied)
        }
    }

    /** The whole flow; every call suspends and runs its blocking work off the main thread. */
    private suspend fun discover(): List<Match> {
        val contacts = app.contactSync()
        val progress = scope.launch { contacts.progress.collect { it?.let(::showProgress) } }
        try {
            status.setText(R.string.reading)
            // A full snapshot the first time, then only what changed (docs/android.md).
            ContactSyncAndroid.importer(this).importInto(contacts)

            if (app.credentials.token == null) register()
            status.setText(R.string.syncing)
            try {
                contacts.sync(app.transport(), SyncOptions(force = true))
            } catch (e: ContactsyncException.Server) {
                if (e.status.toInt() != 401) throw e
                // The server no longer knows this device (its database was reset, or the
                // device was forgotten): register again and send everything again.
                app.credentials.clear()
                register()
                contacts.resetSync()
                contacts.sync(app.transport(), SyncOptions(force = true))
            }
            return contacts.matches()
        } finally {
            progress.cancel()
        }
    }

    /** Open registration: the reference server's demo mode. A real app's backend vouches for the device. */
    private suspend fun register() {
        status.setText(R.string.registering)
        val registration = ContactSync.registerDevice(app.transport())
        app.credentials.save(registration)
    }

    private fun showProgress(progress: Progress) {
        val what = when (progress.stage) {
            Stage.IMPORT, Stage.REMOVE -> getString(R.string.reading)
            Stage.REHASH, Stage.UPLOAD -> getString(R.string.syncing)
        }
        status.text = progress.total?.let { "$what ${progress.done}/$it" } ?: "$what ${progress.done}"
    }

    private fun show(matches: List<Match>) {
        results.clear()
        // One line per contact, whichever of their identifiers matched.
        results.addAll(
            matches.distinctBy { it.sourceId ?: it.userRef }
                .sortedBy { it.displayName.lowercase() }
                .map { "${it.displayName}  ·  ${it.canonical}" },
        )
        status.text = if (matches.isEmpty()) {
            getString(R.string.no_matches)
        } else {
            getString(R.string.matches, results.count)
        }
    }

    private companion object {
        const val REQUEST_CONTACTS = 1
    }
}
