package io.github.contactsync.android

import android.net.Uri
import io.github.contactsync.ContactSync
import io.github.contactsync.ffi.Transport

/**
 * Redeems the invite link the app was opened with — an App Link's `intent.data`
 * (`https://host/i/CODE`, with or without a trailing slash or query) or the app's own
 * `scheme://i/CODE` — and returns the inviter's user reference.
 *
 * An [Uri] is handed over as the text it holds: the engine reads the code out of the link, so
 * there is no `java.net.URI` conversion to fail on links Android accepts. A link without an
 * invite code is a `ContactsyncException.InvalidArgument`, before any request. `onUnauthorized`
 * is the app's re-registration, as for every call that sends the token (`ContactSync`'s
 * "Re-registration").
 */
suspend fun ContactSync.redeemInvite(
    transport: Transport,
    link: Uri,
    onUnauthorized: (suspend () -> Unit)? = null,
): String = redeemInvite(transport, link.toString(), onUnauthorized)
