//! Authentication: whose a request is — a device's or the admin's — and the extractors that make
//! a handler's signature say which it needs: [`Device`] (a device, its request counted against
//! its rate), [`Admin`] (the admin token), [`Caller`] (either: `GET /v1/config`), [`Bearer`] (the
//! token unchecked: `POST /v1/batches` authenticates it in the read transaction that looks for
//! a replay).
//!
//! A client request is authentication (a read transaction), the rate counter (counted outside
//! any transaction, even when the request itself is then refused, so malformed requests count
//! against the rate too), then the request's own transaction. A token is looked up as a device's
//! first (one lookup: the common case asks nothing more), then as the admin's.
//!
//! Authentication reads the storage, so the extractors run it on the blocking pool. An extractor
//! that takes the body (`Device<Body>`, `Admin<Body>`) reads it before authenticating: a refused
//! request's body is read all the same, so the connection stays usable, and a body the server
//! cannot take is refused before its sender is looked up or charged — the order the routes have
//! always had.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{MINUTE, Service, seconds};
use crate::error::{ApiError, LimitReason};
use crate::http::extract::blocking;
use crate::storage::{ClientRecord, Transaction};
use crate::util::sha256;

/// Who made a request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The app's backend.
    Admin,
    /// A device.
    Client(ClientRecord),
}

impl Service {
    /// A client token's client, charging the request against its rate.
    fn authenticate_client(&self, token: Option<&str>) -> Result<ClientRecord, ApiError> {
        let client = self.client_of(token)?;
        self.charge_request(&client.client_id)?;
        Ok(client)
    }

    /// The client a client token belongs to, read in a read transaction: authenticating never
    /// waits for a writer, nor for the disk.
    fn client_of(&self, token: Option<&str>) -> Result<ClientRecord, ApiError> {
        self.client_in(&mut *self.storage.read()?, token)
    }

    /// [`Service::client_of`] in a transaction the caller reads more with.
    pub(super) fn client_in(
        &self,
        tx: &mut dyn Transaction,
        token: Option<&str>,
    ) -> Result<ClientRecord, ApiError> {
        match self.caller_in(tx, token)? {
            Caller::Client(client) => Ok(client),
            Caller::Admin => Err(ApiError::Forbidden("this endpoint needs a client token")),
        }
    }

    /// Whose token it is: a device's (one lookup: the common case asks nothing more), else the
    /// admin's, else nobody's (`unauthorized`).
    fn caller_in(&self, tx: &mut dyn Transaction, token: Option<&str>) -> Result<Caller, ApiError> {
        let token = token.ok_or(ApiError::Unauthorized)?;
        match tx.client_by_token(&sha256(token.as_bytes()))? {
            Some(client) => Ok(Caller::Client(client)),
            None if self.admin.check_cached(self.storage.as_ref(), token)? => Ok(Caller::Admin),
            None => Err(ApiError::Unauthorized),
        }
    }

    /// The admin token, or `forbidden` for a client token, `unauthorized` for anything else.
    fn authenticate_admin(&self, token: Option<&str>) -> Result<(), ApiError> {
        let token = token.ok_or(ApiError::Unauthorized)?;
        if self.admin.check(self.storage.as_ref(), token)? {
            return Ok(());
        }
        let mut tx = self.storage.read()?;
        if tx.client_by_token(&sha256(token.as_bytes()))?.is_some() {
            Err(ApiError::Forbidden(
                "a client token cannot use the admin API",
            ))
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// The admin token or a client token (`GET /v1/config`).
    fn authenticate_any(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        let caller = self.caller_in(&mut *self.storage.read()?, token)?;
        if let Caller::Client(client) = &caller {
            self.charge_request(&client.client_id)?;
        }
        Ok(caller)
    }

    /// Counts a request in the client's one-minute window; refuses it when the window is full.
    ///
    /// The count lives where every instance sharing the storage sees it
    /// ([`crate::Storage::count_request`]), outside any transaction: counting waits for neither
    /// a writer nor the disk. A refused request counts too, so hammering a full window keeps it
    /// full; the window only moves forward (another instance's clock a little behind counts in
    /// the newer window).
    pub(super) fn charge_request(&self, client_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let (minute, count) = self
            .storage
            .count_request(client_id, now.div_euclid(MINUTE))?;
        if count > self.limits.requests_per_minute {
            return Err(ApiError::TooManyRequests {
                retry_after_s: seconds((minute + 1) * MINUTE - now),
                reason: LimitReason::Rate,
            });
        }
        Ok(())
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The bearer token as sent, not yet checked: for a handler that authenticates it together with
/// what it reads (`POST /v1/batches`).
pub(crate) struct Bearer(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Bearer(bearer(&parts.headers)))
    }
}

/// An authenticated device, its request counted against its rate (`401` for an unknown token,
/// `403` for the admin's, `429` past the rate), and `B`: nothing, or the request's body (read
/// first, see the module's doc).
pub(crate) struct Device<B = ()> {
    pub(crate) client: ClientRecord,
    pub(crate) body: B,
}

/// The admin token (`401` for an unknown token, `403` for a device's), and `B`: nothing, or the
/// request's body (read first, see the module's doc).
pub(crate) struct Admin<B = ()> {
    pub(crate) body: B,
}

/// Runs `authenticate` on the blocking pool with the request's bearer token.
async fn authenticated<T: Send + 'static>(
    service: &Arc<Service>,
    token: Option<String>,
    authenticate: fn(&Service, Option<&str>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let service = Arc::clone(service);
    blocking(move || authenticate(&service, token.as_deref())).await
}

/// Reads `B` from the request (the body), then runs `authenticate` with its bearer token.
async fn body_then_authenticated<B, T>(
    request: Request,
    service: &Arc<Service>,
    authenticate: fn(&Service, Option<&str>) -> Result<T, ApiError>,
) -> Result<(T, B), Response>
where
    B: FromRequest<Arc<Service>> + Send,
    T: Send + 'static,
{
    let token = bearer(request.headers());
    let body = B::from_request(request, service)
        .await
        .map_err(IntoResponse::into_response)?;
    let who = authenticated(service, token, authenticate)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((who, body))
}

impl FromRequestParts<Arc<Service>> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let client = authenticated(
            service,
            bearer(&parts.headers),
            Service::authenticate_client,
        )
        .await?;
        Ok(Device { client, body: () })
    }
}

impl<B: FromRequest<Arc<Service>> + Send> FromRequest<Arc<Service>> for Device<B> {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let (client, body) =
            body_then_authenticated(request, service, Service::authenticate_client).await?;
        Ok(Device { client, body })
    }
}

impl FromRequestParts<Arc<Service>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        authenticated(service, bearer(&parts.headers), Service::authenticate_admin).await?;
        Ok(Admin { body: () })
    }
}

impl<B: FromRequest<Arc<Service>> + Send> FromRequest<Arc<Service>> for Admin<B> {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let ((), body) =
            body_then_authenticated(request, service, Service::authenticate_admin).await?;
        Ok(Admin { body })
    }
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        authenticated(service, bearer(&parts.headers), Service::authenticate_any).await
    }
}
