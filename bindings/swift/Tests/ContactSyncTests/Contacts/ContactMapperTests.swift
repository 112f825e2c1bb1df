import ContactSync
import Foundation
import XCTest

/// The mapping from `CNContact`-shaped records to the engine's contacts, with values written the
/// way the Contacts framework stores them (Apple's label constants as their literal strings).
final class ContactsMapperTests: XCTestCase {
    private func phone(_ value: String, _ label: String?) -> Labelled { Labelled(kind: .phone, label: label, value: value) }
    private func email(_ value: String, _ label: String?) -> Labelled { Labelled(kind: .email, label: label, value: value) }
    private func handle(_ value: String, _ service: String?) -> Labelled { Labelled(kind: .handle, label: service, value: value) }
    private func account(_ value: String) -> Labelled { Labelled(kind: .account, label: nil, value: value) }

    /// Ana as an iPhone holds her: two numbers that are one (typed twice, on linked cards), a
    /// custom label, a fax, an iCloud address, Skype and a custom messenger, and three social
    /// profiles — one with the service's user id, one vanity Facebook link, one LinkedIn profile
    /// with nothing but a URL.
    private let ana = ContactValues(
        identifier: "410FE041-5C4E-48DA-B4DE-04C15EA3DBAC:ABPerson",
        givenName: "Ana",
        familyName: "Lima",
        labeledPhoneNumbers: [
            ContactLabeledValue(label: "_$!<Mobile>!$_", value: "+49 151 23456789"),
            ContactLabeledValue(label: "iPhone", value: "0151 23456789"),
            ContactLabeledValue(label: " Büro ", value: "030 1234567"),
            ContactLabeledValue(label: "_$!<HomeFAX>!$_", value: "030 7654321"),
            ContactLabeledValue(label: "_$!<Work>!$_", value: "+49 151 23456789"),
        ],
        labeledEmailAddresses: [
            ContactLabeledValue(label: "_$!<Home>!$_", value: "ana@example.org"),
            ContactLabeledValue(label: "iCloud", value: "ana@icloud.com"),
        ],
        labeledInstantMessageAddresses: [
            ContactLabeledValue(label: "_$!<Home>!$_", value: ContactInstantMessageAddress(service: "Skype", username: "ana.lima")),
            ContactLabeledValue(label: nil, value: ContactInstantMessageAddress(service: "Signal", username: "@Ana.Lima")),
        ],
        labeledSocialProfiles: [
            ContactLabeledValue(value: ContactSocialProfile(
                service: "Twitter", username: "analima", userIdentifier: "783214",
                urlString: "http://twitter.com/analima")),
            ContactLabeledValue(value: ContactSocialProfile(
                service: "Facebook", username: "ana.lima", urlString: "https://www.facebook.com/ana.lima")),
            ContactLabeledValue(value: ContactSocialProfile(
                service: "LinkedIn", urlString: "http://www.linkedin.com/in/analima")),
        ]
    )

    func testMapsAContactShapedLikeACNContact() {
        XCTAssertEqual(
            ContactMapper.rawContact(from: ana),
            RawContact(
                sourceId: "410FE041-5C4E-48DA-B4DE-04C15EA3DBAC:ABPerson",
                displayName: "Ana Lima",
                values: [
                    // Sorted by kind, then text ('+' before '0', "0151" before "030").
                    phone("+49 151 23456789", "mobile"),  // "mobile" < "work": the duplicate collapsed
                    phone("0151 23456789", "iphone"),
                    phone("030 1234567", "Büro"),
                    phone("030 7654321", "fax_home"),
                    email("ana@example.org", "home"),
                    email("ana@icloud.com", "icloud"),
                    // A handle's label is its namespace: the same name under two services stays two.
                    handle("@Ana.Lima", "signal"),
                    handle("ana.lima", "facebook"),
                    handle("ana.lima", "skype"),
                    // The Twitter profile carries its user id: an account, and not also a handle.
                    account("twitter:783214"),
                ],
                version: nil
            )
        )
    }

    func testTheResultDoesNotDependOnTheOrderOfTheValues() {
        // Linked cards contribute their values in an order that can change; the content (and so
        // the engine's fingerprint) must not change with it.
        var reversed = ana
        reversed.labeledPhoneNumbers.reverse()
        reversed.labeledEmailAddresses.reverse()
        reversed.labeledInstantMessageAddresses.reverse()
        reversed.labeledSocialProfiles.reverse()
        XCTAssertEqual(ContactMapper.rawContact(from: reversed), ContactMapper.rawContact(from: ana))
    }

    func testCanonicallyEquivalentSpellingsAreComparedExactlyWhateverTheCardOrder() {
        // Two linked cards spell the same address in NFC and in NFD, and a number with two custom
        // labels that differ in the same way. Swift's `String ==` holds both pairs equal; the
        // mapper must not, or the result would be whichever card came first.
        let nfc = "Jos\u{E9}@example.org", nfd = "Jose\u{301}@example.org"
        XCTAssertEqual(nfc, nfd)  // what a de-duplication by `String` would see
        let card = ContactValues(
            identifier: "jose",
            givenName: "Jos\u{E9}",
            labeledPhoneNumbers: [
                ContactLabeledValue(label: "Caf\u{E9}", value: "+49 151 23456789"),
                ContactLabeledValue(label: "Cafe\u{301}", value: "+49 151 23456789"),
            ],
            labeledEmailAddresses: [
                ContactLabeledValue(label: "_$!<Home>!$_", value: nfc),
                ContactLabeledValue(label: "_$!<Home>!$_", value: nfd),
            ])
        var reversed = card
        reversed.labeledPhoneNumbers.reverse()
        reversed.labeledEmailAddresses.reverse()

        // `Labelled ==` compares with `String ==` too: compare the bytes.
        func exactly(_ values: [Labelled]) -> [[[UInt8]]] {
            values.map { [Array("\($0.kind)".utf8), Array(($0.label ?? "-").utf8), Array($0.value.utf8)] }
        }
        let expected: [[[UInt8]]] = [
            // One number, with the label first in byte order ("e" 0x65 before "é" 0xC3 0xA9).
            [Array("phone".utf8), Array("Cafe\u{301}".utf8), Array("+49 151 23456789".utf8)],
            // Two addresses, in byte order.
            [Array("email".utf8), Array("home".utf8), Array(nfd.utf8)],
            [Array("email".utf8), Array("home".utf8), Array(nfc.utf8)],
        ]
        XCTAssertEqual(exactly(ContactMapper.values(of: card)), expected)
        XCTAssertEqual(exactly(ContactMapper.values(of: reversed)), expected)
    }

    func testApplesLabelConstantsBecomeTheKotlinMappersWords() {
        let expected: [(String?, String?)] = [
            ("_$!<Mobile>!$_", "mobile"),  // CNLabelPhoneNumberMobile
            ("iPhone", "iphone"),  // CNLabelPhoneNumberiPhone
            ("_$!<iPhone>!$_", "iphone"),
            ("_$!<AppleWatch>!$_", "apple_watch"),  // CNLabelPhoneNumberAppleWatch
            ("AppleWatch", "apple_watch"),
            ("_$!<Main>!$_", "main"),
            ("_$!<HomeFAX>!$_", "fax_home"),
            ("_$!<WorkFAX>!$_", "fax_work"),
            ("_$!<OtherFAX>!$_", "other_fax"),
            ("_$!<Pager>!$_", "pager"),
            ("_$!<Home>!$_", "home"),  // CNLabelHome
            ("_$!<Work>!$_", "work"),  // CNLabelWork
            ("_$!<School>!$_", "school"),  // CNLabelSchool
            ("_$!<Other>!$_", "other"),  // CNLabelOther
            ("iCloud", "icloud"),  // CNLabelEmailiCloud
            ("_$!<Anniversary>!$_", "anniversary"),  // another token: its name, lower-cased
            (" Zweitnummer ", "Zweitnummer"),  // custom: as typed, trimmed
            ("Iphone", "Iphone"),  // only Apple's exact constant is translated
            ("私用", "私用"),
            ("_$!<>!$_", nil),
            ("   ", nil),
            ("", nil),
            (nil, nil),
        ]
        for (raw, label) in expected {
            XCTAssertEqual(ContactMapper.label(raw), label, "label of \(raw ?? "nil")")
        }
    }

    func testInstantMessageServicesTakeTheNamesOfTheKotlinMapper() {
        let expected: [(String, String?)] = [
            ("Skype", "skype"), ("Jabber", "xmpp"), ("GoogleTalk", "gtalk"), ("AIM", "aim"), ("ICQ", "icq"),
            ("MSN", "msn"), ("QQ", "qq"), ("Yahoo", "yahoo"), ("Facebook", "facebook"), ("GaduGadu", "gadugadu"),
            (" Telegram ", "telegram"), ("Signal", "signal"), ("ВКонтакте", "вконтакте"), ("  ", nil), ("", nil),
        ]
        for (service, label) in expected {
            XCTAssertEqual(ContactMapper.instantMessageService(service), label, "service \(service)")
        }
    }

    func testASocialProfileIsAnAccountOnlyWithAStableId() {
        func value(_ profile: ContactSocialProfile) -> Labelled? { ContactMapper.socialProfileValue(profile) }

        // The service's own user id, at a provider the core knows (any case, aliases too).
        XCTAssertEqual(value(ContactSocialProfile(service: "Twitter", username: "jack", userIdentifier: "12")), account("twitter:12"))
        XCTAssertEqual(value(ContactSocialProfile(service: "facebook", userIdentifier: " 100004123456789 ")), account("facebook:100004123456789"))
        XCTAssertEqual(value(ContactSocialProfile(service: "X", userIdentifier: "783214")), account("twitter:783214"))
        XCTAssertEqual(value(ContactSocialProfile(service: "LinkedIn", userIdentifier: "AbC-12_x")), account("linkedin:AbC-12_x"))
        // A profile URL that carries a numeric id.
        XCTAssertEqual(
            value(ContactSocialProfile(service: "Facebook", username: "john.doe", urlString: "https://m.facebook.com/profile.php?id=4")),
            account("facebook:4"))
        XCTAssertEqual(
            value(ContactSocialProfile(service: "Twitter", urlString: "https://twitter.com/intent/user?user_id=783214")),
            account("twitter:783214"))
        // No stable id: the username, as a handle in the service's namespace.
        XCTAssertEqual(
            value(ContactSocialProfile(service: "Twitter", username: "jack", urlString: "https://twitter.com/jack")),
            handle("jack", "twitter"))
        // An id at a provider the core does not know can never match: the username instead.
        XCTAssertEqual(
            value(ContactSocialProfile(service: "Flickr", username: "ana_photos", userIdentifier: "12345678@N00")),
            handle("ana_photos", "flickr"))
        XCTAssertEqual(value(ContactSocialProfile(service: "GameCenter", userIdentifier: "G:1234")), nil)
        XCTAssertEqual(value(ContactSocialProfile(service: "", username: "someone")), handle("someone", nil))
        // A vanity URL alone names nobody reliably; an empty profile names nobody.
        XCTAssertEqual(value(ContactSocialProfile(service: "Facebook", urlString: "https://www.facebook.com/john.doe")), nil)
        XCTAssertEqual(value(ContactSocialProfile(service: "Twitter")), nil)
        // An id that is not one is passed through for the core to reject and count.
        XCTAssertEqual(value(ContactSocialProfile(service: "Twitter", userIdentifier: "12 34")), account("twitter:12 34"))
    }

    func testDisplayNameFollowsWhatTheUserSees() {
        func name(_ contact: ContactValues) -> String { ContactMapper.rawContact(from: contact).displayName }

        // The platform's formatted name wins (family name first in Chinese).
        XCTAssertEqual(name(ContactValues(identifier: "1", givenName: "小龍", familyName: "李", formattedName: "李小龍")), "李小龍")
        XCTAssertEqual(name(ContactValues(identifier: "2", givenName: " Zoë ", familyName: "Ångström")), "Zoë Ångström")
        XCTAssertEqual(name(ContactValues(identifier: "3", familyName: "Lima", formattedName: "  ")), "Lima")
        XCTAssertEqual(name(ContactValues(identifier: "4", organizationName: "ACME GmbH")), "ACME GmbH")
        // Nameless: the first e-mail address, else the first phone number (the core's rule).
        XCTAssertEqual(
            name(ContactValues(
                identifier: "5",
                labeledPhoneNumbers: [ContactLabeledValue(value: "+49 30 901820")],
                labeledEmailAddresses: [ContactLabeledValue(value: " carol@example.net ")])),
            "carol@example.net")
        XCTAssertEqual(name(ContactValues(identifier: "6", labeledPhoneNumbers: [ContactLabeledValue(value: "+49 30 901820")])), "+49 30 901820")
        XCTAssertEqual(name(ContactValues(identifier: "7")), "")
    }

    func testGarbageIsPassedThroughAndBlankValuesAreSkipped() {
        let huge = String(repeating: "9", count: 5_000)
        let eve = ContactValues(
            identifier: "eve",
            givenName: "Eve",
            labeledPhoneNumbers: [
                ContactLabeledValue(label: "_$!<Mobile>!$_", value: huge),
                ContactLabeledValue(label: "_$!<Mobile>!$_", value: "12"),
                ContactLabeledValue(label: "_$!<Mobile>!$_", value: "   "),
                ContactLabeledValue(label: "_$!<Mobile>!$_", value: ""),
            ],
            labeledEmailAddresses: [
                ContactLabeledValue(label: "Uni", value: "no-at-sign"),
                ContactLabeledValue(label: "_$!<Work>!$_", value: "\u{00A0}"),
            ],
            labeledInstantMessageAddresses: [
                ContactLabeledValue(value: ContactInstantMessageAddress(service: "", username: "@eve")),
                ContactLabeledValue(value: ContactInstantMessageAddress(service: "Skype", username: " ")),
            ]
        )
        XCTAssertEqual(
            ContactMapper.rawContact(from: eve).values,
            [phone("12", "mobile"), phone(huge, "mobile"), email("no-at-sign", "Uni"), handle("@eve", nil)])
    }

    func testAContactWithNothingToDiscoverIsNotAContactForTheEngine() {
        let dan = ContactValues(
            identifier: "dan", givenName: "Dan",
            labeledPhoneNumbers: [ContactLabeledValue(value: " ")],
            labeledSocialProfiles: [ContactLabeledValue(value: ContactSocialProfile(service: "Yelp"))])
        XCTAssertEqual(ContactMapper.rawContact(from: dan), RawContact(sourceId: "dan", displayName: "Dan", values: [], version: nil))
        XCTAssertNil(ContactMapper.discoverableContact(from: dan))
        XCTAssertNotNil(ContactMapper.discoverableContact(from: ana))
    }

    func testAnyRecordCanBeCopiedIntoValues() {
        XCTAssertEqual(ContactValues(ana), ana)
    }

    /// What the mapper hands over is what the core expects: through the real engine, values become
    /// canonical identifiers (non-ASCII digits, IDN domains, case-folded handles included) and
    /// garbage becomes counted rejections, not failures.
    func testMappedContactsThroughTheEngine() async throws {
        let dir = try contactsTestDirectory(self)
        let sync = try await ContactSync.open(path: dir.appendingPathComponent("contacts.db").path, config: Config(region: "DE"))
        let zoe = ContactValues(
            identifier: "zoe",
            givenName: "Zoë",
            familyName: "Ångström",
            labeledPhoneNumbers: [
                ContactLabeledValue(label: "_$!<Mobile>!$_", value: "+٤٩ ١٥١ ٢٣٤٥٦٧٨٩"),  // Arabic-Indic digits
                ContactLabeledValue(label: "_$!<Home>!$_", value: "12"),  // no number anyone has
            ],
            labeledEmailAddresses: [ContactLabeledValue(label: "_$!<Home>!$_", value: "Zoë@Bücher.example")],
            labeledInstantMessageAddresses: [
                ContactLabeledValue(value: ContactInstantMessageAddress(service: "Telegram", username: "Straße")),
            ],
            labeledSocialProfiles: [
                ContactLabeledValue(value: ContactSocialProfile(service: "Twitter", userIdentifier: "12 34")),
            ]
        )
        let report = try await sync.importSnapshot([ana, zoe].compactMap { ContactMapper.discoverableContact(from: $0) })
        XCTAssertEqual(report.added, 2)
        XCTAssertEqual(report.rejected, 2)
        XCTAssertEqual(report.rejections.keys.sorted(), ["account.invalid_subject", "phone.unassigned"])

        let stored = try await sync.contact(sourceId: ana.identifier)
        XCTAssertEqual(stored?.displayName, "Ana Lima")
        XCTAssertEqual(
            Set(stored?.identifiers.map { "\($0.kind):\($0.canonical)" } ?? []),
            [
                "phone:+4915123456789",  // two spellings, one number
                "phone:+49301234567",
                "phone:+49307654321",
                "email:ana@example.org",
                "email:ana@icloud.com",
                "handle:ana.lima",  // "@Ana.Lima" and "ana.lima" are one handle
                "account:twitter:783214",
            ])
        let storedZoe = try await sync.contact(sourceId: "zoe")
        XCTAssertEqual(storedZoe?.displayName, "Zoë Ångström")
        XCTAssertEqual(
            Set(storedZoe?.identifiers.map { "\($0.kind):\($0.canonical)" } ?? []),
            ["phone:+4915123456789", "email:zoë@xn--bcher-kva.example", "handle:strasse"])
    }
}
