//! A key rotation as an operator runs it with the command line: `admin key rotate`, some users
//! registered again, `admin key activate` refused with the counts, `admin key list` and
//! `admin user get` to see what is missing, `admin user import` to register the rest in bulk,
//! then the activation; and `--force`.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use common::{ADMIN, Server, ok, ok_json, run, s, text};

fn admin<'a>(server: &'a Server, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", &server.url, "--admin-token", ADMIN]);
    all
}

fn put(server: &Server, user_ref: &str, ids: &[&str]) {
    let mut args = admin(
        server,
        &["user", "put", "--region", "DE", "--user-ref", user_ref],
    );
    args.extend_from_slice(ids);
    ok(&args);
}

#[test]
fn a_rotation_is_refused_until_every_user_is_registered_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    put(&server, "u_1", &["0151 23456781", "ana@example.org"]);
    put(&server, "u_2", &["0151 23456782"]);
    put(&server, "u_3", &["@carla"]);
    let rotated = ok_json(&[admin(&server, &["key", "rotate"]), vec!["--json"]].concat());
    let next = rotated[0]["key_id"].as_str().unwrap().to_owned();

    // Only u_1 is registered again: activation is refused and says how many would be lost.
    put(&server, "u_1", &["0151 23456781", "ana@example.org"]);
    let refused = run(&admin(&server, &["key", "activate", &next]));
    // The server refused (exit 1), not a usage error.
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(message.contains("key_incomplete"), "{message}");
    assert!(message.contains("2 of 3 users"), "{message}");
    assert!(message.contains("2 of 4 identifiers"), "{message}");

    // What the operator looks at.
    let listed = ok(&admin(&server, &["key", "list"]));
    let next_line = listed.lines().find(|l| l.starts_with(&next)).unwrap();
    assert_eq!(
        next_line.split_whitespace().collect::<Vec<_>>(),
        [next.as_str(), "next", "1", "2"],
        "{listed}"
    );
    let user = ok_json(
        &[
            admin(&server, &["user", "get", "--user-ref", "u_3"]),
            vec!["--json"],
        ]
        .concat(),
    );
    assert_eq!(
        user[0]["keys"][0]["kinds"],
        serde_json::json!({"handle": 1})
    );
    assert_eq!(user[0]["keys"][1]["identifiers"], 0);
    assert!(!user[0].to_string().contains("carla"));

    // The rest in bulk from a file (a repeated user is sent in a later request: the last line
    // wins), then the activation goes through.
    let file = dir.path().join("users.jsonl");
    std::fs::write(
        &file,
        "{\"user_ref\": \"u_2\", \"identifiers\": [\"0151 23456782\"]}\n\
         \n\
         {\"user_ref\": \"u_3\", \"identifiers\": [\"@carla\", \"carla@example.org\"]}\n\
         {\"user_ref\": \"u_3\", \"identifiers\": [\"@carla\"]}\n",
    )
    .unwrap();
    let imported = ok(&admin(
        &server,
        &["user", "import", "--region", "DE", s(&file)],
    ));
    assert!(
        imported.starts_with("3 users, 4 identifiers registered (2 requests)"),
        "{imported}"
    );
    let done = ok(&admin(&server, &["key", "activate", &next]));
    assert!(
        done.contains(&format!("key {next} is now current")),
        "{done}"
    );
    assert!(done.contains("3 of 3 registered"), "{done}");

    // A bad line names itself and sends nothing of its request.
    std::fs::write(
        &file,
        "{\"user_ref\": \"u_9\", \"identifiers\": [\"phone:12\"]}\n",
    )
    .unwrap();
    let bad = run(&admin(&server, &["user", "import", s(&file)]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("line 1"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(
        run(&admin(&server, &["user", "get", "--user-ref", "u_9"]))
            .status
            .code(),
        Some(1),
        "an unknown user: refused"
    );
}

#[test]
fn a_forced_activation_says_what_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    put(&server, "u_1", &["0151 23456781"]);
    put(&server, "u_2", &["0151 23456782"]);
    let rotated = ok_json(&[admin(&server, &["key", "rotate"]), vec!["--json"]].concat());
    let next = rotated[0]["key_id"].as_str().unwrap();
    put(&server, "u_1", &["0151 23456781"]);
    let done = ok(&admin(&server, &["key", "activate", next, "--force"]));
    assert!(done.contains("forced: 1 users"), "{done}");
}

#[test]
fn admin_user_list_walks_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    for i in 1..=5 {
        put(
            &server,
            &format!("u_{i}"),
            &[&format!("user{i}@example.org")],
        );
    }
    ok(&admin(
        &server,
        &[
            "user",
            "put",
            "--hidden",
            "--user-ref",
            "u_3",
            "c@example.org",
        ],
    ));
    // Pages of 2: three requests, every user once, in order.
    let listed = ok_json(
        &[
            admin(&server, &["user", "list", "--page", "2"]),
            vec!["--json"],
        ]
        .concat(),
    );
    let refs: Vec<&str> = listed
        .iter()
        .map(|u| u["user_ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["u_1", "u_2", "u_3", "u_4", "u_5"]);
    assert_eq!(listed[2]["discoverable"], false);
    assert!(
        listed.iter().all(|u| u.as_object().unwrap().len() == 2),
        "{listed:?}"
    );
    let out = run(&admin(&server, &["user", "list", "--after", "u_3"]));
    let text_out = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text_out.contains("u_3") && text_out.contains("u_4") && text_out.contains("u_5"),
        "{text_out}"
    );
    assert!(
        text(&out.stderr).contains("2 users (0 hidden)"),
        "{}",
        text(&out.stderr)
    );
}
