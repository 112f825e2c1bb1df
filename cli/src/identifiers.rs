//! Regions and identifiers as a person types them: `--region` (else the locale's region, else
//! US), and an identifier given as `kind:value` or as a value whose kind is guessed, made
//! canonical here before it is sent anywhere.
//!
//! Shared by the verbs that take them (every verb that reads phone numbers; `admin user` and
//! `demo` register users by identifier).

use contactsync_core::identifier::{IdentifierKind, Normalizer, Region};
use contactsync_core::protocol::wire::UserIdentifier;

use crate::failure::{Failure, UsageError};

/// `--region`, else the locale's region, else US.
pub fn resolve_region(arg: Option<&str>) -> Result<Region, Failure> {
    if let Some(code) = arg {
        return Region::new(code).map_err(|e| UsageError(format!("--region {code}: {e}")).into());
    }
    Ok(locale_region().unwrap_or_default())
}

/// The region of a POSIX locale such as `de_DE.UTF-8` or `pt_BR`.
fn locale_region() -> Option<Region> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .and_then(|v| {
            let v = v.split(['.', '@']).next()?.to_owned();
            let (_, cc) = v.split_once('_')?;
            Region::new(cc).ok()
        })
}

/// An identifier as the admin typed it: `kind:value`, or a value whose kind is guessed.
pub fn admin_identifier(normalizer: Normalizer, raw: &str) -> Result<UserIdentifier, Failure> {
    canonical(normalizer, raw).map_err(|e| UsageError(e).into())
}

/// [`admin_identifier`], with the reason as text.
pub fn canonical(normalizer: Normalizer, raw: &str) -> Result<UserIdentifier, String> {
    let explicit = raw
        .split_once(':')
        .and_then(|(k, v)| k.parse::<IdentifierKind>().ok().map(|k| (k, v)));
    let result = match explicit {
        Some((kind, value)) => normalizer.normalize(kind, value),
        None => normalizer.normalize_auto(raw),
    };
    let id = result.map_err(|e| format!("identifier {raw:?}: {}", e.code()))?;
    Ok(UserIdentifier {
        kind: id.kind().as_str().to_owned(),
        value: id.canonical().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_identifiers() {
        let n = Normalizer::new(Region::default());
        let id = admin_identifier(n, "(202) 555-0173").unwrap();
        assert_eq!(
            (id.kind.as_str(), id.value.as_str()),
            ("phone", "+12025550173")
        );
        let id = admin_identifier(n, "google:1078543").unwrap();
        assert_eq!(id.kind, "account");
        let id = admin_identifier(n, "handle:Ana_B").unwrap();
        assert_eq!((id.kind.as_str(), id.value.as_str()), ("handle", "ana_b"));
        let id = admin_identifier(n, "Ana@Example.ORG").unwrap();
        assert_eq!(id.kind, "email");
        assert!(admin_identifier(n, "phone:12").is_err());
    }
}
