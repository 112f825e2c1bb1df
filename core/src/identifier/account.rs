//! Linked accounts: `provider:subject`.
//!
//! An account integration (Sign in with Google, Facebook Login, ...) gives a contact a stable
//! subject id at a provider. The canonical form is the provider's name from [`PROVIDERS`],
//! lower-cased, a colon, and the subject exactly as the provider issued it: subject ids are
//! opaque and some providers' are case-sensitive, so they are never case-folded.
//!
//! The provider list is closed on purpose: a typo in a provider name (`gogle:`) would make a key
//! that can never match, and an open list invites one service's ids to be read as another's.
//! A few well-known aliases are accepted and mapped (`x` → `twitter`, `fb` → `facebook`).

use thiserror::Error;

use super::MAX_RAW_LEN;

/// The providers accepted, with their canonical names. Extend it with care: the name is part of
/// every hash, so renaming one orphans every key already uploaded.
pub const PROVIDERS: &[&str] = &[
    "apple",
    "discord",
    "facebook",
    "github",
    "gitlab",
    "google",
    "instagram",
    "line",
    "linkedin",
    "mastodon",
    "microsoft",
    "signal",
    "slack",
    "snapchat",
    "telegram",
    "threads",
    "tiktok",
    "twitter",
    "vk",
    "wechat",
    "whatsapp",
];

/// Accepted alternative names and the canonical provider they mean.
const ALIASES: &[(&str, &str)] = &[("x", "twitter"), ("fb", "facebook"), ("azure", "microsoft")];

/// Longest subject accepted, in bytes (`OpenID` Connect caps `sub` at 255 ASCII characters).
pub const MAX_SUBJECT_LEN: usize = 255;

/// Why a linked account was rejected. Stable codes: [`AccountError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AccountError {
    /// Not of the form `provider:subject`.
    #[error("expected provider:subject")]
    Syntax,
    /// A provider not in the documented list.
    #[error("unknown provider")]
    UnknownProvider,
    /// An empty subject, or one with whitespace or control characters.
    #[error("invalid subject")]
    InvalidSubject,
    /// A subject over [`MAX_SUBJECT_LEN`] bytes.
    #[error("subject too long")]
    TooLong,
}

impl AccountError {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            AccountError::Syntax => "syntax",
            AccountError::UnknownProvider => "unknown_provider",
            AccountError::InvalidSubject => "invalid_subject",
            AccountError::TooLong => "too_long",
        }
    }
}

/// Normalises `provider:subject` text.
pub fn normalize(raw: &str) -> Result<String, AccountError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(AccountError::TooLong);
    }
    let (provider, subject) = raw.trim().split_once(':').ok_or(AccountError::Syntax)?;
    normalize_parts(provider, subject)
}

/// Normalises a provider and subject given apart (as platform adapters hold them).
pub fn normalize_parts(provider: &str, subject: &str) -> Result<String, AccountError> {
    let provider = canonical_provider(provider).ok_or(AccountError::UnknownProvider)?;
    if subject.is_empty() || subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AccountError::InvalidSubject);
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(AccountError::TooLong);
    }
    let mut canonical = String::with_capacity(provider.len() + 1 + subject.len());
    canonical.push_str(provider);
    canonical.push(':');
    canonical.push_str(subject);
    Ok(canonical)
}

/// The canonical name of `name`, if it is a known provider or alias (any case).
pub fn canonical_provider(name: &str) -> Option<&'static str> {
    let name = name.trim();
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(name))
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
                .map(|(_, p)| *p)
        })
}

/// `provider:subject` with a known provider.
pub(crate) fn looks_like_account(s: &str) -> bool {
    s.split_once(':')
        .is_some_and(|(p, rest)| !rest.is_empty() && canonical_provider(p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(normalize("Google:1078543"), Ok("google:1078543".into()));
        assert_eq!(normalize(" X:AbC_12 "), Ok("twitter:AbC_12".into()));
        assert_eq!(
            normalize("apple:001234.abcDEF.0912"),
            Ok("apple:001234.abcDEF.0912".into())
        );
        // The subject keeps everything after the first colon, colons included.
        assert_eq!(normalize("mastodon:a:b"), Ok("mastodon:a:b".into()));
    }

    #[test]
    fn rejections() {
        assert_eq!(normalize("1078543"), Err(AccountError::Syntax));
        assert_eq!(normalize("gogle:1"), Err(AccountError::UnknownProvider));
        assert_eq!(normalize("google:"), Err(AccountError::InvalidSubject));
        assert_eq!(normalize("google:a b"), Err(AccountError::InvalidSubject));
        let long = format!("google:{}", "1".repeat(256));
        assert_eq!(normalize(&long), Err(AccountError::TooLong));
    }
}
