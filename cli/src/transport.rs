//! The CLI's [`Transport`]: the protocol's requests over HTTP with `ureq` (rustls with ring).
//!
//! - `https://` for any host; plain `http://` only to a loopback address (`127.0.0.0/8`, `::1`,
//!   `localhost`), so a token never crosses a network in the clear.
//! - Server certificates are checked against the operating system's trusted roots.
//! - Connect timeout 10 s, 60 s for a whole request; no redirects followed; no proxy for
//!   loopback (the environment's `HTTPS_PROXY` and the like apply otherwise).
//! - An answer's body is read up to [`MAX_ANSWER_BYTES`] + 1 bytes and no further: a hostile
//!   10 MB answer costs 4 MiB, and the core refuses it as too large.
//! - Any HTTP status is an answer ([`Response`]); only "no answer at all" is a
//!   [`TransportError`]. Bodies and tokens are never logged nor put in error messages.

use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use contactsync_core::upload::{
    MAX_ANSWER_BYTES, Method, Request, Response, Transport, TransportError,
};
use ureq::Agent;
use ureq::http;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use url::Url;

/// Time to establish a connection (DNS, TCP, TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole request, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a server URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server's base URL, checked: `https://host[:port][/prefix]`, or `http://` to loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Without a trailing slash (`https://example.org`, `http://127.0.0.1:8787/api`).
    base: String,
    https: bool,
    loopback: bool,
}

impl ServerUrl {
    /// Parses and checks a base URL as a user typed it.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let url =
            Url::parse(text.trim()).map_err(|e| UrlError(format!("server URL {text:?}: {e}")))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(UrlError(format!(
                    "server URL {text:?}: scheme {other:?} (use https://, or http:// to this machine)"
                )));
            }
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => return Err(UrlError(format!("server URL {text:?}: no host"))),
        };
        if !https && !loopback {
            return Err(UrlError(format!(
                "server URL {text:?}: plain http:// is only for a server on this machine \
                 (tokens would cross the network in the clear); use https://"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError(format!(
                "server URL {text:?}: no credentials in the URL (use --admin-token)"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(UrlError(format!(
                "server URL {text:?}: a base URL has no query or fragment"
            )));
        }
        let base = url.as_str().trim_end_matches('/').to_owned();
        Ok(ServerUrl {
            base,
            https,
            loopback,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

/// Sends the protocol's requests to one server, with one token (or none).
pub struct HttpTransport {
    agent: Agent,
    server: ServerUrl,
    token: Option<String>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("HttpTransport")
            .field("server", &self.server.base)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport to `server`, authenticating with `token` when given.
    pub fn new(server: &ServerUrl, token: Option<&str>) -> Result<Self, UrlError> {
        let mut config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .max_redirects(0)
            .https_only(!server.loopback)
            .user_agent(format!("contactsync-cli/{}", contactsync_core::VERSION));
        if server.loopback {
            config = config.proxy(None);
        }
        if server.https {
            config = config.tls_config(tls_config()?);
        }
        Ok(HttpTransport {
            agent: config.build().into(),
            server: server.clone(),
            token: token.map(str::to_owned),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }
}

/// rustls with ring, trusting the operating system's roots.
fn tls_config() -> Result<TlsConfig, UrlError> {
    let found = rustls_native_certs::load_native_certs();
    let roots: Vec<Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(UrlError(format!(
            "no trusted root certificates found on this system{why}; install the CA certificates \
             package (e.g. ca-certificates) or set SSL_CERT_FILE"
        )));
    }
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&roots))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build())
}

fn method(m: Method) -> http::Method {
    match m {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
    }
}

/// A transport error's message: ureq's text, which names the failure (and at most the URL),
/// never a header or a body.
fn transport_error(e: &ureq::Error) -> TransportError {
    let text = match e {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        other => other.to_string(),
    };
    TransportError::new(text)
}

impl Transport for HttpTransport {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        if !request.path.starts_with('/') {
            return Err(TransportError::new("request path must start with /"));
        }
        let mut builder = http::Request::builder()
            .method(method(request.method))
            .uri(self.url(&request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let sent = if request.body.is_empty() {
            builder.body(()).map(|r| self.agent.run(r))
        } else {
            builder.body(request.body).map(|r| self.agent.run(r))
        };
        let answer = sent
            .map_err(|e| TransportError::new(format!("invalid request: {e}")))?
            .map_err(|e| transport_error(&e))?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        answer
            .into_body()
            .into_reader()
            .take(MAX_ANSWER_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| TransportError::new(format!("reading the answer: {e}")))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            ServerUrl::parse("http://127.0.0.1:8787/").unwrap().as_str(),
            "http://127.0.0.1:8787"
        );
        assert!(ServerUrl::parse("http://localhost:1").is_ok());
        assert!(ServerUrl::parse("http://[::1]:1").is_ok());
        assert!(ServerUrl::parse("https://example.org/api/").is_ok());
        assert!(ServerUrl::parse("http://example.org").is_err());
        assert!(ServerUrl::parse("ftp://127.0.0.1").is_err());
        assert!(ServerUrl::parse("not a url").is_err());
        assert!(ServerUrl::parse("https://u:p@example.org").is_err());
    }

    #[test]
    fn unreachable_server_is_a_transport_error() {
        // Port 1 on loopback: nothing listens there.
        let server = ServerUrl::parse("http://127.0.0.1:1").unwrap();
        let t = HttpTransport::new(&server, Some("secret-token")).unwrap();
        let e = t
            .send(Request {
                method: Method::Get,
                path: "/v1/config".into(),
                headers: vec![],
                body: vec![],
            })
            .unwrap_err();
        assert!(!e.message.is_empty());
        assert!(!e.message.contains("secret-token"), "{}", e.message);
    }

    /// Reads one whole request (head, then `Content-Length` bytes of body). Answering before
    /// the body has been read would close a socket with unread data, which resets the
    /// connection under the client while it is still sending.
    fn read_request(conn: &mut std::net::TcpStream) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while seen.len() < head_end + length {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// A server on loopback that reads one request and answers it with `answer`.
    fn one_shot(
        answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static,
    ) -> (ServerUrl, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            read_request(&mut conn);
            answer(&mut conn);
        });
        (ServerUrl::parse(&format!("http://{addr}")).unwrap(), server)
    }

    #[test]
    fn long_answers_are_cut() {
        use std::io::Write;
        let (url, server) = one_shot(|conn| {
            let len = 10 * 1024 * 1024;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/json\r\n\r\n"
            );
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..(len / chunk.len()) {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let t = HttpTransport::new(&url, None).unwrap();
        let r = t
            .send(Request {
                method: Method::Get,
                path: "/v1/config".into(),
                headers: vec![],
                body: vec![],
            })
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), MAX_ANSWER_BYTES + 1);
        drop(t);
        let _ = server.join();
    }

    #[test]
    fn error_statuses_are_answers() {
        use std::io::Write;
        let (url, server) = one_shot(|conn| {
            let body = r#"{"error":{"code":"unauthorized","message":"no"}}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        });
        let t = HttpTransport::new(&url, Some("secret")).unwrap();
        let r = t
            .send(Request {
                method: Method::Post,
                path: "/v1/clients".into(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{}".to_vec(),
            })
            .unwrap();
        assert_eq!(r.status, 401);
        assert!(String::from_utf8_lossy(&r.body).contains("unauthorized"));
        assert!(!format!("{t:?}").contains("secret"));
        let _ = server.join();
    }
}
