import Foundation

/// Reads a linked account (`provider:subject`, see docs/identifiers.md) out of a profile URL, as
/// address books keep them in a `CNSocialProfile`'s `urlString`. The same rules as the Kotlin
/// mapper's `ProfileUrls`, so a contact synced to both platforms gives the same accounts.
///
/// Only URLs that carry the provider's **numeric subject id** are read. A linked account's subject
/// is the opaque id the provider issued, never a username: `facebook.com/john.doe`,
/// `twitter.com/jack` or `plus.google.com/+JohnDoe` name a vanity handle that can be renamed or
/// re-issued to someone else, and hashing it as an account subject would make a key that either
/// never matches or, worse, matches a stranger. Such URLs, and anything unrecognised, give `nil`:
/// a missed match costs less than a wrong one.
///
/// Recognised (host case-insensitive, `www.`, `m.`, `mobile.` and `web.` prefixes accepted, scheme
/// optional, `http` or `https`):
///
/// | URL | account |
/// |---|---|
/// | `google.com/profiles/<digits>` | `google:<digits>` |
/// | `plus.google.com/<digits>[/...]`, `profiles.google.com/<digits>[/...]` | `google:<digits>` |
/// | `facebook.com/profile.php?id=<digits>` | `facebook:<digits>` |
/// | `twitter.com` or `x.com` `/intent/user?user_id=<digits>`, `/i/user/<digits>` | `twitter:<digits>` |
/// | `vk.com/id<digits>` | `vk:<digits>` |
public enum ProfileURLs {
    /// Longest subject read; OpenID Connect caps `sub` at 255 ASCII characters.
    private static let maxDigits = 255

    /// Longer text is no profile link (and the core would reject it as too long anyway).
    private static let maxURLLength = 2048

    private static let hostPrefixes = ["www.", "m.", "mobile.", "web."]

    /// The linked account `url` names, as `provider:subject`, or `nil` when it names none this
    /// reader can vouch for. Never fails: a malformed URL is just not a profile link.
    public static func linkedAccount(_ url: String) -> String? {
        guard let components = parse(url), let host = host(of: components) else { return nil }
        let segments = components.percentEncodedPath.split(separator: "/").map(String.init)
        let query = queryItems(components.percentEncodedQuery)
        switch host {
        case "google.com":
            guard segments.count == 2, segments[0].lowercased() == "profiles", isDigits(segments[1]) else { return nil }
            return "google:\(segments[1])"
        case "plus.google.com", "profiles.google.com":
            guard let first = segments.first, isDigits(first) else { return nil }
            return "google:\(first)"
        case "facebook.com":
            guard segments.count == 1, segments[0].lowercased() == "profile.php",
                  let id = query["id"], isDigits(id) else { return nil }
            return "facebook:\(id)"
        case "twitter.com", "x.com":
            return twitterId(segments, query).map { "twitter:\($0)" }
        case "vk.com":
            guard segments.count == 1, segments[0].hasPrefix("id") else { return nil }
            let id = String(segments[0].dropFirst(2))
            return isDigits(id) ? "vk:\(id)" : nil
        default:
            return nil
        }
    }

    private static func twitterId(_ segments: [String], _ query: [String: String]) -> String? {
        let lowered = segments.map { $0.lowercased() }
        let id: String?
        if lowered.count == 2, lowered[0] == "intent", lowered[1] == "user" {
            id = query["user_id"]
        } else if lowered.count == 3, lowered[0] == "i", lowered[1] == "user" {
            id = segments[2]
        } else {
            id = nil
        }
        return id.flatMap { isDigits($0) ? $0 : nil }
    }

    private static func parse(_ url: String) -> URLComponents? {
        let text = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.utf16.count <= maxURLLength, !text.contains(where: \.isWhitespace) else {
            return nil
        }
        // People type "www.google.com/profiles/..." without a scheme.
        let withScheme = text.contains("://") ? text : "https://\(text)"
        guard let components = URLComponents(string: withScheme),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { return nil }
        return components
    }

    private static func host(of components: URLComponents) -> String? {
        guard var host = components.host?.lowercased(), !host.isEmpty else { return nil }
        if host.hasSuffix(".") {
            host.removeLast()
        }
        if let prefix = hostPrefixes.first(where: { host.hasPrefix($0) }) {
            host.removeFirst(prefix.count)
        }
        return host
    }

    /// `key=value` pairs of a raw query; a key given twice keeps its last value.
    private static func queryItems(_ rawQuery: String?) -> [String: String] {
        var items: [String: String] = [:]
        for part in (rawQuery ?? "").split(separator: "&") {
            guard let eq = part.firstIndex(of: "="), eq > part.startIndex else { continue }
            items[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        return items
    }

    /// 1 to 255 ASCII digits (not any script's digits: subject ids are ASCII).
    private static func isDigits(_ text: String) -> Bool {
        let bytes = text.utf8
        return !bytes.isEmpty && bytes.count <= maxDigits && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
