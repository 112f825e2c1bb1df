//! The shared identifier vectors (`tests/vectors/identifiers.json`): canonical forms, error codes
//! and keyed hashes. Kotlin and Swift read the same file through the bindings; all three must
//! agree byte for byte. The expected values come from outside the Rust code: phone verdicts from
//! libphonenumber (Python `phonenumbers`), other kinds written by hand from docs/identifiers.md,
//! hashes from Python's `hmac` (see tools/vectors/generate.py).

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};

use contactsync_core::identifier::{IdentifierKind, Normalizer, Region};
use contactsync_core::{HashKey, MatrixHasher};
use contactsync_tests::vectors_dir;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Vectors {
    hash: HashSpec,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct HashSpec {
    key_base64: String,
    key_id: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    kind: String,
    input: String,
    region: Option<String>,
    canonical: Option<String>,
    error: Option<String>,
    hash: Option<String>,
}

fn load() -> Vectors {
    let path = vectors_dir().join("identifiers.json");
    let text = std::fs::read_to_string(&path).expect("identifiers.json");
    serde_json::from_str(&text).expect("identifiers.json parses")
}

#[test]
fn vectors_cover_what_they_promise() {
    let v = load();
    let phones: Vec<&Case> = v.cases.iter().filter(|c| c.kind == "phone").collect();
    let regions: BTreeSet<&str> = phones.iter().filter_map(|c| c.region.as_deref()).collect();
    assert!(phones.len() >= 150, "{} phone cases", phones.len());
    assert!(regions.len() >= 15, "{} regions", regions.len());
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for c in &v.cases {
        let e = per_kind.entry(c.kind.as_str()).or_default();
        if c.canonical.is_some() {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for kind in IdentifierKind::ALL {
        let (ok, bad) = per_kind.get(kind.as_str()).copied().unwrap_or_default();
        assert!(
            ok >= 8 && bad >= 8,
            "{kind}: {ok} accepted, {bad} rejected cases"
        );
    }
}

#[test]
fn canonical_forms_errors_and_hashes_match() {
    let v = load();
    let key = HashKey::from_base64(v.hash.key_id.clone(), &v.hash.key_base64).expect("test key");
    let mut failures = Vec::new();
    for c in &v.cases {
        let kind: IdentifierKind = c.kind.parse().expect("kind");
        let region = c
            .region
            .as_deref()
            .map_or_else(Region::default, |r| Region::new(r).expect("region"));
        let got = Normalizer::new(region).normalize(kind, &c.input);
        let what = format!("{} {:?} (region {:?})", c.kind, c.input, c.region);
        match (&got, &c.canonical, &c.error) {
            (Ok(id), Some(want), _) => {
                if id.canonical() != want {
                    failures.push(format!(
                        "{what}: got {:?}, expected {want:?}",
                        id.canonical()
                    ));
                } else if c.hash.as_deref() != Some(key.hash(id).to_base64url().as_str()) {
                    failures.push(format!("{what}: hash {} != {:?}", key.hash(id), c.hash));
                }
            }
            (Err(e), None, Some(want)) if &e.code() == want => {}
            _ => failures.push(format!(
                "{what}: got {got:?}, expected {:?} / {:?}",
                c.canonical, c.error
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        v.cases.len(),
        failures.join("\n")
    );
}

#[test]
fn canonical_forms_are_fixed_points() {
    // Normalising a canonical form gives it back: what the server stores can be checked again.
    let v = load();
    for c in v.cases.iter().filter(|c| c.canonical.is_some()) {
        let kind: IdentifierKind = c.kind.parse().expect("kind");
        let canonical = c.canonical.as_deref().expect("canonical");
        let again = Normalizer::new(Region::default()).normalize(kind, canonical);
        assert_eq!(
            again.as_ref().map(contactsync_core::Identifier::canonical),
            Ok(canonical),
            "{kind} {canonical:?}"
        );
    }
}

#[test]
fn matrix_identity_service_example() {
    // The example published in the Matrix identity service v2 specification.
    let email = Normalizer::new(Region::default())
        .normalize(IdentifierKind::Email, "alice@example.com")
        .expect("email");
    assert_eq!(
        MatrixHasher::new("matrixrocks")
            .hash(&email)
            .expect("email medium"),
        "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
    );
}
