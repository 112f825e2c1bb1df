//! E-mail addresses: trimmed, IDN domain to ASCII, lower-cased.
//!
//! **Case folding of the local part.** RFC 5321 lets a server treat `Alice@` and `alice@` as two
//! mailboxes, but no mainstream provider does, and address books hold the same address typed in
//! several casings. Keeping case would split one person into several keys (missed matches), while
//! folding it could merge two mailboxes only on a server that distinguishes case — which in
//! practice does not happen. So the whole address is lower-cased: ASCII by ASCII rules,
//! non-ASCII local parts (RFC 6531) by Unicode lower-casing after NFC. This is also what the
//! Matrix identity service does, so both hashing modes agree.
//!
//! **No provider-specific rewriting.** Gmail ignores dots and `+tags`, other providers do not;
//! rewriting would match strangers on those. An app that wants it can rewrite before import.
//!
//! **Accepted syntax.** An optional `mailto:` prefix; a dot-atom local part (RFC 5322 `atext`
//! plus non-ASCII letters) of at most 64 bytes; a domain of at least two labels that UTS #46
//! maps to ASCII (`bücher.example` → `xn--bcher-kva.example`); at most 254 bytes in all.
//! Quoted local parts (`"john doe"@example.com`) and address literals (`user@[192.0.2.1]`) are
//! rejected: valid in theory, absent from real address books, and a source of ambiguity.

use std::borrow::Cow;

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use super::MAX_RAW_LEN;

/// Longest address accepted, in bytes (RFC 5321's path limit less the angle brackets).
const MAX_ADDRESS_LEN: usize = 254;
/// Longest local part accepted, in bytes (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// Why an e-mail address was rejected. Stable codes: [`EmailError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("empty")]
    Empty,
    /// No `@`, or nothing before or after it.
    #[error("missing @ or an empty part")]
    Syntax,
    /// A character not allowed in a local part, or a misplaced dot.
    #[error("invalid local part")]
    InvalidLocalPart,
    /// A quoted local part: valid in theory, not accepted (see the module docs).
    #[error("quoted local parts are not supported")]
    QuotedLocalPart,
    /// A domain that is not a valid internationalised host name of two or more labels.
    #[error("invalid domain")]
    InvalidDomain,
    /// Over the RFC 5321 length limits.
    #[error("too long")]
    TooLong,
}

impl EmailError {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            EmailError::Empty => "empty",
            EmailError::Syntax => "syntax",
            EmailError::InvalidLocalPart => "invalid_local_part",
            EmailError::QuotedLocalPart => "quoted_local_part",
            EmailError::InvalidDomain => "invalid_domain",
            EmailError::TooLong => "too_long",
        }
    }
}

/// Normalises an e-mail address.
pub fn normalize(raw: &str) -> Result<String, EmailError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(EmailError::TooLong);
    }
    let mut s = raw.trim();
    if let Some(rest) = super::strip_prefix_ignore_ascii_case(s, "mailto:") {
        s = rest.trim_start();
        // A mailto: URI may carry headers (`?subject=`); they are not part of the address.
        if let Some(q) = s.find('?') {
            s = &s[..q];
        }
    }
    if s.is_empty() {
        return Err(EmailError::Empty);
    }
    let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Syntax)?;
    if local.is_empty() || domain.is_empty() {
        return Err(EmailError::Syntax);
    }
    if local.starts_with('"') {
        return Err(EmailError::QuotedLocalPart);
    }
    // NFC leaves ASCII as it is: only a non-ASCII local part is composed (into a new string).
    let local: Cow<'_, str> = if local.is_ascii() {
        Cow::Borrowed(local)
    } else {
        Cow::Owned(local.nfc().collect())
    };
    if !valid_local_part(&local) {
        return Err(EmailError::InvalidLocalPart);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(EmailError::TooLong);
    }
    let domain = normalize_domain(domain)?;
    let mut out = String::with_capacity(local.len() + 1 + domain.len());
    if local.is_ascii() {
        out.push_str(&local);
    } else {
        out.extend(local.chars().flat_map(char::to_lowercase));
    }
    out.push('@');
    out.push_str(&domain);
    // The domain is ASCII by now; lower-casing ASCII in place is the same for the local part.
    out.make_ascii_lowercase();
    if out.len() > MAX_ADDRESS_LEN {
        return Err(EmailError::TooLong);
    }
    Ok(out)
}

/// RFC 5322 dot-atom with RFC 6531's non-ASCII extension: `atext` runs separated by single dots.
fn valid_local_part(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        '!' | '#'
                            | '$'
                            | '%'
                            | '&'
                            | '\''
                            | '*'
                            | '+'
                            | '-'
                            | '/'
                            | '='
                            | '?'
                            | '^'
                            | '_'
                            | '`'
                            | '{'
                            | '|'
                            | '}'
                            | '~'
                    )
                    || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
            })
    })
}

/// UTS #46 to ASCII (`idna`), at least two LDH labels, no trailing dot; the caller lower-cases
/// it. Borrowed when `idna` had nothing to map (an ASCII domain, nearly all of them).
fn normalize_domain(domain: &str) -> Result<Cow<'_, str>, EmailError> {
    // A fully qualified trailing dot names the same host.
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.starts_with('[') {
        return Err(EmailError::InvalidDomain);
    }
    // `idna::domain_to_ascii_strict`, without its copy into a new string.
    let ascii = idna::uts46::Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            idna::uts46::AsciiDenyList::STD3,
            idna::uts46::Hyphens::Check,
            idna::uts46::DnsLength::Verify,
        )
        .map_err(|_| EmailError::InvalidDomain)?;
    let ldh = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let mut labels = 0usize;
    let mut tld = "";
    for label in ascii.split('.') {
        if !ldh(label) {
            return Err(EmailError::InvalidDomain);
        }
        labels += 1;
        tld = label;
    }
    // The top-level domain is never all digits (that would be an IP address).
    if labels < 2 || tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EmailError::InvalidDomain);
    }
    Ok(ascii)
}

/// `mailto:` or text on both sides of an `@` (the last one) with no whitespace inside.
pub(crate) fn looks_like_email(s: &str) -> bool {
    if super::strip_prefix_ignore_ascii_case(s, "mailto:").is_some() {
        return true;
    }
    s.rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("  Alice@Example.COM ", "alice@example.com"),
            ("mailto:Bob@example.org?subject=hi", "bob@example.org"),
            ("john.doe+news@gmail.com", "john.doe+news@gmail.com"),
            ("user@bücher.example", "user@xn--bcher-kva.example"),
            ("user@EXAMPLE.com.", "user@example.com"),
            ("Ünsal@beispiel.de", "ünsal@beispiel.de"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn rejections() {
        let cases = [
            ("", EmailError::Empty),
            ("alice", EmailError::Syntax),
            ("@example.com", EmailError::Syntax),
            ("alice@", EmailError::Syntax),
            ("al ice@example.com", EmailError::InvalidLocalPart),
            ("alice..b@example.com", EmailError::InvalidLocalPart),
            (".alice@example.com", EmailError::InvalidLocalPart),
            ("\"al ice\"@example.com", EmailError::QuotedLocalPart),
            ("alice@localhost", EmailError::InvalidDomain),
            ("alice@[192.0.2.1]", EmailError::InvalidDomain),
            ("alice@192.0.2.1", EmailError::InvalidDomain),
            ("alice@exa_mple.com", EmailError::InvalidDomain),
            ("alice@-example.com", EmailError::InvalidDomain),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), Err(want), "{raw}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(normalize(&long_local), Err(EmailError::TooLong));
    }
}
