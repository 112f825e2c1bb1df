//! Invite links as a phone opens them: `GET /i/{code}` (a small page that offers to open the app
//! and links the stores, or a redirect when configured) and the two files that let the operating
//! system hand those links to the app instead of the browser — `GET
//! /.well-known/assetlinks.json` (Android App Links) and `GET
//! /.well-known/apple-app-site-association` (iOS Universal Links), each `404` until configured.
//!
//! **The page never looks the code up.** An unknown, expired, revoked or used code gets the same
//! page as an open one: an unauthenticated URL anyone can scrape must not tell which codes are
//! live (redeeming, which is authenticated and rate-limited per device, is where a code's state
//! shows), and a page that reads no storage costs the database nothing however often it is
//! fetched. Only a value that cannot be a code at all (its check character fails, its length or
//! alphabet is wrong: anyone can compute that) is `404`.
//!
//! The code is in the path, so it never reaches a log line or a metric label: `observe` labels
//! the request `/i/{code}` (the template). The page loads nothing from elsewhere and runs no
//! script (a `Content-Security-Policy` that allows only its own inline style, by hash), and
//! sends no `Referer` when a store link is followed (the code would be in it).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use contactsync_core::identifier::invite;
use serde_json::json;

use super::{Route, Service};
use crate::error::{ApiError, ServerError};
use crate::util::sha256;

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/i/{code}", get(invite_page)),
        ("/.well-known/assetlinks.json", get(assetlinks)),
        (
            "/.well-known/apple-app-site-association",
            get(apple_association),
        ),
    ]
}

/// What invite links do when a phone opens them (docs/invites.md). Every field is optional: with
/// none set, `GET /i/{code}` is a page with the code to type into the app, and the two
/// `.well-known` files are `404`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinksConfig {
    /// The app's name on the page. Default: "the app".
    pub app_name: Option<String>,
    /// A custom URL scheme of the app (`myapp`): the page's "Open in the app" button goes to
    /// `myapp://i/CODE`, a form the core's `redeem_invite` reads. Without it the page has no
    /// button (with App Links or Universal Links set up, the operating system opens the app
    /// before the page ever loads).
    pub app_scheme: Option<String>,
    /// Instead of the page, redirect (`302`) to this URL with `{code}` replaced by the code.
    pub redirect: Option<String>,
    /// The app's Google Play page, linked from the page.
    pub play_store_url: Option<String>,
    /// The app's App Store page, linked from the page.
    pub app_store_url: Option<String>,
    /// Android App Links: the app's package name (`org.example.chat`).
    pub android_package: Option<String>,
    /// Android App Links: the SHA-256 fingerprints of the app's signing certificates
    /// (`AB:CD:...`, 32 bytes; `keytool -list -v` or the Play Console print them).
    pub android_fingerprints: Vec<String>,
    /// iOS Universal Links: the app IDs (`TEAMID.org.example.chat`).
    pub apple_app_ids: Vec<String>,
}

impl LinksConfig {
    /// Refuses settings the links cannot honour (fingerprints are taken with or without colons,
    /// in either case: `Links` writes them as Android prints them).
    pub(crate) fn validate(&self) -> Result<(), ServerError> {
        let bad = |what: &str| Err(ServerError::Config(what.to_owned()));
        for (name, url) in [
            ("invite-play-store-url", &self.play_store_url),
            ("invite-app-store-url", &self.app_store_url),
        ] {
            if let Some(url) = url
                && !is_web_url(url)
            {
                return bad(&format!("{name} must be an http or https URL"));
            }
        }
        if let Some(scheme) = &self.app_scheme
            && !valid_scheme(scheme)
        {
            return bad(
                "invite-app-scheme must be a URL scheme (a letter, then letters, digits, + - .), \
                 not http or https",
            );
        }
        if let Some(redirect) = &self.redirect
            && (!redirect.contains("{code}")
                || url::Url::parse(&redirect.replace("{code}", "CODE")).is_err())
        {
            return bad("invite-redirect must be a URL with {code} where the code goes");
        }
        if let Some(name) = &self.app_name
            && (name.trim().is_empty() || name.len() > 100)
        {
            return bad("invite-app-name must be 1 to 100 characters");
        }
        match (&self.android_package, self.android_fingerprints.is_empty()) {
            (Some(package), false) if valid_package(package) => {}
            (None, true) => {}
            (Some(_), false) => return bad("app-links-package is not an Android package name"),
            _ => {
                return bad("app-links-package and app-links-fingerprints go together: set both");
            }
        }
        if !self
            .android_fingerprints
            .iter()
            .all(|f| fingerprint(f).is_some())
        {
            return bad(
                "app-links-fingerprints must be SHA-256 fingerprints (32 bytes in hex, colons \
                 optional)",
            );
        }
        if !self.apple_app_ids.iter().all(|id| valid_app_id(id)) {
            return bad("universal-links-app-ids must be TEAMID.bundle.id");
        }
        Ok(())
    }
}

/// The answers of this module, made once from the configuration.
#[derive(Debug)]
pub(super) struct Links {
    config: LinksConfig,
    /// `assetlinks.json`, or `None`: `404`.
    assetlinks: Option<Vec<u8>>,
    /// `apple-app-site-association`, or `None`: `404`.
    apple: Option<Vec<u8>>,
    /// The page's `Content-Security-Policy`: its own inline style, by hash, and nothing else.
    csp: HeaderValue,
}

/// The page's only style (its hash is in the CSP, so it cannot vary per request).
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:2rem 1rem;\
background:#f6f6f6;color:#222}main{max-width:28rem;margin:auto;background:#fff;padding:1.5rem;\
border-radius:12px}h1{font-size:1.4rem}.code{font:600 1.3rem ui-monospace,monospace;\
letter-spacing:.05em}.button{display:inline-block;padding:.7rem 1.2rem;background:#1a73e8;\
color:#fff;border-radius:8px;text-decoration:none}a{color:#1a73e8}";

impl Links {
    /// `public_path`: the path of the public URL (`""` at the root), which invite links and so the
    /// Universal Links' path pattern begin with.
    pub(super) fn new(config: &LinksConfig, public_path: &str) -> Self {
        let assetlinks = config.android_package.as_ref().map(|package| {
            json!([{
                "relation": ["delegate_permission/common.handle_all_urls"],
                "target": {
                    "namespace": "android_app",
                    "package_name": package,
                    "sha256_cert_fingerprints": config
                        .android_fingerprints
                        .iter()
                        .map(|f| fingerprint(f).unwrap_or_else(|| f.clone()))
                        .collect::<Vec<_>>(),
                }
            }])
            .to_string()
            .into_bytes()
        });
        let apple = (!config.apple_app_ids.is_empty()).then(|| {
            let path = format!("{public_path}/i/*");
            json!({
                "applinks": {
                    "details": [{
                        "appIDs": config.apple_app_ids,
                        "components": [{"/": path, "comment": "invite links"}],
                    }]
                }
            })
            .to_string()
            .into_bytes()
        });
        let style_hash = base64::engine::general_purpose::STANDARD.encode(sha256(STYLE.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{style_hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        );
        Links {
            config: config.clone(),
            assetlinks,
            apple,
            csp: HeaderValue::from_str(&csp)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
        }
    }

    /// The page for a canonical code (only Crockford characters: nothing in it needs escaping,
    /// the configured values are escaped).
    fn page(&self, code: &str) -> String {
        let c = &self.config;
        let app = escape(c.app_name.as_deref().unwrap_or("the app"));
        let open = c.app_scheme.as_ref().map_or(String::new(), |scheme| {
            format!(
                "<p><a class=\"button\" href=\"{}://i/{code}\">Open in {app}</a></p>\n",
                escape(scheme)
            )
        });
        let stores: Vec<String> = [
            (&c.play_store_url, "Get it on Google Play"),
            (&c.app_store_url, "Download on the App Store"),
        ]
        .into_iter()
        .filter_map(|(url, label)| {
            url.as_ref()
                .map(|u| format!("<a href=\"{}\" rel=\"noreferrer\">{label}</a>", escape(u)))
        })
        .collect();
        let stores = if stores.is_empty() {
            String::new()
        } else {
            format!("<p>{}</p>\n", stores.join(" · "))
        };
        let shown = invite::display(code);
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"robots\" content=\"noindex, nofollow\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <title>An invite to {app}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
             <h1>You are invited to {app}</h1>\n\
             <p>With {app} installed, this link opens in it.</p>\n{open}\
             <p>Not installed yet? Get {app}, then enter this invite code in it:</p>\n\
             <p class=\"code\">{shown}</p>\n{stores}</main>\n</body>\n</html>\n"
        )
    }
}

/// `GET /i/{code}`: the page, or the configured redirect; `404` for what cannot be a code.
async fn invite_page(
    State(service): State<Arc<Service>>,
    code: Result<Path<String>, PathRejection>,
) -> Response {
    let links = &service.links;
    let Some(code) = code.ok().and_then(|Path(c)| invite::normalize(&c).ok()) else {
        return ApiError::NotFound("no such invite link").into_response();
    };
    let mut response = if let Some(target) = &links.config.redirect {
        let Ok(location) = HeaderValue::from_str(&target.replace("{code}", &code)) else {
            return ApiError::Internal.into_response();
        };
        let mut r = StatusCode::FOUND.into_response();
        r.headers_mut().insert(header::LOCATION, location);
        r
    } else {
        let mut r = (StatusCode::OK, links.page(&code)).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CONTENT_SECURITY_POLICY, links.csp.clone());
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        r
    };
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `GET /.well-known/assetlinks.json` (Android App Links), `404` when not configured.
async fn assetlinks(State(service): State<Arc<Service>>) -> Response {
    well_known(service.links.assetlinks.as_deref())
}

/// `GET /.well-known/apple-app-site-association` (iOS Universal Links), `404` when not
/// configured. Served as `application/json`, as Apple's CDN requires, without a redirect.
async fn apple_association(State(service): State<Arc<Service>>) -> Response {
    well_known(service.links.apple.as_deref())
}

fn well_known(body: Option<&[u8]>) -> Response {
    match body {
        Some(body) => {
            let mut r = (StatusCode::OK, body.to_vec()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        None => ApiError::NotFound("not configured").into_response(),
    }
}

fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// RFC 3986's scheme: a letter, then letters, digits, `+`, `-`, `.`; not the web's own.
fn valid_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && scheme.len() <= 64
}

/// A Java package name with at least two segments, as Android requires.
fn valid_package(package: &str) -> bool {
    let segments: Vec<&str> = package.split('.').collect();
    segments.len() >= 2
        && package.len() <= 255
        && segments.iter().all(|s| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// `TEAMID.bundle.id`: a 10-character team id, then a bundle id.
fn valid_app_id(id: &str) -> bool {
    id.split_once('.').is_some_and(|(team, bundle)| {
        team.len() == 10
            && team.chars().all(|c| c.is_ascii_alphanumeric())
            && !bundle.is_empty()
            && bundle.len() <= 255
            && bundle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    })
}

/// A SHA-256 fingerprint as Android prints it (`AB:CD:...`, upper case), from hex with or
/// without colons.
fn fingerprint(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..32)
        .filter_map(|i| upper.get(2 * i..2 * i + 2))
        .collect();
    Some(pairs.join(":"))
}

/// Escapes text for HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_with_or_without_colons() {
        let hex = "ab".repeat(32);
        let expected = vec!["AB"; 32].join(":");
        assert_eq!(fingerprint(&hex).as_deref(), Some(expected.as_str()));
        assert_eq!(fingerprint(&expected).as_deref(), Some(expected.as_str()));
        assert_eq!(fingerprint("AB:CD"), None);
        assert_eq!(fingerprint(&"zz".repeat(32)), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_package("org.example.chat"));
        assert!(!valid_package("chat"));
        assert!(!valid_package("org.1example"));
        assert!(valid_app_id("ABCDE12345.org.example.chat"));
        assert!(!valid_app_id("org.example.chat"));
        assert!(valid_scheme("myapp"));
        assert!(!valid_scheme("https"));
        assert!(!valid_scheme("my app"));
    }

    #[test]
    fn configured_text_is_escaped_and_the_style_matches_its_hash() {
        let config = LinksConfig {
            app_name: Some("<b>\"Chat\"</b>".into()),
            play_store_url: Some("https://play.example/?a=1&b=\"2\"".into()),
            ..LinksConfig::default()
        };
        let links = Links::new(&config, "");
        let page = links.page("7K3M9QX2D");
        assert!(
            page.contains("&lt;b&gt;&quot;Chat&quot;&lt;/b&gt;"),
            "{page}"
        );
        assert!(page.contains("a=1&amp;b=&quot;2&quot;"), "{page}");
        assert!(page.contains("7K3M-9QX2-D"), "{page}");
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
    }

    #[test]
    fn incomplete_app_links_are_refused() {
        let only_package = LinksConfig {
            android_package: Some("org.example.chat".into()),
            ..LinksConfig::default()
        };
        assert!(only_package.validate().is_err());
        let redirect_without_code = LinksConfig {
            redirect: Some("https://example.org/join".into()),
            ..LinksConfig::default()
        };
        assert!(redirect_without_code.validate().is_err());
    }
}
