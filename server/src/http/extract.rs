//! What a handler takes from a request and how it answers, for every resource alike: the body
//! and its encoding, the encoding the client accepts, the client's address, a path parameter,
//! the encoded answer, and the blocking pool the service runs on. Who sent the request is
//! `service::auth`'s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contactsync_core::protocol::encoding::Encoding;
use serde::Serialize;

use crate::bodies;
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::service::{Payload, Service};
use crate::storage::retry_conflicts;

/// The request body, within `max_body_bytes` (`413 too_large` past it; `408 request_timeout` when
/// it stops arriving, see `bodies`), with the encoding its `Content-Type` names: none or
/// `application/json` is JSON, `application/cbor` CBOR, anything else `415
/// unsupported_media_type` (checked once the body is read, so the connection stays usable).
/// An empty body has no media type to check.
///
/// Handlers of requests that carry no meaningful body (`DELETE`s, `POST`s without fields) take
/// it too, as `_: Body` (or `Device<Body>`, `Admin<Body>`): a body left unread makes hyper close
/// the connection after the answer, without saying so, and a client that reuses the connection
/// sees it reset.
pub(crate) struct Body(Bytes, Encoding);

impl Body {
    pub(crate) fn payload(&self) -> Payload<'_> {
        Payload {
            bytes: &self.0,
            encoding: self.1,
        }
    }
}

impl FromRequest<Arc<Service>> for Body {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
        match Bytes::from_request(request, service).await {
            Ok(bytes) if bytes.is_empty() => Ok(Body(bytes, Encoding::Json)),
            Ok(bytes) => match Encoding::from_content_type(content_type.as_deref()) {
                Ok(encoding) => Ok(Body(bytes, encoding)),
                Err(_) => Err(ApiError::UnsupportedMediaType.into_response()),
            },
            Err(rejection) => {
                let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    service.too_large()
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

/// The route's one path parameter; one that does not decode is as unknown as a wrong one
/// (`404`).
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| PathParam(p))
            .map_err(|_| ApiError::NotFound("no such resource"))
    }
}

/// The route's path parameter and `B` (a [`Body`]), the parameter checked after `B` is read: a
/// body is always read before the request is refused for its path, so the connection stays
/// usable (and a body the server cannot take is refused before a path it does not know).
pub(crate) struct WithPath<B>(pub(crate) String, pub(crate) B);

impl<B: FromRequest<Arc<Service>>> FromRequest<Arc<Service>> for WithPath<B> {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let param = PathParam::from_request_parts(&mut parts, service).await;
        let inner = B::from_request(Request::from_parts(parts, body), service)
            .await
            .map_err(IntoResponse::into_response)?;
        let PathParam(param) = param.map_err(IntoResponse::into_response)?;
        Ok(WithPath(param, inner))
    }
}

/// The client's address (`client_ip`: the peer, or what a trusted proxy says it saw); `None`
/// for a request that did not come over a connection (the fuzz targets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl FromRequestParts<Arc<Service>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
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
            client_ip(peer, forwarded_for, service.trusted_proxies())
        })))
    }
}

/// The encoding the request's `Accept` prefers: CBOR when it asks for `application/cbor` first,
/// JSON otherwise (never `406`: JSON is always there). Errors are always JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepts(pub(crate) Encoding);

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

/// An answer of bytes already encoded in `encoding`.
pub(crate) fn encoded_bytes(encoding: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.media_type()),
    );
    response
}

/// An answer in the encoding the request accepts.
pub(crate) fn encoded<T: Serialize>(
    Accepts(encoding): Accepts,
    status: StatusCode,
    value: &T,
) -> Result<Response, ApiError> {
    let body = encoding.encode(value).map_err(|_| ApiError::Internal)?;
    Ok(encoded_bytes(encoding, status, body))
}

/// Runs a service call on the blocking pool (`SQLite` is blocking: the async worker threads
/// only ever wait on sockets).
pub(crate) async fn blocking<T, F>(call: F) -> Result<T, ApiError>
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

/// Runs the request's own transaction on the blocking pool, once its caller is authenticated:
/// `call` gets the service and the time now, and runs through [`retry_conflicts`] (a
/// transaction that lost a race with another instance's runs again).
pub(crate) async fn transact<T, F>(service: Arc<Service>, call: F) -> Result<T, ApiError>
where
    F: Fn(&Service, i64) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    blocking(move || {
        let now = service.now();
        retry_conflicts(|| call(&service, now))
    })
    .await
}
