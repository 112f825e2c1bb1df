//! Phone numbers, canonically E.164 (`+4915123456789`).
//!
//! Parsing, validation and formatting are `rlibphonenumber`'s, a faithful port of Google's
//! libphonenumber: the same metadata (version in [`METADATA_VERSION`]) and the same verdicts,
//! measured in `tests/tests/phone_corpus.rs` against Python's `phonenumbers` on a generated
//! corpus. We add only the policy around it:
//!
//! - a national-format number is read in the user's default region;
//! - international prefixes (`+`, `00`, `011`, ... whatever the region dials), spaces, dots,
//!   dashes, slashes, parentheses, `tel:` URIs and digits in any Unicode script are understood;
//! - an extension (`ext. 12`, `x12`, `;ext=12`) is dropped from the key: it reaches the same line;
//! - a number that libphonenumber does not call *valid* for its region (too short, too long,
//!   an unassigned range, a short code such as `112`) is rejected with a reason, never guessed.
//!   Two different people must not share a key because we "fixed" a typo.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use rlibphonenumber::{
    NumberLengthType, PHONE_NUMBER_UTIL, ParseError, PhoneNumberFormat, PhoneNumberType,
    ValidationError,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::MAX_RAW_LEN;

/// The libphonenumber metadata version compiled into this build (the one `rlibphonenumber`
/// 2.2.15 ships). docs/identifiers.md says how it is updated.
pub const METADATA_VERSION: &str = "9.0.42";

/// Why a phone number was rejected. Stable codes: [`PhoneError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// No digits, or characters that cannot be part of a phone number.
    #[error("not a phone number")]
    NotANumber,
    /// A `+` (or international prefix) followed by no known country calling code, or a national
    /// number with no usable default region.
    #[error("unknown country calling code")]
    InvalidCountryCode,
    /// Shorter than any number of its region.
    #[error("too short for its region")]
    TooShort,
    /// Longer than any number of its region.
    #[error("too long for its region")]
    TooLong,
    /// A length no number of its region has.
    #[error("length not used in its region")]
    InvalidLength,
    /// A possible length, but not in any range the region assigns to subscribers: unassigned
    /// ranges, and short codes and local-only numbers such as `112` or a number without its
    /// area code.
    #[error("not an assigned number range, or a short code")]
    Unassigned,
    /// The raw value is over the size bound.
    #[error("value too long to be a phone number")]
    InputTooLong,
}

impl PhoneError {
    /// A short, stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            PhoneError::NotANumber => "not_a_number",
            PhoneError::InvalidCountryCode => "invalid_country_code",
            PhoneError::TooShort => "too_short",
            PhoneError::TooLong => "too_long",
            PhoneError::InvalidLength => "invalid_length",
            PhoneError::Unassigned => "unassigned",
            PhoneError::InputTooLong => "input_too_long",
        }
    }
}

/// The user's default region: an ISO 3166-1 alpha-2 code that libphonenumber has metadata for.
///
/// National-format numbers (`0171 1234567`, `(202) 555-0173`) are read as numbers of this region.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(rlibphonenumber::Region);

/// A region code that is not ISO 3166-1 alpha-2 or that has no phone metadata.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown region (expected an ISO 3166-1 alpha-2 code such as US, DE or IN)")]
pub struct UnknownRegion;

impl Region {
    /// Reads an ISO 3166-1 alpha-2 code, in either case.
    pub fn new(code: &str) -> Result<Self, UnknownRegion> {
        let region = rlibphonenumber::Region::from_code(code.trim()).map_err(|_| UnknownRegion)?;
        // Every pair of letters is a `Region` variant; only those with metadata are usable.
        if region == rlibphonenumber::Region::World
            || PHONE_NUMBER_UTIL
                .get_country_code_for_region(region)
                .is_none()
        {
            return Err(UnknownRegion);
        }
        Ok(Region(region))
    }

    /// Calls `f` with the upper-case ISO code, without allocating.
    pub(crate) fn with_code<R>(self, f: impl FnOnce(&str) -> R) -> R {
        f(self.0.as_region_str().as_str())
    }

    /// The upper-case ISO code.
    pub fn code(self) -> String {
        self.0.as_region_str().as_str().to_owned()
    }

    /// Every region libphonenumber has metadata for, sorted.
    pub fn all() -> Vec<Region> {
        let mut all: Vec<Region> = PHONE_NUMBER_UTIL
            .get_supported_regions()
            .filter(|r| *r != rlibphonenumber::Region::World)
            .map(Region)
            .collect();
        all.sort();
        all
    }
}

impl Default for Region {
    /// `US`, as libphonenumber's own examples do; apps should always pass the user's region.
    fn default() -> Self {
        Region(rlibphonenumber::Region::US)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.0.as_region_str().as_str())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_region_str().as_str())
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}

impl TryFrom<String> for Region {
    type Error = UnknownRegion;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Region::new(&s)
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.code()
    }
}

/// Normalises a phone number to E.164, reading national numbers in `region`.
pub fn normalize(raw: &str, region: Region) -> Result<String, PhoneError> {
    if raw.len() > MAX_RAW_LEN {
        return Err(PhoneError::InputTooLong);
    }
    if tel_prefix_after_phone_context(raw) {
        return Err(PhoneError::NotANumber);
    }
    let number = PHONE_NUMBER_UTIL
        .parse(raw, Some(region.0))
        .map_err(|e| match e {
            ParseError::InvalidCountryCode => PhoneError::InvalidCountryCode,
            ParseError::NotANumber(_) => PhoneError::NotANumber,
            ParseError::TooShortAfterIdd | ParseError::TooShortNsn => PhoneError::TooShort,
            ParseError::TooLongNsn => PhoneError::TooLong,
        })?;
    if !PHONE_NUMBER_UTIL.is_valid_number(&number) {
        return Err(
            match PHONE_NUMBER_UTIL.is_possible_number_with_reason(&number) {
                Ok(NumberLengthType::IsPossible | NumberLengthType::IsPossibleLocalOnly) => {
                    PhoneError::Unassigned
                }
                Err(ValidationError::InvalidCountryCode) => PhoneError::InvalidCountryCode,
                Err(ValidationError::TooShort) => PhoneError::TooShort,
                Err(ValidationError::TooLong) => PhoneError::TooLong,
                Err(ValidationError::InvalidLength) => PhoneError::InvalidLength,
            },
        );
    }
    Ok(PHONE_NUMBER_UTIL
        .format(&number, PhoneNumberFormat::E164)
        .into_owned())
}

/// Whether the first `tel:` of `raw` comes after its first `;phone-context=`: not an RFC 3966
/// URI, and an input that rlibphonenumber 2.2.15 panics on (it slices the text from the end of
/// `tel:` to the parameter, a range that is then backwards; the C++ original clamps instead).
fn tel_prefix_after_phone_context(raw: &str) -> bool {
    // The same case-sensitive searches as the parser's, after a one-byte scan: nearly no number
    // holds a `;`, and building the substring searcher cost more than the rest of this check.
    if !raw.as_bytes().contains(&b';') {
        return false;
    }
    raw.find(";phone-context=")
        .is_some_and(|context| raw.find("tel:").is_some_and(|tel| tel > context))
}

/// Prepares phone parsing for `region` on the [pattern thread](super::pattern_thread), so that
/// the first numbers parsed (an import's, or on the caller's, possibly UI, thread) do not pay for
/// it: decodes libphonenumber's metadata (a few milliseconds, once per process) and compiles the
/// patterns that numbers of `region` need (tens of milliseconds; libphonenumber compiles each
/// region's patterns on first use). On the thread that imports normalise on, the patterns it
/// compiles keep their lock-free caches for those imports. Returns at once; calling it again for
/// the same region does nothing.
pub fn warm_up_in_background(region: Region) {
    static WARMED: Mutex<Vec<Region>> = Mutex::new(Vec::new());
    {
        let mut warmed = WARMED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warmed.contains(&region) {
            return;
        }
        warmed.push(region);
    }
    super::pattern_thread::spawn(move || warm_up(region));
}

/// The same work as [`warm_up_in_background`], on this thread.
pub fn warm_up(region: Region) {
    let util = &*PHONE_NUMBER_UTIL;
    // A round trip through every step `normalize` takes: national and international parsing,
    // validation and formatting of an example number of each common type.
    for kind in [PhoneNumberType::FixedLine, PhoneNumberType::Mobile] {
        if let Ok(example) = util.get_example_number_for_type_and_region(region.0, kind) {
            let national = util
                .format(&example, PhoneNumberFormat::National)
                .into_owned();
            let international = util
                .format(&example, PhoneNumberFormat::International)
                .into_owned();
            let _ = normalize(&national, region);
            let _ = normalize(&international, region);
        }
    }
}

/// Whether `s` is made of phone characters only: a `tel:` URI, or digits (any script) with
/// `+ ( ) . - /` and spaces, and an optional extension. Used by [`super::guess_kind`].
pub(crate) fn looks_like_phone(s: &str) -> bool {
    if super::strip_prefix_ignore_ascii_case(s, "tel:").is_some() {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    // Drop an extension so that "x12" / "ext. 12" / "#12" don't make it look like text.
    let body = ["ext.", "ext", " x", "#", ";ext="]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .map_or(lower.as_str(), |i| &lower[..i]);
    let digits = body.chars().filter(|c| c.is_numeric()).count();
    digits >= 3
        && body.chars().all(|c| {
            c.is_numeric()
                || c.is_whitespace()
                || matches!(c, '+' | '(' | ')' | '.' | '-' | '/' | '\u{ff0b}')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> Region {
        Region::new("DE").unwrap()
    }

    #[test]
    fn warm_up_is_idempotent_and_harmless() {
        warm_up(de());
        warm_up_in_background(de());
        warm_up_in_background(de());
        assert_eq!(normalize("030 901820", de()).as_deref(), Ok("+4930901820"));
    }

    #[test]
    fn regions() {
        assert_eq!(Region::new("de").unwrap().code(), "DE");
        assert!(Region::new("XX").is_err());
        assert!(Region::new("001").is_err());
        assert!(Region::new("DEU").is_err());
        assert!(Region::all().len() > 200);
    }

    #[test]
    fn formats_of_one_number() {
        for raw in [
            "0172 3127130",
            "+49 172 3127130",
            "0049 (172) 312-7130",
            "+49.172.312.7130",
            "tel:+49-172-3127130",
            "０１７２ ３１２７１３０",
            "+49 172 3127130 ext. 99",
        ] {
            assert_eq!(
                normalize(raw, de()).as_deref(),
                Ok("+491723127130"),
                "{raw}"
            );
        }
    }

    #[test]
    fn us_exit_code_and_other_region() {
        let us = Region::new("US").unwrap();
        assert_eq!(
            normalize("011 49 172 3127130", us).as_deref(),
            Ok("+491723127130")
        );
        // The case that the `phonenumber` crate gets wrong (a digit lost, still "valid").
        assert_eq!(
            normalize("+49 172 3127130", us).as_deref(),
            Ok("+491723127130")
        );
    }

    // Found by the fuzzer (fuzz target identifiers, minimised input
    // fuzz/corpus/identifiers/finding_phone_context_before_tel): rlibphonenumber 2.2.15 panicked
    // on a `tel:` that comes after the `;phone-context=` parameter (it slices the text between
    // them); a contact holding such a value made every import of its address book fail.
    #[test]
    fn a_phone_context_before_the_tel_prefix_is_rejected_not_a_panic() {
        for raw in [
            ";phone-context=e;\0tel:;",
            ";phone-context=+49;tel:1723127130",
            "030;phone-context=example.org tel:901820",
        ] {
            assert_eq!(normalize(raw, de()), Err(PhoneError::NotANumber), "{raw:?}");
        }
        // The URI form itself still reads.
        assert_eq!(
            normalize("tel:030901820;phone-context=+49", de()).as_deref(),
            Ok("+4930901820")
        );
    }

    #[test]
    fn rejections_have_reasons() {
        assert_eq!(normalize("112", de()), Err(PhoneError::Unassigned));
        assert_eq!(
            normalize("+49 172 3127130 1234 5678", de()),
            Err(PhoneError::TooLong)
        );
        assert_eq!(normalize("hello", de()), Err(PhoneError::NotANumber));
        assert_eq!(
            normalize("+999 1234567", de()),
            Err(PhoneError::InvalidCountryCode)
        );
        assert_eq!(
            normalize(&"1".repeat(5000), de()),
            Err(PhoneError::InputTooLong)
        );
    }
}
