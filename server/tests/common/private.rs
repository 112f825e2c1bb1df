//! Helpers of the private discovery tests (`tests/private*.rs`): a server with the mode on, a
//! device's evaluations (checked against the published key), lookups and filter downloads.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use contactsync_core::IdentifierKind;
use contactsync_core::oprf::filter::UserFilter;
use contactsync_core::oprf::{Blinded, Element, PrfOutput, PublicKey};
use contactsync_core::protocol::private::{
    EvaluateAnswer, FilterDownload, FilterPart, LookupAnswer, PrivateConfig,
};
use contactsync_server::ServerConfig;
use serde_json::{Value, json};

use super::{Api, Backend, TestServer};

/// Private discovery on, the filter rebuilt whenever the log moved.
pub fn private_on(config: &mut ServerConfig) {
    config.private.enabled = true;
    config.private.filter_rebuild = Duration::from_millis(1);
}

pub fn server(backend: Backend) -> TestServer {
    TestServer::with_on(backend, private_on)
}

/// A private server on a clock the test moves (from `start`), sweeping every 20 ms, so that what
/// a moved clock makes due is swept within moments; the clock's hand and the server.
pub fn swept(backend: Backend, start: i64) -> (Arc<AtomicI64>, TestServer) {
    let (now, clock) = super::manual(start);
    let t = TestServer::with_on(backend, |c| {
        private_on(c);
        c.clock = clock;
        c.sweep_every = Duration::from_millis(20);
    });
    (now, t)
}

pub fn put(api: &Api, user_ref: &str, who: &[(IdentifierKind, &str)], discoverable: bool) {
    let pairs: Vec<(&str, &str)> = who.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    api.put_user(user_ref, &pairs, discoverable);
}

pub fn private_config(api: &Api, token: &str) -> (PrivateConfig, Value) {
    let v = api.get("/v1/config", Some(token)).expect(200);
    (serde_json::from_value(v["private"].clone()).unwrap(), v)
}

pub fn element_body(epoch: u32, elements: &[Element]) -> Value {
    let elements: Vec<String> = elements.iter().map(Element::to_base64url).collect();
    json!({"epoch": epoch, "elements": elements})
}

/// Evaluates `who` padded to `padded`, checking the proof against the published key.
pub fn evaluate(
    api: &Api,
    token: &str,
    config: &PrivateConfig,
    who: &[(IdentifierKind, &str)],
    padded: usize,
) -> (Vec<PrfOutput>, EvaluateAnswer) {
    let blinded = Blinded::new(who, padded).unwrap();
    let answer: EvaluateAnswer = api
        .post(
            "/v1/private/evaluate",
            Some(token),
            &element_body(config.epoch, blinded.elements()),
        )
        .expect_ok();
    let key = PublicKey::from_bytes(&config.public_key.0).unwrap();
    let evaluated: Vec<Element> = answer.evaluated.iter().map(|b| Element(b.0)).collect();
    let proofs: Vec<_> = answer.proofs.iter().map(|p| p.0).collect();
    let outputs = blinded.finalize(&key, &evaluated, &proofs).unwrap();
    (outputs, answer)
}

/// Looks up `outputs`' lookups, padded with zeros to `padded`: the users found, in order.
pub fn lookup(
    api: &Api,
    token: &str,
    epoch: u32,
    outputs: &[PrfOutput],
    padded: usize,
) -> Vec<String> {
    let mut lookups: Vec<String> = outputs.iter().map(|o| o.lookup().to_base64url()).collect();
    lookups.resize(
        padded,
        contactsync_core::oprf::Lookup([0; 16]).to_base64url(),
    );
    let answer: LookupAnswer = api
        .post(
            "/v1/private/lookup",
            Some(token),
            &json!({"epoch": epoch, "lookups": lookups}),
        )
        .expect_ok();
    assert_eq!(answer.epoch, epoch);
    answer.matches.into_iter().map(|m| m.user_ref).collect()
}

/// The whole filter of the current version, part by part.
pub fn download(api: &Api, token: &str, epoch: u32) -> (u64, UserFilter) {
    let first = part(api, token, &format!("epoch={epoch}&part=0"));
    let mut download = FilterDownload::start(first).unwrap();
    let (_, version) = download.epoch_version();
    while let Some(k) = download.next_part() {
        download
            .push(part(
                api,
                token,
                &format!("epoch={epoch}&part={k}&version={version}"),
            ))
            .unwrap();
    }
    (version, download.finish().unwrap())
}

pub fn part(api: &Api, token: &str, query: &str) -> FilterPart {
    let reply = api.get(&format!("/v1/private/filter?{query}"), Some(token));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/octet-stream")
    );
    FilterPart::from_bytes(&reply.body).unwrap()
}

pub trait ExpectOk {
    fn expect_ok<T: serde::de::DeserializeOwned>(&self) -> T;
}

impl ExpectOk for super::Reply {
    #[track_caller]
    fn expect_ok<T: serde::de::DeserializeOwned>(&self) -> T {
        assert_eq!(self.status, 200, "{}", self.text());
        self.parse()
    }
}
