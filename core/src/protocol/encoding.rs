//! The protocol's two body encodings: JSON (`application/json`, the default, readable) and CBOR
//! (`application/cbor`, RFC 8949: hashes as byte strings, about a third of JSON's size for a
//! batch). Both carry the same [`super::wire`] types; which one a body is in is said by its
//! `Content-Type`, and which one an answer should be in by the request's `Accept`
//! (docs/protocol.md, "Encodings").
//!
//! Decoding is total: any bytes give a value or a [`DecodeError`] whose message names no value
//! (a value could be a hash), never a panic.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `application/json`.
pub const JSON: &str = "application/json";
/// `application/cbor`.
pub const CBOR: &str = "application/cbor";

/// A body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// `application/json`: the default, and what every error body is in.
    #[default]
    Json,
    /// `application/cbor`.
    Cbor,
}

/// A `Content-Type` that is neither JSON nor CBOR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body's media type is not application/json or application/cbor")]
pub struct UnsupportedMediaType;

/// A body that does not decode as the message it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl Encoding {
    /// The media type, as `Content-Type` and `Accept` spell it.
    pub const fn media_type(self) -> &'static str {
        match self {
            Encoding::Json => JSON,
            Encoding::Cbor => CBOR,
        }
    }

    /// The encoding a `Content-Type` names. No header is JSON (older clients send bodies without
    /// one); parameters (`; charset=utf-8`) and case do not matter.
    pub fn from_content_type(value: Option<&str>) -> Result<Encoding, UnsupportedMediaType> {
        let Some(value) = value else {
            return Ok(Encoding::Json);
        };
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(JSON) {
            Ok(Encoding::Json)
        } else if essence.eq_ignore_ascii_case(CBOR) {
            Ok(Encoding::Cbor)
        } else {
            Err(UnsupportedMediaType)
        }
    }

    /// The encoding an `Accept` header asks for: CBOR when it names `application/cbor` with a
    /// quality above zero and at least that of JSON (named, or through `application/*` or
    /// `*/*`); JSON otherwise, as without the header. Never a refusal: JSON is always there.
    pub fn from_accept(value: Option<&str>) -> Encoding {
        let Some(value) = value else {
            return Encoding::Json;
        };
        // (quality, specificity) of the most specific range naming each type.
        let mut cbor: Option<(u16, u8)> = None;
        let mut json: Option<(u16, u8)> = None;
        for range in value.split(',') {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or_default().trim();
            let quality = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1000, |(_, v)| quality(v.trim()));
            let specificity = |media: &str| -> Option<u8> {
                if essence.eq_ignore_ascii_case(media) {
                    Some(2)
                } else if essence.eq_ignore_ascii_case("application/*") {
                    Some(1)
                } else if essence == "*/*" {
                    Some(0)
                } else {
                    None
                }
            };
            for (media, slot) in [(CBOR, &mut cbor), (JSON, &mut json)] {
                if let Some(s) = specificity(media)
                    && slot.is_none_or(|(_, best)| s > best)
                {
                    *slot = Some((quality, s));
                }
            }
        }
        match cbor {
            Some((q, 2)) if q > 0 && json.is_none_or(|(jq, _)| q >= jq) => Encoding::Cbor,
            _ => Encoding::Json,
        }
    }

    /// The encoding of a body, from its `Content-Type`; a body without one (an answer through a
    /// transport that drops headers, a batch as the store keeps it) is judged by its first byte:
    /// JSON bodies of this protocol are objects (`{`, or whitespace), CBOR ones maps (major
    /// type 5, `0xa0`–`0xbf`), which no JSON text starts with.
    pub fn of_body(content_type: Option<&str>, body: &[u8]) -> Encoding {
        match content_type.map(|v| Encoding::from_content_type(Some(v))) {
            Some(Ok(encoding)) => encoding,
            _ => match body.first() {
                Some(b) if b >> 5 == 5 => Encoding::Cbor,
                _ => Encoding::Json,
            },
        }
    }

    /// `value` in this encoding.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, DecodeError> {
        match self {
            Encoding::Json => serde_json::to_vec(value).map_err(|e| DecodeError(e.to_string())),
            Encoding::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(value, &mut out).map_err(|e| DecodeError(e.to_string()))?;
                Ok(out)
            }
        }
    }

    /// `bytes` as a `T`: the whole body, one value, nothing after it.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        match self {
            Encoding::Json => {
                serde_json::from_slice(bytes).map_err(|e| DecodeError(json_error(&e)))
            }
            Encoding::Cbor => {
                let mut rest = bytes;
                let value =
                    ciborium::from_reader(&mut rest).map_err(|e| DecodeError(cbor_error(&e)))?;
                if rest.is_empty() {
                    Ok(value)
                } else {
                    Err(DecodeError(
                        "the body has bytes after its CBOR value".into(),
                    ))
                }
            }
        }
    }
}

/// An `Accept` quality (`0`, `0.5`, `1.000`) in thousandths; unreadable ones count as 0.
fn quality(text: &str) -> u16 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits: String = frac.chars().chain("000".chars()).take(3).collect();
    match (whole, digits.parse::<u16>()) {
        ("1", _) => 1000,
        ("0", Ok(f)) if frac.len() <= 3 => f,
        _ => 0,
    }
}

/// A JSON error as a client or a log may see it: where and what kind, never the value (serde
/// quotes an unexpected string in full, and a string here could be an identifier or a hash).
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("the body is not valid JSON ({at})")
        }
        Category::Data => data_error(&e.to_string(), &at),
    }
}

/// A CBOR error in the same spirit, placed by byte offset.
fn cbor_error(e: &ciborium::de::Error<std::io::Error>) -> String {
    use ciborium::de::Error;
    match e {
        Error::Io(_) | Error::Syntax(_) => "the body is not valid CBOR".into(),
        Error::RecursionLimitExceeded => "the CBOR body is nested too deeply".into(),
        Error::Semantic(offset, text) => {
            let at = offset.map_or_else(|| "CBOR".to_owned(), |o| format!("CBOR, byte {o}"));
            data_error(text, &at)
        }
    }
}

/// A serde data error (`text`) reworded: a missing field is named (the name is the protocol's),
/// an unknown one is not (the name is the sender's text), and any other message, which can
/// quote the offending value, becomes a generic one.
fn data_error(text: &str, at: &str) -> String {
    if text.starts_with("unknown field") {
        format!("unknown field ({at})")
    } else if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        format!("missing field {field} ({at})")
    } else {
        format!("a field has the wrong type or value ({at})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(Encoding::from_content_type(None), Ok(Encoding::Json));
        assert_eq!(
            Encoding::from_content_type(Some("Application/JSON; charset=utf-8")),
            Ok(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_content_type(Some("application/cbor")),
            Ok(Encoding::Cbor)
        );
        for other in [
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "application/cbor-seq",
        ] {
            assert_eq!(
                Encoding::from_content_type(Some(other)),
                Err(UnsupportedMediaType),
                "{other}"
            );
        }
    }

    #[test]
    fn accept_picks_cbor_only_when_preferred() {
        use Encoding::{Cbor, Json};
        for (accept, want) in [
            (None, Json),
            (Some("application/json"), Json),
            (Some("*/*"), Json),
            (Some("application/cbor"), Cbor),
            (Some("application/cbor, application/json;q=0.5"), Cbor),
            (Some("application/json, application/cbor"), Cbor),
            (Some("application/json, application/cbor;q=0.9"), Json),
            (Some("application/cbor;q=0"), Json),
            (Some("application/cbor;q=0.8, */*;q=0.9"), Json),
            (Some("application/cbor;q=0.8, */*;q=0.5"), Cbor),
            (
                Some("application/cbor;q=0.8, application/json;q=0.7, */*"),
                Cbor,
            ),
            (Some("application/cbor;q=x"), Json),
            (Some(",,;;=="), Json),
        ] {
            assert_eq!(Encoding::from_accept(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn bodies_without_a_content_type_are_sniffed() {
        assert_eq!(Encoding::of_body(None, b"{}"), Encoding::Json);
        assert_eq!(Encoding::of_body(None, &[0xa1, 0x60, 0x60]), Encoding::Cbor);
        assert_eq!(Encoding::of_body(None, b""), Encoding::Json);
        assert_eq!(
            Encoding::of_body(Some("application/json"), &[0xa0]),
            Encoding::Json
        );
    }

    #[test]
    fn trailing_bytes_and_garbage_are_errors_not_panics() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[allow(dead_code, reason = "read only")]
            a: u32,
        }
        let mut good = Encoding::Cbor.encode(&serde_json::json!({"a": 1})).unwrap();
        assert!(Encoding::Cbor.decode::<T>(&good).is_ok());
        good.push(0);
        assert!(Encoding::Cbor.decode::<T>(&good).is_err());
        for bad in [
            &b""[..],
            &[0xff],
            &[0xbf],
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(Encoding::Cbor.decode::<T>(bad).is_err());
        }
        // Deep nesting hits the recursion limit, not the stack.
        let deep = vec![0x81; 100_000];
        assert!(Encoding::Cbor.decode::<serde_json::Value>(&deep).is_err());
    }

    #[test]
    fn errors_never_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct T {
            #[allow(dead_code, reason = "read only")]
            n: u32,
        }
        let secret = "+4915123456789";
        let json = format!(r#"{{"n": "{secret}"}}"#);
        let cbor = Encoding::Cbor
            .encode(&serde_json::json!({"n": secret}))
            .unwrap();
        for (encoding, body) in [(Encoding::Json, json.into_bytes()), (Encoding::Cbor, cbor)] {
            let message = encoding.decode::<T>(&body).unwrap_err().0;
            assert!(!message.contains(secret), "{message}");
            assert!(message.contains("wrong type"), "{message}");
        }
        let unknown = Encoding::Cbor
            .encode(&serde_json::json!({"n": 1, secret: 2}))
            .unwrap();
        let message = Encoding::Cbor.decode::<T>(&unknown).unwrap_err().0;
        assert!(message.starts_with("unknown field"), "{message}");
        assert!(!message.contains(secret), "{message}");
        let missing = Encoding::Cbor.encode(&serde_json::json!({})).unwrap();
        let message = Encoding::Cbor.decode::<T>(&missing).unwrap_err().0;
        assert!(message.starts_with("missing field n"), "{message}");
    }
}
