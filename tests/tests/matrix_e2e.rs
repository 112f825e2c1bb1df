//! End to end, the Matrix identity-service v2 mode against a real identity server: Sydent from the
//! Python Package Index (scripts/sydent-for-tests), started on loopback by
//! `contactsync_tests::sydent`, with users' bindings put in place by Sydent's own code.
//!
//! The first test checks the test world itself: what was provisioned is what Sydent answers, with
//! the hash the core computes ([`MatrixHasher`]), and a changed pepper is served after a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use contactsync_core::hash::MatrixHasher;
use contactsync_tests::sydent::Sydent;
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn get(sydent: &Sydent, path: &str, token: &str) -> (u16, Value) {
    let mut answer = agent()
        .get(format!("{}{path}", sydent.base_url()))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

fn post(sydent: &Sydent, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut answer = agent()
        .post(format!("{}{path}", sydent.base_url()))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(&serde_json::to_vec(body).unwrap()[..])
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

#[test]
fn sydent_answers_what_was_provisioned() {
    let Some(mut sydent) = Sydent::start(10_000) else {
        return;
    };
    let token = sydent.create_token("@app:sydent.test");
    sydent.bind("email", "Ana@Example.org", "@ana:sydent.test");
    sydent.bind("msisdn", "4915123456789", "@bob:sydent.test");

    assert_eq!(
        get(&sydent, "/_matrix/identity/v2/hash_details", "wrong").0,
        401
    );
    let (status, details) = get(&sydent, "/_matrix/identity/v2/hash_details", &token);
    assert_eq!(status, 200, "{details}");
    let pepper = details["lookup_pepper"].as_str().unwrap().to_owned();
    assert_eq!(pepper, sydent.pepper());

    let lookup = |sydent: &Sydent, pepper: &str| {
        let hasher = MatrixHasher::new(pepper);
        let ana = hasher.hash_raw("ana@example.org", "email");
        let bob = hasher.hash_raw("4915123456789", "msisdn");
        let nobody = hasher.hash_raw("nobody@example.org", "email");
        let body =
            json!({"addresses": [&ana, &bob, &nobody], "algorithm": "sha256", "pepper": pepper});
        let (status, answer) = post(sydent, "/_matrix/identity/v2/lookup", &token, &body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["mappings"],
            json!({ana: "@ana:sydent.test", bob: "@bob:sydent.test"})
        );
    };
    lookup(&sydent, &pepper);

    // A new pepper: the old one is refused with the new one in the error, the new one finds both.
    sydent.change_pepper("newpepper");
    let body = json!({"addresses": [], "algorithm": "sha256", "pepper": pepper});
    let (status, error) = post(&sydent, "/_matrix/identity/v2/lookup", &token, &body);
    assert_eq!(status, 400);
    assert_eq!(error["errcode"], "M_INVALID_PEPPER");
    assert_eq!(error["lookup_pepper"], "newpepper");
    lookup(&sydent, "newpepper");

    // Unbound: gone from the lookup.
    sydent.unbind("email", "ana@example.org", "@ana:sydent.test");
    let hasher = MatrixHasher::new("newpepper");
    let ana = hasher.hash_raw("ana@example.org", "email");
    let body = json!({"addresses": [&ana], "algorithm": "sha256", "pepper": "newpepper"});
    let (_, answer) = post(&sydent, "/_matrix/identity/v2/lookup", &token, &body);
    assert_eq!(answer["mappings"], json!({}));
}
