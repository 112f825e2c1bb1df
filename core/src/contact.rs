//! Contacts as sources hand them over, and as the engine keeps them after normalisation.
//!
//! Stage: owns the contact model: [`RawContact`], [`NormalizedContact`], fingerprints, rejections
//! (and [`RejectedValue`], a rejection as stored and shown), and `Prepared`, a contact hashed for the
//! store. May import `identifier` and `hash`; never `source`, the store or anything above.
//!
//! A [`RawContact`] is what a platform adapter (Android's `ContactsContract`, iOS's `CNContactStore`)
//! or a file reader produces: a stable source id, a display name, and labelled raw values exactly
//! as the address book holds them. [`Normalizer::normalize_contact`] turns it into a
//! [`NormalizedContact`]: the canonical identifiers, the values that were rejected (with reasons),
//! and fingerprints that let a later sync skip an unchanged contact cheaply.
//!
//! Two fingerprints, because they answer two questions:
//! - [`RawContact::content_fingerprint`] hashes the raw content (plus the default region and the
//!   normalisation rules' version). Equal to the stored one → nothing to do, not even normalise.
//! - [`NormalizedContact::identifier_fingerprint`] hashes the sorted canonical identifiers. The raw
//!   content changed but this did not (a number re-typed in another format, a label renamed) →
//!   the contact's identifiers, and so its uploads, are unchanged.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::hash::{Digest, HashKey};
use crate::identifier::{Identifier, IdentifierKind, NormalizeError, Normalizer, phone};

/// Version of the normalisation rules; part of [`RawContact::content_fingerprint`], so that new
/// rules (or new phone metadata) make every contact be normalised again once.
pub const RULES_VERSION: &str = "1";
/// Most raw values a contact may carry; the rest are rejected (`too_many_values`).
pub const MAX_VALUES_PER_CONTACT: usize = 256;
/// Longest display name kept, in bytes; longer names are cut at a character boundary.
pub const MAX_DISPLAY_NAME_LEN: usize = 1024;
/// Longest source id accepted, in bytes.
pub const MAX_SOURCE_ID_LEN: usize = 512;

/// One raw value of a contact: its kind, the label the address book gave it, and the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Labelled {
    /// What kind of identifier the value is meant to be.
    pub kind: IdentifierKind,
    /// The address book's label: `mobile`, `work`, `home`, ... For handles, the messenger service
    /// (`skype`, `xmpp`, `telegram`) when the source names one. `None` when there is none.
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub label: Option<String>,
    /// The value exactly as the source holds it. Linked accounts are `provider:subject`.
    pub value: String,
}

/// A linked account as an account integration keeps it: a provider and the subject id it issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkedAccount {
    /// The provider (`google`, `facebook`, ...; see [`crate::identifier::account::PROVIDERS`]).
    pub provider: String,
    /// The provider's opaque, case-sensitive subject id.
    pub subject: String,
}

/// A contact as its source hands it over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RawContact {
    /// Stable id in the source: the platform's contact id, a vCard `UID`, or a position in a file.
    pub source_id: String,
    /// The name the user sees.
    pub display_name: String,
    /// Raw values in source order.
    #[cfg_attr(feature = "uniffi", uniffi(default = []))]
    pub values: Vec<Labelled>,
    /// The source's version or last-modified stamp, where it has one (Android's
    /// `CONTACT_LAST_UPDATED_TIMESTAMP`, a vCard `REV` as Unix seconds).
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    pub version: Option<String>,
}

impl RawContact {
    /// A contact with no values yet.
    pub fn new(source_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        RawContact {
            source_id: source_id.into(),
            display_name: display_name.into(),
            ..RawContact::default()
        }
    }

    /// Adds a raw value (builder style).
    #[must_use]
    pub fn with(
        mut self,
        kind: IdentifierKind,
        label: Option<&str>,
        value: impl Into<String>,
    ) -> Self {
        self.push(kind, label, value);
        self
    }

    /// Adds a raw value.
    pub fn push(&mut self, kind: IdentifierKind, label: Option<&str>, value: impl Into<String>) {
        self.values.push(Labelled {
            kind,
            label: label.map(str::to_owned),
            value: value.into(),
        });
    }

    /// [`RawContact::push`] with a label already owned (a file reader's, made per value).
    #[cfg(feature = "files")]
    pub(crate) fn push_owned(
        &mut self,
        kind: IdentifierKind,
        label: Option<String>,
        value: String,
    ) {
        self.values.push(Labelled { kind, label, value });
    }

    /// Adds a linked account.
    pub fn push_account(&mut self, account: &LinkedAccount) {
        self.push(
            IdentifierKind::Account,
            None,
            format!("{}:{}", account.provider, account.subject),
        );
    }

    /// Fills an empty display name the way address books show such a contact: with its first
    /// e-mail address, else its first phone number, else its first other value.
    pub fn fill_display_name(&mut self) {
        if !self.display_name.trim().is_empty() {
            return;
        }
        let first = self
            .values_of(IdentifierKind::Email)
            .chain(self.values_of(IdentifierKind::Phone))
            .chain(self.values.iter())
            .next();
        if let Some(v) = first {
            self.display_name = v.value.trim().to_owned();
        }
    }

    /// The raw values of one kind.
    pub fn values_of(&self, kind: IdentifierKind) -> impl Iterator<Item = &Labelled> {
        self.values.iter().filter(move |v| v.kind == kind)
    }

    /// A fingerprint of the raw content as `normalizer` would read it (see the module docs). The
    /// source's version stamp is not part of it: platforms move stamps without changing content
    /// (Android does on merges and sync-adapter writes), and that must not cost a re-normalisation.
    pub fn content_fingerprint(&self, normalizer: &Normalizer) -> Fingerprint {
        // The fields go into one buffer and SHA-256 runs once: a re-import fingerprints every
        // contact of the book, and one `update` per field cost more than the hashing.
        let mut buf = Vec::with_capacity(
            160 + self.display_name.len()
                + self
                    .values
                    .iter()
                    .map(|v| 32 + v.value.len() + v.label.as_ref().map_or(0, String::len))
                    .sum::<usize>(),
        );
        normalizer.region().with_code(|region| {
            for part in [
                "contactsync-raw-v1",
                RULES_VERSION,
                phone::METADATA_VERSION,
                region,
                &self.display_name,
            ] {
                field(&mut buf, part);
            }
        });
        for v in &self.values {
            field(&mut buf, v.kind.as_str());
            field(&mut buf, v.label.as_deref().unwrap_or(""));
            field(&mut buf, &v.value);
        }
        Fingerprint::of(&buf)
    }
}

/// A value that could not be normalised, kept so the report can say what and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The kind the value was meant to be.
    pub kind: IdentifierKind,
    /// Its label in the source.
    pub label: Option<String>,
    /// The raw value (stays on the device: reports are local).
    pub value: String,
    /// Why it was rejected.
    pub reason: RejectReason,
}

/// Why a raw value was not turned into an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The normaliser refused it.
    #[error(transparent)]
    Invalid(#[from] NormalizeError),
    /// The contact had more than [`MAX_VALUES_PER_CONTACT`] values.
    #[error("too many values in one contact")]
    TooManyValues,
}

impl RejectReason {
    /// A short, stable reason code (`phone.too_short`, `too_many_values`, ...).
    pub fn code(&self) -> String {
        match self {
            RejectReason::Invalid(e) => e.code(),
            RejectReason::TooManyValues => "too_many_values".to_owned(),
        }
    }
}

/// A raw value that was not accepted, as the store keeps it and reports show it: a
/// [`Rejection`] with its reason flattened to the code (the reason's detail is not stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RejectedValue {
    /// The kind it was meant to be.
    pub kind: IdentifierKind,
    /// Its label in the source.
    pub label: Option<String>,
    /// The raw value.
    pub value: String,
    /// Why (`phone.too_short`, ...).
    pub reason: String,
}

/// A contact after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedContact {
    /// The source's stable id.
    pub source_id: String,
    /// The display name, bounded to [`MAX_DISPLAY_NAME_LEN`] bytes.
    pub display_name: String,
    /// The source's version stamp, if any.
    pub version: Option<String>,
    /// Canonical identifiers, sorted by kind then text, without duplicates.
    pub identifiers: Vec<Identifier>,
    /// Values that could not be normalised, in source order.
    pub rejections: Vec<Rejection>,
    /// Fingerprint of the raw content ([`RawContact::content_fingerprint`]).
    pub content_fingerprint: Fingerprint,
}

impl NormalizedContact {
    /// A fingerprint of the sorted canonical identifiers (see the module docs).
    pub fn identifier_fingerprint(&self) -> Fingerprint {
        let mut buf = Vec::new();
        field(&mut buf, "contactsync-ids-v1");
        for id in &self.identifiers {
            field(&mut buf, id.kind().as_str());
            field(&mut buf, id.canonical());
        }
        Fingerprint::of(&buf)
    }
}

/// A contact ready to be written: normalised, and hashed when a key is known.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub contact: NormalizedContact,
    /// One per identifier, in the same order; `None` when no key is known yet.
    pub digests: Vec<Option<Digest>>,
}

impl Prepared {
    pub(crate) fn new(contact: NormalizedContact, key: Option<&HashKey>) -> Self {
        let digests = contact
            .identifiers
            .iter()
            .map(|id| key.map(|k| k.hash(id)))
            .collect();
        Prepared { contact, digests }
    }
}

impl Normalizer {
    /// Normalises every value of a contact. Never fails: bad values become [`Rejection`]s.
    pub fn normalize_contact(&self, contact: &RawContact) -> NormalizedContact {
        self.normalize_contact_with(contact, contact.content_fingerprint(self))
    }

    /// [`Normalizer::normalize_contact`] with the content fingerprint already computed (the
    /// import computed it to find that the contact changed).
    pub(crate) fn normalize_contact_with(
        self,
        contact: &RawContact,
        content_fingerprint: Fingerprint,
    ) -> NormalizedContact {
        let mut identifiers = Vec::with_capacity(contact.values.len());
        let mut rejections = Vec::new();
        for (i, v) in contact.values.iter().enumerate() {
            let result = if i >= MAX_VALUES_PER_CONTACT {
                Err(RejectReason::TooManyValues)
            } else {
                self.normalize(v.kind, &v.value).map_err(RejectReason::from)
            };
            match result {
                Ok(id) => identifiers.push(id),
                Err(reason) => rejections.push(Rejection {
                    kind: v.kind,
                    label: v.label.clone(),
                    value: truncate(&v.value, crate::identifier::MAX_RAW_LEN).to_owned(),
                    reason,
                }),
            }
        }
        identifiers.sort();
        identifiers.dedup();
        NormalizedContact {
            source_id: contact.source_id.clone(),
            display_name: truncate(&contact.display_name, MAX_DISPLAY_NAME_LEN).to_owned(),
            version: contact.version.clone(),
            identifiers,
            rejections,
            content_fingerprint,
        }
    }
}

/// A 128-bit content fingerprint (truncated SHA-256); hex in text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String")]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    fn of(bytes: &[u8]) -> Self {
        let full = Sha256::digest(bytes);
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        Fingerprint(out)
    }

    /// Lower-case hex, 32 characters.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_hex()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// Appends one length-prefixed field, so that field boundaries cannot be shifted.
fn field(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::Region;

    fn normalizer() -> Normalizer {
        Normalizer::new(Region::new("DE").unwrap())
    }

    fn sample() -> RawContact {
        RawContact::new("42", "Erika Mustermann")
            .with(IdentifierKind::Phone, Some("mobile"), "0172 3127130")
            .with(IdentifierKind::Phone, Some("work"), "+49 172 312 7130")
            .with(IdentifierKind::Email, None, "Erika@Example.org")
            .with(IdentifierKind::Phone, Some("fax"), "12")
    }

    #[test]
    fn normalises_dedups_and_rejects() {
        let n = normalizer().normalize_contact(&sample());
        let ids: Vec<String> = n.identifiers.iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["phone:+491723127130", "email:erika@example.org"]);
        assert_eq!(n.rejections.len(), 1);
        assert_eq!(n.rejections[0].label.as_deref(), Some("fax"));
        assert!(n.rejections[0].reason.code().starts_with("phone."));
    }

    #[test]
    fn fingerprints() {
        let a = normalizer().normalize_contact(&sample());
        let mut edited = sample();
        edited.values[0].value = "+49 (172) 3127130".into();
        let b = normalizer().normalize_contact(&edited);
        // Raw content changed, identifiers did not.
        assert_ne!(a.content_fingerprint, b.content_fingerprint);
        assert_eq!(a.identifier_fingerprint(), b.identifier_fingerprint());
        // Another region reads national numbers differently: the raw fingerprint says so.
        let us = Normalizer::new(Region::new("US").unwrap());
        assert_ne!(sample().content_fingerprint(&us), a.content_fingerprint);
        // Field boundaries matter.
        let mut restamped = sample();
        restamped.version = Some("2026-11-25T10:00:00Z".into());
        assert_eq!(
            restamped.content_fingerprint(&normalizer()),
            a.content_fingerprint
        );
        let x = RawContact::new("1", "ab").content_fingerprint(&us);
        let y = RawContact::new("1", "a").with(IdentifierKind::Handle, None, "b");
        assert_ne!(x, y.content_fingerprint(&us));
        assert_eq!(a.content_fingerprint.to_hex().len(), 32);
    }

    #[test]
    fn bounds() {
        let mut c = RawContact::new("1", "é".repeat(2000));
        for i in 0..300 {
            c.push(IdentifierKind::Handle, None, format!("user{i}"));
        }
        let n = normalizer().normalize_contact(&c);
        assert!(n.display_name.len() <= MAX_DISPLAY_NAME_LEN);
        assert_eq!(n.identifiers.len(), MAX_VALUES_PER_CONTACT);
        assert_eq!(n.rejections.len(), 300 - MAX_VALUES_PER_CONTACT);
        assert_eq!(n.rejections[0].reason, RejectReason::TooManyValues);
    }

    #[test]
    fn accounts_from_parts() {
        let mut c = RawContact::new("1", "A");
        c.push_account(&LinkedAccount {
            provider: "Google".into(),
            subject: "10769150350006150715113082367".into(),
        });
        let n = normalizer().normalize_contact(&c);
        assert_eq!(
            n.identifiers[0].canonical(),
            "google:10769150350006150715113082367"
        );
        assert!(crate::identifier::account::canonical_provider("FB").is_some());
    }
}
