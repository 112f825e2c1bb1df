//! `serve`'s settings: a `--config` TOML file, `CONTACTSYNC_SERVER_*` variables and flags, in
//! that order of precedence over the defaults; checked on a running server (the limits it
//! advertises in `GET /v1/config`) and in `--print-config`, which redacts secrets. An unknown
//! key or variable is an error.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use std::time::Duration;

use common::{ADMIN, Server, cmd, s, text};
use serde_json::Value;

fn config_of(url: &str) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut reply = agent
        .get(&format!("{url}/v1/config"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap();
    serde_json::from_slice(&reply.body_mut().read_to_vec().unwrap()).unwrap()
}

#[test]
fn flags_beat_variables_beat_the_file_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "db = \"{}\"\nlisten = \"127.0.0.1:0\"\nadmin-token = \"{ADMIN}\"\n\
             max-batch = 7\nrate-limit = 33\ndaily-quota = 44\ncheck-interval = 55\n",
            dir.path().join("server.db").display()
        ),
    )
    .unwrap();
    let mut command = cmd();
    command
        .env("CONTACTSYNC_SERVER_RATE_LIMIT", "66")
        .env("CONTACTSYNC_SERVER_DAILY_QUOTA", "77")
        .env("CONTACTSYNC_SERVER_BATCH_BUCKETS", "3,7");
    let server = Server::with(command, &["--config", s(&file), "--daily-quota", "88"]);
    let config = config_of(&server.url);
    assert_eq!(
        config["batch_buckets"],
        serde_json::json!([3, 7]),
        "variable"
    );
    let limits = &config["limits"];
    assert_eq!(limits["max_batch"], 7, "file: {limits}");
    assert_eq!(
        limits["requests_per_minute"], 66,
        "variable over file: {limits}"
    );
    assert_eq!(
        limits["daily_new_identifiers"], 88,
        "flag over variable: {limits}"
    );
    assert_eq!(limits["check_interval_s"], 55, "{limits}");
    assert_eq!(limits["max_body_bytes"], 262_144, "default: {limits}");
    drop(server);

    // --print-config says the same, with each value's source, and redacts the token.
    let out = cmd()
        .env("CONTACTSYNC_SERVER_RATE_LIMIT", "66")
        .env("CONTACTSYNC_SERVER_DAILY_QUOTA", "77")
        .env("CONTACTSYNC_SERVER_BATCH_BUCKETS", "3,7")
        .args([
            "serve",
            "--config",
            s(&file),
            "--daily-quota",
            "88",
            "--print-config",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    for line in [
        "max-batch = 7  # file",
        "rate-limit = 66  # environment",
        "daily-quota = 88  # flag",
        "batch-buckets = [3, 7]  # environment",
        "max-body = 262144  # default",
        "admin-token = \"(redacted)\"  # file",
        "# public-url (not set)",
    ] {
        assert!(printed.contains(line), "{line:?} in:\n{printed}");
    }
    assert!(!printed.contains(ADMIN), "{printed}");

    // What it prints is a config file `serve` takes, with the same values.
    let again = dir.path().join("again.toml");
    std::fs::write(
        &again,
        printed.replace("\"(redacted)\"", &format!("\"{ADMIN}\"")),
    )
    .unwrap();
    let out = cmd()
        .args(["serve", "--config", s(&again), "--print-config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reprinted = text(&out.stdout);
    assert!(reprinted.contains("rate-limit = 66  # file"), "{reprinted}");
    assert!(
        reprinted.contains("daily-quota = 88  # file"),
        "{reprinted}"
    );
}

#[test]
fn unknown_keys_and_variables_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "rate-limt = 5\n").unwrap();
    let out = cmd()
        .args(["serve", "--config", s(&file), "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("rate-limt"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&file, "rate-limit = \"fast\"\n").unwrap();
    let out = cmd()
        .args(["serve", "--config", s(&file), "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    let out = cmd()
        .env("CONTACTSYNC_SERVER_RATE_LIMT", "5")
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CONTACTSYNC_SERVER_RATE_LIMT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_mode_is_one_setting_on_the_three_surfaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let offers_private = |command: std::process::Command, args: &[&str]| {
        let mut all = vec![
            "--db",
            s(&db),
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            ADMIN,
        ];
        all.extend_from_slice(args);
        let server = Server::with(command, &all);
        let private = &config_of(&server.url)["private"];
        assert!(private.is_null() || private.is_object(), "{private}");
        private.is_object()
    };
    assert!(!offers_private(cmd(), &[]), "hashed by default");
    assert!(offers_private(cmd(), &["--mode", "private"]), "the flag");
    let mut by_variable = cmd();
    by_variable.env("CONTACTSYNC_SERVER_MODE", "private");
    assert!(offers_private(by_variable, &[]), "the variable");
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "mode = \"private\"\n").unwrap();
    assert!(offers_private(cmd(), &["--config", s(&file)]), "the file");
    assert!(
        !offers_private(cmd(), &["--config", s(&file), "--mode", "hashed"]),
        "the flag over the file"
    );

    // A mode that is none, and the switch the mode replaced: usage errors, not a server in a
    // mode nobody asked for.
    for args in [
        &["serve", "--mode", "secret", "--print-config"][..],
        &["serve", "--private-discovery", "--print-config"][..],
    ] {
        let out = cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = cmd()
        .env("CONTACTSYNC_SERVER_PRIVATE_DISCOVERY", "true")
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = cmd()
        .env("CONTACTSYNC_SERVER_MODE", "private")
        .args(["serve", "--print-config"])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("mode = \"private\"  # environment"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_database_password_is_never_printed() {
    let out = cmd()
        .args([
            "serve",
            "--db",
            "postgres://contactsync:hunter2-secret@db.internal:5432/contactsync",
            "--print-config",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("db.internal"), "{printed}");
}

/// The operations settings take the same paths: `RUST_LOG` counts as the log filter's variable
/// (below `CONTACTSYNC_SERVER_LOG`), the file sets the format and the metrics address.
#[test]
fn log_and_metrics_settings_merge_like_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "log-format = \"json\"\nmetrics-listen = \"127.0.0.1:9464\"\nlog = \"warn\"\n",
    )
    .unwrap();
    let print = |envs: &[(&str, &str)]| {
        let mut c = cmd();
        c.env_remove("RUST_LOG");
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c
            .args(["serve", "--config", s(&file), "--print-config"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let printed = print(&[]);
    for line in [
        "log-format = \"json\"  # file",
        "metrics-listen = \"127.0.0.1:9464\"  # file",
        "log = \"warn\"  # file",
    ] {
        assert!(printed.contains(line), "{line:?} in:\n{printed}");
    }
    let printed = print(&[("RUST_LOG", "debug")]);
    assert!(
        printed.contains("log = \"debug\"  # environment"),
        "{printed}"
    );
    let printed = print(&[("RUST_LOG", "debug"), ("CONTACTSYNC_SERVER_LOG", "error")]);
    assert!(
        printed.contains("log = \"error\"  # environment"),
        "{printed}"
    );
    // A format the server does not have is refused.
    std::fs::write(&file, "log-format = \"xml\"\n").unwrap();
    let out = cmd()
        .args(["serve", "--config", s(&file), "--print-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// The configuration file docs/deployment.md shows is one `serve` accepts, key for key.
#[test]
fn the_documented_config_file_is_accepted() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deployment.md"),
    )
    .unwrap();
    let section = &doc[doc.find("## Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let toml = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, toml).unwrap();
    let out = cmd()
        .args(["serve", "--config", s(&file), "--print-config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let keys = toml
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .filter(|k| !k.starts_with('#'))
        .collect::<Vec<_>>();
    assert!(keys.len() > 20, "{keys:?}");
    for key in keys {
        assert!(
            printed.contains(&format!("\n{key} = ")),
            "{key} in:\n{printed}"
        );
        assert!(
            printed
                .lines()
                .any(|l| l.starts_with(&format!("{key} = ")) && l.ends_with("# file")),
            "{key}"
        );
    }
}
