//! One request built from the input: route, method, credential, path and query, and a body (raw
//! bytes, or a protocol body with fields chosen from what the server is known to hold).

use axum::http::Method;
use serde_json::{Value, json};

use crate::input::Reader;

use super::ADMIN_TOKEN;
use super::routes::{OTHER_METHODS, ROUTES, Route};
use super::server::Known;

/// Builds one request from the input.
pub(super) fn build(
    r: &mut Reader<'_>,
    known: &mut Known,
) -> (Route, Method, Option<String>, String, Vec<u8>) {
    let route = ROUTES[r.choose(ROUTES.len())];
    let m = r.byte();
    let method = if m < 0xc0 {
        route.method()
    } else {
        OTHER_METHODS[usize::from(m) % OTHER_METHODS.len()].clone()
    };
    let token = match r.byte() % 8 {
        0 => None,
        1..=3 => Some(Known::pick(&known.tokens, r.byte(), "").to_owned()),
        4 | 5 => Some(ADMIN_TOKEN.to_owned()),
        6 => Some(r.text()),
        _ => Some(format!("t_{}", "A".repeat(43))),
    };
    let param = |r: &mut Reader<'_>, list: &[String], fallback: &str| {
        let sel = r.byte();
        let text = if sel < 0xe0 {
            Known::pick(list, sel, fallback).to_owned()
        } else {
            r.text()
        };
        url_path_segment(&text)
    };
    let path = match route {
        Route::Register => "/v1/clients".to_owned(),
        Route::Vouch => "/v1/admin/clients".to_owned(),
        Route::Config => "/v1/config".to_owned(),
        Route::Batches => "/v1/batches".to_owned(),
        Route::Changes => match r.byte() % 4 {
            0 => "/v1/changes".to_owned(),
            1 | 2 => format!(
                "/v1/changes?since={}&limit={}",
                Known::pick(&known.cursors, r.byte(), "0"),
                r.u16()
            ),
            _ => format!("/v1/changes?{}", url_query(&r.text())),
        },
        Route::DeleteClient => "/v1/client".to_owned(),
        Route::CreateInvite => "/v1/invites".to_owned(),
        Route::Redeem => "/v1/invites/redeem".to_owned(),
        Route::RevokeInvite => format!("/v1/invites/{}", param(r, &known.invites, "7K3M9QX2R4")),
        Route::PutUsers => "/v1/admin/users".to_owned(),
        Route::ListUsers => match r.byte() % 3 {
            0 => "/v1/admin/users".to_owned(),
            1 => format!("/v1/admin/users?after=u_1&limit={}", r.u16()),
            _ => format!("/v1/admin/users?{}", url_query(&r.text())),
        },
        Route::RevokeClient => format!("/v1/admin/clients/{}", param(r, &[], "c_1")),
        Route::RotateAdminToken => "/v1/admin/token".to_owned(),
        Route::PutUser | Route::DeleteUser | Route::GetUser => {
            let users = ["u_1".to_owned(), "u_2".to_owned(), "u_3".to_owned()];
            format!("/v1/admin/users/{}", param(r, &users, "u_1"))
        }
        Route::CreateKey | Route::ListKeys => "/v1/admin/keys".to_owned(),
        Route::ActivateKey => format!("/v1/admin/keys/{}/activate", param(r, &known.key_ids, "k")),
        Route::AdminMatch => "/v1/admin/match".to_owned(),
        Route::Other => format!("/{}", url_query(&r.text())),
        Route::PrivateEvaluate => "/v1/private/evaluate".to_owned(),
        Route::PrivateLookup => "/v1/private/lookup".to_owned(),
        Route::PrivateFilter => match r.byte() % 4 {
            0 | 1 => format!("/v1/private/filter?epoch={}&part=0", known.epoch(r)),
            // The shard parameter an unsharded server takes (0).
            2 => format!(
                "/v1/private/filter?epoch={}&part={}&version={}&shard=0",
                known.epoch(r),
                r.byte() % 3,
                known.version(r)
            ),
            _ => format!("/v1/private/filter?{}", url_query(&r.text())),
        },
        Route::PrivateFilterChanges => match r.byte() % 3 {
            0 | 1 => format!(
                "/v1/private/filter/changes?epoch={}&since={}",
                known.epoch(r),
                known.version(r)
            ),
            _ => format!("/v1/private/filter/changes?{}", url_query(&r.text())),
        },
    };
    let body = body(r, known);
    (route, method, token, path, body)
}

/// A body: raw bytes, or one of the protocol's request bodies with chosen fields.
pub(super) fn body(r: &mut Reader<'_>, known: &mut Known) -> Vec<u8> {
    let value = match r.byte() % 9 {
        0 => return r.blob().to_vec(),
        1 => return Vec::new(),
        2 => {
            let sel = r.byte();
            let batch_id = if sel < 0xc0 && !known.batch_ids.is_empty() {
                Known::pick(&known.batch_ids, sel, "").to_owned()
            } else if sel < 0xf0 {
                let id = format!("b_{}", known.batch_ids.len());
                known.batch_ids.push(id.clone());
                id
            } else {
                r.text()
            };
            let key_id = known.key_id(r);
            let mode = match r.byte() % 4 {
                0 | 1 => json!("delta"),
                2 => json!("full"),
                _ => json!(r.text()),
            };
            let add: Vec<String> = (0..r.byte() % 10).map(|_| known.hash(r)).collect();
            let remove: Vec<String> = (0..r.byte() % 4).map(|_| known.hash(r)).collect();
            let added = add.len() as u64;
            let mut v = json!({"batch_id": batch_id, "key_id": key_id, "mode": mode, "add": add, "remove": remove});
            // A padding count: right, past the list, hostile.
            match r.byte() % 8 {
                0 => v["padding"] = json!(u64::from(r.byte()) % (added + 1)),
                1 => v["padding"] = json!(added),
                2 => v["padding"] = json!(added + 1),
                3 => {
                    v["padding"] =
                        [json!(-1), json!(u64::MAX), json!("1"), json!(null)][r.choose(4)].clone();
                }
                _ => {}
            }
            if r.byte() == 0xff {
                v["extra"] = json!(1);
            }
            v
        }
        3 => {
            let identifiers: Vec<Value> = (0..r.byte() % 10)
                .map(|_| {
                    let kind =
                        ["phone", "email", "handle", "account", "invite", "fax"][r.choose(6)];
                    let value = match r.byte() % 6 {
                        0 => "+491723127130".to_owned(),
                        1 => "ana@example.org".to_owned(),
                        2 => "google:1078543".to_owned(),
                        3 => "0172 3127130".to_owned(),
                        4 => Known::pick(&known.invites, r.byte(), "7K3M9QX2R4").to_owned(),
                        _ => r.text(),
                    };
                    json!({"kind": kind, "value": value})
                })
                .collect();
            match r.byte() % 3 {
                0 => json!({"discoverable": true, "identifiers": identifiers}),
                1 => json!({"discoverable": false, "identifiers": identifiers}),
                _ => json!({"identifiers": identifiers}),
            }
        }
        4 => {
            let user = match r.byte() % 3 {
                0 => "u_1".to_owned(),
                1 => "u_9".to_owned(),
                _ => r.text(),
            };
            json!({ "user_ref": user })
        }
        5 => {
            let key_id = known.key_id(r);
            let hashes: Vec<String> = (0..r.byte() % 10).map(|_| known.hash(r)).collect();
            json!({"key_id": key_id, "hashes": hashes})
        }
        6 => match r.byte() % 3 {
            0 => json!({}),
            1 => json!({"ttl_s": r.u32()}),
            _ => json!({"ttl_s": -1}),
        },
        7 => {
            let sel = r.byte();
            let code = if sel < 0xe0 {
                Known::pick(&known.invites, sel, "7K3M9QX2R4").to_owned()
            } else {
                r.text()
            };
            json!({ "code": code })
        }
        _ => match r.byte() % 4 {
            // `POST /v1/admin/users`: a few users, each with a user body's identifiers.
            0 => {
                let users: Vec<Value> = (0..r.byte() % 4)
                    .map(|i| {
                        let user_ref = if r.byte() < 0xe0 {
                            format!("u_{}", i + 1)
                        } else {
                            r.text()
                        };
                        let identifiers = match r.byte() % 3 {
                            0 => json!([{"kind": "phone", "value": "+491723127130"}]),
                            1 => json!([{"kind": "email", "value": "ana@example.org"}]),
                            _ => json!([{"kind": "handle", "value": r.text()}]),
                        };
                        json!({"user_ref": user_ref, "identifiers": identifiers})
                    })
                    .collect();
                json!({ "users": users })
            }
            // `.../activate`: forced or not.
            1 => json!({"force": r.byte().is_multiple_of(2)}),
            // Private discovery's evaluation or lookup.
            2 => {
                if r.flag() {
                    known.private_body(r, "lookups", 16)
                } else {
                    known.private_body(r, "elements", 32)
                }
            }
            _ => json!([r.u32(), r.text()]),
        },
    };
    value.to_string().into_bytes()
}

/// `text` as one path segment: characters that would change the path's shape escaped.
fn url_path_segment(text: &str) -> String {
    url_escape(text, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `text` as a query: only what a URI cannot hold escaped.
fn url_query(text: &str) -> String {
    url_escape(text, |b| {
        b.is_ascii_graphic() && !b"#%".contains(&b) || b == b'%'
    })
}

fn url_escape(text: &str, keep: impl Fn(u8) -> bool) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}
