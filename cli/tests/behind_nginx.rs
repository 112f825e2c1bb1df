//! The documented deployment, run: `contactsync serve` on loopback behind a real nginx that uses
//! docs/deploy/nginx.conf — the file the docs ship and include, with only its ports, certificate
//! paths and IPv6 listens replaced — and a certificate authority made for the test. Through it,
//! over https, the real CLI administers the server and syncs a device, which finds its matches;
//! plain http only redirects, an oversized body stops at nginx, and a client that does not trust
//! the authority is refused.
//!
//! The CLI trusts the test's authority through `SSL_CERT_FILE`, which `rustls-native-certs` reads
//! instead of the system's store. Needs nginx (Debian: `nginx-light`): without it the test says
//! `skipped: nginx not installed`, except on CI (`CONTACTSYNC_CI` set), where it fails.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    SAMPLE_MATCHES, SAMPLE_USERS, Server, cmd, import_samples_with, put_users_with, s, succeed,
    text,
};
use serde_json::Value;

/// The configuration the docs ship.
fn shipped_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy/nginx.conf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// nginx on `PATH` or in the usual sbin directories (a non-root `PATH` often lacks them).
fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The shipped configuration with this test's ports and files: each replaced text must occur
/// exactly as often as said, so an edit of the shipped file cannot silently leave the test
/// running something else.
fn site_config(upstream: u16, https: u16, http: u16, dir: &Path) -> String {
    let mut config = shipped_config();
    let cert = format!("{}/server.pem", s(dir));
    let key = format!("{}/server.key", s(dir));
    let replacements = [
        (
            "server 127.0.0.1:8787;",
            format!("server 127.0.0.1:{upstream};"),
            1,
        ),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{https} ssl http2;"),
            1,
        ),
        ("listen [::]:443 ssl http2;", String::new(), 1),
        ("listen 80;", format!("listen 127.0.0.1:{http};"), 1),
        ("listen [::]:80;", String::new(), 1),
        (
            "/etc/letsencrypt/live/contactsync.example.org/fullchain.pem",
            cert,
            1,
        ),
        (
            "/etc/letsencrypt/live/contactsync.example.org/privkey.pem",
            key,
            1,
        ),
    ];
    for (from, to, count) in replacements {
        assert_eq!(
            config.matches(from).count(),
            count,
            "docs/deploy/nginx.conf: {from:?} (update this test with the file)"
        );
        config = config.replace(from, &to);
    }
    config
}

/// nginx's main file: the process's own paths in `dir`, the site file included in `http`.
fn main_config(dir: &Path) -> String {
    let d = s(dir);
    // As root, the workers would switch to `nobody`, who cannot enter the test's directory.
    #[cfg(unix)]
    let user = if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir).unwrap()) == 0 {
        "user root root;"
    } else {
        ""
    };
    #[cfg(not(unix))]
    let user = "";
    format!(
        "{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/contactsync.conf;
}}
"
    )
}

/// A running nginx on two free loopback ports, stopped when dropped (`nginx -s stop`: the master
/// stops its workers; killing the master alone would leave them running).
struct Nginx {
    child: Child,
    binary: PathBuf,
    dir: PathBuf,
    https: u16,
    http: u16,
}

impl Nginx {
    /// Starts nginx with the site file for `upstream`; a port taken between choosing it and
    /// nginx binding it costs another try, up to three.
    fn start(binary: &Path, dir: &Path, upstream: u16) -> Nginx {
        std::fs::write(dir.join("nginx.conf"), main_config(dir)).unwrap();
        for _ in 0..3 {
            let (https, http) = (free_port(), free_port());
            let site = site_config(upstream, https, http, dir);
            std::fs::write(dir.join("contactsync.conf"), site).unwrap();
            let logged = error_log(dir).len();
            let child = Command::new(binary)
                .args(nginx_args(dir))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn nginx");
            let mut nginx = Nginx {
                child,
                binary: binary.to_owned(),
                dir: dir.to_owned(),
                https,
                http,
            };
            let started = Instant::now();
            while [https, http]
                .iter()
                .any(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
            {
                if let Some(status) = nginx.child.try_wait().unwrap() {
                    let log = error_log(dir).split_off(logged);
                    assert!(
                        log.contains("Address already in use"),
                        "nginx exited ({status}):\n{log}"
                    );
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "nginx did not listen in 20 s:\n{}",
                    error_log(dir)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(nginx.child.try_wait(), Ok(None)) {
                return nginx;
            }
        }
        panic!("no free ports for nginx in three tries");
    }
}

/// nginx's arguments: everything in `dir` (`-e`: its first error log, before the config is read).
fn nginx_args(dir: &Path) -> Vec<String> {
    let d = s(dir);
    [
        "-e",
        &format!("{d}/error.log"),
        "-p",
        d,
        "-c",
        &format!("{d}/nginx.conf"),
    ]
    .map(str::to_owned)
    .to_vec()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new(&self.binary)
            .args(nginx_args(&self.dir))
            .args(["-s", "stop"])
            .output();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("nginx did not stop in 10 s:\n{}", error_log(&self.dir));
    }
}

fn error_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

/// A certificate authority made for the test.
fn authority(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    rcgen::CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate for 127.0.0.1 that `ca` signs, and its key, where the config wants them.
fn server_certificate(ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>, dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem() + &ca.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// The CLI trusting only the authority in `ca_file`.
fn trusting(ca_file: &Path) -> Command {
    let mut command = cmd();
    command
        .env("SSL_CERT_FILE", ca_file)
        .env_remove("SSL_CERT_DIR");
    command
}

/// A plain client for what the CLI does not send: trusts the authority, follows no redirect.
fn agent(ca_pem: &str) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap().to_owned();
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&[ca]))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[test]
fn syncs_through_nginx_over_https() {
    let Some(nginx) = find_nginx() else {
        return common::skip_without("nginx", "apt-get install nginx-light");
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let upstream: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let ca = authority("contactsync test authority");
    server_certificate(&ca, dir.path());
    let ca_pem = ca.pem();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let nginx = Nginx::start(&nginx, dir.path(), upstream);
    let (https, http) = (nginx.https, nginx.http);
    let url = format!("https://127.0.0.1:{https}");
    let client = agent(&ca_pem);

    // Plain http only redirects to https; health answers through the proxy.
    let reply = client
        .get(format!("http://127.0.0.1:{http}/healthz"))
        .call()
        .unwrap();
    assert_eq!(reply.status(), 301);
    assert_eq!(
        reply.headers()["location"].to_str().unwrap(),
        "https://127.0.0.1/healthz"
    );
    let mut reply = client.get(format!("{url}/healthz")).call().unwrap();
    assert_eq!(reply.status(), 200);
    let health: Value = serde_json::from_slice(&reply.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    // The metrics never go out through the proxy.
    let reply = client.get(format!("{url}/metrics")).call().unwrap();
    assert_eq!(reply.status(), 404);

    // The app's users, through the proxy.
    put_users_with(|| trusting(&ca_file), &url, SAMPLE_USERS);

    // A device imports the sample book and syncs over https: its three contacts on the app.
    let db = dir.path().join("device.db");
    import_samples_with(&mut trusting(&ca_file), &db);
    // A client that trusts another authority is refused before anything is sent.
    let stranger = dir.path().join("stranger.pem");
    std::fs::write(&stranger, authority("another authority").pem()).unwrap();
    let refused = trusting(&stranger)
        .args(["sync", "--json", "--server", &url, "--db", s(&db)])
        .output()
        .unwrap();
    // Refused (1), not "retry later" (75): retrying does not make the certificate trusted.
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("UnknownIssuer"),
        "{}",
        text(&refused.stderr)
    );
    let report: Value = serde_json::from_str(&succeed(
        &mut trusting(&ca_file),
        &["sync", "--json", "--server", &url, "--db", s(&db)],
    ))
    .unwrap();
    assert_eq!(report["new_matches"], 3, "{report}");
    assert!(report["batches_sent"].as_u64().unwrap() >= 1, "{report}");
    let matches = succeed(&mut trusting(&ca_file), &["matches", "--db", s(&db)]);
    for name in SAMPLE_MATCHES {
        assert!(matches.contains(name), "{name}:\n{matches}");
    }
    // Every request went through nginx to the server.
    let access = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    assert!(access.contains("POST /v1/batches"), "{access}");

    // A body over the server's limit stops at nginx: 413, the server never reads it.
    let reply = client
        .post(format!("{url}/v1/batches"))
        .header("Content-Type", "application/json")
        .send(vec![b' '; 300 * 1024])
        .unwrap();
    assert_eq!(reply.status(), 413);
}
