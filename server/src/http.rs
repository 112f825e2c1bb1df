//! The HTTP layer: routes, the bearer token, bodies, and every failure as the protocol's error
//! envelope (axum's own plain-text rejections never reach a client).
//!
//! Handlers only move bytes: each one runs its service call on tokio's blocking pool (`SQLite` is
//! blocking), so the async worker threads only ever wait on sockets.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, RawQuery, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::wire::BatchAnswer;
use serde::Serialize;

use crate::bodies::{self, BodyGate};
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::observe::{self, Routes};
use crate::service::{Payload, Service};
use crate::storage::{ClientRecord, retry_conflicts};

#[derive(Debug, Clone)]
struct AppState {
    service: Arc<Service>,
}

/// Every route of docs/protocol.md with its template; anything else is `404 not_found`.
fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/healthz", get(healthz)),
        ("/readyz", get(readyz)),
        ("/v1/clients", post(register)),
        ("/v1/admin/clients", post(vouch)),
        ("/v1/admin/clients/{client_id}", delete(revoke_client)),
        ("/v1/config", get(config)),
        ("/v1/batches", post(batches)),
        ("/v1/changes", get(changes)),
        ("/v1/client", delete(delete_client)),
        ("/v1/invites", post(create_invite)),
        ("/v1/invites/redeem", post(redeem_invite)),
        ("/v1/invites/{code}", delete(revoke_invite)),
        ("/v1/admin/users", post(put_users).get(list_users)),
        (
            "/v1/admin/users/{user_ref}",
            put(put_user).get(get_user).delete(delete_user),
        ),
        ("/v1/admin/keys", post(create_key).get(list_keys)),
        ("/v1/admin/keys/{key_id}/activate", post(activate_key)),
        ("/v1/admin/match", post(admin_match)),
        ("/v1/admin/token", post(rotate_admin_token)),
    ]
}

/// The routes of [`routes`]. Requests with a body pass the `bodies` gate (a cap on bodies in
/// progress, a timeout on a body that stalls); every request is observed (`observe`: request id,
/// log line, metrics).
pub(crate) fn router(service: Arc<Service>, bodies: Arc<BodyGate>) -> Router {
    let max_body = service.limits().max_body_bytes as usize;
    let routes = routes();
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
        .with_state(AppState { service })
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

/// The request body, within `max_body_bytes` (`413 too_large` past it; `408 request_timeout` when
/// it stops arriving, see `bodies`), with the encoding its `Content-Type` names: none or
/// `application/json` is JSON, `application/cbor` CBOR, anything else `415
/// unsupported_media_type` (checked once the body is read, so the connection stays usable).
/// An empty body has no media type to check.
///
/// Handlers of requests that carry no meaningful body (`DELETE`s, `POST`s without fields) take
/// it too, as `_: Body`: a body left unread makes hyper close the connection after the answer,
/// without saying so, and a client that reuses the connection sees it reset.
struct Body(Bytes, Encoding);

impl Body {
    fn payload(&self) -> Payload<'_> {
        Payload {
            bytes: &self.0,
            encoding: self.1,
        }
    }
}

impl FromRequest<AppState> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
        match Bytes::from_request(request, state).await {
            Ok(bytes) if bytes.is_empty() => Ok(Body(bytes, Encoding::Json)),
            Ok(bytes) => match Encoding::from_content_type(content_type.as_deref()) {
                Ok(encoding) => Ok(Body(bytes, encoding)),
                Err(_) => Err(ApiError::UnsupportedMediaType.into_response()),
            },
            Err(rejection) => {
                let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    state.service.too_large()
                } else if bodies::timed_out(&rejection) {
                    ApiError::RequestTimeout
                } else {
                    ApiError::malformed("the request body could not be read")
                };
                // The rest of the body was not read, so the connection cannot carry another
                // request: say so, or a client reusing it would see it reset.
                let mut response = error.into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                Err(response)
            }
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// A path parameter; one that does not decode is as unknown as a wrong one.
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    param
        .map(|Path(p)| p)
        .map_err(|_| ApiError::NotFound("no such resource"))
}

/// Runs a service call on the blocking pool. (A call that writes runs its transaction through
/// [`retry_conflicts`]: a transaction that lost a race with another instance's runs again.)
async fn blocking<T, F>(call: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    // The request's span goes along: a warning on the blocking pool carries its request id.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(call))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a request's task failed");
            ApiError::Internal
        })?
}

/// The client's address (`client_ip`: the peer, or what a trusted proxy says it saw); `None`
/// for a request that did not come over a connection (the fuzz targets).
#[derive(Debug, Clone, Copy)]
struct ClientAddr(Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let forwarded_for = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("(not text)"));
        Ok(ClientAddr(peer.map(|peer| {
            client_ip(peer, forwarded_for, state.service.trusted_proxies())
        })))
    }
}

/// The encoding the request's `Accept` prefers: CBOR when it asks for `application/cbor` first,
/// JSON otherwise (never `406`: JSON is always there). Errors are always JSON.
#[derive(Debug, Clone, Copy)]
struct Accepts(Encoding);

impl<S: Send + Sync> FromRequestParts<S> for Accepts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        Ok(Accepts(Encoding::from_accept(accept)))
    }
}

fn encoded_bytes(encoding: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    response
}

/// An answer in the encoding the request accepts.
fn encoded<T: Serialize>(
    Accepts(encoding): Accepts,
    status: StatusCode,
    value: &T,
) -> Result<Response, ApiError> {
    let body = encoding.encode(value).map_err(|_| ApiError::Internal)?;
    Ok(encoded_bytes(encoding, status, body))
}

/// `GET /healthz`: the process answers. No authentication, no storage.
async fn healthz() -> Response {
    encoded_bytes(
        Encoding::Json,
        StatusCode::OK,
        br#"{"status":"ok"}"#.to_vec(),
    )
}

/// `GET /readyz`: the storage answers and is at this server's schema version (`503` otherwise,
/// with the reason in the log, not in the answer: the endpoint is unauthenticated). One cheap
/// read, no authentication.
async fn readyz(State(app): State<AppState>) -> Response {
    let service = app.service;
    let ready = match tokio::task::spawn_blocking(move || service.ready()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "the readiness check failed");
            false
        }
    };
    if ready {
        encoded_bytes(
            Encoding::Json,
            StatusCode::OK,
            br#"{"status":"ready"}"#.to_vec(),
        )
    } else {
        encoded_bytes(
            Encoding::Json,
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"status":"unavailable"}"#.to_vec(),
        )
    }
}

async fn register(
    State(app): State<AppState>,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let service = app.service;
    let answer = blocking(move || {
        let now = service.now();
        retry_conflicts(|| service.register_open(body.payload(), now, from))
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

/// Runs `call` on the blocking pool for the client the bearer token names (`401` otherwise).
async fn as_client<T, F>(app: AppState, headers: &HeaderMap, call: F) -> Result<T, ApiError>
where
    F: Fn(&Service, &ClientRecord, i64) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let token = bearer(headers);
    let service = app.service;
    blocking(move || {
        let client = service.authenticate_client(token.as_deref())?;
        let now = service.now();
        retry_conflicts(|| call(&service, &client, now))
    })
    .await
}

/// Runs `call` on the blocking pool when the bearer token is the admin token.
async fn as_admin<T, F>(app: AppState, headers: &HeaderMap, call: F) -> Result<T, ApiError>
where
    F: Fn(&Service, i64) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let token = bearer(headers);
    let service = app.service;
    blocking(move || {
        service.authenticate_admin(token.as_deref())?;
        let now = service.now();
        retry_conflicts(|| call(&service, now))
    })
    .await
}

async fn vouch(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = as_admin(app, &headers, move |service, now| {
        service.vouch(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

async fn config(
    State(app): State<AppState>,
    headers: HeaderMap,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
) -> Result<Response, ApiError> {
    let token = bearer(&headers);
    let service = app.service;
    let answer = blocking(move || {
        let caller = service.authenticate_any(token.as_deref())?;
        service.config(&caller, from)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

/// The answer is stored as JSON (a replay gets it byte for byte); a client that accepts CBOR
/// gets it re-encoded.
async fn batches(
    State(app): State<AppState>,
    headers: HeaderMap,
    ClientAddr(from): ClientAddr,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let token = bearer(&headers);
    let service = app.service;
    let answer =
        blocking(move || service.post_batch(token.as_deref(), body.payload(), from)).await?;
    match accepts.0 {
        Encoding::Json => Ok(encoded_bytes(Encoding::Json, StatusCode::OK, answer)),
        Encoding::Cbor => {
            let answer: BatchAnswer = Encoding::Json
                .decode(&answer)
                .map_err(|_| ApiError::Internal)?;
            encoded(accepts, StatusCode::OK, &answer)
        }
    }
}

async fn changes(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let answer = as_client(app, &headers, move |service, client, _| {
        service.changes(client, query.as_deref())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn delete_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    _: Body,
) -> Result<Response, ApiError> {
    let answer = as_client(app, &headers, |service, client, now| {
        service.delete_client(client, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn revoke_client(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    client_id: Result<Path<String>, PathRejection>,
    _: Body,
) -> Result<Response, ApiError> {
    let client_id = path_param(client_id)?;
    let answer = as_admin(app, &headers, move |service, now| {
        service.revoke_client(&client_id, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn create_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = as_client(app, &headers, move |service, client, now| {
        service.create_invite(client, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::CREATED, &answer)
}

async fn revoke_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    code: Result<Path<String>, PathRejection>,
    _: Body,
) -> Result<Response, ApiError> {
    let code = path_param(code)?;
    let answer = as_client(app, &headers, move |service, client, now| {
        service.revoke_invite(client, &code, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn redeem_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = as_client(app, &headers, move |service, client, now| {
        service.redeem_invite(client, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn put_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    user_ref: Result<Path<String>, PathRejection>,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let user_ref = path_param(user_ref)?;
    let answer = as_admin(app, &headers, move |service, now| {
        service.put_user(&user_ref, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn put_users(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = as_admin(app, &headers, move |service, now| {
        service.put_users(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn list_users(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let answer = as_admin(app, &headers, move |service, _| {
        service.list_users(query.as_deref())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn get_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    user_ref: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user_ref = path_param(user_ref)?;
    let answer = as_admin(app, &headers, move |service, _| service.get_user(&user_ref)).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn delete_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    user_ref: Result<Path<String>, PathRejection>,
    _: Body,
) -> Result<Response, ApiError> {
    let user_ref = path_param(user_ref)?;
    let answer = as_admin(app, &headers, move |service, now| {
        service.delete_user(&user_ref, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn create_key(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    _: Body,
) -> Result<Response, ApiError> {
    let (created, answer) = as_admin(app, &headers, Service::create_key).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    encoded(accepts, status, &answer)
}

/// `POST /v1/admin/token`'s answer: the new admin token, shown once.
#[derive(Serialize)]
struct AdminTokenAnswer {
    admin_token: String,
}

/// A new admin token; the one that authenticated this call stops working (on every instance).
async fn rotate_admin_token(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    _: Body,
) -> Result<Response, ApiError> {
    let admin_token = as_admin(app, &headers, |service, _| service.rotate_admin_token()).await?;
    encoded(accepts, StatusCode::OK, &AdminTokenAnswer { admin_token })
}

async fn list_keys(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
) -> Result<Response, ApiError> {
    let answer = as_admin(app, &headers, |service, _| service.list_keys()).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn activate_key(
    State(app): State<AppState>,
    headers: HeaderMap,
    key_id: Result<Path<String>, PathRejection>,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let key_id = path_param(key_id)?;
    let answer = as_admin(app, &headers, move |service, _| {
        service.activate_key(&key_id, body.payload())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn admin_match(
    State(app): State<AppState>,
    headers: HeaderMap,
    accepts: Accepts,
    body: Body,
) -> Result<Response, ApiError> {
    let answer = as_admin(app, &headers, move |service, now| {
        service.admin_match(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}
