//! Invite links as a phone opens them: the page at `/i/{code}` (the same for an open code and an
//! unknown one, `404` for what cannot be a code), the redirect, and the App Links and Universal
//! Links files, `404` until configured.

use contactsync_server::LinksConfig;
use serde_json::{Value, json};

use crate::common;
use crate::common::TestServer;

/// One answer as a browser sees it, without following redirects.
struct Page {
    status: u16,
    header: std::collections::HashMap<String, String>,
    body: String,
}

fn open(base: &str, path: &str) -> Page {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut response = agent.get(&format!("{base}{path}")).call().unwrap();
    let header = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    Page {
        status: response.status().as_u16(),
        header,
        body: response.body_mut().read_to_string().unwrap(),
    }
}

const FINGERPRINT: &str = "14:6d:e9:83:c5:73:06:50:d8:ee:b9:95:2f:34:fc:64:16:a0:83:42:e6:1d:be:a8:8a:04:96:b2:3f:cf:44:e5";

fn configured() -> LinksConfig {
    LinksConfig {
        app_name: Some("Example Chat".into()),
        app_scheme: Some("examplechat".into()),
        redirect: None,
        play_store_url: Some(
            "https://play.google.com/store/apps/details?id=org.example.chat".into(),
        ),
        app_store_url: Some("https://apps.apple.com/app/id1234567890".into()),
        android_package: Some("org.example.chat".into()),
        android_fingerprints: vec![FINGERPRINT.replace(':', "")],
        apple_app_ids: vec!["ABCDE12345.org.example.chat".into()],
    }
}

on_each_backend! {
    fn the_page_offers_the_app_and_never_tells_a_live_code_from_a_dead_one(backend) {
        let t = TestServer::with_on(backend, |c| {
            c.public_url = Some("https://example.org/chat/".to_owned());
            c.links = configured();
        });
        let api = &t.api;
        let (_, ana) = api.vouch("u_ana");
        let code = api.post("/v1/invites", Some(&ana), &json!({})).expect(201)["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let live = open(&api.base, &format!("/i/{code}"));
        assert_eq!(live.status, 200, "{}", live.body);
        assert_eq!(live.header["content-type"], "text/html; charset=utf-8");
        assert_eq!(live.header["referrer-policy"], "no-referrer");
        assert_eq!(live.header["cache-control"], "no-store");
        assert_eq!(live.header["x-content-type-options"], "nosniff");
        let csp = &live.header["content-security-policy"];
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("script-src") && !csp.contains("unsafe"), "{csp}");
        // Nothing loaded from elsewhere: the only URLs are the app's and the stores'.
        assert!(!live.body.contains("<script") && !live.body.contains("src="), "{}", live.body);
        assert!(live.body.contains(&format!("href=\"examplechat://i/{code}\"")), "{}", live.body);
        assert!(live.body.contains(&invite_display(&code)), "{}", live.body);
        assert!(live.body.contains("https://play.google.com/store/apps/details?id=org.example.chat"));
        assert!(live.body.contains("https://apps.apple.com/app/id1234567890"));
        assert!(live.body.contains("Example Chat"));

        // Lower case and grouped, as people type it: the same page for the same code.
        let typed = open(&api.base, &format!("/i/{}/", invite_display(&code).to_lowercase()));
        assert_eq!(typed.status, 404, "a trailing slash is another path");
        let typed = open(&api.base, &format!("/i/{}?utm=qr", invite_display(&code).to_lowercase()));
        assert_eq!(typed.body, live.body);

        // Redeemed (closed), or never issued: the same page; the page never looks a code up.
        let (_, bo) = api.vouch("u_bo");
        api.post("/v1/invites/redeem", Some(&bo), &json!({"code": code})).expect(200);
        assert_eq!(open(&api.base, &format!("/i/{code}")).body, live.body);
        let unknown = contactsync_core::identifier::invite::from_entropy(&[7; 10]);
        let other = open(&api.base, &format!("/i/{unknown}"));
        assert_eq!(other.status, 200);
        assert_eq!(other.body, live.body.replace(&invite_display(&code), &invite_display(&unknown)).replace(&code, &unknown));
        // What cannot be a code (a typo fails the check character) is 404.
        let mut typo = code.clone().into_bytes();
        typo[0] = if typo[0] == b'7' { b'8' } else { b'7' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(open(&api.base, &format!("/i/{typo}")).status, 404);
        assert_eq!(open(&api.base, "/i/%FF%FE").status, 404);
        assert_eq!(open(&api.base, "/i/").status, 404);

        // App Links and Universal Links, as the platforms fetch them.
        let android = open(&api.base, "/.well-known/assetlinks.json");
        assert_eq!(android.status, 200);
        assert_eq!(android.header["content-type"], "application/json");
        let v: Value = serde_json::from_str(&android.body).unwrap();
        assert_eq!(
            v,
            json!([{
                "relation": ["delegate_permission/common.handle_all_urls"],
                "target": {
                    "namespace": "android_app",
                    "package_name": "org.example.chat",
                    "sha256_cert_fingerprints": [FINGERPRINT.to_uppercase()],
                }
            }])
        );
        let apple = open(&api.base, "/.well-known/apple-app-site-association");
        assert_eq!(apple.status, 200);
        assert_eq!(apple.header["content-type"], "application/json");
        let v: Value = serde_json::from_str(&apple.body).unwrap();
        let details = &v["applinks"]["details"][0];
        assert_eq!(details["appIDs"], json!(["ABCDE12345.org.example.chat"]));
        // Invite links begin with the public URL's path.
        assert_eq!(details["components"][0]["/"], "/chat/i/*");
    }
}

on_each_backend! {
    fn unconfigured_files_are_404_and_a_redirect_replaces_the_page(backend) {
        let t = TestServer::with_on(backend, |c| {
            c.links.redirect = Some("https://example.org/join?invite={code}".to_owned());
        });
        let api = &t.api;
        for path in ["/.well-known/assetlinks.json", "/.well-known/apple-app-site-association"] {
            api.get(path, None).expect_error(404, "not_found");
        }
        let code = contactsync_core::identifier::invite::from_entropy(&[3; 10]);
        let page = open(&api.base, &format!("/i/{}", invite_display(&code)));
        assert_eq!(page.status, 302);
        assert_eq!(page.header["location"], format!("https://example.org/join?invite={code}"));
        assert_eq!(page.header["referrer-policy"], "no-referrer");

        // Without any setting: a page with the code to type, no button, no store.
        let plain = TestServer::on(backend);
        let page = open(&plain.api.base, &format!("/i/{code}"));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("the app") && page.body.contains(&invite_display(&code)));
        assert!(!page.body.contains("class=\"button\"") && !page.body.contains("Google Play"));
    }
}

#[test]
fn unusable_link_settings_are_refused_at_start() {
    let db = common::TestDb::new(common::Backend::Sqlite);
    for adjust in [
        (|l: &mut LinksConfig| l.android_fingerprints = vec!["AB:CD".into()])
            as fn(&mut LinksConfig),
        |l| l.android_fingerprints.clear(),
        |l| l.apple_app_ids = vec!["org.example.chat".into()],
        |l| l.app_scheme = Some("https".into()),
        |l| l.play_store_url = Some("javascript:alert(1)".into()),
        |l| l.redirect = Some("https://example.org/join".into()),
    ] {
        let mut config = common::config(&db);
        config.links = configured();
        adjust(&mut config.links);
        let e = contactsync_server::start(config).unwrap_err();
        assert!(
            e.to_string().contains("link") || e.to_string().contains("invite"),
            "{e}"
        );
    }
}

fn invite_display(code: &str) -> String {
    contactsync_core::identifier::invite::display(code)
}
