//! The HTTP layer's assembly: every resource's routes (`service::routes`) in one router, the
//! layers every request passes (the body gate, the body limit, `Cache-Control`, observation),
//! and the `404` for everything else. Every failure is the protocol's error envelope (axum's
//! own plain-text rejections never reach a client).
//!
//! Handlers live with their resource (`service::*`) and only move bytes: each runs its service
//! call on tokio's blocking pool (`SQLite` is blocking), so the async worker threads only ever
//! wait on sockets. What they extract from a request is `extract`'s; who sent it is
//! `service::auth`'s.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};

use crate::bodies::{self, BodyGate};
use crate::error::ApiError;
use crate::observe::{self, Routes};
use crate::service::{self, Service};

pub(crate) mod extract;

/// The routes of [`service::routes`]. Requests with a body pass the `bodies` gate (a cap on
/// bodies in progress, a timeout on a body that stalls); every request is observed (`observe`:
/// request id, log line, metrics).
pub(crate) fn router(service: Arc<Service>, bodies: Arc<BodyGate>) -> Router {
    let max_body = service.limits().max_body_bytes as usize;
    let routes = service::routes();
    let templates = Arc::new(Routes(routes.iter().map(|(path, _)| *path).collect()));
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
        // A known path with another method is as unknown to a client as an unknown path.
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(bodies, bodies::gate))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::map_response(no_store))
        .layer(middleware::from_fn_with_state(templates, observe::observe))
        .with_state(service)
}

/// `Cache-Control: no-store` on every answer, errors included: answers carry the hash key, match
/// pages and invite codes, which no HTTP cache — the device's (`URLSession`'s `URLCache`, `OkHttp`'s)
/// or one on the way — may keep on disk, where they would outlive the app's `forget`.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `404 not_found`. A body sent along is read first (within the limit), so the connection stays
/// usable for the client's next request.
async fn not_found(body: Result<Bytes, BytesRejection>) -> Response {
    let mut response = ApiError::NotFound("no such endpoint").into_response();
    if body.is_err() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
