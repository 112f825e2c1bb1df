//! Unknown paths and unreadable bodies answer the protocol's envelope; a body a handler does
//! not need is read all the same, so the connection stays usable.

use contactsync_server::LimitsConfig;

use crate::common;
use crate::common::{ADMIN, TestServer, delta, fakes};

on_each_backend! {
    fn envelopes_for_unknown_paths_and_bodies(backend) {
        let t = TestServer::with_limits_on(backend, LimitsConfig {
            max_body_bytes: 2048,
            ..LimitsConfig::default()
        });
        let api = &t.api;
        let (_, token) = api.register();
        api.get("/v1/nothing", Some(&token))
            .expect_error(404, "not_found");
        api.get("/", None).expect_error(404, "not_found");
        api.get("/v2/config", Some(&token))
            .expect_error(404, "not_found");
        // A known path with another method.
        api.get("/v1/batches", Some(&token))
            .expect_error(404, "not_found");
        api.send("PUT", "/v1/config", Some(&token), Some(b"{}"))
            .expect_error(404, "not_found");

        // Over max_body_bytes: 413 with our envelope, whatever the endpoint.
        let key = api.key(&token);
        let big = serde_json::to_vec(&delta("b_1", &key, &fakes(12, 0..90), &[])).unwrap();
        assert!(big.len() > 2048);
        let e = api
            .send("POST", "/v1/batches", Some(&token), Some(&big))
            .expect_error(413, "too_large");
        assert_eq!(
            (e["max_batch"].as_u64(), e["max_body_bytes"].as_u64()),
            (Some(2000), Some(2048))
        );
        api.send("PUT", "/v1/admin/users/u_1", Some(ADMIN), Some(&big))
            .expect_error(413, "too_large");
        api.send("POST", "/v1/clients", None, Some(&vec![b' '; 4096]))
            .expect_error(413, "too_large");

        // Not JSON, or not the request: 400 with our envelope.
        for body in [
            &b"not json"[..],
            b"{",
            b"{\"batch_id\": 1}",
            b"null",
            &[0xff, 0xfe],
        ] {
            api.send("POST", "/v1/batches", Some(&token), Some(body))
                .expect_error(400, "malformed");
        }
        api.send(
            "POST",
            "/v1/admin/match",
            Some(ADMIN),
            Some(b"{\"key_id\": \"k\", \"hashes\": [], \"more\": 1}"),
        )
        .expect_error(400, "malformed");
    }
}

/// A request whose handler needs no body (`POST /v1/admin/keys`, the `DELETE`s) may still carry
/// one, and it may arrive after the head. The server must read it, or hyper closes the
/// connection after the answer and a client reusing the connection sees it reset.
#[test]
fn a_body_the_handler_ignores_is_read_and_the_connection_kept() {
    use std::io::Write;
    let t = TestServer::new();
    let addr = t.api.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/admin/keys HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    );
    let mut answers = String::new();
    for _ in 0..2 {
        conn.write_all(head.as_bytes()).unwrap();
        conn.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        conn.write_all(b"{}").unwrap();
        // One whole answer: head, then Content-Length bytes.
        answers.push_str(&common::read_answer(&mut conn));
    }
    assert_eq!(answers.matches("HTTP/1.1 20").count(), 2, "{answers}");
    assert!(
        !answers.to_ascii_lowercase().contains("connection: close"),
        "{answers}"
    );
}
