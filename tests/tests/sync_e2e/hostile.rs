//! A server's answers the client must not trust: hostile answers give typed errors and lose
//! nothing; answers with unknown fields are accepted.

use contactsync_core::upload::Response;
use contactsync_core::{Error, NoProgress};
use contactsync_tests::net::{Fault, Faulty, Outcome};
use contactsync_tests::world::World;

use super::{book, imported, json_response, local_state, quick, sync};

/// Replaces the first real answer to a request whose path starts with `path` by `answer`, where
/// `%ID%` and `%KEY%` stand for the request's batch id and key id.
fn hostile(path: &'static str, answer: Response) -> Fault {
    let used = std::sync::atomic::AtomicBool::new(false);
    Box::new(move |_, request, real| {
        if !request.path.starts_with(path) || real.is_none() {
            return Outcome::Pass;
        }
        if used.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Outcome::Pass;
        }
        let sent: serde_json::Value =
            serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null);
        let mut answer = answer.clone();
        if answer.body.len() < 4096 {
            let text = String::from_utf8_lossy(&answer.body)
                .replace("%ID%", sent["batch_id"].as_str().unwrap_or_default())
                .replace("%KEY%", sent["key_id"].as_str().unwrap_or_default())
                .replace(
                    "%SINCE%",
                    request
                        .path
                        .split("since=")
                        .nth(1)
                        .and_then(|q| q.split('&').next())
                        .unwrap_or_default(),
                );
            answer.body = text.into_bytes();
        }
        Outcome::Replace(answer)
    })
}

/// What a hostile case must end in.
type Expect<'a> = &'a dyn Fn(&Error) -> bool;

const BATCHES: &str = "/v1/batches";
const CHANGES: &str = "/v1/changes?since=";

/// Hostile answers: (what, to which request, the answer, the error it must give).
fn hostile_cases() -> Vec<(&'static str, &'static str, Response, Expect<'static>)> {
    let wrong_batch = br#"{"batch_id":"b_someone_else","key_id":"%KEY%","added":1,"removed":0,"matches":[],"remaining_today":5}"#;
    let stranger_hash = br#"{"batch_id":"%ID%","key_id":"%KEY%","added":1,"removed":0,"matches":[{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_ref":"u_x"}],"remaining_today":5}"#;
    let protocol: Expect<'static> = &|e| matches!(e, Error::Protocol(_));
    vec![
        (
            "malformed json",
            BATCHES,
            json_response(200, b"{\"batch_id\": [not json"),
            protocol,
        ),
        ("wrong batch id", BATCHES, json_response(200, wrong_batch), protocol),
        (
            "a match the batch did not ask for",
            BATCHES,
            json_response(200, stranger_hash),
            protocol,
        ),
        (
            "10 MB body",
            BATCHES,
            json_response(200, &vec![b' '; 10 * 1024 * 1024]),
            protocol,
        ),
        (
            "unknown error code",
            BATCHES,
            json_response(418, br#"{"error":{"code":"teapot_mode","message":"short and stout"}}"#),
            &|e| matches!(e, Error::Server { status: 418, code, .. } if code == "teapot_mode"),
        ),
        (
            "error without a body",
            BATCHES,
            json_response(400, b""),
            &|e| matches!(e, Error::Server { status: 400, code, .. } if code == "http_400"),
        ),
        (
            "server error, retries exhausted",
            BATCHES,
            json_response(503, b"<html>down</html>"),
            &|e| matches!(e, Error::RetryLater { .. }),
        ),
        (
            "changes: not json",
            CHANGES,
            json_response(200, b"<html>"),
            protocol,
        ),
        (
            "changes: a hash that is not one",
            CHANGES,
            json_response(
                200,
                br#"{"gained":[{"hash":"+4915123456789","user_ref":"u"}],"lost":[],"cursor":"9","more":false}"#,
            ),
            protocol,
        ),
        (
            "changes: more, with the same cursor, forever",
            CHANGES,
            json_response(200, br#"{"gained":[],"lost":[],"cursor":"%SINCE%","more":true}"#),
            protocol,
        ),
        (
            "changes: a 10 KB user reference",
            CHANGES,
            json_response(
                200,
                format!(
                    r#"{{"gained":[{{"hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","user_ref":"{}"}}],"lost":[],"cursor":"9","more":false}}"#,
                    "u".repeat(10_000)
                )
                .as_bytes(),
            ),
            protocol,
        ),
    ]
}

#[test]
fn hostile_answers_give_typed_errors_and_lose_nothing() {
    let clean_world = World::default();
    clean_world.register_users();
    let (t, _) = clean_world.device(None);
    let clean = clean_world.engine("clean");
    clean.import_snapshot(book(), &NoProgress).unwrap();
    sync(&clean, &t);
    let expected = local_state(&clean);

    for (name, path, answer, expected_error) in hostile_cases() {
        let (_world, t, _, e) = imported();
        if path == CHANGES {
            // The first sync takes the head cursor and sends the batches; the hostile answer
            // comes to the second sync's changes request.
            sync(&e, &t);
        }
        let before = local_state(&e);
        let hostile_t = Faulty::new(t, hostile(path, answer));
        let err = e.sync(&hostile_t, &quick(), &NoProgress).unwrap_err();
        assert!(expected_error(&err), "{name}: {err:?}");
        if path == BATCHES {
            // Nothing was applied from the answer.
            assert!(e.matches().unwrap().is_empty(), "{name}");
        } else {
            assert_eq!(local_state(&e), before, "{name}");
        }
        // The next sync completes the job.
        e.sync(&hostile_t, &quick(), &NoProgress).unwrap();
        assert_eq!(local_state(&e), expected, "{name}");
    }
}

#[test]
fn answers_with_unknown_fields_are_accepted() {
    // Servers may add fields to answers without a new protocol version.
    let (_world, t, _, e) = imported();
    let extra = br#"{"batch_id":"%ID%","key_id":"%KEY%","added":8,"removed":0,"matches":[],"remaining_today":5,"extra":"ignored"}"#;
    let tolerant = Faulty::new(t, hostile(BATCHES, json_response(200, extra)));
    e.sync(&tolerant, &quick(), &NoProgress).unwrap();
    assert_eq!(e.status().unwrap().in_flight, 0);
}
