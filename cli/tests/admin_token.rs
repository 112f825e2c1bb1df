//! The admin credential: stored hashed in the server's database, the same across restarts and
//! instances, rotated by `contactsync admin token rotate` (on the database, or through a running
//! server) with the old token revoked; or read from `--admin-token-file`. Never in the log
//! stream; a first start without one says how to make one.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;
#[path = "../../server/tests/common/postgres.rs"]
mod pg;

use std::time::Duration;

use common::{Server, cmd, run, s, text};

/// `serve` with a stored admin token (no `--admin-token`).
fn serve(db: &str) -> Server {
    Server::with(cmd(), &["--db", db, "--listen", "127.0.0.1:0"])
}

/// The status of `GET /v1/admin/keys` with `token`.
fn admin_status(url: &str, token: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent
        .get(&format!("{url}/v1/admin/keys"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

/// `admin token rotate` with these arguments: the new token (stdout's one line).
fn rotate(args: &[&str]) -> String {
    let mut all = vec!["admin", "token", "rotate"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("a_") && token.len() > 40, "{token:?}");
    token
}

fn no_token_in_logs(server: &Server, tokens: &[&str]) {
    let log = server.log();
    for token in tokens {
        assert!(!log.contains(token), "a token in the log stream:\n{log}");
    }
}

#[test]
fn a_stored_token_survives_restarts_and_rotations_revoke_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = s(&db);

    // A first start without a token: the admin API refuses everything, and the log says how
    // to make one.
    let server = serve(db);
    assert_eq!(admin_status(&server.url, "anything-at-all-0123456789"), 401);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !server.log().contains("admin token rotate") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Made on the database while the server runs: it works at once.
    let first = rotate(&["--db", db]);
    assert_eq!(admin_status(&server.url, &first), 200);
    drop(server);

    // The same after a restart.
    let server = serve(db);
    assert_eq!(admin_status(&server.url, &first), 200);

    // Rotated through the API: the old token is refused, the new one works.
    let second = rotate(&["--server", &server.url, "--admin-token", &first]);
    assert_eq!(admin_status(&server.url, &first), 401);
    assert_eq!(admin_status(&server.url, &second), 200);

    // Rotated on the database again (a lost token): the API's is revoked too.
    let out_file = dir.path().join("admin-token");
    let out = run(&["admin", "token", "rotate", "--db", db, "--to", s(&out_file)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).is_empty(),
        "the token goes to the file only"
    );
    let third = std::fs::read_to_string(&out_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(admin_status(&server.url, &second), 401);
    assert_eq!(admin_status(&server.url, &third), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing file is never overwritten.
    let again = run(&["admin", "token", "rotate", "--db", db, "--to", s(&out_file)]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(admin_status(&server.url, &third), 200, "nothing rotated");

    // A device token is no admin token, and the admin token no device token.
    no_token_in_logs(&server, &[&first, &second, &third]);
}

#[test]
fn a_token_file_is_the_only_admin_token_and_cannot_be_rotated_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let file = dir.path().join("token");
    std::fs::write(&file, "file-admin-token-0123456789abcdef\n").unwrap();
    // A token stored in the database before does not work beside a configured one.
    let stored = rotate(&["--db", s(&db)]);
    let server = Server::with(
        cmd(),
        &[
            "--db",
            s(&db),
            "--listen",
            "127.0.0.1:0",
            "--admin-token-file",
            s(&file),
        ],
    );
    assert_eq!(
        admin_status(&server.url, "file-admin-token-0123456789abcdef"),
        200
    );
    assert_eq!(admin_status(&server.url, &stored), 401);
    let out = run(&[
        "admin",
        "token",
        "rotate",
        "--server",
        &server.url,
        "--admin-token",
        "file-admin-token-0123456789abcdef",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("configuration"),
        "{}",
        text(&out.stderr)
    );
    no_token_in_logs(&server, &["file-admin-token-0123456789abcdef", &stored]);

    // An empty file, or both a file and a token, are refused before anything starts.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for args in [
        vec!["serve", "--db", s(&db), "--admin-token-file", s(&empty)],
        vec![
            "serve",
            "--db",
            s(&db),
            "--admin-token-file",
            s(&file),
            "--admin-token",
            "another-token-0123456789",
        ],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// Two instances on one PostgreSQL database: a token rotated through one is refused by the
/// other at once, and the new one works on both.
#[test]
fn instances_share_the_stored_token() {
    if !pg::available() {
        return;
    }
    let database = pg::TempDatabase::new("admin_token");
    let url = database.url.as_str();
    let first = rotate(&["--db", url]);
    let a = serve(url);
    let b = serve(url);
    for server in [&a, &b] {
        assert_eq!(admin_status(&server.url, &first), 200);
    }
    let second = rotate(&["--server", &a.url, "--admin-token", &first]);
    assert_eq!(admin_status(&b.url, &first), 401);
    assert_eq!(admin_status(&b.url, &second), 200);
    assert_eq!(admin_status(&a.url, &second), 200);
    drop((a, b));
    // The database keeps one 32-byte digest, never the token.
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let rows = client
        .query("SELECT token_sha256 FROM admin_tokens", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: Vec<u8> = rows[0].get(0);
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&second));
}
