//! What the protocol promises about the server's state, checked in the `SQLite` file itself:
//! a replay changes nothing, a consent deletion leaves nothing, a business match stores nothing,
//! the admin API stores no raw identifier, and several servers share one database.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]
#![allow(
    clippy::cloned_ref_to_slice_refs,
    reason = "`&[x.clone()]` reads plainer"
)]

#[macro_use]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Cell as Sql;
use common::{ADMIN, Api, TestServer, cells, count, delta, dump, fakes, hash, open_db, pairs};
use contactsync_core::IdentifierKind::{Email, Invite, Phone};
use serde_json::json;

fn digest_bytes(hash: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(hash).unwrap()
}

on_each_backend! {
    fn replay_changes_nothing(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (_, token) = api.register();
        let key = api.key(&token);
        api.put_user("u_1", &[("email", "one@example.org")], true);
        let mut add = fakes(1, 0..3);
        add.push(hash(&key, Email, "one@example.org"));
        let body = serde_json::to_vec(&delta("b_1", &key, &add, &[])).unwrap();
        let first = api.send("POST", "/v1/batches", Some(&token), Some(&body));
        assert_eq!(first.status, 200);

        let db = open_db(&t.db);
        let before = dump(&db, &[]);
        assert_eq!(count(&db, "SELECT count(*) FROM client_hashes"), 4);
        assert_eq!(count(&db, "SELECT count(*) FROM batches"), 1);
        for _ in 0..2 {
            let again = api.send("POST", "/v1/batches", Some(&token), Some(&body));
            assert_eq!(again.body, first.body);
        }
        assert_eq!(dump(&db, &[]), before);
        // A conflicting body changes nothing either (its request is counted, in memory).
        api.batch(&token, &delta("b_1", &key, &fakes(1, 5..6), &[]))
            .expect_error(409, "batch_conflict");
        assert_eq!(dump(&db, &[]), before);
    }
}

on_each_backend! {
    fn consent_deletion_leaves_nothing(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let (client_id, token) = api.vouch("u_ana");
        let (_, bo) = api.vouch("u_bo");
        let key = api.key(&token);
        api.put_user("u_cy", &[("phone", "+4915123456789")], true);
        let user_hash = hash(&key, Phone, "+4915123456789");

        // Everything a client can leave behind: a set (one hash a user's), batches, counters, open
        // invites, a redeemed invite whose change is addressed to it.
        let mut own = fakes(2, 0..5);
        api.batch(&token, &delta("b_1", &key, &own, &[]))
            .expect(200);
        api.batch(
            &token,
            &delta("b_2", &key, &[user_hash.clone()], &[own[0].clone()]),
        )
        .expect(200);
        let open = api
            .post("/v1/invites", Some(&token), &json!({}))
            .expect(201);
        let redeemed = api
            .post("/v1/invites", Some(&token), &json!({}))
            .expect(201);
        api.post(
            "/v1/invites/redeem",
            Some(&bo),
            &json!({"code": redeemed["code"]}),
        )
        .expect(200);
        for invite in [&open, &redeemed] {
            own.push(hash(&key, Invite, invite["code"].as_str().unwrap()));
        }
        let db = open_db(&t.db);
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM changes WHERE target_client IS NOT NULL"
            ),
            1
        );

        let receipt = api.delete("/v1/client", Some(&token)).expect(200);
        assert!(receipt["receipt_id"].as_str().unwrap().starts_with("r_"));
        assert_eq!(receipt["client_id"], client_id.as_str());
        assert!(receipt["deleted_at"].as_i64().unwrap() > 0);
        assert_eq!(
            receipt["deleted"],
            json!({"hashes": 5, "batches": 2, "invites": 1})
        );
        // The token stops working.
        api.get("/v1/config", Some(&token))
            .expect_error(401, "unauthorized");
        api.delete("/v1/client", Some(&token))
            .expect_error(401, "unauthorized");

        // No cell anywhere holds the client id, its token, or one of its hashes; the user's hash
        // stays only where the user's registration keeps it.
        let token_sha: Vec<u8> = sha2::Sha256::digest(token.as_bytes()).to_vec();
        let own: Vec<Vec<u8>> = own.iter().map(|h| digest_bytes(h)).collect();
        let user_digest = digest_bytes(&user_hash);
        for (table, column, value) in cells(&db) {
            match &value {
                Sql::Text(text) => {
                    assert!(
                        !text.contains(&client_id),
                        "{table}.{column} holds the client id"
                    );
                    assert!(!text.contains(&token), "{table}.{column} holds the token");
                }
                Sql::Blob(bytes) => {
                    assert_ne!(
                        bytes, &token_sha,
                        "{table}.{column} holds the token's SHA-256"
                    );
                    assert!(
                        !own.contains(bytes),
                        "{table}.{column} holds a hash of the client"
                    );
                    let haystack = String::from_utf8_lossy(bytes);
                    assert!(
                        !haystack.contains(&client_id),
                        "{table}.{column} holds the client id"
                    );
                    if bytes == &user_digest {
                        assert!(
                            ["user_hashes", "changes"].contains(&table.as_str()),
                            "{table}.{column} keeps a hash of the client"
                        );
                    }
                }
                _ => {}
            }
        }
        for table in [
            "client_hashes",
            "batches",
            "invites",
            "invite_hashes",
            "usage",
        ] {
            // Bo added nothing: no row of any client is left.
            let others = count(&db, &format!("SELECT count(*) FROM {table}"));
            assert_eq!(others, 0, "{table}");
        }
        assert_eq!(count(&db, "SELECT count(*) FROM receipts"), 1);
        assert_eq!(count(&db, "SELECT CAST(sum(hashes) AS BIGINT) FROM receipts"), 5);
    }
}

use sha2::Digest as _;

on_each_backend! {
    fn admin_stores_only_hashes_and_match_stores_nothing(backend) {
        let t = TestServer::on(backend);
        let api = &t.api;
        let key = api.key(ADMIN);
        api.post("/v1/admin/keys", Some(ADMIN), &json!({}))
            .expect(201);
        let values = ["+4915123456789", "ana@example.org", "google:1078543"];
        api.put_user(
            "u_ana",
            &[
                ("phone", values[0]),
                ("email", values[1]),
                ("account", values[2]),
            ],
            true,
        );
        let db = open_db(&t.db);
        // Three identifiers under two keys: six hashes, no value.
        assert_eq!(count(&db, "SELECT count(*) FROM user_hashes"), 6);
        for (table, column, value) in cells(&db) {
            let text = match value {
                Sql::Text(t) => t,
                Sql::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                _ => continue,
            };
            for v in values {
                assert!(!text.contains(v), "{table}.{column} holds a raw identifier");
            }
        }

        let before = dump(&db, &[]);
        let hashes = vec![hash(&key, Email, "ana@example.org"), common::fake(3, 1)];
        let v = api
            .post(
                "/v1/admin/match",
                Some(ADMIN),
                &json!({"key_id": key.id(), "hashes": hashes}),
            )
            .expect(200);
        assert_eq!(v["matches"].as_array().unwrap().len(), 1);
        assert_eq!(dump(&db, &[]), before, "a match request left a trace");

        // A user who left leaves no reference behind: the feed keeps each hash's latest state only.
        api.put_user("u_ana", &[("email", values[1])], false);
        api.put_user("u_ana", &[("email", values[1])], true);
        api.delete("/v1/admin/users/u_ana", Some(ADMIN)).expect(200);
        for (table, column, value) in cells(&db) {
            assert_ne!(
                value,
                Sql::Text("u_ana".into()),
                "{table}.{column} keeps the user"
            );
        }
        assert_eq!(
            count(&db, "SELECT count(*) FROM changes"),
            3,
            "one lost per hash"
        );
    }
}

on_each_backend! {
    fn two_servers_share_one_database(backend) {
        let t = TestServer::on(backend);
        let other = contactsync_server::start(common::config(&t.db)).unwrap();
        assert_ne!(other.addr(), t.server.addr());
        let (a, b) = (&t.api, &Api::new(&other.url()));

        // One key, one set of clients.
        let (_, token) = a.register();
        let key = b.key(&token);
        assert_eq!(a.key(&token).id(), key.id());
        b.put_user("u_ana", &[("email", "ana@example.org")], true);
        let ana = hash(&key, Email, "ana@example.org");
        let body = serde_json::to_vec(&delta("b_1", &key, &[ana.clone()], &[])).unwrap();
        let first = a.send("POST", "/v1/batches", Some(&token), Some(&body));
        assert_eq!(
            pairs(&first.json()["matches"]),
            vec![(ana, "u_ana".to_owned())]
        );
        // A retry that lands on the other server gets the same answer.
        let again = b.send("POST", "/v1/batches", Some(&token), Some(&body));
        assert_eq!(again.body, first.body);
        // Changes made through one are seen through the other.
        let cursor = b.cursor(&token);
        a.put_user("u_ana", &[("email", "ana@example.org")], false);
        let changes = b
            .get(&format!("/v1/changes?since={cursor}"), Some(&token))
            .expect(200);
        assert_eq!(changes["lost"].as_array().unwrap().len(), 1);

        // Many devices writing through both at once: every batch lands, once.
        let urls = [t.server.url(), other.url()];
        let workers: Vec<_> = (0..4u8)
            .map(|w| {
                let url = urls[usize::from(w % 2)].clone();
                std::thread::spawn(move || {
                    let api = Api::new(&url);
                    let (_, token) = api.register();
                    let key = api.key(&token);
                    for i in 0..5u64 {
                        let add = fakes(10 + w, i * 10..i * 10 + 10);
                        let v = api
                            .batch(&token, &delta(&format!("b_{i}"), &key, &add, &[]))
                            .expect(200);
                        assert_eq!(v["added"], 10);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let db = open_db(&t.db);
        assert_eq!(count(&db, "SELECT count(*) FROM client_hashes"), 1 + 4 * 50);
        assert_eq!(count(&db, "SELECT count(*) FROM keys"), 1);
        other.stop();
    }
}

#[test]
fn restart_keeps_state_and_newer_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let server = contactsync_server::start(common::config(&db)).unwrap();
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let api = Api::new(&url);
    let (_, token) = api.register();
    let key = api.key(&token).id().to_owned();
    server.stop();

    let server = contactsync_server::start(common::config(&db)).unwrap();
    let api = Api::new(&server.url());
    assert_eq!(
        api.key(&token).id(),
        key,
        "the key and the client survive a restart"
    );
    drop(server);

    let conn = common::open_sqlite(&db);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, contactsync_server::storage::SQLITE_SCHEMA_VERSION);
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let refused = contactsync_server::start(common::config(&db));
    assert!(matches!(
        refused,
        Err(contactsync_server::ServerError::Storage(_))
    ));
}

#[test]
fn run_serves_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path().join("r.db"));
    // run binds itself: find a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.listen.set_port(port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        runtime.block_on(contactsync_server::run(config, async {
            let _ = stopped.await;
        }))
    });
    // The thread binds asynchronously: wait until the port accepts.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let listening = (0..400).any(|_| {
        std::net::TcpStream::connect(addr).is_ok() || {
            std::thread::sleep(std::time::Duration::from_millis(25));
            false
        }
    });
    assert!(listening, "the server never listened");
    let api = Api::new(&format!("http://{addr}"));
    api.register();
    stop.send(()).unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn storage_failures_are_envelopes() {
    let t = TestServer::new();
    let api = &t.api;
    let (_, token) = api.register();
    let db = common::open_sqlite(t.db.sqlite_path().unwrap());

    // Another writer holding the lock past the busy timeout: a request that reads is served (it
    // neither writes nor counts its rate in the database), one that writes answers 503, retry
    // after a second.
    let key = api.key(&token);
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    api.get("/v1/config", Some(&token)).expect(200);
    let busy = api.send(
        "POST",
        "/v1/batches",
        Some(&token),
        Some(&serde_json::to_vec(&delta("b_busy", &key, &fakes(1, 0..1), &[])).unwrap()),
    );
    let e = busy.expect_error(503, "unavailable");
    assert_eq!(e["retry_after_s"], 1);
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    db.execute_batch("COMMIT").unwrap();
    api.get("/v1/config", Some(&token)).expect(200);

    // A database without a key cannot serve a config: 500, without details.
    db.execute_batch("DELETE FROM keys").unwrap();
    let e = api
        .get("/v1/config", Some(&token))
        .expect_error(500, "internal");
    assert_eq!(e["message"], "the server failed");
}
