package io.github.contactsync.sample

import android.Manifest
import android.app.Activity
import android.content.Intent
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
import io.github.contactsync.android.redeemInvite
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Match
import io.github.contactsync.ffi.Progress
import io.github.contactsync.ffi.Stage
import io.github.contactsync.ffi.SyncOptions
import io.github.contactsync.observeMatches
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * One screen, one button: read the address book, register this device (once), sync with the
 * discovery server; the list shows the contacts who use the app. Opened with an invite link, it
 * redeems the link.
 *
 * Plain framework views and a [MainScope] keep the sample free of dependencies beyond the
 * library; an app would use its own UI toolkit and `lifecycleScope`. All engine calls are
 * `suspend` and run off the main thread inside the library, so they are called from the main
 * thread here; progress comes from [ContactSync.progress], the list from
 * [ContactSync.observeMatches].
 */
class MainActivity : Activity() {
    private val scope = MainScope()
    private val app get() = application as SampleApplication

    private lateinit var button: Button
    private lateinit var status: TextView
    private lateinit var summary: TextView
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
        summary = TextView(this)
        results = ArrayAdapter(this, android.R.layout.simple_list_item_1)
        val list = ListView(this).apply { adapter = results }
        val root = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            addView(intro, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
            addView(button, LinearLayout.LayoutParams(WRAP_CONTENT, WRAP_CONTENT))
            addView(status, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
            addView(summary, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))
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

        // The list follows the engine: the current matches now, and again after every import,
        // sync or redeemed invite — this screen's or a background worker's.
        launchReporting { contacts -> contacts.observeMatches().collect { show(it) } }
        // A re-created activity (a rotation) gets the same intent again: redeem it once.
        if (savedInstanceState == null) redeemInvite(intent)
    }

    /** An invite link while the activity runs (`singleTop`: no second activity). */
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        setIntent(intent)
        redeemInvite(intent)
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
        launchReporting(onEnd = { button.isEnabled = true }) { contacts -> discover(contacts) }
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
    private suspend fun discover(contacts: ContactSync) {
        val progress = scope.launch { contacts.progress.collect { it?.let(::showProgress) } }
        try {
            status.setText(R.string.reading)
            // A full snapshot the first time, then only what changed (docs/android.md).
            ContactSyncAndroid.importer(this).importInto(contacts)

            registerOnce()
            status.setText(R.string.syncing)
            // A 401 (the server's database was reset, or the device was revoked): the hook
            // registers again, once, and the sync sends everything again under the new token.
            contacts.sync(app.transport(), SyncOptions(force = true), onUnauthorized = { app.register() })
            status.setText(R.string.up_to_date)
        } finally {
            progress.cancel()
        }
    }

    /**
     * Redeems the invite link the activity was opened with: an App Link
     * (`https://<invite host>/i/CODE`, verified through the server's assetlinks.json) or the
     * app's own `contactsyncsample://i/CODE` (the invite page's "Open" button). The inviter then
     * shows up in the list by itself ([ContactSync.observeMatches]).
     */
    private fun redeemInvite(intent: Intent?) {
        val link = intent?.takeIf { it.action == Intent.ACTION_VIEW }?.data ?: return
        launchReporting { contacts ->
            registerOnce()
            status.setText(R.string.redeeming)
            try {
                // A 401: registered again once, and the code redeemed under the new token.
                contacts.redeemInvite(app.transport(), link, onUnauthorized = { app.register() })
                status.setText(R.string.invite_redeemed)
            } catch (e: ContactsyncException.InvalidArgument) {
                status.setText(R.string.not_an_invite) // no request was made
            } catch (e: ContactsyncException.Server) {
                when {
                    e.status.toInt() == 404 -> status.setText(R.string.invite_closed) // unknown, expired, revoked or used
                    // By design (docs/invites.md): a device that registered itself has no user to
                    // give the inviter. The code stays open.
                    e.code == "user_required" -> status.setText(R.string.invite_needs_user)
                    else -> throw e
                }
            }
        }
    }

    /** Registers the device the first time; afterwards the sync's hook does it after a 401. */
    private suspend fun registerOnce() {
        if (app.credentials.token != null) return
        status.setText(R.string.registering)
        app.register()
    }

    /**
     * Runs [block] with the engine in [scope]; every failure ends up in the status line, and
     * [onEnd] runs however it ended.
     */
    private fun launchReporting(onEnd: () -> Unit = {}, block: suspend (ContactSync) -> Unit) {
        scope.launch {
            try {
                block(app.contactSync())
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                showFailure(e)
            } finally {
                onEnd()
            }
        }
    }

    private fun showFailure(e: Exception) {
        status.text = when (e) {
            is ContactsyncException.Network -> getString(R.string.unreachable, BuildConfig.DISCOVERY_SERVER_URL)
            // Messages of the library never carry contact data: safe to show and to log.
            is ContactsyncException -> getString(R.string.failed, e.message ?: e.javaClass.simpleName)
            // Anything else must not escape MainScope, which would crash the app: a
            // SecurityException (READ_CONTACTS revoked while running), an IllegalStateException
            // (the contacts provider answered null), a URISyntaxException (a link java.net.URI
            // refuses), an InternalException (a bug in the Rust library; it stays usable).
            else -> getString(R.string.failed, "${e.javaClass.simpleName}: ${e.message.orEmpty()}")
        }
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
        summary.text = if (matches.isEmpty()) {
            getString(R.string.no_matches)
        } else {
            getString(R.string.matches, results.count)
        }
    }

    private companion object {
        const val REQUEST_CONTACTS = 1
    }
}
