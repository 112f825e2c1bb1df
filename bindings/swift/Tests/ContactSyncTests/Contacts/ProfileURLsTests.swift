import ContactSync
import Foundation
import XCTest

/// Links in profile URLs: the Kotlin `ProfileUrlsTest`, case for case.
final class ContactsProfileURLsTests: XCTestCase {
    func testProfileLinksWithASubjectIdNameALinkedAccount() {
        let expected = [
            // What Google's contact sync writes for a contact with a Google profile.
            ("http://www.google.com/profiles/108401938740513456912", "google:108401938740513456912"),
            ("https://plus.google.com/108401938740513456912/about", "google:108401938740513456912"),
            ("profiles.google.com/108401938740513456912", "google:108401938740513456912"),
            ("HTTPS://WWW.GOOGLE.COM/profiles/1084019", "google:1084019"),
            ("https://www.facebook.com/profile.php?id=100004123456789&ref=br_rs", "facebook:100004123456789"),
            ("https://m.facebook.com/profile.php?id=4", "facebook:4"),
            ("https://twitter.com/intent/user?user_id=783214", "twitter:783214"),
            ("https://x.com/i/user/783214", "twitter:783214"),
            ("https://vk.com/id1", "vk:1"),
            ("  https://vk.com/id1  ", "vk:1"),
        ]
        for (url, account) in expected {
            XCTAssertEqual(ProfileURLs.linkedAccount(url), account, url)
        }
    }

    func testAnythingElseNamesNoAccount() {
        let urls = [
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
            "https://www.google.com/profiles/١٠٨٤٠١٩",  // digits of another script are not an id
            "ftp://www.google.com/profiles/1084019",
            "mailto:ana@example.org",
            "https://example.org/",
            "not a url",
            "http://[::1",
            "",
        ]
        for url in urls {
            XCTAssertNil(ProfileURLs.linkedAccount(url), url)
        }
    }
}
