//! The server's logs, at every level: one line per request with the path template, and never a
//! token, an identifier, a hash, an invite code or a user reference.
//!
//! A test binary of its own: it installs the process-wide `tracing` subscriber.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use common::logs::Recorder;
use common::{ADMIN, TestServer, delta, hash};
use contactsync_core::IdentifierKind::Phone;
use serde_json::json;

#[test]
fn logs_carry_no_secret() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();

    let t = TestServer::new();
    let api = &t.api;
    let (ana_id, ana) = api.vouch("u_ana_private");
    let (bo_id, bo) = api.vouch("u_bo_private");
    let key = api.key(&ana);
    let phone = "+4915123456789";
    api.put_user(
        "u_cy_private",
        &[("phone", phone), ("email", "cy@example.org")],
        true,
    );
    let phone_hash = hash(&key, Phone, phone);
    api.batch(
        &bo,
        &delta("b_1", &key, std::slice::from_ref(&phone_hash), &[]),
    )
    .expect(200);
    let code = api.post("/v1/invites", Some(&ana), &json!({})).expect(201)["code"]
        .as_str()
        .unwrap()
        .to_owned();
    // The invite page as a phone opens the link: the code is in the path.
    assert_eq!(api.get(&format!("/i/{code}"), None).status, 200);
    api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code}))
        .expect(200);
    api.delete(&format!("/v1/invites/{code}"), Some(&ana))
        .expect_error(404, "not_found");
    api.get("/v1/changes?since=0", Some(&ana)).expect(200);
    api.get(&format!("/v1/nothing/{phone}"), Some(&ana))
        .expect_error(404, "not_found");
    api.put(
        "/v1/admin/users/u_cy_private",
        Some(ADMIN),
        &json!({"identifiers": [{"kind": "phone", "value": "+49 151 23456789"}]}),
    )
    .expect_error(400, "malformed");
    api.delete("/v1/client", Some(&bo)).expect(200);
    drop(t);

    let lines = recorder.lines();
    let requests: Vec<&String> = lines.iter().filter(|l| l.contains("request")).collect();
    assert!(
        requests.iter().any(|l| l.contains("INFO")
            && l.contains("route=\"/v1/invites/{code}\"")
            && l.contains("code=\"not_found\"")
            && l.contains("status=404")),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("route=\"/v1/batches\"") && l.contains("method=\"POST\""))
    );
    assert!(requests.iter().any(|l| l.contains("route=\"(no route)\"")));
    assert!(
        requests
            .iter()
            .any(|l| l.contains("route=\"/i/{code}\"") && l.contains("status=200")),
        "{requests:#?}"
    );
    let lines_of_requests: Vec<_> = requests.iter().filter(|l| l.starts_with("INFO")).collect();
    assert!(
        lines_of_requests
            .iter()
            .all(|l| l.contains("duration_ms=") && l.contains("request_id=")),
        "{lines_of_requests:#?}"
    );
    let secrets = [
        ana.as_str(),
        bo.as_str(),
        ADMIN,
        &ana_id,
        &bo_id,
        phone,
        "23456789",
        "cy@example.org",
        &phone_hash,
        &code,
        "u_ana_private",
        "u_bo_private",
        "u_cy_private",
    ];
    for line in &lines {
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "a log line holds {secret:?}: {line}"
            );
        }
    }
}
