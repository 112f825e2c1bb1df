//! The regions contacts come from: calling code, share of the book, number plan (the ranges of
//! valid mobile and fixed-line numbers, and how they are grouped for display), names and local mail
//! providers. Germany ([`DE`]) is the user's own region and first in [`COUNTRIES`].

use super::super::phone::{Range, f, m, r};
use super::names::{
    DUTCH, ENGLISH, FRENCH, GERMAN, INDIAN, ITALIAN, Names, POLISH, PORTUGUESE, RUSSIAN, SPANISH,
    TURKISH,
};

/// A region: its calling code, number plan, names and mail providers.
#[derive(Debug)]
pub(crate) struct Country {
    pub(crate) id: u64,
    pub(crate) iso: &'static str,
    pub(crate) cc: &'static str,
    /// Whether numbers are written `+CC (0)...` there.
    pub(crate) trunk_zero: bool,
    /// Per mille of contacts from here.
    pub(crate) weight: usize,
    pub(crate) mobile: &'static [Range],
    pub(crate) fixed: &'static [Range],
    pub(crate) names: &'static Names,
    /// Local mail providers, and how often people from here use them rather than the big ones.
    pub(crate) domains: &'static [&'static str],
    pub(crate) local_domains_per_mille: usize,
}

// Display groupings of national numbers (`0` = the range's prefix).
const P: &[usize] = &[0];
const P3: &[usize] = &[0, 3];
const G232: &[usize] = &[2, 3, 2];
const G1222: &[usize] = &[1, 2, 2, 2];
const G24: &[usize] = &[2, 4];
const G33: &[usize] = &[3, 3];
const G332: &[usize] = &[3, 3, 2];
const G23: &[usize] = &[2, 3];
const G25: &[usize] = &[2, 5];
const G5: &[usize] = &[5];
const G4: &[usize] = &[4];
const G34: &[usize] = &[3, 4];

#[rustfmt::skip]
pub(crate) static DE: Country = Country {
    id: 0,
    iso: "DE",
    cc: "49",
    trunk_zero: true,
    weight: 700,
    mobile: &[
        m("151", 8, P), m("152", 8, P), m("157", 8, P), m("159", 8, P), m("160", 7, P),
        m("162", 7, P), m("163", 7, P), m("170", 7, P), m("171", 7, P), m("172", 7, P),
        m("173", 7, P), m("174", 7, P), m("175", 7, P), m("176", 8, P), m("177", 8, P),
        m("178", 8, P), m("179", 7, P),
    ],
    fixed: &[
        f("30", 8, P), f("40", 8, P), f("89", 8, P), f("69", 8, P), f("221", 7, P), f("211", 7, P),
        f("711", 7, P), f("341", 7, P), f("351", 7, P), f("511", 7, P), f("911", 7, P),
        f("421", 7, P), f("231", 7, P), f("201", 7, P), f("228", 6, P), f("6221", 6, P),
        f("761", 6, P),
    ],
    names: &GERMAN,
    domains: &[
        "gmx.de", "gmx.de", "web.de", "web.de", "t-online.de", "gmx.net", "yahoo.de", "hotmail.de",
        "outlook.de", "googlemail.com", "freenet.de", "posteo.de", "mailbox.org", "arcor.de",
    ],
    local_domains_per_mille: 550,
};

#[rustfmt::skip]
pub(crate) static COUNTRIES: &[&Country] = &[
    &DE,
    &Country {
        id: 1,
        iso: "AT",
        cc: "43",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("650", 7, P), m("660", 7, P), m("664", 7, P), m("676", 7, P), m("680", 7, P),
            m("699", 8, P),
        ],
        fixed: &[f("1", 7, P), f("316", 6, P), f("662", 6, P), f("512", 6, P)],
        names: &GERMAN,
        domains: &["gmx.at", "aon.at", "chello.at", "a1.net"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 2,
        iso: "CH",
        cc: "41",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("76", 7, G232), m("77", 7, G232), m("78", 7, G232), m("79", 7, G232),
        ],
        fixed: &[
            f("44", 7, G232), f("31", 7, G232), f("22", 7, G232), f("61", 7, G232),
        ],
        names: &GERMAN,
        domains: &["bluewin.ch", "gmx.ch", "sunrise.ch", "hispeed.ch"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 3,
        iso: "GB",
        cc: "44",
        trunk_zero: true,
        weight: 30,
        mobile: &[
            m("7400", 6, G4), m("7412", 6, G4), m("7711", 6, G4), m("7723", 6, G4),
            m("7735", 6, G4), m("7796", 6, G4), m("7852", 6, G4), m("7903", 6, G4),
            m("7949", 6, G4), m("7984", 6, G4),
        ],
        fixed: &[
            f("207", 7, G24), f("208", 7, G24), f("161", 7, P3), r("121", 7, 2, 7, P3),
        ],
        names: &ENGLISH,
        domains: &[
            "btinternet.com", "yahoo.co.uk", "sky.com", "virginmedia.com",
        ],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 4,
        iso: "FR",
        cc: "33",
        trunk_zero: true,
        weight: 20,
        mobile: &[
            m("61", 7, G1222), m("62", 7, G1222), m("64", 7, G1222), m("65", 7, G1222),
            m("66", 7, G1222), m("67", 7, G1222), m("68", 7, G1222), m("75", 7, G1222),
            m("76", 7, G1222), m("77", 7, G1222), m("78", 7, G1222),
        ],
        fixed: &[
            f("14", 7, G1222), f("153", 6, G1222), f("491", 6, G1222), f("478", 6, G1222),
        ],
        names: &FRENCH,
        domains: &[
            "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr",
        ],
        local_domains_per_mille: 450,
    },
    &Country {
        id: 5,
        iso: "NL",
        cc: "31",
        trunk_zero: true,
        weight: 20,
        mobile: &[
            m("61", 7, &[1]), m("62", 7, &[1]), m("63", 7, &[1]), m("64", 7, &[1]),
            m("65", 7, &[1]),
        ],
        fixed: &[f("20", 7, G23), f("10", 7, G23), f("30", 7, G23)],
        names: &DUTCH,
        domains: &["ziggo.nl", "kpnmail.nl", "planet.nl", "home.nl"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 6,
        iso: "IT",
        cc: "39",
        trunk_zero: false,
        weight: 25,
        mobile: &[
            m("320", 7, G33), m("328", 7, G33), m("333", 7, G33), m("338", 7, G33),
            m("340", 7, G33), m("347", 7, G33), m("348", 7, G33), m("349", 7, G33),
            m("366", 7, G33), m("380", 7, G33), m("389", 7, G33), m("392", 7, G33),
        ],
        fixed: &[f("06", 8, G24), f("02", 8, G24), f("011", 7, G34)],
        names: &ITALIAN,
        domains: &["libero.it", "alice.it", "tiscali.it", "virgilio.it"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 7,
        iso: "ES",
        cc: "34",
        trunk_zero: false,
        weight: 20,
        mobile: &[
            m("61", 7, G33), m("62", 7, G33), m("63", 7, G33), m("64", 7, G33), m("65", 7, G33),
            m("66", 7, G33), m("67", 7, G33), m("68", 7, G33), m("69", 7, G33),
        ],
        fixed: &[f("91", 7, G232), f("93", 7, G232), f("96", 7, G232)],
        names: &SPANISH,
        domains: &["telefonica.net", "yahoo.es", "hotmail.es"],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 8,
        iso: "PL",
        cc: "48",
        trunk_zero: false,
        weight: 30,
        mobile: &[
            m("50", 7, G33), m("51", 7, G33), m("53", 7, G33), m("57", 7, G33), m("60", 7, G33),
            m("66", 7, G33), m("69", 7, G33), m("72", 7, G33), m("73", 7, G33), m("78", 7, G33),
            m("79", 7, G33), m("88", 7, G33),
        ],
        fixed: &[f("22", 7, G232), f("12", 7, G232)],
        names: &POLISH,
        domains: &["wp.pl", "onet.pl", "o2.pl", "interia.pl"],
        local_domains_per_mille: 500,
    },
    &Country {
        id: 9,
        iso: "TR",
        cc: "90",
        trunk_zero: false,
        weight: 35,
        mobile: &[
            m("505", 7, G332), m("532", 7, G332), m("533", 7, G332), m("535", 7, G332),
            m("536", 7, G332), m("542", 7, G332), m("543", 7, G332), m("544", 7, G332),
            m("552", 7, G332), m("555", 7, G332),
        ],
        fixed: &[f("212", 7, G332), f("216", 7, G332), f("312", 7, G332)],
        names: &TURKISH,
        domains: &["hotmail.com", "yandex.com.tr", "mynet.com"],
        local_domains_per_mille: 400,
    },
    &Country {
        id: 10,
        iso: "US",
        cc: "1",
        trunk_zero: false,
        weight: 25,
        mobile: &[
            f("415", 7, G33), f("212", 7, G33), f("646", 7, G33), f("310", 7, G33),
            f("617", 7, G33), f("312", 7, G33), f("206", 7, G33), f("512", 7, G33),
            f("305", 7, G33), f("702", 7, G33), f("404", 7, G33),
        ],
        fixed: &[],
        names: &ENGLISH,
        domains: &["comcast.net", "aol.com", "att.net", "verizon.net"],
        local_domains_per_mille: 250,
    },
    &Country {
        id: 11,
        iso: "IN",
        cc: "91",
        trunk_zero: false,
        weight: 10,
        mobile: &[
            m("98", 8, G5), m("99", 8, G5), m("97", 8, G5), m("94", 8, G5), m("93", 8, G5),
            m("90", 8, G5), m("70", 8, G5), m("80", 8, G5), m("81", 8, G5), m("88", 8, G5),
        ],
        fixed: &[r("11", 8, 2, 7, G24), r("22", 8, 2, 7, G24)],
        names: &INDIAN,
        domains: &["rediffmail.com", "yahoo.co.in"],
        local_domains_per_mille: 200,
    },
    &Country {
        id: 12,
        iso: "BR",
        cc: "55",
        trunk_zero: false,
        weight: 10,
        mobile: &[
            m("119", 8, G25), m("219", 8, G25), m("319", 8, G25), m("419", 8, G25),
            m("519", 8, G25), m("619", 8, G25),
        ],
        fixed: &[r("11", 8, 2, 5, G24), r("21", 8, 2, 5, G24)],
        names: &PORTUGUESE,
        domains: &["uol.com.br", "bol.com.br", "terra.com.br"],
        local_domains_per_mille: 300,
    },
    &Country {
        id: 13,
        iso: "PT",
        cc: "351",
        trunk_zero: false,
        weight: 8,
        mobile: &[
            m("91", 7, G23), m("92", 7, G23), m("93", 7, G23), m("96", 7, G23),
        ],
        fixed: &[f("21", 7, G23), f("22", 7, G23)],
        names: &PORTUGUESE,
        domains: &["sapo.pt", "netcabo.pt"],
        local_domains_per_mille: 350,
    },
    &Country {
        id: 14,
        iso: "RU",
        cc: "7",
        trunk_zero: false,
        weight: 7,
        mobile: &[
            m("903", 7, G332), m("905", 7, G332), m("915", 7, G332), m("916", 7, G332),
            m("926", 7, G332), m("977", 7, G332), m("985", 7, G332),
        ],
        fixed: &[f("495", 7, G332), f("812", 7, G332)],
        names: &RUSSIAN,
        domains: &["yandex.ru", "mail.ru", "rambler.ru"],
        local_domains_per_mille: 600,
    },
];
