//! `contactsync serve` with its stderr going to a pipe nobody reads: the server keeps answering,
//! the lines it cannot write are dropped and counted, and the count is reported once the stream
//! is read again, and `/metrics` counts them too. (A blocked log stream once stopped the whole server after about 64 KB of
//! request logs: the runtime's threads sat in `write(2)`.)

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

/// Requests sent while nobody reads the log: many more lines than the pipe (64 KiB) and the
/// server's queue of lines (8192) hold together.
const REQUESTS: usize = 12_000;
const THREADS: usize = 4;

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_log_stream_nobody_reads_costs_lines_not_service() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let mut server = Server(
        common::cmd()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "1000000",
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .args(common::OPEN_REGISTRATION_UNLIMITED)
            .args(["--admin-token", "admin-token-of-the-log-test-0123"])
            .arg("--db")
            .arg(&db)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let base = address_line(&mut stderr, "listening on ");
    let metrics = address_line(&mut stderr, "metrics on ");
    // From here on nobody reads the server's stderr until it is asked to stop.

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Only a guard against a hang: a blocked server fails the test instead of stopping it.
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let registered: serde_json::Value = agent
        .post(format!("{base}/v1/clients"))
        .header("Content-Type", "application/json")
        .send("{}")
        .unwrap()
        .body_mut()
        .read_to_string()
        .map(|body| serde_json::from_str(&body).unwrap())
        .unwrap();
    let token = registered["token"].as_str().unwrap().to_owned();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for i in 0..REQUESTS / THREADS {
                    let reply = agent
                        .get(format!("{base}/v1/config"))
                        .header("Authorization", format!("Bearer {token}"))
                        .call()
                        .unwrap_or_else(|e| panic!("request {i}: {e}"));
                    assert_eq!(reply.status(), 200);
                }
            });
        }
    });

    // The metrics say how many lines were dropped so far (the scrape is not logged).
    let scraped = dropped_so_far(&agent, &metrics);

    // Read the stream again, and stop the server: it exits, and says how many lines it dropped.
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        rest
    });
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest = reader.join().unwrap();
    let dropped: usize = rest
        .lines()
        .filter_map(|l| l.split("dropped_lines=").nth(1))
        .filter_map(|n| n.split_whitespace().next()?.parse().ok())
        .max()
        .unwrap_or_else(|| panic!("no report of dropped lines in:\n{}", tail(&rest)));
    let written = rest.lines().filter(|l| l.contains("request")).count();
    assert!(dropped > 0, "{dropped}");
    assert!(
        scraped > 0 && scraped <= dropped,
        "{scraped} scraped, {dropped} reported"
    );
    assert!(
        written + dropped >= REQUESTS,
        "{written} written + {dropped} dropped < {REQUESTS} requests"
    );
}

/// The next stderr line, which must start with `prefix`, without it.
fn address_line(stderr: &mut impl BufRead, prefix: &str) -> String {
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned()
}

/// `contactsync_log_lines_dropped_total`, scraped.
fn dropped_so_far(agent: &ureq::Agent, metrics: &str) -> usize {
    agent
        .get(format!("{metrics}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("contactsync_log_lines_dropped_total "))
        .unwrap_or_else(|| panic!("no contactsync_log_lines_dropped_total"))
        .parse()
        .unwrap()
}

fn tail(text: &str) -> String {
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
