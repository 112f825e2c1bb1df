package io.github.contactsync.contacts

import java.net.URI
import java.net.URISyntaxException
import java.util.Locale

/**
 * Reads a linked account (`provider:subject`, see docs/identifiers.md) out of a profile URL, as
 * address books keep them in `Website` rows (Google's contact sync, for one, writes a
 * `google.com/profiles/<id>` link for contacts with a Google profile).
 *
 * Only URLs that carry the provider's **numeric subject id** are read. A linked account's subject
 * is the opaque id the provider issued, never a username: `facebook.com/john.doe`,
 * `github.com/alice` or `plus.google.com/+JohnDoe` name a vanity handle that can be renamed or
 * re-issued to someone else, and hashing it as an account subject would make a key that either
 * never matches or, worse, matches a stranger. Such URLs, and anything unrecognised, give `null`
 * and the row is ignored: a missed match costs less than a wrong one.
 *
 * Recognised (host case-insensitive, `www.`, `m.`, `mobile.` and `web.` prefixes accepted,
 * scheme optional):
 *
 * | URL                                        | account              |
 * |--------------------------------------------|----------------------|
 * | `google.com/profiles/<digits>`             | `google:<digits>`    |
 * | `plus.google.com/<digits>[/...]`           | `google:<digits>`    |
 * | `profiles.google.com/<digits>[/...]`       | `google:<digits>`    |
 * | `facebook.com/profile.php?id=<digits>`     | `facebook:<digits>`  |
 * | `twitter.com` or `x.com` `/intent/user?user_id=<digits>`, `/i/user/<digits>` | `twitter:<digits>` |
 * | `vk.com/id<digits>`                        | `vk:<digits>`        |
 *
 * Whether such an id matches depends on how the app's backend registers its users: Google's
 * profile id is the `sub` of Sign in with Google; Facebook Login issues app-scoped ids, which
 * differ from the global id in a profile link, so a Facebook link matches only a backend that
 * registered the global id.
 */
object ProfileUrls {
    /** Longest subject read; OpenID Connect caps `sub` at 255 ASCII characters. */
    private const val MAX_DIGITS = 255

    private val digits = Regex("[0-9]{1,$MAX_DIGITS}")
    private val vkId = Regex("id([0-9]{1,$MAX_DIGITS})")
    private val hostPrefixes = listOf("www.", "m.", "mobile.", "web.")

    /**
     * The linked account `url` names, as `provider:subject`, or `null` when it names none this
     * reader can vouch for. Never throws: a malformed URL is just not a profile link.
     */
    fun linkedAccount(url: String): String? {
        val uri = parse(url) ?: return null
        val host = hostOf(uri) ?: return null
        val segments = (uri.rawPath ?: "").split('/').filter { it.isNotEmpty() }
        val query = queryOf(uri.rawQuery)
        return when (host) {
            "google.com" ->
                segments.takeIf { it.size == 2 && it[0].equals("profiles", ignoreCase = true) }
                    ?.get(1)?.takeIf(digits::matches)?.let { "google:$it" }
            "plus.google.com", "profiles.google.com" ->
                segments.firstOrNull()?.takeIf(digits::matches)?.let { "google:$it" }
            "facebook.com" ->
                query["id"].takeIf { segments.singleOrNull().equals("profile.php", ignoreCase = true) }
                    ?.takeIf(digits::matches)?.let { "facebook:$it" }
            "twitter.com", "x.com" -> twitterId(segments, query)?.let { "twitter:$it" }
            "vk.com" -> segments.singleOrNull()?.let { vkId.matchEntire(it) }?.groupValues?.get(1)
                ?.let { "vk:$it" }
            else -> null
        }
    }

    private fun twitterId(segments: List<String>, query: Map<String, String>): String? = when {
        segments.size == 2 && segments[0].equals("intent", true) && segments[1].equals("user", true) ->
            query["user_id"]
        segments.size == 3 && segments[0].equals("i", true) && segments[1].equals("user", true) ->
            segments[2]
        else -> null
    }?.takeIf(digits::matches)

    private fun parse(url: String): URI? {
        val text = url.trim()
        // Over this, it is no profile link (and the core would reject it as too long anyway).
        if (text.isEmpty() || text.length > 2048 || text.any { it.isWhitespace() }) return null
        // People type "www.google.com/profiles/..." without a scheme.
        val withScheme = if (text.contains("://")) text else "https://$text"
        return try {
            URI(withScheme).takeIf { it.scheme.equals("http", true) || it.scheme.equals("https", true) }
        } catch (_: URISyntaxException) {
            null
        }
    }

    private fun hostOf(uri: URI): String? {
        var host = uri.host?.lowercase(Locale.ROOT)?.removeSuffix(".") ?: return null
        hostPrefixes.firstOrNull { host.startsWith(it) }?.let { host = host.removePrefix(it) }
        return host
    }

    private fun queryOf(rawQuery: String?): Map<String, String> =
        rawQuery.orEmpty().split('&').mapNotNull { part ->
            val eq = part.indexOf('=')
            if (eq <= 0) null else part.substring(0, eq) to part.substring(eq + 1)
        }.toMap()
}
