//! The server's real router (`contactsync_server::fuzzing::router`: the axum routes, extractors,
//! handlers, the protocol's rules and `SqliteStorage` in a fresh directory) fed a sequence of
//! requests read from the fuzz input, in-process.
//!
//! Before the input's requests, the fuzzer sets up what a server in use holds, through the same
//! router: an open-registration client, two clients vouched for users `u_1` and `u_2`, and `u_1`
//! registered with a phone number and an e-mail address. The input's requests then pick a route
//! of docs/protocol.md (or a made-up path), a method (mostly the route's), a credential (none,
//! one of those clients, the admin token, garbage) and a body: raw bytes, or a structured body
//! with fields chosen from what the server knows (its key ids, the hashes of `u_1`'s
//! identifiers, batch ids already used, invite codes it made, private discovery's epochs, filter
//! versions and a valid group element: the mode is on) or made up.
//!
//! Checked, for every answer: never a panic; the status is never 5xx except `503`; the body is
//! JSON: an error envelope whose code belongs to the status (docs/protocol.md's table), or the
//! route's answer type; `Cache-Control: no-store` on all of them. And the protocol's
//! idempotency: a batch that was answered, sent again with the same body, gets the same bytes.
//!
//! This file holds the run of one input; `server.rs` the fuzzed server and its set-up, `routes.rs`
//! the routes an input picks, `build.rs` how a request is read from the input, `verdict.rs` the
//! checks of an answer, `seeds.rs` the seeds written in the same encoding.

mod build;
mod routes;
mod seeds;
mod server;
mod verdict;

pub use seeds::seeds;

use axum::http::{Method, StatusCode};
use contactsync_core::IdentifierKind;
use contactsync_core::protocol::wire::{
    ChangesAnswer, ConfigAnswer, InviteAnswer, KeyInfo, Registered,
};

use crate::input::Reader;
use build::build;
use routes::Route;
use server::{Answer, Server, request, send};
use verdict::check_answer;

/// The admin token of the fuzzed server.
pub const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
/// Most requests one input sends.
const MAX_REQUESTS: usize = 12;
/// A body limit small enough that the fuzzer reaches it.
const MAX_BODY: u32 = 16 * 1024;

/// `u_1`'s identifiers, canonical.
const USER_IDS: [(IdentifierKind, &str); 2] = [
    (IdentifierKind::Phone, "+491723127130"),
    (IdentifierKind::Email, "ana@example.org"),
];

/// Runs one input against a fresh server in `dir`.
pub fn check(data: &[u8], dir: &std::path::Path) {
    let mut server = Server::start(dir);
    let mut r = Reader::new(data);
    for _ in 0..MAX_REQUESTS {
        if r.is_empty() {
            break;
        }
        let (route, method, token, path, body) = build(&mut r, &mut server.known);
        let Some(request) = request(method.clone(), &path, token.as_deref(), body.clone()) else {
            continue;
        };
        let answer = send(&server.router, request);
        if crate::debug() {
            eprintln!(
                "{method} {path} → {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(160)
                    .collect::<String>()
            );
        }
        check_answer(route, &method, &path, &answer);
        if !answer.status.is_success() {
            continue;
        }
        learn(&mut server, route, &method, token.as_deref(), body, &answer);
    }
    // Idempotency: every batch answered, sent again, is answered with the same bytes.
    let answered = std::mem::take(&mut server.known.answered);
    for (body, token, first) in answered {
        let request = request(Method::POST, "/v1/batches", Some(&token), body).expect("a request");
        let again = send(&server.router, request);
        // The client may have been deleted since, or its batch answers with it.
        if again.status == StatusCode::UNAUTHORIZED {
            continue;
        }
        assert_eq!(again.status, StatusCode::OK, "a replayed batch was refused");
        assert_eq!(again.body, first, "a replayed batch got another answer");
    }
}

/// Remembers what a successful answer tells about the server.
fn learn(
    server: &mut Server,
    route: Route,
    method: &Method,
    token: Option<&str>,
    body: Vec<u8>,
    answer: &Answer,
) {
    let Some(route) = route.reached_by(method).filter(|_| *method != Method::HEAD) else {
        return;
    };
    let known = &mut server.known;
    match route {
        Route::Register | Route::Vouch => {
            if let Ok(r) = serde_json::from_slice::<Registered>(&answer.body) {
                known.tokens.push(r.token);
            }
        }
        Route::Changes => {
            if let Ok(c) = serde_json::from_slice::<ChangesAnswer>(&answer.body) {
                known.cursors.push(c.cursor);
            }
        }
        Route::CreateInvite => {
            if let Ok(i) = serde_json::from_slice::<InviteAnswer>(&answer.body) {
                known.invites.push(i.code);
            }
        }
        Route::CreateKey => {
            if let Ok(k) = serde_json::from_slice::<KeyInfo>(&answer.body)
                && !known.key_ids.contains(&k.key_id)
            {
                known.key_ids.push(k.key_id);
            }
        }
        Route::ActivateKey => server.learn_key(),
        Route::Config => {
            if let Ok(c) = serde_json::from_slice::<ConfigAnswer>(&answer.body)
                && let Some(private) = c.private
            {
                known.versions.push(private.filter_version);
            }
        }
        Route::Batches => {
            if let Some(token) = token {
                known
                    .answered
                    .push((body, token.to_owned(), answer.body.clone()));
            }
        }
        _ => {}
    }
}
