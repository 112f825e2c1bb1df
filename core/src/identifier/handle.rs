//! Handles: usernames in the app's namespace and messenger handles.
//!
//! Canonical form: surrounding whitespace and one leading `@` removed, then Unicode NFKC
//! followed by full case folding, then NFKC again (the stable "NFKC_Casefold"-style closure,
//! so that normalising twice changes nothing). `＠Ａｌｉｃｅ` and `@alice` are one handle;
//! `Straße` and `STRASSE` fold to `strasse`.
//!
//! **Allowed characters** after folding: letters and numbers of any script (Unicode `Alphabetic`
//! and `Numeric`), combining marks, and `_`, `.`, `-`, plus `@` *inside* a handle
//! (XMPP-style `user@host` messenger addresses). At least one letter or digit; at most 64
//! characters. Whitespace, control and format characters (zero-width joiners, bidi marks), emoji
//! and other symbols are rejected, not stripped: a handle that differs from another only by an
//! invisible character is a spoofing attempt, and stripping it would match it.
//!
//! Where a handle comes from another service (a Skype name in a vCard `IMPP`), the service is kept
//! beside the value in [`crate::contact::RawContact`]; whether it belongs to the app's namespace is
//! the app's decision, not the normaliser's.

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use super::MAX_RAW_LEN;

/// Longest handle accepted, in characters after normalisation.
pub const MAX_HANDLE_CHARS: usize = 64;

/// Why a handle was rejected. Stable codes: [`HandleError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HandleError {
    /// Empty after trimming and removing the leading `@`.
    #[error("empty")]
    Empty,
    /// A character outside the allowed set (see the module docs).
    #[error("character not allowed in a handle")]
    InvalidCharacter,
    /// No letter or digit at all.
    #[error("no letter or digit")]
    NoAlphanumeric,
    /// Longer than [`MAX_HANDLE_CHARS`].
    #[error("too long")]
    TooLong,
}

impl HandleError {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            HandleError::Empty => "empty",
            HandleError::InvalidCharacter => "invalid_character",
            HandleError::NoAlphanumeric => "no_alphanumeric",
            HandleError::TooLong => "too_long",
        }
    }
}

/// Normalises a handle.
pub fn normalize(raw: &str) -> Result<String, HandleError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(HandleError::TooLong);
    }
    let trimmed = raw.trim();
    // NFKC leaves ASCII as it is and full case folding maps ASCII to its ASCII lower case, so an
    // ASCII handle (nearly all of them) folds in one pass without the Unicode tables.
    let mut folded = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        fold(trimmed)
    };
    let at = usize::from(folded.starts_with('@'));
    let handle = &folded[at..];
    if handle.is_empty() {
        return Err(HandleError::Empty);
    }
    let mut chars = 0usize;
    let mut alnum = false;
    let last = handle.chars().count().saturating_sub(1);
    for (i, c) in handle.chars().enumerate() {
        chars += 1;
        if c.is_alphanumeric() {
            alnum = true;
        } else if !(matches!(c, '_' | '.' | '-') || (c == '@' && i != 0 && i != last) || is_mark(c))
        {
            return Err(HandleError::InvalidCharacter);
        }
    }
    if !alnum {
        return Err(HandleError::NoAlphanumeric);
    }
    if chars > MAX_HANDLE_CHARS {
        return Err(HandleError::TooLong);
    }
    folded.drain(..at);
    Ok(folded)
}

/// NFKC, full case folding, NFKC again.
fn fold(s: &str) -> String {
    let folded: String = s.nfkc().collect();
    caseless::default_case_fold_str(&folded).nfkc().collect()
}

/// Combining marks (Unicode `M*`), needed by scripts such as Devanagari even after NFKC.
fn is_mark(c: char) -> bool {
    use unicode_normalization::char::is_combining_mark;
    is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("@Alice_01", "alice_01"),
            ("  alice.b ", "alice.b"),
            ("＠Ａｌｉｃｅ", "alice"),
            ("Straße", "strasse"),
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
            ("alice@jabber.example", "alice@jabber.example"),
            ("नमस्ते", "नमस्ते"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn ascii_folds_to_its_ascii_lower_case() {
        // What lets `normalize` skip the Unicode tables for ASCII input.
        let all: String = (0u8..128).map(char::from).collect();
        assert_eq!(fold(&all), all.to_ascii_lowercase());
    }

    #[test]
    fn rejections() {
        let cases = [
            ("", HandleError::Empty),
            ("@", HandleError::Empty),
            ("al ice", HandleError::InvalidCharacter),
            ("ali\u{200d}ce", HandleError::InvalidCharacter),
            ("alice😀", HandleError::InvalidCharacter),
            ("@@alice", HandleError::InvalidCharacter),
            ("alice@", HandleError::InvalidCharacter),
            ("___", HandleError::NoAlphanumeric),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), Err(want), "{raw:?}");
        }
        assert_eq!(normalize(&"a".repeat(65)), Err(HandleError::TooLong));
    }
}
