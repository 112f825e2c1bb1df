package io.github.contactsync.contacts

import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.CsvSource
import org.junit.jupiter.params.provider.ValueSource
import kotlin.test.assertEquals
import kotlin.test.assertNull

class ProfileUrlsTest {
    @ParameterizedTest
    @CsvSource(
        delimiter = '|',
        value = [
            // What Google's contact sync writes for a contact with a Google profile.
            "http://www.google.com/profiles/108401938740513456912 | google:108401938740513456912",
            "https://plus.google.com/108401938740513456912/about  | google:108401938740513456912",
            "profiles.google.com/108401938740513456912            | google:108401938740513456912",
            "HTTPS://WWW.GOOGLE.COM/profiles/1084019              | google:1084019",
            "https://www.facebook.com/profile.php?id=100004123456789&ref=br_rs | facebook:100004123456789",
            "https://m.facebook.com/profile.php?id=4                | facebook:4",
            "https://twitter.com/intent/user?user_id=783214         | twitter:783214",
            "https://x.com/i/user/783214                            | twitter:783214",
            "https://vk.com/id1                                     | vk:1",
        ],
    )
    fun `profile links with a subject id name a linked account`(url: String, account: String) {
        assertEquals(account, ProfileUrls.linkedAccount(url))
    }

    @ParameterizedTest
    @ValueSource(
        strings = [
            // Vanity names are not subject ids: they can be renamed and re-issued.
            "https://www.facebook.com/john.doe",
            "https://plus.google.com/+JohnDoe",
            "https://github.com/analima",
            "https://twitter.com/jack",
            "https://vk.com/durov",
            // Look-alikes and the rest.
            "https://www.google.com/profiles/108401938740513456912x",
            "https://www.google.com/search?q=108401938740513456912",
            "https://evilgoogle.com/profiles/1084019",
            "https://google.com.evil.example/profiles/1084019",
            "https://www.facebook.com/profile.php?id=abc",
            "ftp://www.google.com/profiles/1084019",
            "mailto:ana@example.org",
            "https://example.org/",
            "not a url",
            "http://[::1",
            "",
        ],
    )
    fun `anything else names no account`(url: String) {
        assertNull(ProfileUrls.linkedAccount(url))
    }
}
