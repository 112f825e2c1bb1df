//! The Matrix session against answers a real Sydent does not give on demand: rate limiting with
//! and without `retry_after_ms`, error bodies that lack fields, algorithms the app does not
//! allow, and answers that break the protocol. The behaviour against a real Sydent is in
//! `tests/tests/matrix_e2e.rs`.

use std::sync::Mutex;
use std::time::Duration;

use super::super::call::{Failure, exchange};
use super::super::requests::unix_now;
use super::super::transport::{Method, Request, Response, Transport, TransportError};
use super::super::{MatrixOptions, SyncOptions};
use crate::error::Error;
use crate::progress::NoProgress;
use crate::protocol::encoding::Encoding;
use crate::{Config, Engine, IdentifierKind, RawContact, Region};

/// Answers each request with what `answer` says, and keeps every request.
struct Scripted<F> {
    answer: F,
    seen: Mutex<Vec<Request>>,
}

impl<F: Fn(&Request) -> (u16, String) + Send + Sync> Transport for Scripted<F> {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (status, body) = (self.answer)(&request);
        self.seen.lock().unwrap().push(request);
        Ok(Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into_bytes(),
        })
    }
}

fn scripted<F: Fn(&Request) -> (u16, String) + Send + Sync>(answer: F) -> Scripted<F> {
    Scripted {
        answer,
        seen: Mutex::new(Vec::new()),
    }
}

fn details(algorithms: &str) -> (u16, String) {
    (
        200,
        format!(r#"{{"algorithms": {algorithms}, "lookup_pepper": "matrixrocks"}}"#),
    )
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    let e = Engine::open(
        dir.path().join("m.db"),
        Config::with_region(Region::new("DE").unwrap()),
    )
    .unwrap();
    let mut ana = RawContact::new("1", "Ana");
    ana.push(IdentifierKind::Email, None, "Ana@Example.com");
    e.import_snapshot(vec![ana], &NoProgress).unwrap();
    e
}

fn options(matrix: MatrixOptions) -> SyncOptions {
    SyncOptions {
        max_attempts: 2,
        max_wait: Duration::from_secs(5),
        matrix: Some(matrix),
        ..SyncOptions::default()
    }
}

fn matrix_error(status: u16, body: &str) -> Result<Response, Failure> {
    let t = scripted(move |_| (status, body.to_owned()));
    exchange(&t, Method::Post, "/x", None, Encoding::Json, Some("t"))
}

#[test]
fn matrix_error_bodies_map_with_or_without_their_fields() {
    assert_eq!(
        matrix_error(
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":1500}"#
        ),
        Err(Failure::Retry {
            status: 429,
            code: "M_LIMIT_EXCEEDED".into(),
            retry_after: Some(2),
            daily_quota: false
        }),
        "milliseconds rounded up to whole seconds"
    );
    assert!(matches!(
        matrix_error(429, r#"{"errcode":"M_LIMIT_EXCEEDED"}"#),
        Err(Failure::Retry {
            retry_after: None,
            ..
        })
    ));
    // M_INVALID_PEPPER without `error`, `algorithm` or `lookup_pepper` still says what it is.
    assert!(matches!(
        matrix_error(400, r#"{"errcode":"M_INVALID_PEPPER"}"#),
        Err(Failure::Refused { status: 400, code, .. }) if code == "M_INVALID_PEPPER"
    ));
    assert!(matches!(
        matrix_error(400, r#"{"errcode": 7, "error": null}"#),
        Err(Failure::Refused { status: 400, code, .. }) if code == "http_400"
    ));
}

#[test]
fn the_token_goes_as_a_bearer_and_only_hashes_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let t = scripted(|r: &Request| {
        if r.path.ends_with("/hash_details") {
            details(r#"["none", "sha256"]"#)
        } else {
            // The spec's example: alice@example.com under `matrixrocks`, here Ana's.
            (200, r#"{"mappings": {}}"#.into())
        }
    });
    let report = e
        .sync(&t, &options(MatrixOptions::new("tok")), &NoProgress)
        .unwrap();
    assert_eq!(report.added, 1);
    let seen = t.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for r in seen.iter() {
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "Authorization" && v == "Bearer tok")
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
    let expected =
        crate::hash::MatrixHasher::new("matrixrocks").hash_raw("ana@example.com", "email");
    assert_eq!(
        body,
        serde_json::json!({"addresses": [expected], "algorithm": "sha256", "pepper": "matrixrocks"})
    );
}

#[test]
fn plaintext_is_refused_unless_the_app_opts_in() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let t = scripted(|r: &Request| {
        if r.path.ends_with("/hash_details") {
            details(r#"["none"]"#)
        } else {
            (
                200,
                r#"{"mappings": {"ana@example.com email": "@ana:x.org"}}"#.into(),
            )
        }
    });
    let error = e
        .sync(&t, &options(MatrixOptions::new("tok")), &NoProgress)
        .unwrap_err();
    assert!(
        matches!(&error, Error::Server { code, .. } if code == "matrix_no_allowed_algorithm"),
        "{error:?}"
    );
    assert_eq!(t.seen.lock().unwrap().len(), 1, "no lookup was sent");

    let mut plaintext = MatrixOptions::new("tok");
    plaintext.allow_plaintext = true;
    e.sync(&t, &options(plaintext), &NoProgress).unwrap();
    let seen = t.seen.lock().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&seen[2].body).unwrap();
    assert_eq!(body["algorithm"], "none");
    assert_eq!(body["addresses"][0], "ana@example.com email");
    assert_eq!(e.matches().unwrap()[0].user_ref, "@ana:x.org");
}

#[test]
fn rate_limiting_is_a_persisted_backoff_of_at_least_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let t = scripted(|r: &Request| {
        if r.path.ends_with("/hash_details") {
            details(r#"["sha256"]"#)
        } else {
            (
                429,
                r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":120000}"#
                    .into(),
            )
        }
    });
    let before = unix_now();
    let error = e
        .sync(&t, &options(MatrixOptions::new("tok")), &NoProgress)
        .unwrap_err();
    let Error::RetryLater { until } = error else {
        panic!("{error:?}");
    };
    assert!(until >= before + 120, "{until} vs {before}");
    assert_eq!(
        t.seen.lock().unwrap().len(),
        2,
        "a 2-minute wait is past max_wait"
    );
    let schedule = e.sync_schedule().unwrap();
    assert_eq!(schedule.backoff_until, Some(until));
    // The next sync honours it without a request.
    let again = e.sync(&t, &options(MatrixOptions::new("tok")), &NoProgress);
    assert!(matches!(again, Err(Error::RetryLater { .. })));
    assert_eq!(t.seen.lock().unwrap().len(), 2);
}

#[test]
fn answers_that_break_the_protocol_are_refused_and_nothing_is_stored() {
    for mappings in [
        r#"{"not-asked": "@eve:x.org"}"#,
        r#"{"HASH": "no user id"}"#,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let hash =
            crate::hash::MatrixHasher::new("matrixrocks").hash_raw("ana@example.com", "email");
        let answer = format!(r#"{{"mappings": {}}}"#, mappings.replace("HASH", &hash));
        let t = scripted(move |r: &Request| {
            if r.path.ends_with("/hash_details") {
                details(r#"["sha256"]"#)
            } else {
                (200, answer.clone())
            }
        });
        let error = e
            .sync(&t, &options(MatrixOptions::new("tok")), &NoProgress)
            .unwrap_err();
        assert!(matches!(error, Error::Protocol(_)), "{error:?}");
        assert!(e.matches().unwrap().is_empty());
    }
}

#[test]
fn the_token_never_appears_in_debug_output() {
    let options = options(MatrixOptions::new("secret-token"));
    assert!(!format!("{options:?}").contains("secret-token"));
}

#[test]
fn leaving_the_matrix_mode_drops_its_matches_and_a_reset_looks_everything_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let hash = crate::hash::MatrixHasher::new("matrixrocks").hash_raw("ana@example.com", "email");
    let t = scripted(move |r: &Request| {
        if r.path.ends_with("/hash_details") {
            details(r#"["sha256"]"#)
        } else if r.path.ends_with("/lookup") {
            (
                200,
                format!(r#"{{"mappings": {{"{hash}": "@ana:x.org"}}}}"#),
            )
        } else {
            // The discovery server, down: the switch back happens before it is asked.
            (503, String::new())
        }
    });
    let daily = options(MatrixOptions::new("tok"));
    e.sync(&t, &daily, &NoProgress).unwrap();
    assert_eq!(e.discovery().unwrap(), crate::Discovery::Matrix);
    assert_eq!(e.matches().unwrap()[0].user_ref, "@ana:x.org");

    // Within the interval a sync sends nothing; after reset_sync it looks everything up.
    assert!(e.sync(&t, &daily, &NoProgress).unwrap().skipped);
    e.reset_sync().unwrap();
    let report = e.sync(&t, &daily, &NoProgress).unwrap();
    assert_eq!((report.skipped, report.added), (false, 1));

    // Back to a discovery server: a Matrix id is no user reference of it.
    let hashed = SyncOptions {
        max_attempts: 1,
        ..SyncOptions::default()
    };
    assert!(e.sync(&t, &hashed, &NoProgress).is_err());
    assert_eq!(e.discovery().unwrap(), crate::Discovery::Hashed);
    assert!(e.matches().unwrap().is_empty());
}
