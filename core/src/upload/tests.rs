//! Upload-stage tests without a server: how answers map to failures, the backoff, and what
//! planning, answering and taking back a batch do to identifiers edited while it was out. The
//! end-to-end behaviour against the real server is in `tests/tests/sync_e2e/`.

use std::collections::HashMap;
use std::time::Duration;

use super::call::{Failure, exchange};
use super::requests::backoff;
use super::transport::{Method, Request, Response, Transport, TransportError};
use crate::progress::NoProgress;
use crate::protocol::encoding::Encoding;
use crate::protocol::wire::WireHash;
use crate::store::UploadState;
use crate::store::answers;
use crate::store::outbox::{self as st, PlanCursor, PlanInput};
use crate::{Config, Engine, IdentifierKind, RawContact, Region};

/// Answers every request with one canned response.
struct Canned(Response);

impl Transport for Canned {
    fn send(&self, _: Request) -> Result<Response, TransportError> {
        Ok(self.0.clone())
    }
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response, Failure> {
    let canned = Canned(Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    });
    exchange(
        &canned,
        Method::Get,
        "/v1/config",
        None,
        Encoding::Json,
        None,
    )
}

#[test]
fn answers_map_to_what_the_client_does() {
    let key_rotated = answer(
        409,
        &[],
        r#"{"error":{"code":"key_rotated","message":"m","key_id":"k2"}}"#,
    );
    assert_eq!(
        key_rotated,
        Err(Failure::KeyRotated {
            key_id: Some("k2".into())
        })
    );
    assert_eq!(answer(413, &[], "plain text"), Err(Failure::TooLarge));
    let limited = answer(
        429,
        &[("retry-after", "120")],
        r#"{"error":{"code":"too_many_requests","message":"m","reason":"daily_quota"}}"#,
    );
    assert_eq!(
        limited,
        Err(Failure::Retry {
            status: 429,
            code: "too_many_requests".into(),
            retry_after: Some(120),
            daily_quota: true
        })
    );
    // A 5xx without a body is retried, and so is a body that stalled (408); an unknown 4xx code
    // ends the sync with that code.
    assert!(matches!(
        answer(502, &[], ""),
        Err(Failure::Retry { status: 502, .. })
    ));
    assert!(matches!(
        answer(
            408,
            &[],
            r#"{"error":{"code":"request_timeout","message":"m"}}"#
        ),
        Err(Failure::Retry { status: 408, .. })
    ));
    assert_eq!(
        answer(418, &[], r#"{"error":{"code":"teapot","message":"short"}}"#),
        Err(Failure::Refused {
            status: 418,
            code: "teapot".into(),
            message: "short".into()
        })
    );
    // A hostile error body: an oversized code falls back to the status, the message is cut.
    let long = "x".repeat(10_000);
    let Err(Failure::Refused { code, message, .. }) = answer(
        400,
        &[],
        &format!(r#"{{"error":{{"code":"{long}","message":"{long}"}}}}"#),
    ) else {
        panic!("a refusal")
    };
    assert_eq!(code, "http_400");
    assert_eq!(message.len(), 200);
    // An oversized success body is refused before parsing.
    let big = " ".repeat(super::MAX_ANSWER_BYTES + 1);
    assert!(matches!(answer(200, &[], &big), Err(Failure::Protocol(_))));
}

#[test]
fn backoff_grows_with_full_jitter_and_honours_retry_after() {
    for attempt in 1..40 {
        let d = backoff(attempt, None);
        let step = Duration::from_secs(2u64.saturating_pow(attempt).min(3600));
        assert!(d <= step, "attempt {attempt}: {d:?}");
        assert!(backoff(attempt, Some(7200)) >= Duration::from_secs(7200));
    }
    // Full jitter: waits spread over the whole step, not bunched at its end.
    let waits: Vec<Duration> = (0..200).map(|_| backoff(10, None)).collect();
    assert!(waits.iter().any(|d| *d < Duration::from_secs(512)));
    assert!(waits.iter().any(|d| *d > Duration::from_secs(512)));
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    let e = Engine::open(
        dir.path().join("e.db"),
        Config::with_region(Region::new("DE").expect("region")),
    )
    .expect("open");
    e.set_key("k1", &[7; 32], &NoProgress).expect("key");
    e
}

fn contact(id: &str, phone: &str) -> RawContact {
    RawContact::new(id, id).with(IdentifierKind::Phone, None, phone)
}

fn state(e: &Engine, canonical: &str) -> Option<UploadState> {
    e.pending_uploads(u64::MAX).expect("pending");
    e.contacts(0, u64::MAX)
        .expect("contacts")
        .into_iter()
        .flat_map(|c| c.identifiers)
        .find(|i| i.canonical == canonical)
        .map(|i| i.state)
}

fn plan_one(e: &Engine) -> st::StoredBatch {
    let key = crate::HashKey::new("k1", &[7; 32]).expect("key");
    let input = PlanInput {
        batch_id: "b_1",
        key: &key,
        full: false,
        max_total: 100,
        encoding: Encoding::Json,
        buckets: &[],
        now: 1,
    };
    let mut cursor = PlanCursor {
        adds_budget: 100,
        ..PlanCursor::default()
    };
    plan(e, &input, &mut cursor).expect("a batch")
}

/// Plans the next batch; `None` when nothing is left to plan.
fn plan(e: &Engine, input: &PlanInput, cursor: &mut PlanCursor) -> Option<st::StoredBatch> {
    e.inner()
        .store
        .write(|tx| st::plan(tx, input, cursor))
        .expect("plan")
}

/// `n` contacts, `c0` onwards, each with a mobile number of its own.
fn numbered(n: usize) -> Vec<RawContact> {
    (0..n)
        .map(|i| contact(&format!("c{i}"), &format!("0151 1000{i:04}")))
        .collect()
}

fn no_batches(e: &Engine) -> bool {
    e.inner()
        .store
        .read(st::batches)
        .expect("batches")
        .is_empty()
}

/// Contacts a and b imported, one batch with both numbers planned, then b deleted.
fn b_deleted_while_in_flight(dir: &tempfile::TempDir) -> (Engine, st::StoredBatch) {
    let e = engine(dir);
    e.import_snapshot(
        vec![contact("a", "0151 11111111"), contact("b", "0151 22222222")],
        &NoProgress,
    )
    .expect("import");
    let batch = plan_one(&e);
    assert_eq!(batch.adds.len(), 2);
    assert_eq!(state(&e, "+4915111111111"), Some(UploadState::AddInFlight));
    e.apply_changes(&[], &["b".to_owned()], &NoProgress)
        .expect("delete");
    (e, batch)
}

#[test]
fn an_answer_applies_what_contacts_want_now() {
    let dir = tempfile::tempdir().expect("dir");
    let (e, batch) = b_deleted_while_in_flight(&dir);
    let matches: HashMap<&WireHash, &str> = [(&batch.adds[0].2, "u_a")].into();
    let applied = e
        .inner()
        .store
        .write(|tx| answers::acknowledge(tx, &batch, &matches, 2))
        .expect("ack");
    assert_eq!((applied.added, applied.new_matches), (2, 1));
    assert_eq!(state(&e, "+4915111111111"), Some(UploadState::Acknowledged));
    // b's number reached the server and nobody holds it now: it must come off again.
    let pending = e.pending_uploads(u64::MAX).expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, UploadState::PendingRemove);
    assert_eq!(e.matches().expect("matches").len(), 1);
    assert!(no_batches(&e));
}

#[test]
fn a_batch_taken_back_returns_its_work_to_pending() {
    let dir = tempfile::tempdir().expect("dir");
    let (e, batch) = b_deleted_while_in_flight(&dir);
    e.inner()
        .store
        .write(|tx| answers::revert(tx, &batch))
        .expect("revert");
    // a is pending again; b never reached the server and nobody holds it: gone.
    let pending = e.pending_uploads(u64::MAX).expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, UploadState::PendingAdd);
    assert_eq!(e.status().expect("status").identifiers, 1);
    assert!(no_batches(&e));
}

#[test]
fn planning_respects_size_and_quota_and_visits_each_identifier_once() {
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(&dir);
    e.import_snapshot(numbered(25), &NoProgress)
        .expect("import");
    let mut cursor = PlanCursor {
        adds_budget: 20,
        ..PlanCursor::default()
    };
    let key = crate::HashKey::new("k1", &[7; 32]).expect("key");
    let mut sizes = Vec::new();
    for n in 0.. {
        let id = format!("b_{n}");
        let input = PlanInput {
            batch_id: &id,
            key: &key,
            full: n == 0,
            max_total: 8,
            encoding: if n == 1 {
                Encoding::Cbor
            } else {
                Encoding::Json
            },
            buckets: &[],
            now: 1,
        };
        let Some(batch) = plan(&e, &input, &mut cursor) else {
            break;
        };
        sizes.push(batch.adds.len());
    }
    assert_eq!(sizes, [8, 8, 4]);
    assert_eq!(cursor.deferred, 5);
    let stored = e.inner().store.read(st::batches).expect("batches");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].mode, crate::protocol::wire::Mode::Full);
    // The stored body is what will be sent, in the encoding it was planned in, and lists exactly
    // the stored members.
    assert_eq!(
        stored.iter().map(|b| b.encoding).collect::<Vec<_>>(),
        [Encoding::Json, Encoding::Cbor, Encoding::Json]
    );
    for batch in &stored {
        let body: crate::protocol::wire::BatchRequest =
            batch.encoding.decode(&batch.body).expect("body");
        let hashes: Vec<&WireHash> = batch.adds.iter().map(|(_, _, h)| h).collect();
        assert_eq!(body.add.iter().collect::<Vec<_>>(), hashes);
        assert!(hashes.iter().all(|h| h.digest().is_some()));
    }
}

/// Plans batches of `book` identifiers with buckets until nothing is left: (batch, body).
fn plan_padded(
    book: usize,
    budget: u64,
    max_total: usize,
    encoding: Encoding,
) -> (Vec<st::StoredBatch>, PlanCursor) {
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(&dir);
    e.import_snapshot(numbered(book), &NoProgress)
        .expect("import");
    let key = crate::HashKey::new("k1", &[7; 32]).expect("key");
    let mut cursor = PlanCursor {
        adds_budget: budget,
        ..PlanCursor::default()
    };
    let mut out = Vec::new();
    for n in 0.. {
        let id = format!("b_{n:022}");
        let input = PlanInput {
            batch_id: &id,
            key: &key,
            full: false,
            max_total,
            encoding,
            buckets: &[4, 16, 64],
            now: 1,
        };
        let Some(batch) = plan(&e, &input, &mut cursor) else {
            break;
        };
        out.push(batch);
    }
    // What the store reads back is what was planned: a resend sends the same bytes.
    let stored = e.inner().store.read(st::batches).expect("batches");
    assert_eq!(
        stored
            .iter()
            .map(|b| (&b.body, &b.adds, b.padding))
            .collect::<Vec<_>>(),
        out.iter()
            .map(|b| (&b.body, &b.adds, b.padding))
            .collect::<Vec<_>>()
    );
    (out, cursor)
}

#[test]
fn batches_are_padded_to_a_bucket_with_random_dummies_after_the_real_adds() {
    for encoding in [Encoding::Json, Encoding::Cbor] {
        let (batches, cursor) = plan_padded(70, 1000, 64, encoding);
        assert_eq!(cursor.deferred, 0);
        let real: Vec<usize> = batches.iter().map(|b| b.adds.len()).collect();
        assert_eq!(real, [64, 6]);
        let mut dummies = std::collections::HashSet::new();
        for batch in &batches {
            let body: crate::protocol::wire::BatchRequest =
                batch.encoding.decode(&batch.body).expect("body");
            let padding = body.padding.expect("a padding count") as usize;
            assert_eq!(padding, batch.padding as usize);
            assert!([4, 16, 64].contains(&body.add.len()), "{}", body.add.len());
            assert_eq!(body.add.len() - padding, batch.adds.len());
            let hashes: Vec<&WireHash> = batch.adds.iter().map(|(_, _, h)| h).collect();
            assert_eq!(
                body.add[..batch.adds.len()].iter().collect::<Vec<_>>(),
                hashes
            );
            // A dummy is a digest's length, like every real hash, and random.
            for dummy in &body.add[batch.adds.len()..] {
                assert!(dummy.digest().is_some());
                assert!(dummies.insert(dummy.clone()), "a dummy repeats");
            }
        }
        assert_eq!(batches[1].padding, 10);
    }
}

#[test]
fn every_body_of_a_bucket_has_one_length_whatever_its_padding() {
    for encoding in [Encoding::Json, Encoding::Cbor] {
        let mut lengths = std::collections::BTreeSet::new();
        // 17 to 64 real adds all go in the bucket of 64, padded with 47 to 0 dummies.
        for book in [17, 20, 40, 63, 64] {
            let (batches, _) = plan_padded(book, 1000, 64, encoding);
            assert_eq!(batches.len(), 1);
            lengths.insert(batches[0].body.len());
        }
        assert_eq!(lengths.len(), 1, "{encoding:?}: {lengths:?}");
    }
}

#[test]
fn the_dummies_are_paid_from_the_budget_and_adds_wait_when_they_do_not_fit() {
    // 10 real adds and a budget of 12: every batch of 5 to 10 adds is padded to 16, which the
    // budget does not pay for; 4 adds fill the bucket of 4, and the other 6 wait.
    let (batches, cursor) = plan_padded(10, 12, 64, Encoding::Json);
    let cost: usize = batches
        .iter()
        .map(|b| b.adds.len() + b.padding as usize)
        .sum();
    assert!(cost <= 12, "{cost}");
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].adds.len(), 4, "the bucket of 4, whole");
    assert_eq!(cursor.deferred, 6);
    // A budget below the smallest bucket sends nothing.
    let (batches, cursor) = plan_padded(3, 3, 64, Encoding::Json);
    assert!(batches.is_empty());
    assert_eq!(cursor.deferred, 3);
}

#[test]
fn a_hash_under_an_old_key_is_made_again_when_planned() {
    // An import that raced a key rotation can leave a new identifier hashed under the old key.
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(&dir);
    e.import_snapshot(vec![contact("a", "0151 11111111")], &NoProgress)
        .expect("import");
    e.inner()
        .store
        .write(|tx| {
            tx.execute(
                "UPDATE identifiers SET key_id = 'k0', digest = zeroblob(32)",
                [],
            )?;
            Ok(())
        })
        .expect("age the hash");
    let batch = plan_one(&e);
    let key = crate::HashKey::new("k1", &[7; 32]).expect("key");
    let expected = WireHash::from(key.hash_parts(IdentifierKind::Phone, "+4915111111111"));
    assert_eq!(batch.adds[0].2, expected);
    let pending = e.pending_uploads(u64::MAX).expect("pending");
    assert!(pending.is_empty(), "in flight now");
    let stored: (String, Vec<u8>) = e
        .inner()
        .store
        .read(|c| {
            Ok(
                c.query_row("SELECT key_id, digest FROM identifiers", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?,
            )
        })
        .expect("row");
    assert_eq!(stored.0, "k1");
    assert_eq!(
        WireHash::from(crate::Digest(stored.1.try_into().expect("16 bytes"))),
        expected
    );
}

/// Answers by path: the first route whose prefix the request's path starts with.
struct ByPath(Vec<(&'static str, u16, String)>);

impl Transport for ByPath {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (_, status, body) = self
            .0
            .iter()
            .find(|(prefix, _, _)| request.path.starts_with(prefix))
            .ok_or_else(|| TransportError::new("no route"))?;
        Ok(Response {
            status: *status,
            headers: Vec::new(),
            body: body.clone().into_bytes(),
        })
    }
}

fn config_answer(key_id: &str, key: &str, hash: &str) -> String {
    format!(
        r#"{{"key_id":"{key_id}","key":"{key}","hash":"{hash}","context":"contactsync-v1","digest_bytes":16,"limits":{{"max_batch":2000,"max_body_bytes":262144,"daily_new_identifiers":100000,"remaining_today":100000,"check_interval_s":86400,"requests_per_minute":120}}}}"#
    )
}

/// An engine without a key yet, and a server whose `/v1/invites` answer is valid.
fn invite_server(config: String) -> ByPath {
    let code = crate::identifier::invite::from_entropy(&[1; 10]);
    ByPath(vec![
        (
            "/v1/invites",
            201,
            format!(r#"{{"code":"{code}","link":"https://example.org/i/{code}","expires_at":1}}"#),
        ),
        ("/v1/config", 200, config),
    ])
}

// Found by the fuzzer (fuzz target client_answers, minimised input
// fuzz/corpus/client_answers/finding_create_invite_bad_server_key): a server key that the key rules
// refuse was reported by `create_invite` as the caller's `InvalidArgument`, where the sync says
// `Protocol`.
#[test]
fn create_invite_blames_a_bad_server_key_on_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let e = Engine::open(
        dir.path().join("e.db"),
        Config::with_region(Region::default()),
    )
    .expect("open");
    // 8 bytes: shorter than any key the engine accepts; then a key id with a blank.
    for config in [
        config_answer("k1", "AQIDBAUGBwg", "hmac-sha256"),
        config_answer(
            "k 1",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
            "hmac-sha256",
        ),
    ] {
        let err = e.create_invite(&invite_server(config), None).unwrap_err();
        assert!(matches!(err, crate::Error::Protocol(_)), "{err:?}");
    }
    assert_eq!(e.key_id(), None);
}

// Found with the one above: `create_invite` took the key of a server that announces another
// hashing than the one the engine implements, which the sync refuses.
#[test]
fn create_invite_refuses_a_server_that_hashes_otherwise() {
    let dir = tempfile::tempdir().expect("dir");
    let e = Engine::open(
        dir.path().join("e.db"),
        Config::with_region(Region::default()),
    )
    .expect("open");
    let config = config_answer("k1", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", "sha1");
    let err = e.create_invite(&invite_server(config), None).unwrap_err();
    assert!(matches!(err, crate::Error::Protocol(_)), "{err:?}");
    assert_eq!(e.key_id(), None);
    assert!(e.matches().expect("matches").is_empty());
}

// Found by the fuzzer (fuzz target client_answers, minimised input
// fuzz/corpus/client_answers/finding_redeem_control_char_user_ref): `redeem_invite` kept a user
// reference with a control character, which the sync refuses in batch answers and changes.
#[test]
fn redeem_refuses_a_user_reference_the_sync_would_refuse() {
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(&dir);
    let code = crate::identifier::invite::from_entropy(&[2; 10]);
    for user_ref in ["a\\nb", "", "\\u0000"] {
        let server = ByPath(vec![(
            "/v1/invites/redeem",
            200,
            format!(r#"{{"user_ref":"{user_ref}"}}"#),
        )]);
        let err = e.redeem_invite(&server, &code).unwrap_err();
        assert!(
            matches!(err, crate::Error::Protocol(_)),
            "{user_ref}: {err:?}"
        );
    }
    assert!(e.matches().expect("matches").is_empty());
}

/// A transport whose request is aborted because the caller cancelled, as `Call.cancel` in `OkHttp`
/// or a cancelled Swift task does: it fails without an answer, and the listener says cancelled.
struct AbortedByCaller(std::sync::atomic::AtomicBool);

impl Transport for AbortedByCaller {
    fn send(&self, _: Request) -> Result<Response, TransportError> {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        Err(TransportError {
            message: "GET /v1/config: IOException: Canceled".into(),
        })
    }
}

impl crate::ProgressListener for AbortedByCaller {
    fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_request_aborted_by_a_cancellation_ends_the_sync_as_cancelled_without_a_backoff() {
    let dir = tempfile::tempdir().expect("dir");
    let e = engine(&dir);
    e.import_snapshot(vec![contact("a", "0151 11111111")], &NoProgress)
        .expect("import");
    let aborted = AbortedByCaller(std::sync::atomic::AtomicBool::new(false));
    let options = super::SyncOptions {
        max_attempts: 5,
        max_wait: Duration::from_secs(3600),
        ..super::SyncOptions::default()
    };
    let outcome = e.sync(&aborted, &options, &aborted);
    assert!(
        matches!(outcome, Err(crate::Error::Cancelled)),
        "{outcome:?}"
    );
    // Not a network failure: nothing to back off from, so the next sync starts at once.
    let schedule = e.sync_schedule().expect("schedule");
    assert_eq!(
        (schedule.backoff_attempts, schedule.backoff_until),
        (0, None)
    );
}
