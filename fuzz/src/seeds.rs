//! The seed corpora in `fuzz/corpus/<target>/`: the project's fixtures, the identifier vectors
//! and docs/protocol.md's examples, in each target's input format.
//!
//! Regenerate with `cargo +nightly test --manifest-path fuzz/Cargo.toml --lib -- --ignored
//! write_seeds` (it rewrites the generated seeds and leaves other files, such as minimised
//! findings, alone). The vCards from `shared/testdata/vcards` were copied by hand, with their
//! licence beside them (`LICENSE-ez-vcard`).

use std::path::Path;

use contactsync_core::IdentifierKind;
use contactsync_core::oprf::Tag;
use contactsync_core::oprf::filter::UserFilter;
use contactsync_core::protocol::private::FilterPart;

use crate::identifiers::Case;

/// The fuzz crate's directory.
fn fuzz_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Seeds of `identifiers`: every case of `tests/vectors/identifiers.json`, each also as `auto`,
/// and every 100th number of the phone corpus.
pub fn identifiers() -> Vec<(String, Vec<u8>)> {
    let root = fuzz_dir().join("..");
    let vectors: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/vectors/identifiers.json")).expect("the vectors"),
    )
    .expect("vectors JSON");
    let mut seeds = Vec::new();
    for (i, case) in vectors["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let kind: IdentifierKind = case["kind"]
            .as_str()
            .expect("kind")
            .parse()
            .expect("a kind");
        let region = case["region"].as_str().unwrap_or("US");
        let input = case["input"].as_str().expect("input");
        seeds.push((
            format!("vector_{i:03}"),
            Case::write(Some(kind), region, "GB", input),
        ));
        if i % 4 == 0 {
            seeds.push((
                format!("vector_{i:03}_auto"),
                Case::write(None, region, "IN", input),
            ));
        }
    }
    let corpus = std::fs::read_to_string(root.join("tests/vectors/phone_corpus.jsonl"))
        .expect("the phone corpus");
    for (i, line) in corpus.lines().enumerate().filter(|(i, _)| i % 100 == 0) {
        let case: serde_json::Value = serde_json::from_str(line).expect("a corpus line");
        seeds.push((
            format!("phone_{i:05}"),
            Case::write(
                Some(IdentifierKind::Phone),
                case["region"].as_str().expect("region"),
                "BR",
                case["input"].as_str().expect("input"),
            ),
        ));
    }
    seeds
}

/// Seeds of `wire`: the protocol's example answers and error bodies.
pub fn wire() -> Vec<(String, Vec<u8>)> {
    let examples: [(&str, u8, &str); 17] = [
        (
            "registered",
            1,
            r#"{"client_id": "c_5Jx0", "token": "t_Yk3"}"#,
        ),
        (
            "vouched",
            1,
            r#"{"client_id": "c_9Qa", "token": "t_0pR", "user_ref": "u_1042"}"#,
        ),
        (
            "config",
            0,
            r#"{"key_id":"k_2026_11","key":"3q2-7wAAAAC6","hash":"hmac-sha256","context":"contactsync-v1","digest_bytes":16,"limits":{"max_batch":2000,"max_body_bytes":262144,"daily_new_identifiers":100000,"remaining_today":99310,"check_interval_s":86400,"requests_per_minute":120}}"#,
        ),
        (
            "batch_request",
            0,
            r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","mode":"delta","add":["Xq4"],"remove":["p9V"]}"#,
        ),
        (
            "batch_answer",
            0,
            r#"{"batch_id":"b_kM0s","key_id":"k_2026_11","added":1999,"removed":1,"matches":[{"hash":"Xq4","user_ref":"u_1042"}],"remaining_today":97311}"#,
        ),
        (
            "changes",
            0,
            r#"{"gained":[{"hash":"Xq4","user_ref":"u_1042"}],"lost":["p9V"],"cursor":"8812","more":false}"#,
        ),
        (
            "receipt",
            0,
            r#"{"receipt_id":"r_Uu2","client_id":"c_5Jx0","deleted_at":1795600000,"deleted":{"hashes":1843,"batches":3,"invites":1}}"#,
        ),
        (
            "invite",
            1,
            r#"{"code":"7K3M9QX2R4","link":"https://example.org/i/7K3M9QX2R4","expires_at":1796204800}"#,
        ),
        ("redeem", 0, r#"{"user_ref": "u_1042"}"#),
        ("revoke", 0, r#"{"revoked": true}"#),
        (
            "user",
            0,
            r#"{"discoverable": true, "identifiers": [{"kind": "phone", "value": "+4915123456789"}, {"kind": "email", "value": "ana@example.org"}]}"#,
        ),
        (
            "keys",
            0,
            r#"{"keys": [{"key_id": "k_2027_01", "state": "current"}]}"#,
        ),
        (
            "match",
            0,
            r#"{"key_id": "k_2026_11", "matches": [{"hash": "Xq4", "user_ref": "u_1042"}]}"#,
        ),
        (
            "config_private",
            0,
            r#"{"key_id":"k1","key":"3q2-7wAAAAC6","hash":"hmac-sha256","context":"contactsync-v1","digest_bytes":16,"limits":{"max_batch":2000,"max_body_bytes":262144,"daily_new_identifiers":100000,"remaining_today":99310,"check_interval_s":86400,"requests_per_minute":120},"private":{"suite":"ristretto255-SHA512","epoch":1,"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","buckets":[16,64,256],"filter_version":3}}"#,
        ),
        (
            "filter_changes",
            0,
            r#"{"epoch":1,"since":2,"version":3,"added":"AQAAAAAAAAA","removed":""}"#,
        ),
        (
            "lookup_answer",
            0,
            r#"{"epoch":1,"matches":[{"lookup":"AAAAAAAAAAAAAAAAAAAAAA","user_ref":"u_1042"}]}"#,
        ),
        (
            "error_key_rotated",
            7,
            r#"{"error": {"code": "key_rotated", "message": "the hashing key changed", "key_id": "k2"}}"#,
        ),
    ];
    let errors: [(&str, u8, &str); 6] = [
        (
            "error_malformed",
            3,
            r#"{"error":{"code":"malformed","message":"m"}}"#,
        ),
        (
            "error_too_large",
            8,
            r#"{"error":{"code":"too_large","message":"m","max_batch":2000,"max_body_bytes":262144}}"#,
        ),
        (
            "error_rate",
            9,
            r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":60,"reason":"rate"}}"#,
        ),
        (
            "error_quota",
            9,
            r#"{"error":{"code":"too_many_requests","message":"m","retry_after_s":3600,"reason":"daily_quota"}}"#,
        ),
        (
            "error_internal",
            10,
            r#"{"error":{"code":"internal","message":"the server failed"}}"#,
        ),
        (
            "error_unavailable",
            11,
            r#"{"error":{"code":"unavailable","message":"m","retry_after_s":1}}"#,
        ),
    ];
    let mut seeds: Vec<(String, Vec<u8>)> = examples
        .iter()
        .chain(&errors)
        .map(|(name, status, body)| {
            let mut input = vec![*status, 1];
            input.extend_from_slice(body.as_bytes());
            ((*name).to_owned(), input)
        })
        .collect();
    // A part of a small users' filter, as `GET /v1/private/filter` answers it.
    let tags: Vec<Tag> = (1..=40u64)
        .map(|i| Tag(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    if let Ok(filter) = UserFilter::build(&tags)
        && let Some(part) = FilterPart::of(1, 3, &filter, 0)
    {
        let mut input = vec![0, 1];
        input.extend_from_slice(&part.to_bytes());
        seeds.push(("filter_part".to_owned(), input));
    }
    seeds
}

/// Writes the generated seeds of every target.
pub fn write_all() {
    let corpus = fuzz_dir().join("corpus");
    for (target, seeds) in [
        ("identifiers", identifiers()),
        ("wire", wire()),
        ("client_answers", crate::answers::seeds()),
        ("server_requests", crate::requests::seeds()),
    ] {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("a corpus directory");
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed_{name}")), bytes).expect("a seed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contactsync_core::source::Format;

    #[test]
    #[ignore = "rewrites fuzz/corpus; run by hand"]
    fn write_seeds() {
        write_all();
    }

    /// Every committed seed passes its target: the targets' invariants hold on the fixtures,
    /// the vectors and the protocol's examples (and on the findings kept as seeds, once fixed).
    #[test]
    fn every_seed_passes_its_target() {
        let corpus = fuzz_dir().join("corpus");
        let mut ran = 0;
        for target in [
            "vcard",
            "csv",
            "identifiers",
            "wire",
            "client_answers",
            "server_requests",
        ] {
            let Ok(entries) = std::fs::read_dir(corpus.join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("an entry").path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("LICENSE"))
                {
                    continue;
                }
                let data = std::fs::read(&path).expect("a seed");
                run(target, &data);
                ran += 1;
            }
        }
        assert!(ran > 0, "no seeds in {}", corpus.display());
    }

    /// What the target `target` does with one input.
    fn run(target: &str, data: &[u8]) {
        match target {
            "vcard" => crate::sources::check(data, Format::VCard, crate::sources::VCARD_BEGIN),
            "csv" => crate::sources::check(data, Format::Csv, crate::sources::CSV_HEADER),
            "identifiers" => crate::identifiers::check(data),
            "wire" => crate::wire::check(data),
            "client_answers" => crate::answers::check(data, crate::scratch().path()),
            "server_requests" => crate::requests::check(data, crate::scratch().path()),
            _ => unreachable!(),
        }
    }
}
