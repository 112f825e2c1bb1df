import Foundation

/// Maps address-book contacts (``ContactRecord``: a `CNContact`, or ``ContactValues``) to the
/// engine's ``RawContact``s, following the same rules as the Kotlin `ContactsContractMapper`, so
/// that one person reads the same on both platforms.
///
/// Each contact becomes:
/// - **source id**: its `identifier` (of the unified contact, as both the snapshot and the change
///   history are read with unification on), because change-history deletions name contacts by it.
/// - **display name**: see ``displayName(of:values:)``. Kept on the device only.
/// - **version**: none. `CNContact` exposes no modification stamp; the engine decides "unchanged"
///   by a fingerprint of the content anyway.
/// - **values**:
///   - phone numbers → ``IdentifierKind/phone``, as typed, labelled by ``label(_:)``;
///   - e-mail addresses → ``IdentifierKind/email``, as typed, labelled by ``label(_:)``;
///   - instant-messaging addresses → ``IdentifierKind/handle``: the username, labelled with the
///     messenger service (``instantMessageService(_:)``), exactly as the Kotlin mapper labels an
///     `Im` row with its protocol: the label tells the app whose namespace the handle is in
///     (docs/identifiers.md). The `CNLabeledValue` label of an IM address (`home`, `work`) is not
///     kept: the service is the one that matters.
///   - social profiles → a linked ``IdentifierKind/account`` when a stable id is known, else a
///     ``IdentifierKind/handle`` (``socialProfileValue(_:)``).
///
/// What is *not* done here, on purpose (as on Android):
/// - **No validation.** A number too long, an address without `@`, a 10 KB "phone": all are passed
///   through. The core rejects them with a reason code and counts them in the import report,
///   which is where an app can show "this number is invalid". Bad input is data.
/// - **No normalisation.** The core's is the only one, so every platform hashes alike.
///
/// Values whose text is empty or blank carry nothing to match or to show: they are skipped, not
/// rejected. Values are de-duplicated per contact (linked cards — iCloud, Gmail, Exchange — often
/// repeat a number; the same kind and text is kept once, with the smallest of its labels: any
/// label over none, else the first in byte order) and sorted by kind, text and label, which
/// makes the contact's content, and so its fingerprint, independent of the order in which linked
/// cards contribute their values. Handles are the exception to the de-duplication: a handle's
/// label names its namespace, so the same username under two messengers is two values.
///
/// Texts and labels are compared **exactly**, by their UTF-8 bytes, not with Swift's `String`
/// `==` and `<`, which follow canonical equivalence: "Jos\u{E9}" (NFC) and "Jose\u{301}" (NFD)
/// are equal as Swift strings. Collapsing them would keep whichever card came first, and the
/// contact's content would again depend on card order. The engine and the Kotlin mapper (which
/// compares `String`s exactly) treat them as two texts; normalising them is the core's job.
///
/// Stateless; every function is pure and thread-safe.
public enum ContactMapper {
    /// The engine's contact for `record`, with every value it holds (possibly none).
    public static func rawContact(from record: some ContactRecord) -> RawContact {
        let labelled = values(of: record)
        return RawContact(
            sourceId: record.identifier,
            displayName: displayName(of: record, values: labelled),
            values: labelled,
            version: nil
        )
    }

    /// The engine's contact for `record`, or `nil` when it holds nothing to discover (a name, a
    /// postal address, only blank values). Such a contact is not given to the engine: a full
    /// snapshot omits it and a change feed deletes it, so both paths agree on what the engine
    /// holds — the same rule as on Android.
    public static func discoverableContact(from record: some ContactRecord) -> RawContact? {
        let contact = rawContact(from: record)
        return contact.values.isEmpty ? nil : contact
    }

    /// The raw values of `record`, de-duplicated and sorted (see the type's documentation).
    public static func values(of record: some ContactRecord) -> [Labelled] {
        var collected = ValueSet()
        for phone in record.labeledPhoneNumbers where !isBlank(phone.value) {
            collected.add(Labelled(kind: .phone, label: label(phone.label), value: phone.value))
        }
        for email in record.labeledEmailAddresses where !isBlank(email.value) {
            collected.add(Labelled(kind: .email, label: label(email.label), value: email.value))
        }
        for address in record.labeledInstantMessageAddresses where !isBlank(address.value.username) {
            collected.add(Labelled(
                kind: .handle, label: instantMessageService(address.value.service), value: address.value.username))
        }
        for profile in record.labeledSocialProfiles {
            if let value = socialProfileValue(profile.value) {
                collected.add(value)
            }
        }
        return collected.sorted()
    }

    /// The name the user sees, in this order: the platform's formatted name
    /// (``ContactRecord/formattedName``); given and family name joined by a space; the
    /// organisation; else, as the core's file readers do for nameless contacts, the first e-mail
    /// address, phone number or other value. Trimmed; empty only for a contact with none of these.
    public static func displayName(of record: some ContactRecord, values: [Labelled]) -> String {
        if let formatted = record.formattedName.map(trimmed), !formatted.isEmpty {
            return formatted
        }
        let name = [record.givenName, record.familyName].map(trimmed).filter { !$0.isEmpty }.joined(separator: " ")
        if !name.isEmpty {
            return name
        }
        let organization = trimmed(record.organizationName)
        if !organization.isEmpty {
            return organization
        }
        let first = values.first { $0.kind == .email } ?? values.first { $0.kind == .phone } ?? values.first
        return first.map { trimmed($0.value) } ?? ""
    }

    /// The label of a phone number or e-mail address, from its raw `CNLabeledValue` label.
    ///
    /// Apple's built-in labels (`_$!<Mobile>!$_` and the other `CNLabel*` constants) become the
    /// same words the Kotlin mapper uses for Android's types, so an app localises one set of
    /// labels: `mobile`, `home`, `work`, `other`, `main`, `pager`, `fax_home`, `fax_work`,
    /// `other_fax`, plus the Apple-only `iphone`, `apple_watch`, `icloud` and `school`. Another
    /// `_$!<Name>!$_` token becomes `name` lower-cased (as the core's vCard reader reads Apple's
    /// `X-ABLabel`s). A custom label is kept as the user typed it, trimmed (`Büro`). `nil` for no
    /// label or a blank one: a label is shown to the user, and an invented one would mislead.
    public static func label(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let text = trimmed(raw)
        if text.isEmpty {
            return nil
        }
        if text.hasPrefix(builtInPrefix), text.hasSuffix(builtInSuffix),
           text.count >= builtInPrefix.count + builtInSuffix.count {
            let name = text.dropFirst(builtInPrefix.count).dropLast(builtInSuffix.count)
            let key = trimmed(String(name)).lowercased()
            return key.isEmpty ? nil : builtInLabels[key] ?? key
        }
        return plainBuiltInLabels[text] ?? text
    }

    /// The messenger service of an instant-messaging address, lower-cased so that the app can
    /// compare it with its own service name (`Signal` → `signal`). Apple's predefined services
    /// take the Kotlin mapper's (and the core vCard reader's) names: `Jabber` → `xmpp`,
    /// `GoogleTalk` → `gtalk`; the others are lower-cased (`skype`, `aim`, `icq`, `msn`, `qq`,
    /// `yahoo`, `facebook`, `gadugadu`). `nil` for an empty service.
    public static func instantMessageService(_ service: String) -> String? {
        let key = trimmed(service).lowercased()
        if key.isEmpty {
            return nil
        }
        return instantMessageServices[key] ?? key
    }

    /// The value a social profile contributes, or `nil` when it has nothing to match on:
    ///
    /// 1. a linked ``IdentifierKind/account`` `provider:userIdentifier` when the profile carries
    ///    the service's own user id and the service is a provider the core knows
    ///    (``linkedAccountProvider(service:)``): that id is stable, unlike a username;
    /// 2. else a linked account read from the profile URL, when it carries a numeric subject id
    ///    (``ProfileURLs/linkedAccount(_:)``, the rules of the Kotlin mapper's website rows);
    /// 3. else the username as a ``IdentifierKind/handle`` labelled with the service lower-cased
    ///    (`twitter`), as the core's vCard reader reads Apple's `X-SOCIALPROFILE` and as IM
    ///    addresses are read.
    ///
    /// Only one of them: with a stable id known, adding the username as a handle too would add a
    /// second, weaker key for the same profile, one that can match a stranger who holds that name
    /// in the app's namespace. A vanity profile URL with no username is ignored, as on Android.
    public static func socialProfileValue(_ profile: ContactSocialProfile) -> Labelled? {
        let service = trimmed(profile.service).lowercased()
        let subject = trimmed(profile.userIdentifier)
        if !subject.isEmpty, let provider = linkedAccountProvider(service: service) {
            return Labelled(kind: .account, label: nil, value: "\(provider):\(subject)")
        }
        if let account = ProfileURLs.linkedAccount(profile.urlString) {
            return Labelled(kind: .account, label: nil, value: account)
        }
        if !isBlank(profile.username) {
            return Labelled(kind: .handle, label: service.isEmpty ? nil : service, value: profile.username)
        }
        return nil
    }

    /// The core's provider name for a social-profile service (any case), or `nil` when the core
    /// does not know it (`Flickr`, `Yelp`, `GameCenter`, custom services): a subject at an unknown
    /// provider can never match, and would only be counted as a rejection on every import.
    ///
    /// The list mirrors `PROVIDERS` and its aliases in core/src/identifier/account.rs. If the core
    /// gains a provider before this list does, such profiles fall back to their username: a missed
    /// match, never a wrong one.
    public static func linkedAccountProvider(service: String) -> String? {
        let key = trimmed(service).lowercased()
        if let alias = providerAliases[key] {
            return alias
        }
        return providers.contains(key) ? key : nil
    }

    // MARK: Tables

    private static let builtInPrefix = "_$!<"
    private static let builtInSuffix = ">!$_"

    /// The names inside Apple's `_$!<...>!$_` label constants (lower-cased) and their labels.
    private static let builtInLabels: [String: String] = [
        "home": "home",  // CNLabelHome
        "work": "work",  // CNLabelWork
        "school": "school",  // CNLabelSchool
        "other": "other",  // CNLabelOther
        "mobile": "mobile",  // CNLabelPhoneNumberMobile
        "iphone": "iphone",  // CNLabelPhoneNumberiPhone, in SDKs that wrap it
        "applewatch": "apple_watch",  // CNLabelPhoneNumberAppleWatch
        "main": "main",  // CNLabelPhoneNumberMain
        "homefax": "fax_home",  // CNLabelPhoneNumberHomeFax
        "workfax": "fax_work",  // CNLabelPhoneNumberWorkFax
        "otherfax": "other_fax",  // CNLabelPhoneNumberOtherFax
        "pager": "pager",  // CNLabelPhoneNumberPager
    ]

    /// Apple's label constants that are plain words rather than `_$!<...>!$_` tokens, matched
    /// exactly (a user's own "Iphone" stays as typed).
    private static let plainBuiltInLabels: [String: String] = [
        "iPhone": "iphone",  // CNLabelPhoneNumberiPhone
        "AppleWatch": "apple_watch",  // CNLabelPhoneNumberAppleWatch, in SDKs that do not wrap it
        "iCloud": "icloud",  // CNLabelEmailiCloud
    ]

    /// `CNInstantMessageService*` names (lower-cased) whose label differs from the lower-cased name.
    private static let instantMessageServices: [String: String] = [
        "jabber": "xmpp",  // CNInstantMessageServiceJabber
        "googletalk": "gtalk",  // CNInstantMessageServiceGoogleTalk
    ]

    /// `PROVIDERS` of core/src/identifier/account.rs.
    private static let providers: Set<String> = [
        "apple", "discord", "facebook", "github", "gitlab", "google", "instagram", "line", "linkedin",
        "mastodon", "microsoft", "signal", "slack", "snapchat", "telegram", "threads", "tiktok",
        "twitter", "vk", "wechat", "whatsapp",
    ]

    /// `ALIASES` of core/src/identifier/account.rs.
    private static let providerAliases: [String: String] = ["x": "twitter", "fb": "facebook", "azure": "microsoft"]

    // MARK: Helpers

    private static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func isBlank(_ text: String) -> Bool {
        text.allSatisfy(\.isWhitespace)
    }

    /// Whether `a` sorts before `b` by their UTF-8 bytes: exact, and the order Rust gives `str`.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// A text that is equal only to the same bytes, not to every canonically equivalent spelling
    /// as `String` is (see the type's documentation).
    private struct ExactText: Hashable {
        let text: String

        static func == (a: ExactText, b: ExactText) -> Bool {
            a.text.utf8.elementsEqual(b.text.utf8)
        }

        func hash(into hasher: inout Hasher) {
            for byte in text.utf8 {
                hasher.combine(byte)
            }
        }
    }

    /// One contact's values being collected: de-duplicated by kind and exact text (and, for
    /// handles, exact namespace), keeping the best label.
    private struct ValueSet {
        private struct Key: Hashable {
            let kind: IdentifierKind
            let value: ExactText
            /// The label of a handle (its messenger, part of what the value means); `nil` for every
            /// other kind, whose label only describes the value and is merged by `better`.
            let namespace: ExactText?
        }

        private var labels: [Key: String?] = [:]
        private var order: [Key] = []

        mutating func add(_ value: Labelled) {
            let key = Key(
                kind: value.kind, value: ExactText(text: value.value),
                namespace: value.kind == .handle ? value.label.map { ExactText(text: $0) } : nil)
            if let existing = labels[key] {
                labels[key] = better(existing, value.label)
            } else {
                labels[key] = value.label
                order.append(key)
            }
        }

        /// Sorted by kind (in the engine's order), text, then label (none first), texts and labels
        /// by their bytes.
        func sorted() -> [Labelled] {
            order
                .map { Labelled(kind: $0.kind, label: labels[$0] ?? nil, value: $0.value.text) }
                .sorted { a, b in
                    if a.kind != b.kind {
                        return rank(a.kind) < rank(b.kind)
                    }
                    if ExactText(text: a.value) != ExactText(text: b.value) {
                        return ContactMapper.precedes(a.value, b.value)
                    }
                    switch (a.label, b.label) {
                    case (nil, nil): return false
                    case (nil, _): return true
                    case (_, nil): return false
                    case let (x?, y?): return ContactMapper.precedes(x, y)
                    }
                }
        }

        /// Any label over none; of two, the first in byte order (deterministic whatever the order
        /// in which linked cards contribute them, even for two canonically equivalent spellings).
        private func better(_ a: String?, _ b: String?) -> String? {
            guard let a else { return b }
            guard let b else { return a }
            return ContactMapper.precedes(b, a) ? b : a
        }

        private func rank(_ kind: IdentifierKind) -> Int {
            switch kind {
            case .phone: return 0
            case .email: return 1
            case .handle: return 2
            case .account: return 3
            case .invite: return 4
            }
        }
    }
}
