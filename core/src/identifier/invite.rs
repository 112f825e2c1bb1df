//! Invite codes: short, human-typable, with a check character.
//!
//! A registered user asks the server for an invite code and shows it as a QR code or link; a
//! friend scans or types it, and the two become matched contacts without any phone number or
//! e-mail. The code is Crockford base32 (`0-9 A-Z` without `I L O U`), 8 to 24 data characters
//! followed by one check character.
//!
//! **Reading** is forgiving the way Crockford intends: any case, `I`/`L` read as `1`, `O` as `0`,
//! hyphens and spaces ignored; and the code may arrive bare (`7K3M-9QX2-D`) or inside a QR/link
//! payload: `https://<host>/i/<code>` (any host, any scheme, query and fragment ignored) or an
//! app scheme `<scheme>://i/<code>`.
//!
//! **Check character: Luhn mod 32** over the Crockford digit values. Crockford's own check symbol
//! (mod 37) needs five extra symbols (`* ~ $ = U`) that are awkward to type on a phone keyboard
//! and to carry in URLs; Luhn mod N stays inside the alphabet and catches every single mistyped
//! character and almost every swap of two neighbours. A mistyped code fails its check and is
//! rejected before it ever reaches the server.
//!
//! The canonical form is the upper-case data characters followed by the check character, with no
//! separators; [`display`] groups it for people.

use thiserror::Error;

use super::MAX_RAW_LEN;

/// Crockford's base32 alphabet, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Fewest data characters in a code (40 bits).
pub const MIN_DATA_CHARS: usize = 8;
/// Most data characters in a code (120 bits).
pub const MAX_DATA_CHARS: usize = 24;

/// Why an invite code was rejected. Stable codes: [`InviteError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InviteError {
    /// A character outside Crockford base32 (after the forgiving mappings).
    #[error("character not in the invite alphabet")]
    InvalidCharacter,
    /// Fewer or more characters than a code has.
    #[error("wrong length")]
    InvalidLength,
    /// The check character does not match: a mistyped code.
    #[error("check character does not match (mistyped?)")]
    Checksum,
    /// A URL that carries no invite code.
    #[error("link carries no invite code")]
    NoCodeInLink,
}

impl InviteError {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            InviteError::InvalidCharacter => "invalid_character",
            InviteError::InvalidLength => "invalid_length",
            InviteError::Checksum => "checksum",
            InviteError::NoCodeInLink => "no_code_in_link",
        }
    }
}

/// Normalises an invite code given bare or inside a link.
pub fn normalize(raw: &str) -> Result<String, InviteError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(InviteError::InvalidLength);
    }
    let raw = raw.trim();
    let code = if raw.contains("://") {
        code_from_link(raw)?
    } else {
        raw.to_owned()
    };
    let mut values = Vec::with_capacity(code.len());
    for c in code.chars() {
        if c == '-' || c == ' ' {
            continue;
        }
        values.push(digit_value(c).ok_or(InviteError::InvalidCharacter)?);
    }
    if values.len() < MIN_DATA_CHARS + 1 || values.len() > MAX_DATA_CHARS + 1 {
        return Err(InviteError::InvalidLength);
    }
    if !luhn_sum(&values, true).is_multiple_of(32) {
        return Err(InviteError::Checksum);
    }
    Ok(values
        .iter()
        .map(|&v| char::from(ALPHABET[usize::from(v)]))
        .collect())
}

/// Makes a canonical invite code from random bytes (the server's job): five bits a character,
/// at least [`MIN_DATA_CHARS`] and at most [`MAX_DATA_CHARS`] data characters, plus the check.
pub fn from_entropy(bytes: &[u8]) -> String {
    let mut values: Vec<u8> = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        if values.len() == MAX_DATA_CHARS {
            break;
        }
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && values.len() < MAX_DATA_CHARS {
            bits -= 5;
            values.push(((acc >> bits) & 31) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 && values.len() < MAX_DATA_CHARS {
        values.push(((acc << (5 - bits)) & 31) as u8);
    }
    values.resize(values.len().max(MIN_DATA_CHARS), 0);
    let check = (32 - luhn_sum(&values, false) % 32) % 32;
    values.push(check as u8);
    values
        .iter()
        .map(|&v| char::from(ALPHABET[usize::from(v)]))
        .collect()
}

/// Groups a canonical code in fours for people: `7K3M9QX2D` → `7K3M-9QX2-D`.
pub fn display(canonical: &str) -> String {
    let mut out = String::with_capacity(canonical.len() + canonical.len() / 4);
    for (i, c) in canonical.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// Luhn mod 32: from the right, every second value (starting with the rightmost when
/// `with_check` is false, i.e. the check is still to come) is doubled, and the base-32 digits of
/// each product are added.
fn luhn_sum(values: &[u8], with_check: bool) -> u32 {
    let mut double = !with_check;
    let mut sum = 0u32;
    for &v in values.iter().rev() {
        let mut addend = u32::from(v) * if double { 2 } else { 1 };
        addend = addend / 32 + addend % 32;
        sum += addend;
        double = !double;
    }
    sum
}

/// A character's Crockford digit value, with the forgiving mappings.
fn digit_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// The code in `…/i/<code>` or `<scheme>://i/<code>`.
fn code_from_link(link: &str) -> Result<String, InviteError> {
    let url = url::Url::parse(link).map_err(|_| InviteError::NoCodeInLink)?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|seg| !seg.is_empty()).collect())
        .unwrap_or_default();
    if url.host_str() == Some("i")
        && url.scheme() != "http"
        && url.scheme() != "https"
        && let [code] = segments.as_slice()
    {
        return Ok((*code).to_owned());
    }
    match segments.as_slice() {
        [.., "i", code] => Ok((*code).to_owned()),
        _ => Err(InviteError::NoCodeInLink),
    }
}

/// A link with an invite path, or a code in grouped display form whose check holds.
pub(crate) fn looks_like_invite(s: &str) -> bool {
    if s.contains("://") {
        return code_from_link(s).is_ok();
    }
    s.contains('-') && normalize(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_validate_and_round_trip() {
        for seed in 0u8..=255 {
            let bytes = [seed, seed.wrapping_mul(7), 3, 200, seed ^ 0x5a];
            let code = from_entropy(&bytes);
            assert_eq!(code.len(), 9);
            assert_eq!(normalize(&code).as_deref(), Ok(code.as_str()));
            assert_eq!(
                normalize(&display(&code).to_lowercase()).as_deref(),
                Ok(code.as_str())
            );
        }
        assert_eq!(from_entropy(&[0xff; 15]).len(), 25);
        // More entropy than a code holds is cut, not a panic; too little is padded.
        assert_eq!(from_entropy(&[0xa5; 64]).len(), MAX_DATA_CHARS + 1);
        assert_eq!(from_entropy(&[]).len(), MIN_DATA_CHARS + 1);
        assert!(normalize(&from_entropy(&[0xa5; 64])).is_ok());
    }

    #[test]
    fn every_single_typo_is_caught() {
        let code = from_entropy(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        for pos in 0..code.len() {
            for &alt in ALPHABET {
                let mut typo: Vec<u8> = code.bytes().collect();
                if typo[pos] == alt {
                    continue;
                }
                typo[pos] = alt;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(normalize(&typo), Err(InviteError::Checksum), "{typo}");
            }
        }
    }

    #[test]
    fn links_and_forgiving_reading() {
        let code = from_entropy(&[9, 8, 7, 6, 5]);
        let shown = display(&code);
        for raw in [
            format!("https://example.app/i/{shown}"),
            format!("https://example.app/i/{code}?utm=qr#x"),
            format!("myapp://i/{code}"),
            format!("https://example.app/i/{code}/"),
            format!("https://example.app/i/{code}/?utm_source=qr"),
            format!("https://example.app/chat/i/{shown}?x=1"),
            format!("HTTPS://EXAMPLE.APP/i/{code}"),
            format!("  {}  ", shown.to_lowercase()),
        ] {
            assert_eq!(normalize(&raw).as_deref(), Ok(code.as_str()), "{raw}");
        }
        let with_o = code.replace('0', "o");
        assert_eq!(normalize(&with_o).as_deref(), Ok(code.as_str()));
        assert_eq!(
            normalize("https://example.app/u/x"),
            Err(InviteError::NoCodeInLink)
        );
        // Malformed URLs, and URLs whose path ends elsewhere, carry no code.
        for bad in [
            "https://",
            "https://[::1/i/7K3M9QX2D",
            "https://example.app/i/",
            "https://example.app/i",
            "https://example.app/?i=7K3M9QX2D",
            "https://example.app/i/7K3M9QX2D/extra",
        ] {
            assert_eq!(normalize(bad), Err(InviteError::NoCodeInLink), "{bad}");
        }
        assert_eq!(normalize("ABC"), Err(InviteError::InvalidLength));
        assert_eq!(normalize("ABCDEFGH*"), Err(InviteError::InvalidCharacter));
        assert_eq!(normalize("UUUUUUUUU"), Err(InviteError::InvalidCharacter));
    }
}
