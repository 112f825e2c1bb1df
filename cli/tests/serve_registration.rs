//! `contactsync serve` registers only vouched devices unless `--open-registration` is given, and
//! its registration flags reach the server: a burst of two per address is two registrations,
//! then `429` with `Retry-After`.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use common::{ADMIN, Server, s};
use serde_json::{Value, json};

/// `POST path` with a JSON body: status, `Retry-After`, body.
fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Option<String>, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut reply = request.send(serde_json::to_vec(body).unwrap()).unwrap();
    let retry_after = reply
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&reply.body_mut().read_to_vec().unwrap()).unwrap();
    (reply.status().as_u16(), retry_after, body)
}

#[test]
fn serve_vouches_by_default_and_opens_registration_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let closed = Server::spawn(s(&dir.path().join("closed.db")), &[]);
    let (status, _, body) = post(&closed.url, "/v1/clients", None, &json!({}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _, _) = post(
        &closed.url,
        "/v1/admin/clients",
        Some(ADMIN),
        &json!({"user_ref": "u_1"}),
    );
    assert_eq!(status, 201, "vouching works");

    let open = Server::spawn(
        s(&dir.path().join("open.db")),
        &["--open-registration", "--registrations-per-ip-burst", "2"],
    );
    for _ in 0..2 {
        assert_eq!(post(&open.url, "/v1/clients", None, &json!({})).0, 201);
    }
    let (status, retry_after, body) = post(&open.url, "/v1/clients", None, &json!({}));
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["reason"], "rate");
    // The default refill: one registration an hour (less the seconds this test took).
    let retry_after: u64 = retry_after.unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
}
