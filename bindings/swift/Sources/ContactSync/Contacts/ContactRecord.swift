import Foundation

/// One contact of an address book, shaped like `CNContact`: what ``ContactMapper`` reads to build
/// the engine's ``RawContact``, and nothing else.
///
/// This protocol is the seam between Apple's Contacts framework and everything that can be tested
/// without it. On a device `CNContact` conforms (`CNContactStoreSource.swift`) with a thin copy of
/// its properties; ``ContactValues`` holds a contact written out in a test, or one from any other
/// source (a contact picker, an app's own directory) shaped the same way. The mapper reads nothing
/// else, so the mapping tested on Linux is exactly the mapping that runs on a phone.
///
/// Values are kept **as the Contacts framework holds them**: labels are the raw `CNLabeledValue`
/// labels (`_$!<Mobile>!$_`, `iPhone`, or the user's own text such as `Büro`), services are
/// `CNInstantMessageAddress` / `CNSocialProfile` service strings (`Skype`, `Jabber`, `Twitter`, or
/// custom text), and absent strings are empty, as in `CNContact`. Reading them (localising labels,
/// naming services, deciding what is an account) is the mapper's job, in one place, so a
/// conformance never has to interpret anything.
///
/// The list properties are named `labeled...` rather than `phoneNumbers`: `CNContact` already has
/// properties of those names with its own types, and a second property of the same name would
/// make every `contact.phoneNumbers` in an app ambiguous.
public protocol ContactRecord {
    /// A stable id of the contact in its source: `CNContact.identifier` (of the unified contact).
    /// It becomes the engine's source id, and change-history deletions name contacts by it.
    var identifier: String { get }

    /// The given name (`CNContact.givenName`); empty when there is none.
    var givenName: String { get }

    /// The family name (`CNContact.familyName`); empty when there is none.
    var familyName: String { get }

    /// The organisation (`CNContact.organizationName`); empty when there is none. The display name
    /// of a company's card.
    var organizationName: String { get }

    /// The full name as the platform formats it for the user's locale (`CNContactFormatter`'s
    /// `.fullName`, which orders given and family name the way the user expects, e.g. family name
    /// first in Chinese, Japanese, Korean or Hungarian), or `nil` to let the mapper compose one
    /// from ``givenName`` and ``familyName``. Defaults to `nil`.
    var formattedName: String? { get }

    /// Phone numbers, as typed (`CNPhoneNumber.stringValue`), with their raw labels.
    var labeledPhoneNumbers: [ContactLabeledValue<String>] { get }

    /// E-mail addresses, as typed, with their raw labels.
    var labeledEmailAddresses: [ContactLabeledValue<String>] { get }

    /// Instant-messaging addresses (`CNInstantMessageAddress`): a messenger service and a username.
    var labeledInstantMessageAddresses: [ContactLabeledValue<ContactInstantMessageAddress>] { get }

    /// Social profiles (`CNSocialProfile`): a service, a username, the service's user id and a
    /// profile URL, any of them possibly empty.
    var labeledSocialProfiles: [ContactLabeledValue<ContactSocialProfile>] { get }
}

extension ContactRecord {
    /// No platform-formatted name: the mapper composes one (see ``ContactMapper/displayName(of:values:)``).
    public var formattedName: String? { nil }
}

/// A value with the label the address book gave it: the plain-Swift `CNLabeledValue`.
public struct ContactLabeledValue<Value> {
    /// The raw label as the Contacts framework holds it: one of Apple's label constants
    /// (`_$!<Mobile>!$_`, `_$!<HomeFAX>!$_`, `iPhone`, `iCloud`, ...), the user's own text, or
    /// `nil` when the value has none.
    public var label: String?

    /// The value.
    public var value: Value

    /// A labelled value.
    public init(label: String? = nil, value: Value) {
        self.label = label
        self.value = value
    }
}

extension ContactLabeledValue: Sendable where Value: Sendable {}
extension ContactLabeledValue: Equatable where Value: Equatable {}
extension ContactLabeledValue: Hashable where Value: Hashable {}

/// An instant-messaging address, as `CNInstantMessageAddress` holds it.
public struct ContactInstantMessageAddress: Sendable, Hashable {
    /// The messenger: one of Apple's `CNInstantMessageService*` strings (`Skype`, `Jabber`,
    /// `GoogleTalk`, `Facebook`, ...) or the user's own text (`Signal`, `Telegram`); may be empty.
    public var service: String

    /// The username in that service, as typed.
    public var username: String

    /// An instant-messaging address.
    public init(service: String, username: String) {
        self.service = service
        self.username = username
    }
}

/// A social profile, as `CNSocialProfile` holds it. Every field may be empty.
public struct ContactSocialProfile: Sendable, Hashable {
    /// The service: one of Apple's `CNSocialProfileService*` strings (`Twitter`, `Facebook`,
    /// `LinkedIn`, `Flickr`, ...) or the user's own text.
    public var service: String

    /// The username (a vanity name, which can be renamed and re-issued).
    public var username: String

    /// The service's own stable id of the user, when the address book knows it (the account
    /// integrations of older iOS versions filled it in, e.g. the numeric Twitter or Facebook id).
    public var userIdentifier: String

    /// The profile's URL.
    public var urlString: String

    /// A social profile.
    public init(service: String, username: String = "", userIdentifier: String = "", urlString: String = "") {
        self.service = service
        self.username = username
        self.userIdentifier = userIdentifier
        self.urlString = urlString
    }
}

/// A contact as plain values: a ``ContactRecord`` for sources other than `CNContact` (a contact
/// picker's result, an app's own directory, a test), and the copy the `CNContactStore` source makes
/// of each `CNContact` on its reading thread, so that only `Sendable` values cross threads.
public struct ContactValues: ContactRecord, Sendable, Hashable {
    /// See ``ContactRecord/identifier``.
    public var identifier: String
    /// See ``ContactRecord/givenName``.
    public var givenName: String
    /// See ``ContactRecord/familyName``.
    public var familyName: String
    /// See ``ContactRecord/organizationName``.
    public var organizationName: String
    /// See ``ContactRecord/formattedName``.
    public var formattedName: String?
    /// See ``ContactRecord/labeledPhoneNumbers``.
    public var labeledPhoneNumbers: [ContactLabeledValue<String>]
    /// See ``ContactRecord/labeledEmailAddresses``.
    public var labeledEmailAddresses: [ContactLabeledValue<String>]
    /// See ``ContactRecord/labeledInstantMessageAddresses``.
    public var labeledInstantMessageAddresses: [ContactLabeledValue<ContactInstantMessageAddress>]
    /// See ``ContactRecord/labeledSocialProfiles``.
    public var labeledSocialProfiles: [ContactLabeledValue<ContactSocialProfile>]

    /// A contact; everything but its identifier may be left out.
    public init(
        identifier: String,
        givenName: String = "",
        familyName: String = "",
        organizationName: String = "",
        formattedName: String? = nil,
        labeledPhoneNumbers: [ContactLabeledValue<String>] = [],
        labeledEmailAddresses: [ContactLabeledValue<String>] = [],
        labeledInstantMessageAddresses: [ContactLabeledValue<ContactInstantMessageAddress>] = [],
        labeledSocialProfiles: [ContactLabeledValue<ContactSocialProfile>] = []
    ) {
        self.identifier = identifier
        self.givenName = givenName
        self.familyName = familyName
        self.organizationName = organizationName
        self.formattedName = formattedName
        self.labeledPhoneNumbers = labeledPhoneNumbers
        self.labeledEmailAddresses = labeledEmailAddresses
        self.labeledInstantMessageAddresses = labeledInstantMessageAddresses
        self.labeledSocialProfiles = labeledSocialProfiles
    }

    /// A copy of any record's values (e.g. of a `CNContact`, which may not cross threads).
    public init(_ record: some ContactRecord) {
        self.init(
            identifier: record.identifier,
            givenName: record.givenName,
            familyName: record.familyName,
            organizationName: record.organizationName,
            formattedName: record.formattedName,
            labeledPhoneNumbers: record.labeledPhoneNumbers,
            labeledEmailAddresses: record.labeledEmailAddresses,
            labeledInstantMessageAddresses: record.labeledInstantMessageAddresses,
            labeledSocialProfiles: record.labeledSocialProfiles
        )
    }
}
