//! Failures a sync recovers from: a replayed batch, a transport failing at every step, a batch
//! whose answer was lost, a cancelled sync; each ends as a clean run would.

use contactsync_core::upload::{Method, SyncOptions, Transport};
use contactsync_core::{Engine, Error, IdentifierKind, NoProgress};
use contactsync_tests::net::{Faulty, Loopback, Outcome};
use contactsync_tests::world::World;

use super::{
    book, imported, local_state, matched, person, quick, server_dump, server_set_size, sync,
};
use IdentifierKind::Email;

#[test]
fn a_replayed_batch_returns_the_same_answer_and_changes_nothing() {
    let world = World::default();
    world.register_users();
    let (transport, _) = world.device(None);
    let recording = Faulty::recording(transport);
    let e = world.engine("a");
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync(&e, &recording);
    let batch = recording
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    let before = server_dump(&world);
    let replay = recording
        .send(contactsync_core::upload::Request {
            method: Method::Post,
            path: "/v1/batches".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: batch.body.clone(),
        })
        .unwrap();
    assert_eq!(replay.status, 200);
    assert_eq!(
        replay.body, batch.answer,
        "the stored answer, byte for byte"
    );
    assert_eq!(
        server_dump(&world),
        before,
        "the replay changed the server's state"
    );
    // The same id with another body is a conflict.
    let mut other: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
    other["add"] = serde_json::json!([]);
    other.as_object_mut().unwrap().remove("padding");
    let conflict = recording
        .send(contactsync_core::upload::Request {
            method: Method::Post,
            path: "/v1/batches".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&other).unwrap(),
        })
        .unwrap();
    assert_eq!(conflict.status, 409);
    assert!(String::from_utf8_lossy(&conflict.body).contains("batch_conflict"));
}

/// A clean run to compare against: import, sync, a user joins, edit, sync.
fn scenario(world: &World, e: &Engine, transport: &dyn Transport, sync_until_done: &dyn Fn()) {
    e.import_snapshot(book(), &NoProgress).unwrap();
    sync_until_done();
    world.put_user("u_bernd", &[("phone", "+49301234567")]);
    let mut edited = book();
    edited[0] = person("1", "Ana", &[(Email, "ana@example.org")]);
    e.import_snapshot(edited, &NoProgress).unwrap();
    sync_until_done();
    let _ = transport;
}

#[test]
fn a_transport_failing_at_every_step_then_retried_ends_like_a_clean_run() {
    // The clean run, and how many requests it makes.
    let clean_world = World::default();
    clean_world.register_users();
    let (t, _) = clean_world.device(None);
    let clean_t = Faulty::recording(t);
    let clean = clean_world.engine("clean");
    let opts = SyncOptions {
        max_batch: Some(3),
        ..quick()
    };
    scenario(&clean_world, &clean, &clean_t, &|| {
        clean.sync(&clean_t, &opts, &NoProgress).unwrap();
    });
    let expected = local_state(&clean);
    let expected_server = server_set_size(&clean_world);
    assert_eq!(
        expected_server, 7,
        "eight identifiers, one removed by the edit"
    );
    let requests = clean_t.exchanges().len();
    assert!(requests >= 8, "{requests}");

    for step in 0..requests {
        for lose_answer in [false, true] {
            let world = World::default();
            world.register_users();
            let (t, _) = world.device(None);
            let failed = std::sync::atomic::AtomicBool::new(false);
            let flaky = Faulty::new(
                t,
                Box::new(move |n, _, answer| {
                    if n != step {
                        return Outcome::Pass;
                    }
                    match (lose_answer, answer) {
                        (false, _) => Outcome::DropRequest,
                        (true, None) => Outcome::Pass,
                        (true, Some(_)) => Outcome::DropAnswer,
                    }
                }),
            );
            let e = world.engine("flaky");
            scenario(&world, &e, &flaky, &|| loop {
                match e.sync(&flaky, &opts, &NoProgress) {
                    Ok(_) => break,
                    Err(Error::Network(_)) => {
                        failed.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(other) => panic!("step {step}: {other:?}"),
                }
            });
            assert!(
                failed.load(std::sync::atomic::Ordering::SeqCst),
                "step {step} never failed"
            );
            assert_eq!(
                (local_state(&e), server_set_size(&world)),
                (expected.clone(), expected_server),
                "step {step}, answer lost: {lose_answer}"
            );
        }
    }
}

#[test]
fn a_batch_whose_answer_was_lost_is_resent_after_a_restart() {
    let (world, t, registered, e) = imported();
    // The server applies the first batch, and the answer never arrives.
    let lossy = Faulty::new(
        t,
        Box::new(|_, request, _| {
            if request.path == "/v1/batches" {
                Outcome::DropAnswer
            } else {
                Outcome::Pass
            }
        }),
    );
    let err = e.sync(&lossy, &quick(), &NoProgress).unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(
        e.status().unwrap().in_flight > 0,
        "the batch stays in flight"
    );
    let sent = lossy
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    // A restart: the engine is reopened, and the next sync goes through.
    drop(e);
    let e = world.engine("a");
    let clean = Faulty::recording(Loopback::new(&world.server.url(), Some(&registered.token)));
    let report = e.sync(&clean, &quick(), &NoProgress).unwrap();
    let resent = clean
        .exchanges()
        .into_iter()
        .find(|x| x.path == "/v1/batches")
        .unwrap();
    assert_eq!(resent.body, sent.body, "the same batch, byte for byte");
    assert!(report.batches_retried >= 1, "{report:?}");
    assert_eq!(report.new_matches, 4, "{report:?}");
    assert_eq!(e.status().unwrap().in_flight, 0);
}

/// Cancels as soon as the first batch has been answered.
#[derive(Debug, Default)]
struct CancelAfterFirstBatch(std::sync::atomic::AtomicBool);

impl contactsync_core::ProgressListener for CancelAfterFirstBatch {
    fn on_progress(&self, progress: contactsync_core::Progress) {
        if progress.stage == contactsync_core::Stage::Upload {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn a_cancelled_sync_resumes_where_it_stopped() {
    let (world, t, _, e) = imported();
    let small = SyncOptions {
        max_batch: Some(2),
        ..quick()
    };
    let err = e
        .sync(&t, &small, &CancelAfterFirstBatch::default())
        .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    let s = e.status().unwrap();
    assert_eq!(
        (s.acknowledged, s.in_flight),
        (2, 0),
        "one batch done, none half-done"
    );
    e.sync(&t, &small, &NoProgress).unwrap();
    assert_eq!(server_set_size(&world), 8);
    assert_eq!(matched(&e).len(), 4);
}
