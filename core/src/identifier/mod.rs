//! Identifiers: one canonical text form per kind.
//!
//! Stage: owns [`Identifier`], [`IdentifierKind`], [`Normalizer`] and the rules per kind. It imports
//! nothing else of the crate (not even `error`: a rejection is a [`NormalizeError`]); contacts,
//! hashes and everything above build on it, never the reverse.
//!
//! Every value a contact carries (a phone number as typed, an e-mail address, a messenger
//! handle, a linked account, an invite code) is turned into an [`Identifier`]: its kind and one
//! canonical text. Two inputs that mean the same thing must give the same canonical text, or the
//! same person would hash to two different keys and never match; two inputs that mean different
//! things must never collapse into one, or a contact could match a stranger. Where a value is
//! ambiguous the normaliser rejects it with a reason rather than guess.
//!
//! The rules for each kind live in its own module and are written down in docs/identifiers.md.

pub mod account;
pub mod email;
pub mod handle;
pub mod invite;
pub mod pattern_thread;
pub mod phone;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use phone::Region;

/// Upper bound on any raw value handed to a normaliser, in bytes. Real identifiers are far
/// shorter; the bound keeps hostile input (a 10 MB "phone number") cheap to reject.
pub const MAX_RAW_LEN: usize = 1024;

/// The kinds of identifier the engine can match on.
///
/// The kind's name is part of every hash ([`crate::hash`]), so the same text under two kinds
/// never produces the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    /// A phone number, canonically E.164 (`+4915123456789`).
    Phone,
    /// An e-mail address, trimmed, IDN domain in ASCII, lower-cased.
    Email,
    /// A username in the app's namespace (or a messenger handle).
    Handle,
    /// A linked account: `provider:subject`.
    Account,
    /// A human-typable invite code with a check character.
    Invite,
}

impl IdentifierKind {
    /// Every kind, in canonical order.
    pub const ALL: [IdentifierKind; 5] = [
        IdentifierKind::Phone,
        IdentifierKind::Email,
        IdentifierKind::Handle,
        IdentifierKind::Account,
        IdentifierKind::Invite,
    ];

    /// The kind's stable wire name; it is also the domain-separation tag of the hash.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Phone => "phone",
            IdentifierKind::Email => "email",
            IdentifierKind::Handle => "handle",
            IdentifierKind::Account => "account",
            IdentifierKind::Invite => "invite",
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown identifier kind name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown identifier kind (expected phone, email, handle, account or invite)")]
pub struct UnknownKind;

impl FromStr for IdentifierKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdentifierKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(UnknownKind)
    }
}

/// A normalised identifier: its kind and canonical text.
///
/// Only the normalisers construct it, so holding one means the text is canonical.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Identifier {
    kind: IdentifierKind,
    canonical: String,
}

impl Identifier {
    /// Normalises `raw` as an identifier of `kind`. Phone numbers written in national format
    /// are read in `region`.
    pub fn parse(kind: IdentifierKind, raw: &str, region: Region) -> Result<Self, NormalizeError> {
        let canonical = match kind {
            IdentifierKind::Phone => phone::normalize(raw, region)?,
            IdentifierKind::Email => email::normalize(raw)?,
            IdentifierKind::Handle => handle::normalize(raw)?,
            IdentifierKind::Account => account::normalize(raw)?,
            IdentifierKind::Invite => invite::normalize(raw)?,
        };
        Ok(Identifier { kind, canonical })
    }

    /// The identifier's kind.
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The canonical text form.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.canonical)
    }
}

/// Why a raw value could not be normalised. The messages never repeat the value itself, so
/// they can be logged and reported without leaking contact data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormalizeError {
    /// A phone number that is not a valid, dialable number.
    #[error("phone: {0}")]
    Phone(#[from] phone::PhoneError),
    /// A malformed e-mail address.
    #[error("email: {0}")]
    Email(#[from] email::EmailError),
    /// A handle with no usable characters or characters outside the allowed set.
    #[error("handle: {0}")]
    Handle(#[from] handle::HandleError),
    /// A linked account with an unknown provider or a malformed subject.
    #[error("account: {0}")]
    Account(#[from] account::AccountError),
    /// A malformed or mistyped invite code.
    #[error("invite: {0}")]
    Invite(#[from] invite::InviteError),
    /// `--kind auto` could not tell what kind of identifier the value is.
    #[error("could not tell the identifier kind")]
    UnknownKind,
}

impl NormalizeError {
    /// A short, stable, machine-readable reason code (`phone.too_short`, `email.syntax`, ...),
    /// for reports and for the bindings.
    pub fn code(&self) -> String {
        match self {
            NormalizeError::Phone(e) => format!("phone.{}", e.code()),
            NormalizeError::Email(e) => format!("email.{}", e.code()),
            NormalizeError::Handle(e) => format!("handle.{}", e.code()),
            NormalizeError::Account(e) => format!("account.{}", e.code()),
            NormalizeError::Invite(e) => format!("invite.{}", e.code()),
            NormalizeError::UnknownKind => "unknown_kind".to_owned(),
        }
    }
}

/// Normalises values with the user's settings (today: the default region for phone numbers).
///
/// Cheap to copy; share one per import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalizer {
    region: Region,
}

impl Normalizer {
    /// A normaliser that reads national-format phone numbers in `region`.
    pub fn new(region: Region) -> Self {
        Normalizer { region }
    }

    /// The default region for national-format phone numbers.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Normalises `raw` as `kind`.
    pub fn normalize(&self, kind: IdentifierKind, raw: &str) -> Result<Identifier, NormalizeError> {
        Identifier::parse(kind, raw, self.region)
    }

    /// Guesses the kind of `raw` (see [`guess_kind`]) and normalises it.
    pub fn normalize_auto(&self, raw: &str) -> Result<Identifier, NormalizeError> {
        let kind = guess_kind(raw).ok_or(NormalizeError::UnknownKind)?;
        self.normalize(kind, raw)
    }
}

/// Guesses which kind of identifier a free-form value is, for `contactsync normalize --kind auto`
/// and for CSV columns without a type. The rules, in order:
///
/// 1. `tel:` or only phone characters (digits in any script, `+ ( ) . - /`, spaces, an
///    extension marker) with at least three digits: **phone**;
/// 2. `mailto:` or a `@` with text on both sides: **email**;
/// 3. `provider:subject` with a known provider: **account**;
/// 4. a URL carrying an invite path, or a code in its grouped display form (`XXXX-XXXX-C`) whose
///    check character holds: **invite**;
/// 5. anything else with at least one letter or digit: **handle** (a leading `@` says so too).
///
/// A bare run of letters and digits is a handle, never an invite code: too many usernames would
/// pass a one-character check by chance.
pub fn guess_kind(raw: &str) -> Option<IdentifierKind> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if phone::looks_like_phone(s) {
        return Some(IdentifierKind::Phone);
    }
    if email::looks_like_email(s) {
        return Some(IdentifierKind::Email);
    }
    if account::looks_like_account(s) {
        return Some(IdentifierKind::Account);
    }
    if invite::looks_like_invite(s) {
        return Some(IdentifierKind::Invite);
    }
    if s.chars().any(char::is_alphanumeric) {
        return Some(IdentifierKind::Handle);
    }
    None
}

/// `s` without `prefix` (an ASCII prefix, compared ignoring ASCII case), if it starts with it.
/// Safe on any UTF-8: it never slices inside a character.
pub(crate) fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in IdentifierKind::ALL {
            assert_eq!(kind.as_str().parse::<IdentifierKind>(), Ok(kind));
        }
        assert!("fax".parse::<IdentifierKind>().is_err());
    }

    #[test]
    fn guesses_kinds() {
        let cases = [
            ("+49 172 3127130", Some(IdentifierKind::Phone)),
            ("tel:+1-202-555-0173", Some(IdentifierKind::Phone)),
            ("(202) 555-0173 ext. 12", Some(IdentifierKind::Phone)),
            ("alice@example.com", Some(IdentifierKind::Email)),
            ("mailto:Bob@Example.org", Some(IdentifierKind::Email)),
            ("google:1078543", Some(IdentifierKind::Account)),
            (
                "https://example.app/i/7K3M-9QX2-D",
                Some(IdentifierKind::Invite),
            ),
            ("@alice_01", Some(IdentifierKind::Handle)),
            ("alice", Some(IdentifierKind::Handle)),
            ("   ", None),
            ("---", None),
        ];
        for (raw, kind) in cases {
            assert_eq!(guess_kind(raw), kind, "{raw}");
        }
    }
}
