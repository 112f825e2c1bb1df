//! vCard files: framing here, parsing by `calcard`, and the mapping from cards to contacts.
//!
//! `calcard` (Stalwart's parser) reads 2.1, 3.0 and 4.0 as real address books write them:
//! folding, quoted-printable with soft breaks and `CHARSET`, grouped properties, `TYPE` in every
//! spelling. Our code does two things around it:
//!
//! - **Framing** (streaming, bounded): split the file into cards on `BEGIN:VCARD` / `END:VCARD`,
//!   drop binary properties (`PHOTO`, `LOGO`, `SOUND`, `KEY`: we never need them, and they are
//!   most of a file's bytes), drop over-long lines, and decode lines that are not UTF-8 with
//!   their `CHARSET` (or Windows-1252, the usual culprit). A card without `END:VCARD` or over the
//!   size bound is reported broken and the next card is read.
//! - **Mapping**: `FN` (else `N`, else `ORG`) to the display name, `UID` to the source id, `REV`
//!   to the version, `TEL` to phones, `EMAIL` to e-mails, `IMPP` and the `X-JABBER`-style
//!   properties and social profiles to handles with their service as label.

use std::io::BufRead;

use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue,
};

use super::lines::{Line, LineReader};
use super::{
    BrokenEntry, BrokenReason, DropReason, DroppedField, Position, ReadOptions, SourceContact,
    SourceError, SourceItem,
};
use crate::contact::{MAX_SOURCE_ID_LEN, RawContact};
use crate::identifier::IdentifierKind;

/// Properties holding binary data that discovery never needs.
const BINARY_PROPERTIES: &[&str] = &["PHOTO", "LOGO", "SOUND", "KEY"];

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

/// Streams cards from a vCard file.
#[derive(Debug)]
pub(super) struct VCardReader<R> {
    lines: LineReader<R>,
    options: ReadOptions,
    buf: Vec<u8>,
    entries: usize,
    /// A `BEGIN:VCARD` seen while finishing the previous (unterminated) card.
    pending_begin: Option<usize>,
}

/// What a line did to the card being framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The card goes on.
    More,
    /// `END:VCARD`.
    End,
    /// A `BEGIN:VCARD` before this card's end (it starts the next card).
    Unterminated,
}

/// The card being framed.
#[derive(Debug)]
struct CardText {
    position: Position,
    text: String,
    dropped: Vec<DroppedField>,
    too_large: bool,
    /// Inside a dropped property: skip its continuation lines.
    skipping: bool,
    /// The current property is quoted-printable and its last line ended with a soft break.
    qp_soft_break: bool,
    /// `CHARSET` of the current property, for lines that are not UTF-8.
    charset: Option<String>,
    /// Depth of vCards nested in a 2.1 `AGENT` property (skipped whole).
    nested: usize,
    /// Name of the current property, and where its text starts in `text`.
    property: Option<String>,
    property_start: usize,
}

impl<R: BufRead> VCardReader<R> {
    pub(super) fn new(reader: R, options: ReadOptions) -> Self {
        VCardReader {
            lines: LineReader::new(reader, options.max_line_bytes),
            options,
            buf: Vec::new(),
            entries: 0,
            pending_begin: None,
        }
    }

    fn start_card(&mut self, line: usize) -> CardText {
        self.entries += 1;
        let text = String::from("BEGIN:VCARD\n");
        CardText {
            position: Position {
                entry: self.entries,
                line,
            },
            property_start: text.len(),
            text,
            dropped: Vec::new(),
            too_large: false,
            skipping: false,
            qp_soft_break: false,
            charset: None,
            nested: 0,
            property: None,
        }
    }

    /// Frames and maps the next card.
    pub(super) fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        // Find the start of a card.
        let mut card = if let Some(line) = self.pending_begin.take() {
            self.start_card(line)
        } else {
            loop {
                match self.lines.next_line(&mut self.buf)? {
                    None => return Ok(None),
                    Some(Line::Overlong) => {}
                    Some(Line::Text) => {
                        if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                            break self.start_card(self.lines.line_no());
                        }
                    }
                }
            }
        };
        loop {
            let Some(kind) = self.lines.next_line(&mut self.buf)? else {
                return Ok(Some(broken(card.position, BrokenReason::Unterminated)));
            };
            match self.feed(&mut card, kind) {
                Step::More => {}
                Step::End => break,
                Step::Unterminated => {
                    return Ok(Some(broken(card.position, BrokenReason::Unterminated)));
                }
            }
        }
        if card.too_large {
            return Ok(Some(broken(card.position, BrokenReason::TooLarge)));
        }
        card.text.push_str("END:VCARD\n");
        Ok(Some(match VCard::parse(&card.text) {
            Ok(vcard) => SourceItem::Contact(SourceContact {
                position: card.position,
                contact: map_card(&vcard, card.position, &self.options.id_prefix),
                dropped: card.dropped,
            }),
            Err(_) => broken(card.position, BrokenReason::Unparsable),
        }))
    }

    /// Takes one line of the card being framed.
    fn feed(&mut self, card: &mut CardText, kind: Line) -> Step {
        let continuation = card.qp_soft_break
            || matches!(self.buf.first(), Some(b' ' | b'\t'))
            || (card.skipping && self.buf.is_empty());
        if kind == Line::Overlong {
            if !continuation {
                // An over-long line that starts a property: the property before it is complete
                // and stays; this one (with any continuation lines) is left out.
                card.property = property_name(&self.buf);
                card.property_start = card.text.len();
                card.charset = None;
                card.dropped.push(DroppedField {
                    field: card.property.clone().unwrap_or_default(),
                    line: self.lines.line_no(),
                    reason: DropReason::TooLarge,
                });
            } else if !card.skipping {
                // An over-long continuation: the whole property goes, including its lines
                // already kept (and nothing before them).
                card.text.truncate(card.property_start);
                card.dropped.push(DroppedField {
                    field: card.property.clone().unwrap_or_default(),
                    line: self.lines.line_no(),
                    reason: DropReason::TooLarge,
                });
            }
            card.skipping = true;
            card.qp_soft_break = false;
            return Step::More;
        }
        // vCard 2.1 may embed a whole card in an `AGENT` property: skip it, nesting and all.
        if card.nested > 0
            || (card.property.as_deref() == Some("AGENT")
                && is_keyword_line(&self.buf, b"BEGIN:VCARD"))
        {
            if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                card.nested += 1;
            } else if is_keyword_line(&self.buf, b"END:VCARD") {
                card.nested -= 1;
            }
            return Step::More;
        }
        // A line that is not a property: inside a dropped binary property it is more of its
        // data (2.1 base64 without indentation); elsewhere it is reported and left out, and
        // the rest of the card is kept.
        if !continuation
            && !is_property_line(&self.buf)
            && !is_keyword_line(&self.buf, b"END:VCARD")
        {
            if !card.skipping && !self.buf.trim_ascii().is_empty() {
                card.dropped.push(DroppedField {
                    field: property_name(&self.buf).unwrap_or_default(),
                    line: self.lines.line_no(),
                    reason: DropReason::Malformed,
                });
            }
            return Step::More;
        }
        if !continuation {
            if is_keyword_line(&self.buf, b"END:VCARD") {
                return Step::End;
            }
            if is_keyword_line(&self.buf, b"BEGIN:VCARD") {
                self.pending_begin = Some(self.lines.line_no());
                return Step::Unterminated;
            }
            card.property = property_name(&self.buf);
            card.property_start = card.text.len();
            card.skipping = card
                .property
                .as_deref()
                .is_some_and(|n| BINARY_PROPERTIES.contains(&n));
            card.charset = param_value(&self.buf, b"CHARSET");
            card.qp_soft_break = false;
        }
        if card.skipping || card.too_large {
            return Step::More;
        }
        let is_qp = card.qp_soft_break || is_quoted_printable(&self.buf);
        let line = decode_line(&self.buf, card.charset.as_deref());
        card.qp_soft_break = is_qp && line.ends_with('=');
        if card.text.len() + line.len() + 1 > self.options.max_entry_bytes {
            card.too_large = true;
            return Step::More;
        }
        card.text.push_str(&line);
        card.text.push('\n');
        Step::More
    }
}

fn broken(position: Position, reason: BrokenReason) -> SourceItem {
    SourceItem::Broken(BrokenEntry { position, reason })
}

/// `BEGIN:VCARD` / `END:VCARD` alone on a line, any case, surrounding blanks allowed.
fn is_keyword_line(line: &[u8], keyword: &[u8]) -> bool {
    line.trim_ascii().eq_ignore_ascii_case(keyword)
}

/// Whether a line is `[group.]NAME[;params]:value` with a name of letters, digits and dashes.
fn is_property_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let head = &line[..colon];
    let name_end = head.iter().position(|&b| b == b';').unwrap_or(head.len());
    let name = &head[..name_end];
    let mut parts = name.split(|&b| b == b'.');
    let valid =
        |p: &[u8]| !p.is_empty() && p.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(n), None, None) => valid(n),
        (Some(g), Some(n), None) => valid(g) && valid(n),
        _ => false,
    }
}

/// The upper-case property name of a property line, without its group (`item1.TEL` → `TEL`).
fn property_name(line: &[u8]) -> Option<String> {
    let end = line.iter().position(|&b| b == b':' || b == b';')?;
    let name = &line[..end];
    let name = name.rsplit(|&b| b == b'.').next().unwrap_or(name);
    let name = std::str::from_utf8(name).ok()?.trim();
    (!name.is_empty()).then(|| name.to_ascii_uppercase())
}

/// The value of a parameter on a property line (`CHARSET=UTF-8`), before the value's colon.
fn param_value(line: &[u8], param: &[u8]) -> Option<String> {
    let head = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
    head.split(|&b| b == b';').skip(1).find_map(|p| {
        let (k, v) = p.split_at(p.iter().position(|&b| b == b'=')?);
        k.trim_ascii().eq_ignore_ascii_case(param).then(|| {
            String::from_utf8_lossy(&v[1..])
                .trim_matches('"')
                .to_owned()
        })
    })
}

/// Whether a property line declares quoted-printable (`ENCODING=QUOTED-PRINTABLE` or the bare
/// 2.1 `;QUOTED-PRINTABLE`).
fn is_quoted_printable(line: &[u8]) -> bool {
    let head = &line[..line.iter().position(|&b| b == b':').unwrap_or(line.len())];
    head.split(|&b| b == b';').skip(1).any(|p| {
        let v = p.rsplit(|&b| b == b'=').next().unwrap_or(p);
        v.trim_ascii().eq_ignore_ascii_case(b"QUOTED-PRINTABLE")
    })
}

/// A line as text: UTF-8 as is; otherwise decoded with the property's `CHARSET`, or
/// Windows-1252 (a superset of Latin-1 that never fails).
fn decode_line(bytes: &[u8], charset: Option<&str>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8)
        .unwrap_or(encoding_rs::WINDOWS_1252);
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

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

/// The lower-case `TYPE` values of an entry (any spelling: `TYPE=a,b`, `type=a;type=b`, bare 2.1
/// `;CELL`), without `pref`, `voice` and `internet`, which say nothing about the contact.
fn types(entry: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for p in &entry.params {
        let value = match (&p.name, &p.value) {
            (VCardParameterName::Type, VCardParameterValue::Type(t)) => {
                format!("{t:?}").to_ascii_lowercase()
            }
            (VCardParameterName::Type, VCardParameterValue::Text(t)) => t.to_ascii_lowercase(),
            _ => continue,
        };
        for v in value.split(',') {
            let v = v.trim().trim_matches('"');
            let v = match v {
                "cell" => "mobile",
                "mainnumber" => "main",
                other => other,
            };
            if !v.is_empty()
                && !matches!(v, "pref" | "voice" | "internet" | "x400")
                && !out.iter().any(|o| o == v)
            {
                out.push(v.to_owned());
            }
        }
    }
    out
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
        let t = types(entry);
        (!t.is_empty()).then(|| t.join(","))
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
fn map_card(card: &VCard, position: Position, id_prefix: &str) -> RawContact {
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
                let joined = super::join_nonempty([get(3), get(1), get(2), get(0), get(4)], " ");
                name_from_n = (!joined.is_empty()).then_some(joined);
            }
            VCardProperty::Org if org.is_none() => {
                let c = components(entry);
                let joined = super::join_nonempty(c.iter().map(String::as_str), ", ");
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
                    contact.push(IdentifierKind::Phone, label(card, entry).as_deref(), v);
                }
            }
            VCardProperty::Email => {
                if let Some(v) = text(entry) {
                    contact.push(IdentifierKind::Email, label(card, entry).as_deref(), v);
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
                    let service = types(entry)
                        .into_iter()
                        .next()
                        .or_else(|| other_param(entry, "SERVICE-TYPE"));
                    if let Some(user) = social_profile_user(entry, &v) {
                        contact.push(IdentifierKind::Handle, service.as_deref(), user);
                    }
                }
            }
            VCardProperty::Other(name) => {
                let upper = name.to_ascii_uppercase();
                if let Some((_, service)) = MESSENGER_PROPERTIES.iter().find(|(p, _)| *p == upper) {
                    if let Some(v) = text(entry)
                        && let (_, Some(user)) = split_messenger_uri(&v)
                    {
                        contact.push(IdentifierKind::Handle, Some(service), user);
                    }
                } else if upper == "X-SOCIALPROFILE"
                    && let Some(v) = text(entry)
                {
                    let service = types(entry).into_iter().next();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all(text: &[u8]) -> Vec<SourceItem> {
        let options = ReadOptions {
            id_prefix: "t.vcf".into(),
            max_line_bytes: 1000,
            max_entry_bytes: 4000,
        };
        crate::source::read(Cursor::new(text.to_vec()), &options)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn contacts(items: &[SourceItem]) -> Vec<&RawContact> {
        items
            .iter()
            .filter_map(|i| match i {
                SourceItem::Contact(c) => Some(&c.contact),
                SourceItem::Broken(_) => None,
            })
            .collect()
    }

    #[test]
    fn v21_quoted_printable_and_types() {
        let card = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=\r\n=C3=BCrgen\r\nTEL;CELL;HOME:+49 30 901820\r\nTEL;WORK;FAX:030 901821\r\nEMAIL;INTERNET:j@example.org\r\nEND:VCARD\r\n";
        let items = read_all(card);
        let c = contacts(&items);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].display_name, "Jürgen Müller");
        assert_eq!(c[0].source_id, "t.vcf#1");
        let phones: Vec<_> = c[0].values_of(IdentifierKind::Phone).collect();
        assert_eq!(phones[0].value, "+49 30 901820");
        assert_eq!(phones[0].label.as_deref(), Some("mobile,home"));
        assert_eq!(phones[1].label.as_deref(), Some("work,fax"));
    }

    #[test]
    fn latin1_bytes_are_decoded() {
        let card =
            b"BEGIN:VCARD\nVERSION:2.1\nFN;CHARSET=ISO-8859-1:Ren\xe9 Lef\xe8vre\nEND:VCARD\n";
        assert_eq!(contacts(&read_all(card))[0].display_name, "René Lefèvre");
    }

    #[test]
    fn photos_dropped_and_oversized_lines_reported() {
        let mut card =
            b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\n".to_vec();
        for _ in 0..200 {
            card.extend_from_slice(b" QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n");
        }
        card.extend_from_slice(b"NOTE:");
        card.extend(std::iter::repeat_n(b'n', 5000));
        card.extend_from_slice(b"\nTEL:+1 202 555 0173\nEND:VCARD\n");
        let items = read_all(&card);
        let SourceItem::Contact(c) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(c.contact.values.len(), 1);
        assert_eq!(
            c.dropped,
            vec![DroppedField {
                field: "NOTE".into(),
                line: 205,
                reason: DropReason::TooLarge
            }]
        );
    }

    #[test]
    fn broken_cards_are_reported_and_reading_goes_on() {
        let text = b"BEGIN:VCARD\nFN:One\nEND:VCARD\nBEGIN:VCARD\nFN:Two\nBEGIN:VCARD\nFN:Three\nUID:u-3\nEND:VCARD\njunk between cards\nBEGIN:VCARD\nFN:Four\n";
        let items = read_all(text);
        assert_eq!(items.len(), 4);
        assert!(
            matches!(&items[1], SourceItem::Broken(b) if b.position == Position { entry: 2, line: 4 } && b.reason == BrokenReason::Unterminated)
        );
        assert!(
            matches!(&items[3], SourceItem::Broken(b) if b.position.entry == 4 && b.reason == BrokenReason::Unterminated)
        );
        let c = contacts(&items);
        assert_eq!(c[0].display_name, "One");
        assert_eq!(c[1].display_name, "Three");
        assert_eq!(c[1].source_id, "u-3");
    }

    #[test]
    fn agent_cards_nested_in_21_are_skipped() {
        let text = b"BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nAGENT:\nBEGIN:VCARD\nVERSION:2.1\nFN:Assistant\nTEL:+1 202 555 0199\nEND:VCARD\nTEL:+1 202 555 0100\nEND:VCARD\nBEGIN:VCARD\nFN:Next\nEND:VCARD\n";
        let items = read_all(text);
        let c = contacts(&items);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(c[0].display_name, "Boss");
        let phones: Vec<&str> = c[0].values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(phones, ["+1 202 555 0100"]);
        assert_eq!(c[1].display_name, "Next");
    }

    /// A messenger URI without its user part (`IMPP:xmpp:`) names no one: no handle, and no
    /// empty display name taken from it. (Found by the vcard fuzz target.)
    #[test]
    fn a_messenger_without_a_user_is_no_handle() {
        let items =
            read_all(b"BEGIN:VCARD\nIMPP:xmpp:\nX-JABBER: \nIMPP:xmpp:bo@example.org\nEND:VCARD\n");
        let c = contacts(&items);
        let handles: Vec<_> = c[0].values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(handles, ["bo@example.org"]);
        assert_eq!(c[0].display_name, "bo@example.org");
        let items = read_all(b"BEGIN:VCARD\nIMPP:p:\nEND:VCARD\n");
        assert!(contacts(&items)[0].values.is_empty());
    }

    #[test]
    fn messengers_and_labels() {
        let text = b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nREV:2012-11-20T14:16:51Z\nitem1.TEL:555-0101\nitem1.X-ABLabel:_$!<Mobile>!$_\nIMPP;X-SERVICE-TYPE=Skype:skype:alice.b\nX-JABBER;type=HOME:alice@jabber.example\nX-SOCIALPROFILE;type=twitter:https://twitter.com/alice\nEND:VCARD\n";
        let c = contacts(&read_all(text))[0].clone();
        assert_eq!(c.version.as_deref(), Some("1353421011"));
        let v: Vec<(Option<&str>, &str)> = c
            .values
            .iter()
            .map(|v| (v.label.as_deref(), v.value.as_str()))
            .collect();
        assert_eq!(
            v,
            [
                (Some("mobile"), "555-0101"),
                (Some("skype"), "alice.b"),
                (Some("xmpp"), "alice@jabber.example"),
                (Some("twitter"), "alice"),
            ]
        );
    }
}
