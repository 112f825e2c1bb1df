//! The mapping from a parsed card (`calcard`'s [`VCard`]) to a contact: the display name, the
//! source id and version, and every phone, e-mail, messenger handle and social profile with its
//! label (`TYPE`, Apple's `X-ABLabel`, or the messenger's service).

use calcard::common::IanaString;
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
};

use crate::contact::{MAX_SOURCE_ID_LEN, RawContact};
use crate::identifier::IdentifierKind;
use crate::source::{Position, join_nonempty};

/// Pre-standard messenger properties and the service each names.
const MESSENGER_PROPERTIES: &[(&str, &str)] = &[
    ("X-JABBER", "xmpp"),
    ("X-GTALK", "gtalk"),
    ("X-GOOGLE-TALK", "gtalk"),
    ("X-AIM", "aim"),
    ("X-ICQ", "icq"),
    ("X-MSN", "msn"),
    ("X-YAHOO", "yahoo"),
    ("X-SKYPE", "skype"),
    ("X-SKYPE-USERNAME", "skype"),
    ("X-TWITTER", "twitter"),
    ("X-TELEGRAM", "telegram"),
    ("X-QQ", "qq"),
    ("X-GADUGADU", "gadugadu"),
    ("X-MS-IMADDRESS", "im"),
];

/// The first text value of an entry, trimmed.
fn text(entry: &VCardEntry) -> Option<String> {
    entry.values.iter().find_map(|v| match v {
        VCardValue::Text(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        _ => None,
    })
}

/// All text of an entry: structured values joined (for `N`, `ORG`).
fn components(entry: &VCardEntry) -> Vec<String> {
    entry
        .values
        .iter()
        .flat_map(|v| match v {
            VCardValue::Text(t) => vec![t.trim().to_owned()],
            VCardValue::Component(parts) => parts.iter().map(|p| p.trim().to_owned()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The lower-case `TYPE` values of an entry, comma-joined (any spelling: `TYPE=a,b`,
/// `type=a;type=b`, bare 2.1 `;CELL`), each once and in order, without `pref`, `voice` and
/// `internet`, which say nothing about the contact; empty when there are none. Runs for every
/// phone and e-mail of a book, so each value is written straight into the list (and taken back
/// when it is left out) instead of into a string of its own.
fn type_list(entry: &VCardEntry) -> String {
    let mut out = String::with_capacity(16);
    for p in &entry.params {
        // A known type comes in calcard's IANA spelling (`CO-WORKER`); its label is the name
        // without dashes (`coworker`), as labels have always been written.
        let (text, known) = match (&p.name, &p.value) {
            (VCardParameterName::Type, VCardParameterValue::Type(t)) => (t.as_str(), true),
            (VCardParameterName::Type, VCardParameterValue::Text(t)) => (t.as_str(), false),
            _ => continue,
        };
        for v in text.split(',') {
            let v = v.trim().trim_matches('"');
            let before = out.len();
            if before > 0 {
                out.push(',');
            }
            let at = out.len();
            if known {
                out.extend(v.chars().filter(|&c| c != '-'));
            } else {
                out.push_str(v);
            }
            out[at..].make_ascii_lowercase();
            let renamed = match &out[at..] {
                "cell" => Some("mobile"),
                "mainnumber" => Some("main"),
                _ => None,
            };
            if let Some(name) = renamed {
                out.truncate(at);
                out.push_str(name);
            }
            let value = &out[at..];
            // Values never hold a comma (they are split on it), so the list splits back.
            if matches!(value, "" | "pref" | "voice" | "internet" | "x400")
                || out[..before].split(',').any(|o| o == value)
            {
                out.truncate(before);
            }
        }
    }
    out
}

/// The first [`type_list`] value of an entry.
fn first_type(entry: &VCardEntry) -> Option<String> {
    let list = type_list(entry);
    let first = list.split(',').next().unwrap_or_default();
    (!first.is_empty()).then(|| first.to_owned())
}

/// A text parameter by name (`X-SERVICE-TYPE`, `X-USER`), any case.
fn other_param(entry: &VCardEntry, name: &str) -> Option<String> {
    entry.params.iter().find_map(|p| match (&p.name, &p.value) {
        (VCardParameterName::Other(n), VCardParameterValue::Text(v))
            if n.eq_ignore_ascii_case(name) =>
        {
            Some(v.trim().to_owned())
        }
        (VCardParameterName::ServiceType, VCardParameterValue::Text(v))
            if name.eq_ignore_ascii_case("X-SERVICE-TYPE") =>
        {
            Some(v.trim().to_owned())
        }
        (VCardParameterName::Username, VCardParameterValue::Text(v))
            if name.eq_ignore_ascii_case("X-USER") =>
        {
            Some(v.trim().to_owned())
        }
        _ => None,
    })
}

/// Apple's `itemN.X-ABLabel` custom labels: `_$!<Mobile>!$_` → `mobile`, `Signal` → `signal`.
fn group_label(card: &VCard, group: Option<&str>) -> Option<String> {
    let group = group?;
    card.entries.iter().find_map(|e| match &e.name {
        VCardProperty::Other(n)
            if n.eq_ignore_ascii_case("X-ABLABEL")
                && e.group
                    .as_deref()
                    .is_some_and(|g| g.eq_ignore_ascii_case(group)) =>
        {
            let t = text(e)?;
            let t = t
                .strip_prefix("_$!<")
                .and_then(|t| t.strip_suffix(">!$_"))
                .unwrap_or(&t);
            Some(t.to_lowercase())
        }
        _ => None,
    })
}

fn label(card: &VCard, entry: &VCardEntry) -> Option<String> {
    group_label(card, entry.group.as_deref()).or_else(|| {
        let types = type_list(entry);
        (!types.is_empty()).then_some(types)
    })
}

/// A handle from a URI such as `xmpp:alice@example.org` or `skype:alice?call`: the service and
/// the user part (`None` when it is empty). A value without a scheme is returned whole.
fn split_messenger_uri(value: &str) -> (Option<String>, Option<String>) {
    let (scheme, user) = match value.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '+')
                && !rest.starts_with("//") =>
        {
            let user = rest.split('?').next().unwrap_or(rest);
            (Some(scheme.to_ascii_lowercase()), user)
        }
        _ => (None, value),
    };
    // `xmpp:` alone names no one: no handle, rather than an empty one.
    let user = user.trim();
    (scheme, (!user.is_empty()).then(|| user.to_owned()))
}

/// A social profile value: the `X-USER` parameter if present, else the last path segment of the
/// profile URL (`https://twitter.com/alice` → `alice`).
fn social_profile_user(entry: &VCardEntry, value: &str) -> Option<String> {
    if let Some(user) = other_param(entry, "X-USER").filter(|u| !u.is_empty()) {
        return Some(user);
    }
    if let Ok(url) = url::Url::parse(value)
        && url.has_host()
    {
        return url
            .path_segments()?
            .rev()
            .find(|s| !s.is_empty())
            .map(|s| s.trim_start_matches('@').to_owned());
    }
    Some(value.to_owned())
}

/// Maps a parsed card to a contact.
pub(super) fn map_card(card: &VCard, position: Position, id_prefix: &str) -> RawContact {
    let mut contact = RawContact::default();
    let mut name_from_n = None;
    let mut org = None;
    for entry in &card.entries {
        match &entry.name {
            VCardProperty::Fn if contact.display_name.is_empty() => {
                contact.display_name = text(entry).unwrap_or_default();
            }
            VCardProperty::N if name_from_n.is_none() => {
                // family; given; additional; prefix; suffix → "prefix given additional family suffix"
                let c = components(entry);
                let get = |i: usize| c.get(i).map(String::as_str).unwrap_or_default();
                let joined = join_nonempty([get(3), get(1), get(2), get(0), get(4)], " ");
                name_from_n = (!joined.is_empty()).then_some(joined);
            }
            VCardProperty::Org if org.is_none() => {
                let c = components(entry);
                let joined = join_nonempty(c.iter().map(String::as_str), ", ");
                org = (!joined.is_empty()).then_some(joined);
            }
            VCardProperty::Uid => {
                if let Some(uid) = text(entry).filter(|u| u.len() <= MAX_SOURCE_ID_LEN) {
                    contact.source_id = uid;
                }
            }
            VCardProperty::Rev => {
                // A date-time `REV` becomes Unix seconds (comparable, independent of how the
                // exporter wrote it); any other text is kept as it is.
                contact.version = entry
                    .values
                    .iter()
                    .find_map(|v| match v {
                        VCardValue::PartialDateTime(d) => d.to_timestamp().map(|t| t.to_string()),
                        _ => None,
                    })
                    .or_else(|| text(entry));
            }
            VCardProperty::Tel => {
                if let Some(v) = text(entry) {
                    contact.push_owned(IdentifierKind::Phone, label(card, entry), v);
                }
            }
            VCardProperty::Email => {
                if let Some(v) = text(entry) {
                    contact.push_owned(IdentifierKind::Email, label(card, entry), v);
                }
            }
            VCardProperty::Impp => {
                if let Some(v) = text(entry) {
                    let (scheme, user) = split_messenger_uri(&v);
                    let service = other_param(entry, "X-SERVICE-TYPE")
                        .map(|s| s.to_lowercase())
                        .or(scheme);
                    if let Some(user) = user {
                        contact.push(IdentifierKind::Handle, service.as_deref(), user);
                    }
                }
            }
            VCardProperty::Socialprofile => {
                if let Some(v) = text(entry) {
                    let service = first_type(entry).or_else(|| other_param(entry, "SERVICE-TYPE"));
                    if let Some(user) = social_profile_user(entry, &v) {
                        contact.push(IdentifierKind::Handle, service.as_deref(), user);
                    }
                }
            }
            VCardProperty::Other(name) => {
                if let Some((_, service)) = MESSENGER_PROPERTIES
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(name))
                {
                    if let Some(v) = text(entry)
                        && let (_, Some(user)) = split_messenger_uri(&v)
                    {
                        contact.push(IdentifierKind::Handle, Some(service), user);
                    }
                } else if name.eq_ignore_ascii_case("X-SOCIALPROFILE")
                    && let Some(v) = text(entry)
                {
                    let service = first_type(entry);
                    if let Some(user) = social_profile_user(entry, &v) {
                        contact.push(IdentifierKind::Handle, service.as_deref(), user);
                    }
                }
            }
            _ => {}
        }
    }
    if contact.display_name.is_empty() {
        contact.display_name = name_from_n.or(org).unwrap_or_default();
    }
    contact.fill_display_name();
    if contact.source_id.is_empty() {
        contact.source_id = format!("{id_prefix}#{}", position.entry);
    }
    contact
}
