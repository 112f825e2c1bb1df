//! What values are made of: phone labels, e-mail domains (big providers, employers, towns for
//! businesses' domains), messenger services and account providers, each with its weight (per
//! mille) where the draw is weighted.

pub(crate) const MOBILE_LABELS: &[(Option<&str>, usize)] = &[
    (Some("mobile"), 850),
    (None, 50),
    (Some("other"), 40),
    (Some("work"), 30),
    (Some("Handy privat"), 30),
];
pub(crate) const FIXED_LABELS: &[(Option<&str>, usize)] = &[
    (Some("home"), 580),
    (Some("work"), 330),
    (Some("main"), 40),
    (Some("Büro"), 30),
    (None, 20),
];

/// The big providers, by rough popularity.
pub(crate) const PERSONAL_DOMAINS: &[(&str, usize)] = &[
    ("gmail.com", 400),
    ("outlook.com", 90),
    ("hotmail.com", 90),
    ("yahoo.com", 80),
    ("icloud.com", 120),
    ("me.com", 20),
    ("gmx.de", 100),
    ("web.de", 80),
    ("aol.com", 20),
];

/// Employers: some large, some small with internationalised domains.
pub(crate) const WORK_DOMAINS: &[(&str, usize)] = &[
    ("siemens.com", 60),
    ("bosch.com", 50),
    ("sap.com", 40),
    ("telekom.de", 40),
    ("deutschebahn.com", 40),
    ("allianz.de", 30),
    ("uni-hamburg.de", 30),
    ("tum.de", 30),
    ("charite.de", 20),
    ("stadt-koeln.de", 20),
    ("example-consulting.com", 30),
    ("müller-bau.de", 25),
    ("bäckerei-schäfer.de", 15),
    ("zahnärzte-köln.de", 15),
    ("autohaus-böhm.de", 15),
    ("gärtnerei-grün.de", 10),
    ("straßenbau-nord.de", 10),
];

pub(crate) const HANDLE_SERVICES: &[(&str, usize)] = &[
    ("telegram", 350),
    ("skype", 250),
    ("xmpp", 120),
    ("threema", 100),
    ("instagram", 100),
    ("signal", 80),
];

pub(crate) const ACCOUNT_PROVIDERS: &[(&str, usize)] = &[
    ("google", 450),
    ("facebook", 200),
    ("github", 100),
    ("apple", 100),
    ("microsoft", 100),
    ("telegram", 50),
];

pub(crate) const BASE64URL: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[rustfmt::skip]
pub(crate) const TOWNS: &[&str] = &[
    "berlin", "hamburg", "muenchen", "koeln", "frankfurt", "stuttgart", "duesseldorf", "leipzig",
    "dresden", "hannover", "nuernberg", "bremen", "essen", "bonn", "freiburg", "heidelberg",
    "potsdam", "kiel", "luebeck", "rostock", "mainz", "kassel",
];
