//! The private mode's messages, byte values, filter parts and buckets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::oprf::Tag;
use crate::oprf::filter::UserFilter;
use crate::protocol::encoding::Encoding;

fn round_trip<T>(value: &T) -> T
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
{
    for encoding in [Encoding::Json, Encoding::Cbor] {
        let bytes = encoding.encode(value).unwrap();
        let back: T = encoding.decode(&bytes).unwrap();
        assert_eq!(&back, value, "{encoding:?}");
    }
    Encoding::Json
        .decode(&Encoding::Json.encode(value).unwrap())
        .unwrap()
}

#[test]
fn messages_round_trip_in_both_encodings_and_bytes_stay_bytes_in_cbor() {
    let request = EvaluateRequest {
        epoch: 3,
        elements: vec![Bytes([7; ELEMENT_LEN]); 4],
    };
    round_trip(&request);
    let json = String::from_utf8(Encoding::Json.encode(&request).unwrap()).unwrap();
    assert!(
        json.contains(&URL_SAFE_NO_PAD.encode([7u8; ELEMENT_LEN])),
        "{json}"
    );
    let cbor = Encoding::Cbor.encode(&request).unwrap();
    // 4 elements of 32 bytes, each with a 2-byte header, and a few bytes of structure.
    assert!(cbor.len() < 4 * 34 + 32, "{} bytes", cbor.len());
    round_trip(&FilterChanges {
        epoch: 3,
        since: 10,
        version: 12,
        added: TagList(vec![Tag(1), Tag(u64::MAX)]),
        removed: TagList(vec![]),
    });
    round_trip(&LookupAnswer {
        epoch: 1,
        matches: vec![LookupMatch {
            lookup: Bytes([9; LOOKUP_LEN]),
            user_ref: "u_1".into(),
        }],
    });
}

#[test]
fn wrong_lengths_and_garbage_are_decode_errors_quoting_nothing() {
    let short = format!(
        r#"{{"epoch":1,"elements":["{}"]}}"#,
        URL_SAFE_NO_PAD.encode([5u8; 31])
    );
    let e = Encoding::Json
        .decode::<EvaluateRequest>(short.as_bytes())
        .unwrap_err();
    assert!(!e.0.contains(&URL_SAFE_NO_PAD.encode([5u8; 31])), "{e}");
    assert!(
        Encoding::Json
            .decode::<EvaluateRequest>(br#"{"epoch":1,"elements":["!!"]}"#)
            .is_err()
    );
    assert!(
        Encoding::Json
            .decode::<FilterChanges>(
                br#"{"epoch":1,"since":1,"version":2,"added":"AAAA","removed":""}"#
            )
            .is_err()
    );
    assert!(
        Encoding::Json
            .decode::<EvaluateRequest>(br#"{"epoch":1,"elements":[],"extra":1}"#)
            .is_err()
    );
}

#[test]
fn a_filter_travels_in_parts_and_hostile_parts_are_errors() {
    // Enough tags for three parts.
    let tags: Vec<Tag> = (0..2_100_000u64)
        .map(|i| Tag(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    let filter = UserFilter::build(&tags).unwrap();
    let parts = parts_of(filter.header().count);
    assert_eq!(parts, 3);
    assert!(FilterPart::of(4, 99, &filter, parts).is_none());
    let bodies: Vec<Vec<u8>> = (0..parts)
        .map(|k| FilterPart::of(4, 99, &filter, k).unwrap().to_bytes())
        .collect();
    assert!(
        bodies
            .iter()
            .all(|b| b.len() <= crate::upload::MAX_ANSWER_BYTES)
    );
    let mut download = FilterDownload::start(FilterPart::from_bytes(&bodies[0]).unwrap()).unwrap();
    assert_eq!(download.epoch_version(), (4, 99));
    // A part out of order, or of another version, is refused and changes nothing.
    assert!(
        download
            .push(FilterPart::from_bytes(&bodies[2]).unwrap())
            .is_err()
    );
    let mut other = FilterPart::from_bytes(&bodies[1]).unwrap();
    other.version = 100;
    assert!(download.push(other).is_err());
    while let Some(k) = download.next_part() {
        let k = usize::try_from(k).unwrap();
        download
            .push(FilterPart::from_bytes(&bodies[k]).unwrap())
            .unwrap();
    }
    let back = download.finish().unwrap();
    assert!(tags.iter().step_by(997).all(|t| back.contains(*t)));
    assert_eq!(back.to_bytes(), filter.to_bytes());

    // Hostile bodies: every truncation of a small part, a wrong part count, wrong lengths.
    let small = FilterPart::of(1, 1, &UserFilter::build(&tags[..50]).unwrap(), 0).unwrap();
    let bytes = small.to_bytes();
    for cut in 0..bytes.len() {
        assert!(FilterPart::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
    }
    let mut parts_wrong = bytes.clone();
    parts_wrong[20..24].copy_from_slice(&2u32.to_le_bytes());
    assert!(FilterPart::from_bytes(&parts_wrong).is_err());
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[1, 2]);
    assert!(FilterPart::from_bytes(&longer).is_err());
    assert!(FilterPart::from_bytes(b"nope").is_err());
    // An empty filter is one part of no fingerprints.
    let empty = FilterPart::of(1, 1, &UserFilter::build(&[]).unwrap(), 0).unwrap();
    let download = FilterDownload::start(FilterPart::from_bytes(&empty.to_bytes()).unwrap());
    assert!(!download.unwrap().finish().unwrap().contains(Tag(1)));
}

#[test]
fn buckets_pad_up_and_bad_bucket_lists_are_refused() {
    let buckets = [16, 64, 256];
    assert_eq!(bucket_for(0, &buckets), Some(16));
    assert_eq!(bucket_for(1, &buckets), Some(16));
    assert_eq!(bucket_for(16, &buckets), Some(16));
    assert_eq!(bucket_for(17, &buckets), Some(64));
    assert_eq!(bucket_for(256, &buckets), Some(256));
    assert_eq!(bucket_for(257, &buckets), None);
    assert!(valid_buckets(&buckets, 1000));
    assert!(!valid_buckets(&buckets, 100));
    assert!(!valid_buckets(&[], 100));
    assert!(!valid_buckets(&[4, 4], 100));
    assert!(!valid_buckets(&[0, 4], 100));
    assert!(!valid_buckets(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 100));
}

#[test]
fn shards_are_the_tags_top_bits_and_the_config_field_is_optional() {
    for bits in [1u8, 8, 12, 16] {
        for shard in [0, 1, shard_count(bits) / 2, shard_count(bits) - 1] {
            let (first, last) = shard_range(shard, bits);
            assert_eq!(shard_of(first, bits), shard, "{bits} {shard}");
            assert_eq!(shard_of(last, bits), shard, "{bits} {shard}");
            if last.0 < u64::MAX {
                assert_eq!(shard_of(Tag(last.0 + 1), bits), shard + 1);
            }
        }
    }
    assert_eq!(shard_of(Tag(u64::MAX), 0), 0);
    assert_eq!(shard_range(0, 0), (Tag(0), Tag(u64::MAX)));
    assert_eq!(shard_of(Tag(u64::MAX), 16), 0xffff);
    assert_eq!(shard_count(16), 65_536);

    // Absent is 0, and 0 is not sent: an unsharded server's config is as before sharding.
    let text = r#"{"suite":"ristretto255-SHA512","epoch":1,"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","buckets":[16],"filter_version":3}"#;
    let config: PrivateConfig = serde_json::from_str(text).unwrap();
    assert_eq!(config.shard_bits, 0);
    assert_eq!(serde_json::to_string(&config).unwrap(), text);
    let sharded = PrivateConfig {
        shard_bits: 8,
        ..config
    };
    assert!(
        serde_json::to_string(&sharded)
            .unwrap()
            .contains(r#""shard_bits":8"#)
    );
    assert_eq!(round_trip(&sharded), sharded);
}

#[test]
fn default_batch_buckets_fit_the_limits() {
    assert_eq!(max_batch_bucket(2000, 256 * 1024), 2000);
    assert_eq!(max_batch_bucket(2000, 1024), 30);
    assert_eq!(default_batch_buckets(2000), [16, 64, 256, 1024]);
    assert_eq!(default_batch_buckets(1024), [16, 64, 256, 1024]);
    assert_eq!(default_batch_buckets(100), [16, 64, 100]);
    assert_eq!(default_batch_buckets(16), [16]);
    assert_eq!(default_batch_buckets(3), [3]);
    for max in [1, 3, 16, 17, 30, 100, 1024, 5000] {
        assert!(valid_buckets(&default_batch_buckets(max), max), "{max}");
    }
}
